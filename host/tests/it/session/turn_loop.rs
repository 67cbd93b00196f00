//! The turn loop with real parts: the shipped plugins (.wasm from the build), spoken audio made
//! with espeak-ng and converted with sox, real recording files in a temp folder. Each test drives
//! one studio actor through its handle, as the gateway does, and checks what the studio shows
//! (snapshot) and what it recorded (events.jsonl, VTT).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use studio_test_kit::manifest::Manifest;
use studio_test_kit::speech::speech;
use voice_studio::config::RuntimeConfigUpdate;
use voice_studio::gateway::protocol::OrbState;
use voice_studio::session::{ClientId, StudioCommand, StudioHandle};
use voice_studio::speakers::Speaker;

use crate::support::studio::{
    CHUNK_BYTES, PATIENCE, RigOptions, StudioRig, final_caption, silence, stream, until,
};

/// The shipped mocks, made fast: short replies spoken quickly; the guest's LLM and the policy as
/// the test asks (the fault injector is declared for tests that use it).
fn manifest(policy: &str, guest: &str, script: &[&str]) -> Manifest {
    Manifest::quick_mocks()
        .script(script)
        .role("guest", guest)
        .role("policy", policy)
        .plugin(policy, &["log"])
        .plugin("fault-injector", &["log"])
}

async fn rig(policy: &str, script: &[&str], max_turns: u32) -> StudioRig {
    rig_with_guest(policy, "mock-llm", script, max_turns).await
}

async fn rig_with_guest(policy: &str, guest: &str, script: &[&str], max_turns: u32) -> StudioRig {
    rig_recording_to(policy, guest, script, max_turns, None).await
}

/// A rig whose studios record into `recording_dir` (default: a fresh folder).
async fn rig_recording_to(
    policy: &str,
    guest: &str,
    script: &[&str],
    max_turns: u32,
    recording_dir: Option<PathBuf>,
) -> StudioRig {
    let options = RigOptions {
        autopilot_max_turns: max_turns,
        recording_dir,
        ..RigOptions::default()
    };
    StudioRig::with(manifest(policy, guest, script), options).await
}

fn join(rig: &StudioRig, episode: &str) -> (StudioHandle, ClientId) {
    rig.join(episode)
}

