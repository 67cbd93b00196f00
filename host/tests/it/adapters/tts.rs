//! The TTS adapters through the real host: `google-tts` against the fake Google token endpoint
//! and Text-to-Speech server, `piper` running the fake `piper` executable (tests/kit/fakes/piper)
//! through the `process` capability. Happy paths check the requests the fakes got (URL, Bearer
//! token, JSON body, argv, stdin); every failure of issue 5 is played, with `mock-tts` as the
//! fallback where the issue expects the studio to keep talking.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::plugins::Studio;
use studio_test_kit::fakes::google_oauth::{self, FakeGoogleOAuth};
use studio_test_kit::fakes::google_tts::{self, Answer, FakeGoogleTts};
use studio_test_kit::fakes::{Fault, Recorded};
use tokio::sync::mpsc;
use voice_studio::plugins::wit::{AudioChunk, PluginError, Speaker, TtsRequest};
use voice_studio::plugins::{CallError, PluginHost, TtsHandle};

const CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";

fn request(speaker: Speaker, text: &str) -> TtsRequest {
    TtsRequest {
        text: text.into(),
        speaker,
        voice: String::new(),
        language: String::new(),
    }
}

/// Runs one synthesis on a new handle (a new plugin instance); the chunks, or the error.
async fn speak(host: &Arc<PluginHost>, request: TtsRequest) -> Result<Vec<AudioChunk>, CallError> {
    speak_on(&mut host.tts(), request).await
}

/// Runs one synthesis on `tts` (whose plugin instance lives as long as the handle, like a session's).
async fn speak_on(tts: &mut TtsHandle, request: TtsRequest) -> Result<Vec<AudioChunk>, CallError> {
    let (tx, mut rx) = mpsc::channel(4096);
    let collector = tokio::spawn(async move {
        let mut chunks = Vec::new();
        while let Some(chunk) = rx.recv().await {
            chunks.push(chunk);
        }
        chunks
    });
    let result = tokio::time::timeout(Duration::from_secs(60), tts.synthesize(request, tx))
        .await
        .expect("a TTS call never hangs");
    let chunks = collector.await.expect("collector");
    result.map(|()| chunks)
}

fn samples(chunks: &[AudioChunk]) -> Vec<i16> {
    chunks
        .iter()
        .flat_map(|c| c.samples.iter().copied())
        .collect()
}

/// The plugin error inside a failed call.
fn plugin_error(result: Result<Vec<AudioChunk>, CallError>) -> PluginError {
    match result {
        Err(CallError::Plugin { error, .. }) => error,
        Err(other) => panic!("expected a plugin error, got {other}"),
        Ok(chunks) => panic!("expected an error, got {} chunks", chunks.len()),
    }
}

/// The error of Claude saying "Hello." in a call expected to fail.
async fn failure(host: &Arc<PluginHost>) -> PluginError {
    plugin_error(speak(host, request(Speaker::Claude, "Hello.")).await)
}

/// Asserts that a call that started at `started` ended within `limit` (gave up, never hung).
fn assert_ended_within(started: Instant, limit: Duration) {
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());
}

/// The manifest line that makes `mock-tts` the plugin's fallback, when `fallback`.
fn fallback_line(fallback: bool) -> &'static str {
    if fallback {
        "fallback = [\"mock-tts\"]"
    } else {
        ""
    }
}

/// Config lines: `extra`, then each default whose key `extra` does not set.
fn settings(defaults: &[(&str, &str)], extra: &str) -> String {
    let mut lines: Vec<String> = extra.lines().map(str::to_owned).collect();
    for (key, value) in defaults {
        let set = extra
            .lines()
            .any(|line| line.split('=').next().map(str::trim) == Some(*key));
        if !set {
            lines.push(format!("{key} = {value}"));
        }
    }
    lines.join("\n")
}

// ---------------------------------------------------------------------------------------------
// google-tts

/// A studio with `google-tts` on the fakes (and `mock-tts` as its fallback when asked).
struct Google {
    _studio: Studio,
    host: Arc<PluginHost>,
    oauth: FakeGoogleOAuth,
    tts: FakeGoogleTts,
}

