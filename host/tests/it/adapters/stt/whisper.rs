use super::*;
use studio_test_kit::fakes::whisper::{self, multipart_parts, parse_wav};

async fn host(format: &str, endpoint: &str, extra: &str) -> (Studio, Arc<PluginHost>) {
    studio_host(
        "whisper",
        &format!(
            r#"capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
secrets = ["WHISPER_ENDPOINT", "OPENAI_API_KEY"]
[plugins.whisper.config]
format = "{format}"
endpoint = "{endpoint}"
retry_base_ms = 20
{extra}
"#
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_flavour_sends_each_utterance_as_16_khz_pcm_and_pushes_its_text() {
    let fake = whisper::start(&["Claude, what do you think?", "And you, guest?"]).await;
    let (_studio, host) = host("raw", &fake.endpoint(), "").await;
    let (result, transcripts) = run(&host, &two_utterances()).await;
    result.expect("transcribe");
    assert_eq!(
        finals(&transcripts),
        vec![
            ("Claude, what do you think?".to_owned(), 300, 1800),
            ("And you, guest?".to_owned(), 2000, 3100),
        ]
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "one request per utterance");
    for (request, ms) in requests.iter().zip([1500usize, 1100]) {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/transcribe")
        );
        assert_eq!(
            request.header("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(request.header("authorization"), None);
        // Bare s16le at 16 kHz: 32 bytes per ms, no header.
        assert_eq!(request.body.len(), ms * 32, "{ms} ms of 16 kHz PCM");
        assert_ne!(&request.body[..4], b"RIFF");
        assert_tone_at_16_khz(&le_samples(&request.body));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_defaults_to_whisper_endpoint() {
    let fake = whisper::start(&["From the env."]).await;
    let (_studio, host) = studio_host(
        "whisper",
        r#"capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
secrets = ["WHISPER_ENDPOINT"]"#,
    )
    .await;
    host.set_secret("WHISPER_ENDPOINT", fake.endpoint());
    let (result, transcripts) = run(&host, &one_utterance()).await;
    result.expect("transcribe");
    assert_eq!(
        finals(&transcripts),
        vec![("From the env.".to_owned(), 300, 1800)]
    );
    assert_eq!(fake.requests()[0].body.len(), 1500 * 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_flavour_posts_a_16_khz_wav_with_model_and_bearer_key() {
    let fake = whisper::start(&["Hello from OpenAI."]).await;
    let (_studio, host) = host(
        "multipart",
        &fake.openai_endpoint(),
        "model = \"gpt-4o-transcribe\"",
    )
    .await;
    host.set_secret("OPENAI_API_KEY", "sk-test-123");
    let mut request = request();
    request.key_terms = vec!["Claude".into(), "Ada".into()];
    let (result, transcripts) = run_request(&host, &one_utterance(), request).await;
    result.expect("transcribe");
    assert_eq!(
        finals(&transcripts),
        vec![("Hello from OpenAI.".to_owned(), 300, 1800)]
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.path, "/v1/audio/transcriptions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test-123"));
    let parts = multipart_parts(sent);
    let field = |name: &str| parts.iter().find(|p| p.name == name).map(|p| p.text());
    assert_eq!(field("model").as_deref(), Some("gpt-4o-transcribe"));
    assert_eq!(field("response_format").as_deref(), Some("json"));
    assert_eq!(field("language").as_deref(), Some("en"));
    assert_eq!(field("prompt").as_deref(), Some("Claude, Ada"));
    let file = parts
        .iter()
        .find(|p| p.name == "file")
        .expect("a file part");
    assert_eq!(file.filename.as_deref(), Some("audio.wav"));
    let wav = parse_wav(&file.data).expect("a valid WAV file");
    assert_eq!(
        (wav.format, wav.sample_rate, wav.channels, wav.bits),
        (1, 16_000, 1, 16)
    );
    assert_eq!(wav.samples.len(), 1500 * 16, "1.5 s at 16 kHz");
    assert_tone_at_16_khz(&wav.samples);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whisper_cpp_error_in_a_200_answer_is_retried_then_the_text_arrives() {
    let fake = whisper::start(&["Second time lucky."]).await;
    fake.answer_errors_in_200(1);
    let (_studio, host) = host("multipart", &fake.cpp_endpoint(), "").await;
    let (result, transcripts) = run(&host, &one_utterance()).await;
    result.expect("transcribe");
    assert_eq!(finals(&transcripts).len(), 1);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].body, requests[1].body,
        "the retry resends the same audio"
    );
    assert_eq!(
        requests[0].header("authorization"),
        None,
        "no key set, none sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_studio_server_that_keeps_answering_200_with_an_error_fails_the_call() {
    let fake = whisper::start(&["never"]).await;
    fake.answer_errors_in_200(10);
    let (_studio, host) = host("raw", &fake.endpoint(), "").await;
    let (result, transcripts) = run(&host, &one_utterance()).await;
    let error = plugin_error(result);
    assert!(
        matches!(&error, PluginError::Unavailable(m) if m.contains("CUDA out of memory")),
        "{error:?}"
    );
    assert!(transcripts.is_empty());
    assert_eq!(fake.requests().len(), 3, "3 tries in all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_an_auth_error_naming_it_without_retry() {
    let fake = whisper::start(&["never"]).await;
    fake.push_faults([Fault::Unauthorized]);
    let (_studio, host) = host("multipart", &fake.openai_endpoint(), "").await;
    host.set_secret("OPENAI_API_KEY", "sk-wrong-key");
    let error = failure(&host, &one_utterance()).await;
    match &error {
        PluginError::Auth(message) => {
            assert!(
                message.contains("Whisper")
                    && message.contains("OPENAI_API_KEY")
                    && message.contains("401"),
                "{message}"
            );
            assert!(!message.contains("sk-wrong-key"), "no secret in errors");
        }
        other => panic!("expected auth, got {other:?}"),
    }
    assert_eq!(fake.requests().len(), 1, "auth is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_within_the_bound_is_waited_out() {
    let fake = whisper::start(&["After the wait."]).await;
    fake.push_faults([Fault::RateLimited { retry_after_s: 1 }]);
    let (_studio, host) = host("raw", &fake.endpoint(), "").await;
    let started = Instant::now();
    let (result, transcripts) = run(&host, &one_utterance()).await;
    result.expect("transcribe");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "retry-after was honoured"
    );
    assert_eq!(finals(&transcripts)[0].0, "After the wait.");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_asking_too_long_fails_as_rate_limited() {
    let fake = whisper::start(&["never"]).await;
    fake.push_faults([Fault::RateLimited { retry_after_s: 60 }]);
    let (_studio, host) = host("raw", &fake.endpoint(), "").await;
    let started = Instant::now();
    match failure(&host, &one_utterance()).await {
        PluginError::RateLimited(limit) => {
            assert_eq!(limit.retry_after_ms, Some(60_000));
            assert!(limit.message.contains("Whisper"), "{}", limit.message);
        }
        other => panic!("expected rate-limited, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_a_dropped_answer_are_retried() {
    let fake = whisper::start(&["Made it."]).await;
    fake.push_faults([Fault::ServerError, Fault::DropMidStream]);
    let (_studio, host) = host("raw", &fake.endpoint(), "").await;
    let (result, transcripts) = run(&host, &one_utterance()).await;
    result.expect("transcribe");
    assert_eq!(finals(&transcripts)[0].0, "Made it.");
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.body == requests[0].body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stays_down_fails_the_call_as_unavailable() {
    let fake = whisper::start(&["never"]).await;
    fake.push_faults([Fault::ServerError, Fault::Overloaded, Fault::ServerError]);
    let (_studio, host) = host("raw", &fake.endpoint(), "").await;
    let (result, transcripts) = run(&host, &two_utterances()).await;
    let error = plugin_error(result);
    assert!(
        matches!(&error, PluginError::Unavailable(m) if m.contains("Whisper")),
        "{error:?}"
    );
    assert!(transcripts.is_empty());
    assert_eq!(
        fake.requests().len(),
        3,
        "the call ends at the first utterance that failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failed_call_the_next_runs_on_the_fallback_then_whisper_again() {
    let fake = whisper::start(&["Back on whisper."]).await;
    fake.push_faults([Fault::ServerError, Fault::ServerError, Fault::ServerError]);
    let studio = Studio::with_plugins(&["whisper", "mock-stt"]);
    studio.write_manifest(&format!(
        r#"[roles]
stt = "whisper"
[plugins.whisper]
path = "whisper.wasm"
capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
fallback = ["mock-stt"]
[plugins.whisper.config]
endpoint = "{}"
retry_base_ms = 20
[plugins.mock-stt]
path = "mock-stt.wasm"
capabilities = ["log", "clock", "config"]
[plugins.mock-stt.config]
script = ["Heard by the fallback."]
end_of_speech_ms = 200
"#,
        fake.endpoint()
    ));
    let host = studio.start(false).await;
    // One handle, as a studio session keeps one and restarts its call after a failure.
    let mut stt = host.stt();
    let call = async |stt: &mut voice_studio::plugins::SttHandle| {
        let (in_tx, in_rx) = mpsc::channel(512);
        for input in microphone(&one_utterance()) {
            in_tx.try_send(input).expect("queue");
        }
        in_tx.try_send(SttInput::End).expect("queue");
        let (out_tx, mut out_rx) = mpsc::channel(256);
        let result = stt.transcribe(request(), in_rx, out_tx).await;
        let mut texts = Vec::new();
        while let Some(t) = out_rx.recv().await {
            if t.kind == TranscriptKind::Final {
                texts.push(t.text);
            }
        }
        (result, texts)
    };
    let (failed, _) = call(&mut stt).await;
    assert!(matches!(plugin_error(failed), PluginError::Unavailable(_)));
    let (fallback, texts) = call(&mut stt).await;
    fallback.expect("the fallback transcribes");
    assert_eq!(texts, ["Heard by the fallback."]);
    let (again, texts) = call(&mut stt).await;
    again.expect("whisper serves again");
    assert_eq!(texts, ["Back on whisper."]);
    assert_eq!(fake.requests().len(), 4, "3 failed tries, then 1 served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_answer_is_a_protocol_error() {
    let fake = whisper::start(&["never"]).await;
    fake.push_faults([Fault::Malformed]);
    let (_studio, host) = host("raw", &fake.endpoint(), "").await;
    assert!(matches!(
        failure(&host, &one_utterance()).await,
        PluginError::Protocol(_)
    ));
    assert_eq!(fake.requests().len(), 1, "protocol errors are not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_times_out_as_unavailable_instead_of_hanging() {
    let fake = whisper::start(&["never"]).await;
    fake.push_faults(three_slow_answers());
    let (_studio, host) = host("raw", &fake.endpoint(), "timeout_ms = 300").await;
    let started = Instant::now();
    assert!(matches!(
        failure(&host, &one_utterance()).await,
        PluginError::Unavailable(_)
    ));
    assert_ended_within(started, Duration::from_secs(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_speech_is_sent_in_pieces_no_longer_than_the_cap() {
    let fake = whisper::start(&["one", "two", "three"]).await;
    let (_studio, host) = host(
        "raw",
        &fake.endpoint(),
        "max_utterance_ms = 1000\npre_roll_ms = 0",
    )
    .await;
    let script = [
        Mic::Quiet(200),
        Mic::Started,
        Mic::Tone(2400),
        Mic::Ended,
        Mic::Quiet(100),
    ];
    let (result, transcripts) = run(&host, &script).await;
    result.expect("transcribe");
    assert_eq!(
        finals(&transcripts),
        vec![
            ("one".to_owned(), 200, 1200),
            ("two".to_owned(), 1200, 2200),
            ("three".to_owned(), 2200, 2600),
        ]
    );
    let sizes: Vec<usize> = fake.requests().iter().map(|r| r.body.len() / 32).collect();
    assert_eq!(sizes, vec![1000, 1000, 400]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_with_no_words_pushes_nothing() {
    let fake = whisper::start(&[""]).await;
    let (_studio, host) = host("raw", &fake.endpoint(), "").await;
    let (result, transcripts) = run(&host, &one_utterance()).await;
    result.expect("transcribe");
    assert!(transcripts.is_empty(), "{transcripts:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_still_going_at_the_end_of_the_stream_is_flushed() {
    let fake = whisper::start(&["Cut short."]).await;
    let (_studio, host) = host("raw", &fake.endpoint(), "").await;
    let script = [
        Mic::Quiet(500),
        Mic::Tone(100),
        Mic::Started,
        Mic::Tone(600),
    ];
    let (result, transcripts) = run(&host, &script).await;
    result.expect("transcribe");
    assert_eq!(
        finals(&transcripts),
        vec![("Cut short.".to_owned(), 300, 1200)]
    );
}