/// Ends the session the way `client.end-session` does and reads its events.jsonl.
async fn end_and_read_events(
    rig: &StudioRig,
    studio: &StudioHandle,
    client: ClientId,
    episode: &str,
) -> Vec<Value> {
    let (ready, folder) = rig.end(studio, client, episode).await;
    assert!(!studio.is_running());
    assert!(ready.files.iter().any(|f| f.ends_with("claude.webm")));
    std::fs::read_to_string(folder.join("events.jsonl"))
        .expect("events.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("event line is JSON"))
        .collect()
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoken_question_gets_a_final_caption_then_claude_thinks_and_speaks() {
    let rig = rig(
        "host-led",
        &["Claude, what do you make of today's topic?"],
        6,
    )
    .await;
    let (studio, client) = join(&rig, "ep-happy");
    stream(&studio, client, &silence(500)).await;
    stream(
        &studio,
        client,
        &speech("Claude, what do you make of today's topic?"),
    )
    .await;
    let heard = until(&studio, client, "the final you caption", |s| {
        final_caption(s, Speaker::You).is_some()
    })
    .await;
    assert_eq!(
        final_caption(&heard, Speaker::You).as_deref(),
        Some("Claude, what do you make of today's topic?")
    );
    until(&studio, client, "claude speaking", |s| {
        s.orb_states.claude == OrbState::Speaking
    })
    .await;
    let done = until(&studio, client, "claude's finished line", |s| {
        final_caption(s, Speaker::Claude).is_some() && s.orb_states.claude == OrbState::Idle
    })
    .await;
    let line = final_caption(&done, Speaker::Claude).expect("claude caption");
    assert!(!line.is_empty());

    let events = end_and_read_events(&rig, &studio, client, "ep-happy").await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    let position = |kind: &str| kinds.iter().position(|k| *k == kind);
    for kind in [
        "stt.final",
        "turn.start",
        "llm.start",
        "tts.start",
        "llm.complete",
        "turn.end",
    ] {
        assert!(position(kind).is_some(), "no {kind} in {kinds:?}");
    }
    assert!(position("stt.final") < position("turn.start"));
    let turn_end = of_type(&events, "turn.end");
    let metrics = &turn_end[0]["metrics"];
    assert_eq!(turn_end[0]["speaker"], "claude");
    assert_eq!(metrics["interrupted"], false);
    assert!(
        metrics["durationMs"].as_u64().is_some_and(|ms| ms > 0),
        "audio was played: {metrics}"
    );
    assert!(metrics["llmFirstTokenMs"].is_u64() && metrics["ttsFirstAudioMs"].is_u64());
    assert!(
        metrics["voiceToVoiceMs"].is_u64(),
        "a reply to the human carries voice-to-voice: {metrics}"
    );
    let route = of_type(&events, "command.route");
    assert_eq!(route[0]["targets"][0], "claude");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_human_speaking_over_claude_cuts_its_line_to_what_was_played() {
    let rig = rig(
        "host-led",
        &[
            "Claude, what do you make of today's topic?",
            "Guest, do you agree with that?",
        ],
        6,
    )
    .await;
    let (studio, client) = join(&rig, "ep-barge");
    stream(&studio, client, &silence(500)).await;
    stream(
        &studio,
        client,
        &speech("Claude, what do you make of today's topic?"),
    )
    .await;
    until(&studio, client, "claude speaking", |s| {
        s.orb_states.claude == OrbState::Speaking
    })
    .await;
    // Barge in: as soon as the studio has handled the speech onset, claude is silent.
    let cut = speech("Guest, do you agree with that?");
    stream(&studio, client, &cut[..CHUNK_BYTES * 10]).await;
    let during = studio.snapshot().await.expect("snapshot");
    assert_ne!(during.orb_states.claude, OrbState::Speaking);
    assert_eq!(during.orb_states.you, OrbState::Listening);
    stream(&studio, client, &cut[CHUNK_BYTES * 10..]).await;
    // The human's question goes to the guest.
    until(&studio, client, "the guest's answer", |s| {
        final_caption(s, Speaker::Guest).is_some()
    })
    .await;

    let events = end_and_read_events(&rig, &studio, client, "ep-barge").await;
    let barge = of_type(&events, "barge-in");
    assert_eq!(barge.len(), 1, "one barge-in");
    assert_eq!(barge[0]["interrupted"][0], "claude");
    let ends = of_type(&events, "turn.end");
    let claude_end = ends
        .iter()
        .find(|e| e["speaker"] == "claude")
        .expect("claude's turn ended");
    assert_eq!(claude_end["metrics"]["interrupted"], true);
    // What claude's caption kept is a prefix of the reply the LLM wrote.
    let full = of_type(&events, "llm.complete")[0]["text"]
        .as_str()
        .expect("reply text")
        .to_owned();
    assert!(ends.len() >= 2, "claude's cut line and the guest's answer");
    let vtt = std::fs::read_to_string(
        rig.recordings
            .join(
                rig.registry
                    .last_recording("ep-barge")
                    .and_then(|r| r.folder)
                    .expect("folder"),
            )
            .join("claude.vtt"),
    )
    .expect("claude.vtt");
    let cue = vtt.lines().last().unwrap_or_default().trim().to_owned();
    assert!(
        cue.len() < full.len()
            && full
                .split_whitespace()
                .collect::<Vec<_>>()
                .starts_with(&cue.split_whitespace().collect::<Vec<_>>()),
        "claude's recorded line `{cue}` is the played start of `{full}`"
    );
    let guest_route = of_type(&events, "command.route");
    assert!(guest_route.iter().any(|r| r["targets"][0] == "guest"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_over_claude_holds_its_frames_for_a_moment_but_cuts_nothing() {
    let rig = rig(
        "host-led",
        &["Claude, what do you make of today's topic?"],
        6,
    )
    .await;
    let (studio, client) = join(&rig, "ep-click");
    stream(&studio, client, &silence(500)).await;
    stream(
        &studio,
        client,
        &speech("Claude, what do you make of today's topic?"),
    )
    .await;
    until(&studio, client, "claude speaking", |s| {
        s.orb_states.claude == OrbState::Speaking
    })
    .await;
    // One loud 20 ms frame: the VAD may take it for the start of speech, so claude's frames are
    // held, and lifted at the next quiet frame.
    let click: Vec<u8> = (0..CHUNK_BYTES / 2)
        .flat_map(|i| {
            let phase = i as f64 * 1_000.0 / 48_000.0 * std::f64::consts::TAU;
            ((phase.sin() * 16_000.0) as i16).to_le_bytes()
        })
        .collect();
    stream(&studio, client, &click).await;
    stream(&studio, client, &silence(100)).await;
    until(&studio, client, "claude's line played out", |s| {
        final_caption(s, Speaker::Claude).is_some() && s.orb_states.claude != OrbState::Speaking
    })
    .await;

    let events = end_and_read_events(&rig, &studio, client, "ep-click").await;
    assert!(
        of_type(&events, "barge-in").is_empty(),
        "a click is no barge-in"
    );
    let ends = of_type(&events, "turn.end");
    let claude_end = ends
        .iter()
        .find(|e| e["speaker"] == "claude")
        .expect("claude's turn ended");
    assert_eq!(claude_end["metrics"]["interrupted"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_autopilot_the_ais_alternate_until_the_cap() {
    let rig = rig("host-led", &["Let's begin."], 3).await;
    let (studio, client) = join(&rig, "ep-autopilot");
    stream(&studio, client, &silence(200)).await;
    studio
        .deliver(StudioCommand::SetAutopilot { client, on: true })
        .await
        .expect("autopilot");
    // Three lines, then the AIs wait for the human.
    until(&studio, client, "three AI lines", |s| {
        s.captions
            .iter()
            .filter(|c| c.speaker != Speaker::You && c.is_final == Some(true))
            .count()
            >= 3
            && s.orb_states.claude == OrbState::Idle
            && s.orb_states.guest == OrbState::Idle
    })
    .await;
    // Nothing more comes without the human.
    stream(&studio, client, &silence(1500)).await;
    let events = end_and_read_events(&rig, &studio, client, "ep-autopilot").await;
    let speakers: Vec<&str> = of_type(&events, "turn.start")
        .iter()
        .filter_map(|e| e["speaker"].as_str())
        .collect();
    assert_eq!(speakers, ["claude", "guest", "claude"]);
    assert_eq!(of_type(&events, "autopilot.toggle").len(), 1);
    let ends = of_type(&events, "turn.end");
    assert!(
        ends[1..]
            .iter()
            .all(|e| e["metrics"]["handoffGapMs"].is_u64()),
        "an AI answering an AI carries its hand-off gap: {ends:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asked_to_think_claude_prepares_in_silence_and_speaks_when_the_time_is_up() {
    let rig = rig(
        "host-led",
        &["Claude, take 5 seconds to think about it."],
        6,
    )
    .await;
    let (studio, client) = join(&rig, "ep-think");
    stream(&studio, client, &silence(500)).await;
    stream(
        &studio,
        client,
        &speech("Claude, take five seconds to think about it."),
    )
    .await;
    let thinking = until(&studio, client, "thinking mode", |s| {
        s.shared_screen.thinking.is_some()
    })
    .await;
    let countdown = thinking.shared_screen.thinking.expect("countdown");
    assert_eq!(countdown.speaker, Speaker::Claude);
    assert_eq!(countdown.duration_ms, 5_000);
    assert_eq!(thinking.orb_states.guest, OrbState::Muted);
    until(&studio, client, "claude's prepared answer", |s| {
        s.shared_screen.thinking.is_none()
            && final_caption(s, Speaker::Claude).is_some()
            && s.orb_states.claude == OrbState::Idle
    })
    .await;

    let events = end_and_read_events(&rig, &studio, client, "ep-think").await;
    let index = |pred: &dyn Fn(&Value) -> bool| events.iter().position(pred);
    let normal = index(&|e| e["type"] == "mode.normal").expect("mode.normal");
    let speaking = index(&|e| {
        e["type"] == "orb.state-change" && e["speaker"] == "claude" && e["newState"] == "speaking"
    })
    .expect("claude spoke");
    let prepared = index(&|e| e["type"] == "llm.complete").expect("the answer was written");
    assert!(
        prepared < normal,
        "the answer was prepared during the countdown"
    );
    assert!(normal < speaking, "and played only after it");
    assert_eq!(of_type(&events, "mode.thinking")[0]["duration"], 5_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_guest_plugin_is_reported_and_the_next_turn_works() {
    let rig = rig_with_guest(
        "host-led",
        "fault-injector",
        &[
            "Guest, what do you think?",
            "Claude, what do you make of it?",
        ],
        6,
    )
    .await;
    // The settings dialog's guest model reaches the plugin: this one makes it trap.
    rig.live.apply(RuntimeConfigUpdate {
        guest_model: Some("trap".into()),
        ..RuntimeConfigUpdate::default()
    });
    let (studio, client) = join(&rig, "ep-fault");
    stream(&studio, client, &silence(500)).await;
    stream(&studio, client, &speech("Guest, what do you think?")).await;
    until(
        &studio,
        client,
        "the guest's orb showing the failure",
        |s| s.orb_states.guest == OrbState::Error,
    )
    .await;
    stream(&studio, client, &speech("Claude, what do you make of it?")).await;
    let answered = until(&studio, client, "claude's answer", |s| {
        final_caption(s, Speaker::Claude).is_some() && s.orb_states.claude == OrbState::Idle
    })
    .await;
    assert_eq!(
        answered.orb_states.guest,
        OrbState::Idle,
        "the error orb recovered"
    );

    let events = end_and_read_events(&rig, &studio, client, "ep-fault").await;
    let errors = of_type(&events, "error");
    let guest_error = errors
        .iter()
        .find(|e| e["service"] == "llm:guest")
        .expect("the guest's failure is logged");
    let message = guest_error["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("fault-injector") && message.contains("trapped"),
        "{message}"
    );
    let claude_end = of_type(&events, "turn.end")
        .into_iter()
        .find(|e| e["speaker"] == "claude")
        .expect("claude's turn");
    assert!(
        claude_end["metrics"]["durationMs"]
            .as_u64()
            .is_some_and(|ms| ms > 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_folder_that_cannot_be_created_does_not_stop_the_studio() {
    let blocker = tempfile::NamedTempFile::new().expect("a file where a folder should be");
    let rig = rig_recording_to(
        "host-led",
        "mock-llm",
        &["Claude, what do you make of today's topic?"],
        6,
        Some(blocker.path().join("rec")),
    )
    .await;
    let (studio, client) = join(&rig, "ep-unrecorded");
    stream(&studio, client, &silence(500)).await;
    stream(
        &studio,
        client,
        &speech("Claude, what do you make of today's topic?"),
    )
    .await;
    let answered = until(&studio, client, "claude's answer", |s| {
        final_caption(s, Speaker::Claude).is_some() && s.orb_states.claude == OrbState::Idle
    })
    .await;
    assert!(final_caption(&answered, Speaker::You).is_some());
    studio
        .deliver(StudioCommand::EndSession { client })
        .await
        .expect("end delivered");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while studio.is_running() {
        assert!(tokio::time::Instant::now() < deadline, "studio never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rig.registry.last_recording("ep-unrecorded"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_microphone_that_goes_quiet_mid_sentence_still_ends_the_utterance() {
    let rig = rig("host-led", &["Claude, what do you make of it?"], 6).await;
    let (studio, client) = join(&rig, "ep-muted");
    stream(&studio, client, &silence(500)).await;
    // The human is cut off mid-word (a mute button, a closed tab): no trailing silence arrives,
    // and after this no audio at all.
    let said = speech("Claude, what do you make of it?");
    let cut = said.len() * 2 / 3 / CHUNK_BYTES * CHUNK_BYTES;
    stream(&studio, client, &said[..cut]).await;

    let deadline = tokio::time::Instant::now() + PATIENCE;
    let answered = loop {
        let snapshot = studio.snapshot().await.expect("snapshot");
        if final_caption(&snapshot, Speaker::You).is_some()
            && matches!(
                snapshot.orb_states.claude,
                OrbState::Thinking | OrbState::Speaking
            )
        {
            break snapshot;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the utterance never ended without microphone audio: {snapshot:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        final_caption(&answered, Speaker::You).as_deref(),
        Some("Claude, what do you make of it?")
    );
    assert!(
        answered
            .captions
            .iter()
            .all(|c| c.speaker != Speaker::You || c.is_final == Some(true)),
        "a partial caption was left open: {:#?}",
        answered.captions
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_thinking_mode_the_next_question_is_answered() {
    let rig = rig(
        "host-led",
        &[
            "Claude, take 3 seconds to think about it.",
            "Claude, what do you make of it?",
        ],
        6,
    )
    .await;
    let (studio, client) = join(&rig, "ep-think-then-ask");
    stream(&studio, client, &silence(500)).await;
    stream(
        &studio,
        client,
        &speech("Claude, take three seconds to think about it."),
    )
    .await;
    until(&studio, client, "claude's prepared answer played", |s| {
        s.shared_screen.thinking.is_none()
            && final_caption(s, Speaker::Claude).is_some()
            && s.orb_states.claude == OrbState::Idle
    })
    .await;
    stream(&studio, client, &speech("Claude, what do you make of it?")).await;
    until(&studio, client, "an answer to the next question", |s| {
        s.captions
            .iter()
            .filter(|c| c.speaker == Speaker::Claude && c.is_final == Some(true))
            .count()
            >= 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_answer_that_is_playing_can_be_cut_off() {
    let rig = rig(
        "host-led",
        &[
            "Claude, take 2 seconds to think about it.",
            "Guest, do you agree with that?",
        ],
        6,
    )
    .await;
    let (studio, client) = join(&rig, "ep-think-barge-in");
    stream(&studio, client, &silence(500)).await;
    stream(
        &studio,
        client,
        &speech("Claude, take two seconds to think about it."),
    )
    .await;
    until(&studio, client, "claude playing its prepared answer", |s| {
        s.shared_screen.thinking.is_none() && s.orb_states.claude == OrbState::Speaking
    })
    .await;
    stream(&studio, client, &speech("Guest, do you agree with that?")).await;
    until(&studio, client, "the guest answering", |s| {
        final_caption(s, Speaker::Guest).is_some()
    })
    .await;
    let events = end_and_read_events(&rig, &studio, client, "ep-think-barge-in").await;
    let cut = of_type(&events, "turn.end")
        .into_iter()
        .filter(|e| e["speaker"] == "claude" && e["metrics"]["interrupted"] == true)
        .count();
    assert_eq!(cut, 1, "the human's speech cut claude's prepared answer");
    assert_eq!(of_type(&events, "barge-in").len(), 1);
}
