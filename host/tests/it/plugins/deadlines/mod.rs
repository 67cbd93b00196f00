//! Deadlines and budgets that fit a live show, with the real plugins: a call that sleeps or spins
//! is cut at its wall-clock deadline (`[studio.deadlines]`) and the role falls back; a plugin's own
//! huge timeout is clamped; a session-long STT call earns its CPU budget from the audio it reads,
//! so a long session on a tiny `cpu_limit_ms` never fails while a spinning one is still stopped;
//! the host holds an LLM reply to `max_tokens`.
//!
//! Every wait is bounded by [`PATIENCE`] so a missing deadline fails the test instead of hanging it.

use crate::support;
use std::future::Future;
use std::time::Duration;

use crate::support::plugins::{Studio, complete, floor};
use tokio::sync::mpsc;
use voice_studio::plugins::wit::{
    Decision, FloorEvent, Respond, Speaker, SttRequest, Transcript, TranscriptKind,
};
use voice_studio::plugins::{CallError, PluginKind, SttHandle, SttInput};
use voice_studio::speakers::Ai;

/// Longest any call below may take before the test fails (not a timing assertion: a bound so a
/// deadline that does not fire fails the test instead of hanging it for an hour).
const PATIENCE: Duration = Duration::from_secs(60);

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("{what} was never cut"))
}

fn responds(decisions: &[Decision], speaker: Speaker) -> bool {
    decisions
        .iter()
        .any(|d| matches!(d, Decision::Respond(Respond { speaker: s, .. }) if *s == speaker))
}