async fn google(extra_config: &str, fallback: bool) -> Google {
    let oauth = google_oauth::start().await;
    let tts = google_tts::start().await;
    let studio = Studio::with_plugins(&["google-tts", "mock-tts"]);
    let fallback = fallback_line(fallback);
    studio.write_manifest(&format!(
        r#"
[roles]
tts = "google-tts"
[plugins.google-tts]
path = "google-tts.wasm"
capabilities = ["log", "clock", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
secret_files = ["{CREDENTIALS}"]
{fallback}
[plugins.google-tts.config]
base_url = "{base}"
{config}
[plugins.mock-tts]
path = "mock-tts.wasm"
capabilities = ["log", "config"]
"#,
        base = tts.base_url(),
        config = settings(
            &[("timeout_ms", "2000"), ("retry_base_ms", "50")],
            extra_config
        ),
    ));
    let credentials = oauth.write_credentials(studio.dir.path());
    let host = studio.start(false).await;
    host.set_secret(CREDENTIALS, credentials.display().to_string());
    Google {
        _studio: studio,
        host,
        oauth,
        tts,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_tts_speaks_each_sentence_with_a_token_from_the_service_account() {
    let g = google("", false).await;
    let chunks = speak(
        &g.host,
        request(Speaker::Claude, "Hello there. How are you today?"),
    )
    .await
    .expect("synthesize");

    // One token, fetched with a verified JWT as a form post to the credentials' token_uri.
    let token_requests = g.oauth.requests();
    assert_eq!(token_requests.len(), 1, "{token_requests:?}");
    assert_eq!(token_requests[0].path, "/token");
    assert_eq!(
        token_requests[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(g.oauth.issued().len(), 1, "the fake verified the JWT");

    // One request per sentence, in order, each exactly as the provider's wire protocol says.
    let requests = g.tts.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for (recorded, text) in requests.iter().zip(["Hello there.", "How are you today?"]) {
        assert_eq!(recorded.method, "POST");
        assert_eq!(recorded.path, "/v1/text:synthesize");
        assert_eq!(recorded.query, "");
        assert!(
            g.oauth
                .is_issued_bearer(recorded.header("authorization").unwrap_or("")),
            "{:?}",
            recorded.header("authorization")
        );
        assert_eq!(recorded.header("content-type"), Some("application/json"));
        assert_eq!(
            recorded.json(),
            serde_json::json!({
                "input": {"text": text},
                "voice": {"languageCode": "en-US", "name": "en-US-Neural2-D"},
                "audioConfig": {"audioEncoding": "LINEAR16", "sampleRateHertz": 24000}
            })
        );
    }

    // The audio is the WAVs' samples, headers stripped, at their rate.
    assert!(chunks.iter().all(|c| c.sample_rate == 24_000));
    let mut expected = google_tts::tone_for("Hello there.", 24_000);
    expected.extend(google_tts::tone_for("How are you today?", 24_000));
    assert_eq!(samples(&chunks), expected);
    assert!(
        chunks.len() > 2,
        "pushed in chunks as each sentence arrives"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_tts_gives_claude_and_the_guest_different_voices_and_reuses_its_token() {
    let g = google(
        "sample_rate = 16000\nclaude_voice = \"en-GB-Neural2-B\"",
        false,
    )
    .await;
    g.tts.set_samples(vec![100, -100, 200, -200]);
    // One handle, as a session holds it: one plugin instance, whose token cache outlives a call.
    let mut tts = g.host.tts();
    let claude = speak_on(&mut tts, request(Speaker::Claude, "One."))
        .await
        .expect("claude");
    let guest = speak_on(&mut tts, request(Speaker::Guest, "Two."))
        .await
        .expect("guest");
    let mut overridden = request(Speaker::Guest, "Three.");
    overridden.voice = "de-DE-Neural2-A".into();
    overridden.language = "de-DE".into();
    speak_on(&mut tts, overridden).await.expect("override");

    let bodies: Vec<serde_json::Value> = g.tts.requests().iter().map(Recorded::json).collect();
    assert_eq!(
        bodies[0]["voice"],
        serde_json::json!({"languageCode": "en-GB", "name": "en-GB-Neural2-B"})
    );
    assert_eq!(
        bodies[1]["voice"],
        serde_json::json!({"languageCode": "en-US", "name": "en-US-Neural2-F"})
    );
    assert_eq!(
        bodies[2]["voice"],
        serde_json::json!({"languageCode": "de-DE", "name": "de-DE-Neural2-A"})
    );
    assert!(
        bodies
            .iter()
            .all(|b| b["audioConfig"]["sampleRateHertz"] == 16000)
    );
    assert_eq!(samples(&claude), vec![100, -100, 200, -200]);
    assert!(claude.iter().chain(&guest).all(|c| c.sample_rate == 16_000));
    assert_eq!(
        g.oauth.requests().len(),
        1,
        "the token is cached across calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_tts_renews_a_token_that_is_about_to_expire() {
    let g = google("", false).await;
    // Under the one-minute margin: every call needs a new token.
    g.oauth.set_expires_in(30);
    let mut tts = g.host.tts();
    speak_on(&mut tts, request(Speaker::Claude, "One."))
        .await
        .expect("first");
    speak_on(&mut tts, request(Speaker::Claude, "Two."))
        .await
        .expect("second");
    assert_eq!(g.oauth.issued().len(), 2);
    let requests = g.tts.requests();
    assert_eq!(
        requests[1].header("authorization"),
        Some(format!("Bearer {}", g.oauth.issued()[1]).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_tts_401_and_403_are_auth_errors_naming_the_credentials_without_retry() {
    let g = google("", false).await;
    g.tts.push_faults([Fault::Unauthorized]);
    let error = failure(&g.host).await;
    match &error {
        PluginError::Auth(message) => {
            assert!(message.contains(CREDENTIALS), "{message}");
            assert!(message.contains("Google Text-to-Speech"), "{message}");
            assert!(message.contains("401"), "{message}");
        }
        other => panic!("expected auth, got {other:?}"),
    }
    assert_eq!(g.tts.requests().len(), 1, "auth errors are not retried");

    g.tts.push_answers([Answer::Status(403)]);
    let error = failure(&g.host).await;
    assert!(
        matches!(&error, PluginError::Auth(m) if m.contains(CREDENTIALS) && m.contains("PERMISSION_DENIED")),
        "{error:?}"
    );
    assert_eq!(g.tts.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_service_account_is_an_auth_error_before_any_synthesis() {
    let g = google("", true).await;
    g.oauth.push_faults([Fault::Unauthorized]);
    let error = failure(&g.host).await;
    match &error {
        PluginError::Auth(message) => {
            assert!(message.contains(CREDENTIALS), "{message}");
            assert!(message.contains("invalid_grant"), "{message}");
        }
        other => panic!("expected auth (no fallback for auth), got {other:?}"),
    }
    assert!(g.tts.requests().is_empty());
    assert_eq!(g.oauth.requests().len(), 1, "no retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_signed_with_the_wrong_key_is_refused_by_the_token_endpoint() {
    let g = google("", false).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let foreign = g.oauth.write_foreign_credentials(dir.path());
    g.host
        .set_secret(CREDENTIALS, foreign.display().to_string());
    let error = failure(&g.host).await;
    assert!(
        matches!(&error, PluginError::Auth(m) if m.contains(CREDENTIALS) && m.contains("Invalid JWT Signature")),
        "{error:?}"
    );
    assert!(g.oauth.issued().is_empty());
    assert!(g.tts.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_credentials_are_a_config_error_that_does_not_leak_the_key() {
    let g = google("", false).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broken.json");
    std::fs::write(
        &path,
        r#"{"type":"service_account","client_email":"a@b","token_uri":"http://127.0.0.1:1/token","private_key":"-----BEGIN PRIVATE KEY-----\nSECRETBITS\n-----END PRIVATE KEY-----\n"}"#,
    )
    .expect("write");
    g.host.set_secret(CREDENTIALS, path.display().to_string());
    let error = failure(&g.host).await;
    match &error {
        PluginError::Config(message) => {
            assert!(message.contains(CREDENTIALS), "{message}");
            assert!(!message.contains("SECRETBITS"), "{message}");
        }
        other => panic!("expected config, got {other:?}"),
    }
    assert!(g.tts.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_tts_waits_out_a_short_retry_after_and_fails_over_a_long_one() {
    let g = google("", false).await;
    g.tts.push_faults([Fault::RateLimited { retry_after_s: 1 }]);
    let started = Instant::now();
    let chunks = speak(&g.host, request(Speaker::Claude, "Hello."))
        .await
        .expect("retried after the wait");
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert!(!chunks.is_empty());
    assert_eq!(g.tts.requests().len(), 2);

    g.tts
        .push_faults([Fault::RateLimited { retry_after_s: 30 }]);
    let started = Instant::now();
    let error = failure(&g.host).await;
    match error {
        PluginError::RateLimited(limit) => assert_eq!(limit.retry_after_ms, Some(30_000)),
        other => panic!("expected rate-limited, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a 30 s wait is not waited"
    );
    assert_eq!(g.tts.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_tts_retries_a_500_and_a_dropped_answer() {
    let g = google("", false).await;
    g.tts
        .push_faults([Fault::ServerError, Fault::DropMidStream]);
    let chunks = speak(&g.host, request(Speaker::Claude, "Hello."))
        .await
        .expect("third try succeeds");
    assert_eq!(samples(&chunks), google_tts::tone_for("Hello.", 24_000));
    assert_eq!(g.tts.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_tts_down_for_good_is_unavailable() {
    let g = google("", false).await;
    g.tts
        .push_faults([Fault::ServerError, Fault::DropMidStream, Fault::Overloaded]);
    let error = failure(&g.host).await;
    assert!(matches!(error, PluginError::Unavailable(_)), "{error:?}");
    assert_eq!(g.tts.requests().len(), 3, "3 tries in all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_tts_down_for_good_falls_back_to_mock_tts() {
    let g = google("sample_rate = 16000", true).await;
    g.tts
        .push_faults([Fault::ServerError, Fault::ServerError, Fault::ServerError]);
    let chunks = speak(&g.host, request(Speaker::Claude, "Hello there, fallback."))
        .await
        .expect("mock-tts speaks instead");
    assert_eq!(g.tts.requests().len(), 3);
    // mock-tts speaks at its own 24 kHz; google-tts was asked for 16 kHz.
    assert!(!chunks.is_empty());
    assert!(chunks.iter().all(|c| c.sample_rate == 24_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_google_answers_are_protocol_errors() {
    let g = google("", true).await;
    g.tts.push_faults([Fault::Malformed]);
    let error = failure(&g.host).await;
    assert!(
        matches!(&error, PluginError::Protocol(m) if m.contains("base64")),
        "{error:?}"
    );
    g.tts.push_answers([Answer::NotWav]);
    let error = failure(&g.host).await;
    assert!(
        matches!(&error, PluginError::Protocol(m) if m.contains("WAV")),
        "{error:?}"
    );
    assert_eq!(g.tts.requests().len(), 2, "protocol errors are not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_first_byte_times_out_as_unavailable_instead_of_hanging() {
    let g = google("timeout_ms = 500\nretries = 1", false).await;
    g.tts.push_faults([
        Fault::SlowFirstByte { ms: 5_000 },
        Fault::SlowFirstByte { ms: 5_000 },
    ]);
    let started = Instant::now();
    let error = failure(&g.host).await;
    assert!(matches!(error, PluginError::Unavailable(_)), "{error:?}");
    assert_ended_within(started, Duration::from_secs(4));
    assert_eq!(g.tts.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_first_byte_within_the_timeout_is_just_slow() {
    let g = google("", false).await;
    g.tts.push_faults([Fault::SlowFirstByte { ms: 300 }]);
    let chunks = speak(&g.host, request(Speaker::Claude, "Hello."))
        .await
        .expect("slow but fine");
    assert!(!chunks.is_empty());
    assert_eq!(g.tts.requests().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// piper

/// The fake `piper` executable, by absolute path.
fn fake_piper() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/kit/fakes/piper")
        .canonicalize()
        .expect("tests/kit/fakes/piper exists")
}

/// A studio with `piper` running the fake, its voice model described by `model_json`.
struct Piper {
    studio: Studio,
    host: Arc<PluginHost>,
    model: PathBuf,
    record: PathBuf,
}

impl Piper {
    fn argv(&self) -> Vec<String> {
        std::fs::read_to_string(&self.record)
            .expect("the fake recorded its argv")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn stdin(&self) -> String {
        std::fs::read_to_string(self.record.with_extension("stdin"))
            .expect("the fake recorded stdin")
    }
}

/// `fake`: extra keys of the model JSON (the fake's switches); `config`: extra plugin settings;
/// `program_in_config`: put the path in `piper_path` (else the PIPER_PATH secret carries it).
async fn piper(fake: &str, config: &str, fallback: bool, program_in_config: bool) -> Piper {
    let studio = Studio::with_plugins(&["piper", "mock-tts"]);
    let model = studio.dir.path().join("en_US-test-medium.onnx");
    let record = studio.dir.path().join("argv");
    std::fs::write(&model, b"not really a model").expect("model");
    std::fs::write(
        model.with_extension("onnx.json"),
        format!(
            r#"{{"audio": {{"sample_rate": 16000, "quality": "medium"}}, "num_speakers": 4, "fake_record": "{}"{fake}}}"#,
            record.display()
        ),
    )
    .expect("model json");
    // As root the host runs Piper as nobody: it must read the model and write its record.
    open_to_the_child(
        studio.dir.path(),
        &[&record, &record.with_extension("stdin")],
    );
    let program = fake_piper();
    let fallback = fallback_line(fallback);
    let program_setting = if program_in_config {
        format!("piper_path = \"{}\"", program.display())
    } else {
        String::new()
    };
    studio.write_manifest(&format!(
        r#"
[roles]
tts = "piper"
[plugins.piper]
path = "piper.wasm"
capabilities = ["log", "config", "process"]
allowed_executables = ["{program}"]
secrets = ["PIPER_PATH", "PIPER_MODEL_PATH"]
{fallback}
[plugins.piper.process]
args = [
  "--model", "{model}", "{{--output-raw|--output_raw}}",
  {{ optional = ["--speaker", "{{integer}}"] }}, {{ optional = ["--length_scale", "{{number}}"] }},
]
[plugins.piper.config]
{program_setting}
model_path = "{model}"
sample_rate = 16000
claude_voice = "0"
guest_speaker = "2"
{config}
[plugins.mock-tts]
path = "mock-tts.wasm"
capabilities = ["log", "config"]
"#,
        program = program.display(),
        model = model.display(),
        config = settings(
            &[
                ("first_audio_timeout_ms", "2000"),
                ("read_timeout_ms", "2000")
            ],
            config
        ),
    ));
    let host = studio.start(false).await;
    if !program_in_config {
        host.set_secret("PIPER_PATH", program.display().to_string());
    }
    Piper {
        studio,
        host,
        model,
        record,
    }
}

/// Makes `dir` readable and `files` writable by anyone: a child running as another user (nobody,
/// when the tests run as root) reads the voice there and records into those files.
fn open_to_the_child(dir: &Path, files: &[&Path]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    for file in files {
        std::fs::write(file, b"").expect("create");
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_speaks_the_text_as_one_line_with_each_speakers_voice() {
    let p = piper("", "", false, true).await;
    let claude = speak(
        &p.host,
        request(Speaker::Claude, "Hello there.\nThis is Claude speaking."),
    )
    .await
    .expect("claude");
    let model = p.model.display().to_string();
    assert_eq!(
        p.argv(),
        vec![
            fake_piper().display().to_string(),
            "--model".into(),
            model.clone(),
            "--output-raw".into(),
            "--speaker".into(),
            "0".into(),
            "--length_scale".into(),
            "1".into(),
        ]
    );
    assert_eq!(p.stdin(), "Hello there. This is Claude speaking.\n");
    assert!(claude.iter().all(|c| c.sample_rate == 16_000));
    let audio = samples(&claude);
    assert!(audio.len() > 16_000 / 2, "{} samples", audio.len());
    assert!(audio.iter().any(|s| s.unsigned_abs() > 1000), "audible");
    assert!(claude.len() > 2, "streamed in chunks");

    let guest = speak(&p.host, request(Speaker::Guest, "And this is the guest."))
        .await
        .expect("guest");
    assert!(!guest.is_empty());
    let argv = p.argv();
    assert_eq!(
        argv[4..],
        ["--speaker", "2", "--length_scale", "0.9"].map(String::from)
    );
    assert_eq!(p.stdin(), "And this is the guest.\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_takes_its_path_from_piper_path_and_the_cpp_raw_flag_from_config() {
    let p = piper(
        "",
        "raw_flag = \"--output_raw\"\nguest_length_scale = 1.2",
        false,
        false,
    )
    .await;
    let mut request = request(Speaker::Guest, "Hi.");
    request.voice = "3".into();
    speak(&p.host, request).await.expect("speak");
    let argv = p.argv();
    assert_eq!(argv[0], fake_piper().display().to_string());
    assert_eq!(
        argv[3..],
        ["--output_raw", "--speaker", "3", "--length_scale", "1.2"].map(String::from)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_piper_is_unavailable_with_its_stderr() {
    let p = piper(r#", "fake_mode": "fail""#, "", false, true).await;
    let error = failure(&p.host).await;
    match &error {
        PluginError::Unavailable(message) => {
            assert!(message.contains("exited with code 1"), "{message}");
            assert!(message.contains("Failed to load voice"), "{message}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_piper_falls_back_to_mock_tts() {
    let p = piper(r#", "fake_mode": "fail""#, "", true, true).await;
    let chunks = speak(&p.host, request(Speaker::Claude, "Hello there."))
        .await
        .expect("mock-tts speaks instead");
    assert!(!chunks.is_empty());
    assert!(
        chunks.iter().all(|c| c.sample_rate == 24_000),
        "mock-tts's rate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_piper_is_killed_after_the_read_timeout() {
    let p = piper(
        r#", "fake_mode": "hang""#,
        "first_audio_timeout_ms = 700",
        false,
        true,
    )
    .await;
    let started = Instant::now();
    let error = failure(&p.host).await;
    assert!(
        matches!(&error, PluginError::Unavailable(m) if m.contains("no audio for 700 ms")),
        "{error:?}"
    );
    assert_ended_within(started, Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_dying_mid_speech_is_unavailable_after_the_audio_it_made() {
    let p = piper(r#", "fake_mode": "crash""#, "", true, true).await;
    let mut tts = p.host.tts();
    let (tx, mut rx) = mpsc::channel(4096);
    let result = tts.synthesize(request(Speaker::Claude, "Hello."), tx).await;
    let mut delivered = 0;
    while let Some(chunk) = rx.recv().await {
        assert_eq!(
            chunk.sample_rate, 16_000,
            "piper's audio, not the fallback's"
        );
        delivered += chunk.samples.len();
    }
    assert_eq!(delivered, 1600, "the tenth of a second piper made");
    match result {
        Err(CallError::Plugin {
            error: PluginError::Unavailable(message),
            ..
        }) => assert!(message.contains("onnxruntime"), "{message}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_barge_in_stops_piper_at_once() {
    // Slow speech (length scale 4) of a long text: many chunks to cancel in the middle of.
    let p = piper("", "claude_length_scale = 4.0", false, true).await;
    let mut tts = p.host.tts();
    let cancel = tts.canceller();
    let (tx, mut rx) = mpsc::channel(1);
    let call = tokio::spawn(async move {
        let result = tts
            .synthesize(
                request(
                    Speaker::Claude,
                    "This is a long answer that goes on and on, so that there is plenty of audio \
                     left to cut off when the human starts talking over it.",
                ),
                tx,
            )
            .await;
        (tts, result)
    });
    let first = rx.recv().await.expect("the first chunk");
    assert_eq!(first.sample_rate, 16_000);
    let started = Instant::now();
    cancel.cancel();
    drop(rx);
    let (_tts, result) = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the call ends promptly")
        .expect("call task");
    assert!(
        matches!(
            result,
            Err(CallError::Plugin {
                error: PluginError::Cancelled,
                ..
            })
        ),
        "{result:?}"
    );
    assert_ended_within(started, Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_without_a_path_is_a_config_error_naming_piper_path() {
    let p = piper("", "", false, false).await;
    p.host.set_secret("PIPER_PATH", "");
    let error = failure(&p.host).await;
    assert!(
        matches!(&error, PluginError::Config(m) if m.contains("PIPER_PATH")),
        "{error:?}"
    );
    drop(p.studio);
}
