use super::*;
use studio_test_kit::fakes::google_oauth::{self, FakeGoogleOAuth};
use studio_test_kit::fakes::google_stt::{self, FakeGoogleStt, RECOGNIZE_PATH, audio_samples};

struct Google {
    _studio: Studio,
    host: Arc<PluginHost>,
    api: FakeGoogleStt,
    oauth: FakeGoogleOAuth,
}

async fn google(texts: &[&str], extra: &str) -> Google {
    let api = google_stt::start(texts).await;
    let oauth = google_oauth::start().await;
    let (studio, host) = studio_host(
        "google-stt",
        &format!(
            r#"capabilities = ["log", "clock", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
secret_files = ["GOOGLE_APPLICATION_CREDENTIALS"]
[plugins.google-stt.config]
base_url = "{}"
retry_base_ms = 20
{extra}
"#,
            api.base_url()
        ),
    )
    .await;
    let credentials = oauth.write_credentials(studio.dir.path());
    host.set_secret(
        "GOOGLE_APPLICATION_CREDENTIALS",
        credentials.display().to_string(),
    );
    Google {
        _studio: studio,
        host,
        api,
        oauth,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_utterance_is_recognized_as_linear16_at_16_khz_with_a_service_account_token() {
    let g = google(&["hello world", "how are you"], "").await;
    let mut request = request();
    request.key_terms = vec!["Claude".into()];
    let (result, transcripts) = run_request(&g.host, &two_utterances(), request).await;
    result.expect("transcribe");
    assert_eq!(
        finals(&transcripts),
        vec![
            ("hello world".to_owned(), 300, 1800),
            ("how are you".to_owned(), 2000, 3100),
        ]
    );
    assert_eq!(transcripts[0].confidence, Some(0.94));
    let requests = g.api.requests();
    assert_eq!(requests.len(), 2);
    for (sent, ms) in requests.iter().zip([1500usize, 1100]) {
        assert_eq!(
            (sent.method.as_str(), sent.path.as_str()),
            ("POST", RECOGNIZE_PATH)
        );
        let authorization = sent.header("authorization").unwrap_or_default();
        assert!(g.oauth.is_issued_bearer(authorization), "{authorization}");
        let json = sent.json();
        assert_eq!(json["config"]["encoding"], "LINEAR16");
        assert_eq!(json["config"]["sampleRateHertz"], 16000);
        assert_eq!(json["config"]["languageCode"], "en-US");
        assert_eq!(json["config"]["speechContexts"][0]["phrases"][0], "Claude");
        let samples = audio_samples(sent);
        assert_eq!(samples.len(), ms * 16, "{ms} ms at 16 kHz");
        assert_tone_at_16_khz(&samples);
    }
    assert_eq!(
        g.oauth.issued().len(),
        1,
        "the token is cached between utterances"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_and_model_come_from_the_config() {
    let g = google(
        &["bonjour"],
        "language_code = \"fr-FR\"\nmodel = \"latest_short\"",
    )
    .await;
    let (result, _) = run(&g.host, &one_utterance()).await;
    result.expect("transcribe");
    let json = g.api.requests()[0].json();
    assert_eq!(json["config"]["languageCode"], "fr-FR");
    assert_eq!(json["config"]["model"], "latest_short");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_without_results_is_no_speech() {
    let g = google(&[""], "").await;
    let (result, transcripts) = run(&g.host, &one_utterance()).await;
    result.expect("transcribe");
    assert!(transcripts.is_empty(), "{transcripts:?}");
    assert_eq!(g.api.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_renewed_once_then_an_auth_error_names_the_credentials() {
    let g = google(&["never"], "").await;
    g.api
        .push_faults([Fault::Unauthorized, Fault::Unauthorized]);
    let error = failure(&g.host, &one_utterance()).await;
    assert!(
        matches!(&error, PluginError::Auth(m) if m.contains("GOOGLE_APPLICATION_CREDENTIALS") && m.contains("401")),
        "{error:?}"
    );
    assert_eq!(
        g.api.requests().len(),
        2,
        "one retry with a fresh token, no more"
    );
    assert_eq!(g.oauth.issued().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_that_refuses_the_key_is_an_auth_error() {
    let g = google(&["never"], "").await;
    g.oauth.push_faults([Fault::Unauthorized]);
    let error = failure(&g.host, &one_utterance()).await;
    assert!(
        matches!(&error, PluginError::Auth(m) if m.contains("GOOGLE_APPLICATION_CREDENTIALS")),
        "{error:?}"
    );
    assert!(
        g.api.requests().is_empty(),
        "no recognition without a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_waited_out_within_the_bound_else_returned() {
    let g = google(&["patience"], "").await;
    g.api.push_faults([Fault::RateLimited { retry_after_s: 1 }]);
    let (result, transcripts) = run(&g.host, &one_utterance()).await;
    result.expect("transcribe");
    assert_eq!(finals(&transcripts)[0].0, "patience");
    assert_eq!(g.api.requests().len(), 2);

    let g = google(&["never"], "").await;
    g.api
        .push_faults([Fault::RateLimited { retry_after_s: 90 }]);
    match failure(&g.host, &one_utterance()).await {
        PluginError::RateLimited(limit) => {
            assert_eq!(limit.retry_after_ms, Some(90_000));
            assert!(
                limit.message.contains("RESOURCE_EXHAUSTED"),
                "{}",
                limit.message
            );
        }
        other => panic!("expected rate-limited, got {other:?}"),
    }
    assert_eq!(g.api.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_drops_are_retried_and_a_lasting_outage_is_unavailable() {
    let g = google(&["back again"], "").await;
    g.api
        .push_faults([Fault::ServerError, Fault::DropMidStream]);
    let (result, transcripts) = run(&g.host, &one_utterance()).await;
    result.expect("transcribe");
    assert_eq!(finals(&transcripts)[0].0, "back again");
    let requests = g.api.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests.iter().all(|r| r.body == requests[0].body),
        "the same audio resent"
    );

    let g = google(&["never"], "").await;
    g.api
        .push_faults([Fault::Overloaded, Fault::ServerError, Fault::Overloaded]);
    assert!(
        matches!(failure(&g.host, &one_utterance()).await, PluginError::Unavailable(m) if m.contains("Google"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_answer_is_a_protocol_error() {
    let g = google(&["never"], "").await;
    g.api.push_faults([Fault::Malformed]);
    assert!(matches!(
        failure(&g.host, &one_utterance()).await,
        PluginError::Protocol(_)
    ));
    assert_eq!(g.api.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_times_out_as_unavailable() {
    let g = google(&["never"], "timeout_ms = 300").await;
    g.api.push_faults(three_slow_answers());
    let started = Instant::now();
    assert!(matches!(
        failure(&g.host, &one_utterance()).await,
        PluginError::Unavailable(_)
    ));
    assert_ended_within(started, Duration::from_secs(4));
}