/// `echo-policy` as `sleepy` (it sleeps an hour on a line with `sleep`, spins on `spin`), with
/// `fallback` when given.
fn policy_studio(fallback: Option<&str>) -> Studio {
    let studio = Studio::with_plugins(&["echo-policy", "host-led"]);
    let fallback = fallback.map_or(String::new(), |f| format!("fallback = [\"{f}\"]"));
    studio.write_manifest(&format!(
        r#"
[roles]
policy = "sleepy"
[plugins.sleepy]
path = "echo-policy.wasm"
cpu_limit_ms = 600000
{fallback}
[plugins.host-led]
path = "host-led.wasm"
"#
    ));
    studio
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_policy_is_cut_at_its_deadline_naming_the_plugin_and_the_key() {
    let studio = policy_studio(None);
    let host = studio.start(false).await;
    let mut policy = host.policy();
    let error = within(
        "a sleeping decide",
        policy.decide(
            floor(""),
            FloorEvent::HumanSaid("Claude, sleep on it.".into()),
        ),
    )
    .await
    .expect_err("the sleeping decide is cut");
    assert!(
        matches!(
            error,
            CallError::Deadline { ref plugin, kind: PluginKind::Policy, limit_ms: 100 } if plugin == "sleepy"
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "sleepy did not decide within 100 ms (policy deadline policy_ms in plugins.toml [studio.deadlines])"
    );
    assert!(error.is_fault());
    // The instance that slept was thrown away; a fresh one decides the next event.
    let decisions = within(
        "the next decide",
        policy.decide(floor(""), FloorEvent::HumanSaid("Claude, hello.".into())),
    )
    .await
    .expect("the next decide works");
    assert!(responds(&decisions, Speaker::Claude), "{decisions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_policy_falls_back_and_the_fallback_decides_the_same_event() {
    let studio = policy_studio(Some("host-led"));
    let host = studio.start(false).await;
    let mut policy = host.policy();
    // echo-policy would route to claude; host-led routes by name, to the guest.
    let decisions = within(
        "a sleeping decide",
        policy.decide(
            floor(""),
            FloorEvent::HumanSaid("Guest, do you ever sleep?".into()),
        ),
    )
    .await
    .expect("the fallback decides");
    assert!(responds(&decisions, Speaker::Guest), "{decisions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_policy_is_cut_at_its_deadline_long_before_its_cpu_limit() {
    let studio = policy_studio(None);
    let host = studio.start(false).await;
    let mut policy = host.policy();
    // cpu_limit_ms is 10 minutes: only the deadline can stop this one in time.
    let error = within(
        "a spinning decide",
        policy.decide(floor(""), FloorEvent::HumanSaid("Claude, spin.".into())),
    )
    .await
    .expect_err("the spinning decide is cut");
    assert!(
        matches!(
            error,
            CallError::Deadline {
                kind: PluginKind::Policy,
                ..
            }
        ),
        "{error}"
    );
}

const LLM_MANIFEST: &str = r#"
[roles]
claude = "slow"
guest = "spare"

[plugins.slow]
path = "fault-injector.wasm"
capabilities = ["log"]
cpu_limit_ms = 600000
[plugins.slow.deadlines]
llm_line_ms = 500

[plugins.spare]
path = "fault-injector.wasm"
capabilities = ["log"]
"#;

fn llm_studio() -> Studio {
    let studio = Studio::with_plugins(&["fault-injector"]);
    studio.write_manifest(LLM_MANIFEST);
    studio
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_llm_is_cut_at_its_line_deadline_and_its_handle_recovers() {
    let studio = llm_studio();
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let error = within(
        "an hour-long sleep",
        complete(&mut claude, "sleep:3600000", "x"),
    )
    .await
    .expect_err("cut at the deadline");
    assert!(
        matches!(
            error,
            CallError::Deadline { ref plugin, kind: PluginKind::Llm, limit_ms: 500 } if plugin == "slow"
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "slow did not finish a line within 500 ms (llm deadline llm_line_ms in plugins.toml [studio.deadlines])"
    );
    let text = within("the next line", complete(&mut claude, "echo", "awake now"))
        .await
        .expect("the next line works");
    assert_eq!(text, "awake now");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_llm_is_cut_at_its_line_deadline_while_another_keeps_serving() {
    let studio = llm_studio();
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let mut guest = host.llm(Ai::Guest);
    let spinner = tokio::spawn(async move { complete(&mut claude, "spin", "x").await });
    let text = within("the guest", complete(&mut guest, "echo", "still here"))
        .await
        .expect("guest serves during the spin");
    assert_eq!(text, "still here");
    let error = within("the spin", spinner)
        .await
        .expect("spinner task")
        .expect_err("cut");
    assert!(
        matches!(
            error,
            CallError::Deadline {
                kind: PluginKind::Llm,
                limit_ms: 500,
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_llm_ignoring_max_tokens_is_held_to_it_and_the_line_ends_as_max_tokens() {
    let studio = llm_studio();
    let host = studio.start(false).await;
    let mut guest = host.llm(Ai::Guest);
    let mut request = support::plugins::request("echo", "one two three four five six seven");
    request.max_tokens = 3;
    let (tx, collector) = support::plugins::token_collector();
    let completion = guest.complete(request, tx).await.expect("ends normally");
    assert_eq!(collector.await.expect("collector"), "one two three");
    assert_eq!(completion.stop_reason, "max_tokens");
    assert_eq!(completion.output_tokens, Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_past_its_character_bound_is_refused_even_when_the_plugin_goes_on() {
    let studio = llm_studio();
    let host = studio.start(false).await;
    let mut guest = host.llm(Ai::Guest);
    // 100 000 characters in one piece against max_tokens 64; the plugin then pushes more and
    // returns `end_turn` as if all had gone out.
    let (tx, collector) = support::plugins::token_collector();
    let completion = guest
        .complete(support::plugins::request("big:100000", ""), tx)
        .await
        .expect("ends normally");
    assert_eq!(collector.await.expect("collector"), "");
    assert_eq!(completion.stop_reason, "max_tokens");
}

fn stt_request(key_terms: &[&str]) -> SttRequest {
    SttRequest {
        speaker: Speaker::You,
        language: "en-US".into(),
        key_terms: key_terms.iter().map(|t| (*t).to_string()).collect(),
    }
}

/// A studio with `frame-counter` as the STT, under `limits` (lines of its plugin table).
fn stt_studio(limits: &str) -> Studio {
    let studio = Studio::with_plugins(&["frame-counter", "mock-stt"]);
    studio.write_manifest(&format!(
        r#"
[roles]
stt = "counter"
[plugins.counter]
path = "frame-counter.wasm"
{limits}
"#
    ));
    studio
}

/// Runs `stt` with `key_terms`, feeding a 20 ms frame whenever there is room until the call ends;
/// returns the result and the transcripts.
async fn run_fed(
    stt: &mut SttHandle,
    key_terms: &[&str],
) -> (Result<(), CallError>, Vec<Transcript>) {
    let (in_tx, in_rx) = mpsc::channel(16);
    let (out_tx, mut out_rx) = mpsc::channel(64);
    let feeder = tokio::spawn(async move {
        // Audio is offered as long as the plugin is there to take it.
        while in_tx.send(SttInput::Audio(vec![100; 960])).await.is_ok() {}
    });
    let result = within(
        "the STT call",
        stt.transcribe(stt_request(key_terms), in_rx, out_tx),
    )
    .await;
    feeder.abort();
    let mut transcripts = Vec::new();
    while let Ok(t) = out_rx.try_recv() {
        transcripts.push(t);
    }
    (result, transcripts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_stt_plugin_that_stops_reading_its_input_is_cut_at_its_idle_deadline() {
    let studio = stt_studio("[plugins.counter.deadlines]\nstt_idle_ms = 500");
    let host = studio.start(false).await;
    let mut stt = host.stt();
    let (result, _) = run_fed(&mut stt, &["stall"]).await;
    let error = result.expect_err("cut");
    assert!(
        matches!(
            error,
            CallError::Deadline { ref plugin, kind: PluginKind::Stt, limit_ms: 500 } if plugin == "counter"
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "counter neither read audio nor sent a transcript for 500 ms (stt deadline stt_idle_ms in plugins.toml [studio.deadlines])"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_stt_plugin_waiting_for_audio_is_never_idle() {
    // No audio comes for longer than the idle deadline: waiting inside `next` is not idling.
    let studio = stt_studio("[plugins.counter.deadlines]\nstt_idle_ms = 200");
    let host = studio.start(false).await;
    let mut stt = host.stt();
    let (in_tx, in_rx) = mpsc::channel(16);
    let (out_tx, mut out_rx) = mpsc::channel(64);
    let feeder = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        in_tx
            .send(SttInput::Audio(vec![100; 960]))
            .await
            .expect("frame");
        in_tx.send(SttInput::End).await.expect("end");
    });
    within(
        "the STT call",
        stt.transcribe(stt_request(&[]), in_rx, out_tx),
    )
    .await
    .expect("a quiet microphone is not a stuck plugin");
    feeder.await.expect("feeder");
    let last = out_rx.recv().await.expect("final");
    assert_eq!(last.text, "1 frames 960 samples 0 hints");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_input_timeout_from_the_plugin_is_clamped_to_the_idle_deadline() {
    let studio = stt_studio("[plugins.counter.deadlines]\nstt_idle_ms = 300");
    let host = studio.start(false).await;
    let mut stt = host.stt();
    // The input stays open and silent: only the clamp brings `timeout` back (u32::MAX ms is 49 days).
    let (_in_tx, in_rx) = mpsc::channel::<SttInput>(16);
    let (out_tx, mut out_rx) = mpsc::channel(64);
    within(
        "next with u32::MAX",
        stt.transcribe(stt_request(&["wait-long"]), in_rx, out_tx),
    )
    .await
    .expect("returns");
    assert_eq!(out_rx.recv().await.expect("reported").text, "timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_stt_plugin_is_still_stopped_by_its_cpu_budget() {
    let studio = stt_studio("cpu_limit_ms = 50");
    let host = studio.start(false).await;
    let mut stt = host.stt();
    let (result, _) = run_fed(&mut stt, &["spin"]).await;
    let error = result.expect_err("stopped");
    assert!(
        matches!(error, CallError::CpuLimit { ref plugin, limit_ms: 50 } if plugin == "counter"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_stt_plugin_burning_more_cpu_than_its_audio_earns_is_stopped_while_audio_flows() {
    // 50 ms of CPU per 20 ms frame against 4 ms earned per frame.
    let studio = stt_studio("cpu_limit_ms = 300");
    let host = studio.start(false).await;
    let mut stt = host.stt();
    let (result, _) = run_fed(&mut stt, &["burn"]).await;
    let error = result.expect_err("stopped");
    assert!(
        matches!(error, CallError::CpuLimit { limit_ms: 300, .. }),
        "{error}"
    );
}

/// 20 ms frames of 48 kHz audio: `speech_ms` of a loud 220 Hz tone, then `quiet_ms` of silence.
fn utterance(speech_ms: usize, quiet_ms: usize) -> Vec<Vec<i16>> {
    let mut n = 0usize;
    (0..(speech_ms + quiet_ms) / 20)
        .map(|i| {
            let loud = i * 20 < speech_ms;
            (0..960)
                .map(|_| {
                    n += 1;
                    if loud {
                        ((n as f32 * 220.0 * std::f32::consts::TAU / 48_000.0).sin() * 8_000.0)
                            as i16
                    } else {
                        0
                    }
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_minutes_of_live_audio_on_a_20_ms_cpu_limit_transcribe_without_a_failure() {
    // Before budgets scaled with audio, this failed after about 22 s of audio.
    let studio = Studio::with_plugins(&["mock-stt"]);
    studio.write_manifest(
        r#"
[roles]
stt = "mock-stt"
[plugins.mock-stt]
path = "mock-stt.wasm"
capabilities = ["log", "clock", "config"]
cpu_limit_ms = 20
[plugins.mock-stt.config]
script = ["one", "two", "three"]
end_of_speech_ms = 300
"#,
    );
    let host = studio.start(false).await;
    let mut stt = host.stt();
    // 300 utterances of 1 s speech + 1 s quiet: 10 minutes, fed as fast as the plugin reads.
    let (in_tx, in_rx) = mpsc::channel(64);
    let (out_tx, mut out_rx) = mpsc::channel::<Transcript>(64);
    let feeder = tokio::spawn(async move {
        let pattern = utterance(1_000, 1_000);
        for _ in 0..300 {
            for frame in &pattern {
                in_tx
                    .send(SttInput::Audio(frame.clone()))
                    .await
                    .expect("stt reads its input");
            }
        }
        in_tx.send(SttInput::End).await.expect("stt reads the end");
    });
    let finals = tokio::spawn(async move {
        let mut finals = Vec::new();
        while let Some(t) = out_rx.recv().await {
            if t.kind == TranscriptKind::Final {
                finals.push(t);
            }
        }
        finals
    });
    within(
        "ten minutes of audio",
        stt.transcribe(stt_request(&[]), in_rx, out_tx),
    )
    .await
    .expect("no failure in ten minutes of audio");
    feeder.await.expect("feeder");
    let finals = finals.await.expect("finals");
    assert_eq!(finals.len(), 300);
    let last = finals.last().expect("a last final");
    assert_eq!(last.text, "three", "the script went round 100 times");
    assert!(
        last.end_ms > 590_000,
        "stamped on the audio's clock: {last:?}"
    );
}

mod studio_end_to_end;
