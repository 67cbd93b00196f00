//! Production mode end to end: the real binary with `USE_REAL_ADAPTERS=true` and the shipped
//! `plugins.toml`, every provider a local fake speaking its real protocol (`tests/kit` (its `fakes`)), driven
//! by the official `socket.io-client` from `tests/e2e/real-adapters.test.mjs`: human speech in,
//! whisper transcripts, anthropic and openai-compatible replies, piper speech out, and a refused
//! key reported to the client while the session goes on. Afterwards the requests each fake
//! received are checked, so a wrong request fails here even when the studio coped with it.

use std::path::{Path, PathBuf};

use crate::support::server::ServerSetup;
use crate::support::server::node::{assert_all_passed, run_suites};
use studio_test_kit::fakes::{Fault, anthropic, openai, whisper};

/// What the fake Whisper hears, utterance by utterance (the suite speaks the same lines).
const SCRIPT: [&str; 4] = [
    "Claude, what do you make of cars in city centres?",
    "Guest, do you agree with that?",
    "Claude, one more thought on parking?",
    "Guest, what would you change first?",
];
const CLAUDE_REPLY: [&str; 4] = ["Cities", " breathe", " better without", " through traffic."];
const GUEST_REPLY: [&str; 3] = ["Mostly,", " but deliveries", " still need a way in."];
/// A key the fakes accept; it must never show up in what the client sees.
const ANTHROPIC_KEY: &str = "sk-ant-e2e-secret";
const GROQ_KEY: &str = "gsk-e2e-secret";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the host crate sits in the workspace")
        .to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_runs_on_the_real_adapters_against_fake_providers() {
    let stt = whisper::start(&SCRIPT).await;
    let claude = anthropic::start(CLAUDE_REPLY.map(String::from).to_vec()).await;
    let guest = openai::start(GUEST_REPLY.map(String::from).to_vec()).await;
    // Claude's first reply is served; its second is refused with 401 (no retry: one request).
    claude.push_faults([Fault::SlowFirstByte { ms: 0 }, Fault::Unauthorized]);

    let manifest = std::fs::read_to_string(repo().join("plugins.toml")).expect("plugins.toml");
    let setup = ServerSetup::new().manifest(&manifest);
    // Piper's voice: the fake reads the rate (and where to record its invocation) from the
    // model's JSON, as the real one does.
    // Outside the server's folder, which goes with the server.
    let voice_dir = tempfile::tempdir().expect("voice folder");
    let model = voice_dir.path().join("en_US-test-medium.onnx");
    let piper_log = voice_dir.path().join("piper.log");
    std::fs::write(&model, b"not a real model").expect("model");
    std::fs::write(
        voice_dir.path().join("en_US-test-medium.onnx.json"),
        serde_json::json!({
            "audio": {"sample_rate": 22050},
            "fake_record": piper_log.display().to_string(),
        })
        .to_string(),
    )
    .expect("model json");
    // A server running as root runs Piper as nobody (plugins.toml [plugins.piper.process]): the
    // voice must be readable by it and the fake's record files writable.
    {
        use std::os::unix::fs::PermissionsExt;
        let open = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
        };
        open(voice_dir.path(), 0o755);
        for record in [piper_log.clone(), piper_log.with_extension("log.stdin")] {
            std::fs::write(&record, b"").expect("record file");
            open(&record, 0o666);
        }
    }
    let piper = repo().join("tests/kit/fakes/piper");
    let server = setup
        .var("PATH", std::env::var("PATH").unwrap_or_default())
        .var("USE_REAL_ADAPTERS", "true")
        .var("STT_PROVIDER", "whisper")
        .var("WHISPER_ENDPOINT", stt.endpoint())
        .var("TTS_PROVIDER", "piper")
        .var("PIPER_PATH", piper.display().to_string())
        .var("PIPER_MODEL_PATH", model.display().to_string())
        .var("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .var("ANTHROPIC_BASE_URL", claude.base_url())
        .var("GUEST_PROVIDER", "groq")
        .var("GROQ_API_KEY", GROQ_KEY)
        .var("GROQ_BASE_URL", format!("{}/openai/v1", guest.base_url()))
        .start();

    let script = serde_json::to_string(&SCRIPT).expect("script");
    let replies = serde_json::json!({
        "claude": CLAUDE_REPLY.concat(),
        "guest": GUEST_REPLY.concat(),
    })
    .to_string();
    let url = server.url();
    let run = tokio::task::spawn_blocking(move || {
        run_suites(
            &["real-adapters.test.mjs"],
            &[
                ("STUDIO_URL", url),
                ("STUDIO_REAL_ADAPTERS", "1".into()),
                ("STUDIO_SCRIPT", script),
                ("STUDIO_REPLIES", replies),
            ],
        )
    })
    .await
    .expect("node suite");
    let (status, log) = server.terminate();
    if !run.status.success() {
        eprintln!("--- server log ---\n{log}");
    }
    assert_all_passed(&run);
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        !log.contains(ANTHROPIC_KEY) && !log.contains(GROQ_KEY),
        "a key reached the log"
    );

    // Whisper got the `raw` flavour's body: bare 16 kHz mono s16le PCM, one request
    // per utterance, each about as long as the clip that was spoken.
    let heard = stt.requests();
    assert!(
        heard.len() >= SCRIPT.len(),
        "{} whisper requests",
        heard.len()
    );
    for request in &heard {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/transcribe");
        assert_eq!(request.body.len() % 2, 0, "whole 16-bit samples");
        let seconds = request.body.len() as f64 / 2.0 / 16_000.0;
        assert!((0.5..15.0).contains(&seconds), "{seconds} s of audio");
    }

    // Anthropic: the Messages API with the key, version and the default model; two requests
    // (the 401 is not retried).
    let asked = claude.requests();
    assert_eq!(
        asked.len(),
        2,
        "one answered request and one refused, not retried"
    );
    for request in &asked {
        assert_eq!(request.path, "/v1/messages");
        assert_eq!(request.header("x-api-key"), Some(ANTHROPIC_KEY));
        assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
        let body = request.json();
        assert_eq!(body["model"], "claude-haiku-4-5");
        assert_eq!(body["stream"], true);
        assert!(body["system"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(body["messages"].as_array().is_some_and(|m| !m.is_empty()));
    }

    // Groq through the openai-compat adapter: Bearer key, streaming, Groq's default model.
    let guest_asked = guest.requests();
    assert_eq!(guest_asked.len(), 2, "the guest answered twice");
    for request in &guest_asked {
        assert_eq!(request.path, "/openai/v1/chat/completions");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {GROQ_KEY}").as_str())
        );
        let body = request.json();
        assert_eq!(body["model"], "llama-3.3-70b-versatile");
        assert_eq!(body["stream"], true);
        assert_eq!(body["messages"][0]["role"], "system");
    }

    // Piper ran as its CLI is run, with the voice model, raw output, and a reply's text on its
    // standard input (the fake keeps its last run).
    let invocation = std::fs::read_to_string(&piper_log).expect("piper recorded its argv");
    assert!(
        invocation.contains(&model.display().to_string()),
        "{invocation}"
    );
    assert!(
        invocation.contains("--output-raw") || invocation.contains("--output_raw"),
        "{invocation}"
    );
    let spoken = std::fs::read_to_string(piper_log.with_extension("log.stdin")).unwrap_or_default();
    let said = spoken.trim();
    assert!(
        !said.is_empty()
            && (CLAUDE_REPLY.concat().contains(said) || GUEST_REPLY.concat().contains(said)),
        "piper spoke a reply's sentence: {spoken:?}"
    );
}
