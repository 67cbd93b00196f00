//! Each role driven through the real host with real plugins: the repository's own `plugins.toml`
//! and the first-party mock plugins (STT, TTS, LLM, policies), plus the probe plugins of
//! `test-plugins/` (frame-counter, echo-policy).

use crate::support;
use std::path::Path;
use std::sync::Arc;

use crate::support::plugins::{Studio, floor};
use tokio::sync::mpsc;
use voice_studio::plugins::wit::{
    Decision, FloorEvent, Respond, Speaker, SttRequest, TranscriptKind, TtsRequest,
};
use voice_studio::plugins::{PluginHost, PluginHostOptions, RoleSlot, SttInput};
use voice_studio::speakers::Ai;

async fn shipped_host(cache: &Path) -> Arc<PluginHost> {
    PluginHost::start(PluginHostOptions {
        manifest_path: Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins.toml"),
        plugin_dir_override: None,
        cache_dir: Some(cache.to_path_buf()),
        watch: false,
        ..Default::default()
    })
    .await
    .expect("the shipped plugins.toml starts")
}

/// 20 ms frames of 48 kHz audio: `speech_ms` of a loud 220 Hz tone, then `quiet_ms` of silence.
fn utterance(speech_ms: usize, quiet_ms: usize) -> Vec<Vec<i16>> {
    let mut frames = Vec::new();
    let mut n = 0usize;
    for i in 0..(speech_ms + quiet_ms) / 20 {
        let loud = i * 20 < speech_ms;
        let frame = (0..960)
            .map(|_| {
                n += 1;
                if loud {
                    ((n as f32 * 220.0 * std::f32::consts::TAU / 48_000.0).sin() * 8_000.0) as i16
                } else {
                    0
                }
            })
            .collect();
        frames.push(frame);
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_plugins_toml_loads_every_role() {
    let cache = tempfile::tempdir().expect("cache dir");
    let host = shipped_host(cache.path()).await;
    assert!(host.is_ready());
    let plugins = host.plugins();
    for (name, role) in [
        ("mock-stt", RoleSlot::Stt),
        ("mock-tts", RoleSlot::Tts),
        ("host-led", RoleSlot::Policy),
    ] {
        let status = plugins.iter().find(|p| p.name == name).expect("declared");
        assert_eq!(status.roles, vec![role], "{name}");
        assert!(
            status.version.is_some() && status.last_error.is_none(),
            "{status:?}"
        );
        assert_eq!(status.contract.as_deref(), Some("0.1.0"), "{name}");
        assert_eq!(status.sha256.as_ref().map(String::len), Some(64));
    }
    let llm = plugins
        .iter()
        .find(|p| p.name == "mock-llm")
        .expect("declared");
    assert_eq!(llm.roles, vec![RoleSlot::Claude, RoleSlot::Guest]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_stt_turns_an_utterance_into_the_scripted_final_transcript() {
    let cache = tempfile::tempdir().expect("cache dir");
    let host = shipped_host(cache.path()).await;
    let mut stt = host.stt();
    let (in_tx, in_rx) = mpsc::channel(16);
    let (out_tx, mut out_rx) = mpsc::channel(64);
    let feeder = tokio::spawn(async move {
        for frame in utterance(1_000, 1_000) {
            in_tx
                .send(SttInput::Audio(frame))
                .await
                .expect("stt reads its input");
        }
        in_tx.send(SttInput::End).await.expect("stt reads the end");
    });
    let request = SttRequest {
        speaker: Speaker::You,
        language: "en-US".into(),
        key_terms: Vec::new(),
    };
    stt.transcribe(request, in_rx, out_tx)
        .await
        .expect("transcribe");
    feeder.await.expect("feeder");
    let mut finals = Vec::new();
    while let Some(t) = out_rx.recv().await {
        if t.kind == TranscriptKind::Final {
            finals.push(t);
        }
    }
    assert_eq!(finals.len(), 1, "{finals:?}");
    assert_eq!(finals[0].text, "Claude, what do you make of today's topic?");
    assert!(finals[0].end_ms > finals[0].start_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_tts_streams_audio_at_its_configured_rate() {
    let cache = tempfile::tempdir().expect("cache dir");
    let host = shipped_host(cache.path()).await;
    let mut tts = host.tts();
    let (tx, mut rx) = mpsc::channel(1024);
    let request = TtsRequest {
        text: "Hello there, this is the guest speaking.".into(),
        speaker: Speaker::Guest,
        voice: String::new(),
        language: "en-US".into(),
    };
    tts.synthesize(request, tx).await.expect("synthesize");
    let mut chunks = Vec::new();
    while let Some(chunk) = rx.recv().await {
        chunks.push(chunk);
    }
    assert!(chunks.len() > 1, "audio arrives in several chunks");
    assert!(chunks.iter().all(|c| c.sample_rate == 24_000));
    let samples: usize = chunks.iter().map(|c| c.samples.len()).sum();
    assert!(
        samples > 24_000,
        "seven words last more than a second, got {samples} samples"
    );
    assert!(
        chunks
            .iter()
            .flat_map(|c| c.samples.iter())
            .any(|s| *s != 0),
        "not silent"
    );
}

/// The studio takes TTS audio as it plays (about 1.5 s ahead), so a clause's call may wait in
/// its pushes for far longer than its deadline: that wait is the studio's, not the plugin's, and
/// the call must not expire for it. Here the deadline is 400 ms and the listener takes a 100 ms
/// chunk every 100 ms through a one-chunk channel, so the call lasts several seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tts_call_held_back_by_the_studio_outlives_its_clause_deadline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = studio_test_kit::manifest::Manifest::shipped()
        .plugin_dir(voice_studio::plugins::BUILT_PLUGIN_DIR)
        .deadline("tts_clause_ms", 400)
        .write(dir.path());
    let host = PluginHost::start(PluginHostOptions {
        manifest_path: manifest,
        plugin_dir_override: None,
        cache_dir: Some(dir.path().join("cache")),
        watch: false,
        ..Default::default()
    })
    .await
    .expect("the manifest starts");
    let mut tts = host.tts();
    let (tx, mut rx) = mpsc::channel::<voice_studio::plugins::wit::AudioChunk>(1);
    let listener = tokio::spawn(async move {
        let mut samples = 0usize;
        while let Some(chunk) = rx.recv().await {
            samples += chunk.samples.len();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        samples
    });
    let request = TtsRequest {
        text: "This sentence is long enough to last a few seconds when it is spoken aloud.".into(),
        speaker: Speaker::Claude,
        voice: String::new(),
        language: "en-US".into(),
    };
    let started = std::time::Instant::now();
    tts.synthesize(request, tx)
        .await
        .expect("held back by its listener, the call still completes");
    let samples = listener.await.expect("listener");
    assert!(
        started.elapsed() > std::time::Duration::from_secs(2),
        "the listener held the call back past its deadline ({:?})",
        started.elapsed()
    );
    assert!(
        samples > 24_000 * 3,
        "every chunk arrived: {samples} samples"
    );
}

/// The attack the pacing above opens: a TTS plugin that streams a clause without end, never
/// past its deadline because the studio holds it back. The host takes at most 180 s of audio
/// for one clause, refuses the rest and ends the clause with what was delivered. Here mock-tts
/// is asked to speak some 250 s and the listener takes everything at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tts_clause_is_cut_at_its_audio_bound() {
    let cache = tempfile::tempdir().expect("cache dir");
    let host = shipped_host(cache.path()).await;
    let mut tts = host.tts();
    let (tx, mut rx) = mpsc::channel::<voice_studio::plugins::wit::AudioChunk>(1);
    let listener = tokio::spawn(async move {
        let mut seconds = 0.0f64;
        while let Some(chunk) = rx.recv().await {
            seconds += chunk.samples.len() as f64 / f64::from(chunk.sample_rate);
        }
        seconds
    });
    let request = TtsRequest {
        text: "and then we talk some more about it ".repeat(100),
        speaker: Speaker::Claude,
        voice: String::new(),
        language: "en-US".into(),
    };
    tts.synthesize(request, tx)
        .await
        .expect("a clause cut at its bound ends with what was delivered");
    let seconds = listener.await.expect("listener");
    assert!(
        (179.0..=180.0).contains(&seconds),
        "the clause stops at its 180 s bound, got {seconds:.1} s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_llm_streams_a_reply_for_each_ai() {
    let cache = tempfile::tempdir().expect("cache dir");
    let host = shipped_host(cache.path()).await;
    for ai in Ai::ALL {
        let speaker = Speaker::from(ai);
        let mut llm = host.llm(ai);
        let (tx, mut rx) = mpsc::channel(256);
        let mut request = support::plugins::request(
            "",
            "<speaker name=\"you\">What do you think about tea?</speaker>",
        );
        request.speaker = speaker;
        let completion = llm.complete(request, tx).await.expect("complete");
        let mut pieces = Vec::new();
        while let Some(piece) = rx.recv().await {
            pieces.push(piece);
        }
        assert!(pieces.len() > 1, "streamed in pieces: {pieces:?}");
        assert!(!pieces.concat().trim().is_empty());
        assert!(!completion.stop_reason.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_led_routes_a_line_addressed_to_claude_to_claude() {
    let cache = tempfile::tempdir().expect("cache dir");
    let host = shipped_host(cache.path()).await;
    let mut policy = host.policy();
    let decisions = policy
        .decide(
            floor(""),
            FloorEvent::HumanSaid("Claude, what do you make of this?".into()),
        )
        .await
        .expect("decide");
    assert!(
        decisions.iter().any(|d| matches!(
            d,
            Decision::Respond(Respond {
                speaker: Speaker::Claude,
                ..
            })
        )),
        "{decisions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_lets_an_ai_answer_an_unaddressed_line() {
    let studio = Studio::with_plugins(&["round-robin"]);
    studio.write_manifest("[roles]\npolicy = \"round-robin\"\n[plugins.round-robin]\npath = \"round-robin.wasm\"\ncapabilities = [\"log\"]\n");
    let host = studio.start(false).await;
    let mut policy = host.policy();
    let decisions = policy
        .decide(
            floor(""),
            FloorEvent::HumanSaid("What about the weather?".into()),
        )
        .await
        .expect("decide");
    assert!(
        decisions.iter().any(|d| matches!(d, Decision::Respond(_))),
        "{decisions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_counter_sees_every_frame_and_hint_the_host_sends() {
    let studio = Studio::with_plugins(&["frame-counter"]);
    studio.write_manifest(
        "[roles]\nstt = \"frames\"\n[plugins.frames]\npath = \"frame-counter.wasm\"\n",
    );
    let host = studio.start(false).await;
    let mut stt = host.stt();
    let (in_tx, in_rx) = mpsc::channel(128);
    let (out_tx, mut out_rx) = mpsc::channel(8);
    in_tx.send(SttInput::SpeechStarted).await.expect("queue");
    for _ in 0..50 {
        in_tx
            .send(SttInput::Audio(vec![0; 960]))
            .await
            .expect("queue");
    }
    in_tx.send(SttInput::SpeechEnded).await.expect("queue");
    drop(in_tx);
    let request = SttRequest {
        speaker: Speaker::You,
        language: "en-US".into(),
        key_terms: Vec::new(),
    };
    stt.transcribe(request, in_rx, out_tx)
        .await
        .expect("transcribe");
    let last = out_rx.recv().await.expect("one final");
    assert_eq!(last.text, "50 frames 48000 samples 2 hints");
    assert_eq!(last.end_ms, 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_policy_carries_its_memory_between_calls_through_the_host() {
    let studio = Studio::with_plugins(&["echo-policy"]);
    studio.write_manifest(
        "[roles]\npolicy = \"echo\"\n[plugins.echo]\npath = \"echo-policy.wasm\"\n",
    );
    let host = studio.start(false).await;
    let mut policy = host.policy();
    let first = policy
        .decide(floor(""), FloorEvent::HumanSaid("hi".into()))
        .await
        .expect("decide");
    assert_eq!(
        first,
        vec![
            Decision::Respond(Respond {
                speaker: Speaker::Claude,
                cue: "hi".into()
            }),
            Decision::Remember("1".into())
        ]
    );
    let second = policy
        .decide(floor("1"), FloorEvent::HumanSaid("again".into()))
        .await
        .expect("decide");
    assert_eq!(second.last(), Some(&Decision::Remember("2".into())));
    let waiting = policy
        .decide(floor("2"), FloorEvent::HumanSpeechStarted)
        .await
        .expect("decide");
    assert_eq!(waiting, vec![Decision::Wait]);
}
