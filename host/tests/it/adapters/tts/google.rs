//! `google-tts` against the fake Cloud Text-to-Speech and OAuth token servers.

use super::*;

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
