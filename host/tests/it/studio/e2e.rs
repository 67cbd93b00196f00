//! The live studio end to end: the real binary with the mock plugins (speech in, captions,
//! orbs, AI audio out, thinking mode, autopilot, barge-in, a shared episode, the recording over
//! HTTP), driven by the official `socket.io-client` from `tests/e2e/live.test.mjs`.

use crate::support::server::ServerSetup;
use crate::support::server::node::{assert_all_passed, run_suites};
use studio_test_kit::manifest::Manifest;

/// What the mock-stt hears, utterance by utterance (the suite speaks the same lines with
/// espeak-ng): a question to claude, one to the guest, a thinking request.
const SCRIPT: [&str; 3] = [
    "Claude, what do you make of today's topic?",
    "Guest, do you agree with that?",
    "Claude, take a moment to think about it, give me 5 seconds.",
];

/// The default mock plugins, paced for a test: fast tokens, fast speech, a short end of speech.
fn manifest() -> String {
    Manifest::shipped()
        .script(&SCRIPT)
        .config("mock-stt", "end_of_speech_ms", 400)
        .config("mock-tts", "words_per_minute", 400)
        .config("mock-llm", "token_delay_ms", 5)
        .to_string()
}

#[test]
fn live_studio_scenarios_pass_with_the_official_client() {
    let server = ServerSetup::new().manifest(&manifest()).start();
    let script = serde_json::to_string(&SCRIPT).expect("script as JSON");
    let run = run_suites(
        &["live.test.mjs"],
        &[
            ("STUDIO_URL", server.url()),
            ("STUDIO_LIVE", "1".into()),
            ("STUDIO_SCRIPT", script),
        ],
    );
    let (status, log) = server.terminate();
    if !run.status.success() {
        // The server's side of a failure.
        eprintln!("--- server log ---\n{log}");
    }
    assert_all_passed(&run);
    assert_eq!(status.code(), Some(0), "{log}");
}
