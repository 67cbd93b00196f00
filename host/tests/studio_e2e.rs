//! The live studio end to end: the real binary with the mock plugins (speech in, captions,
//! orbs, AI audio out, thinking mode, autopilot, barge-in, a shared episode, the recording over
//! HTTP), driven by the official `socket.io-client` from `tests/e2e/live.test.mjs`.

mod server_support;

use server_support::ServerSetup;
use server_support::node::{assert_all_passed, run_suites};

/// What the mock-stt hears, utterance by utterance (the suite speaks the same lines with
/// espeak-ng): a question to claude, one to the guest, a thinking request.
const SCRIPT: [&str; 3] = [
    "Claude, what do you make of today's topic?",
    "Guest, do you agree with that?",
    "Claude, take a moment to think about it, give me 5 seconds.",
];

/// The default mock plugins, paced for a test: fast tokens, fast speech, a short end of speech.
fn manifest() -> String {
    let script = SCRIPT
        .iter()
        .map(|l| format!("{l:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"
[roles]
stt = "mock-stt"
tts = "mock-tts"
claude = "mock-llm"
guest = "mock-llm"
policy = "host-led"

[plugins.mock-stt]
path = "mock-stt.wasm"
capabilities = ["log", "clock", "config"]
[plugins.mock-stt.config]
script = [{script}]
threshold_dbfs = -40
end_of_speech_ms = 400
partial_every_ms = 300

[plugins.mock-tts]
path = "mock-tts.wasm"
capabilities = ["log", "config"]
[plugins.mock-tts.config]
sample_rate = 24000
chunk_ms = 100
words_per_minute = 400

[plugins.mock-llm]
path = "mock-llm.wasm"
capabilities = ["log", "config"]
[plugins.mock-llm.config]
token_delay_ms = 5

[plugins.host-led]
path = "host-led.wasm"
capabilities = ["log"]
"#
    )
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
