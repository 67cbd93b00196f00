use super::*;
use serde_json::Value;
use studio_test_kit::fakes::FakeServer;
use studio_test_kit::fakes::assemblyai::{self, FAULT_AFTER_MS, When, turn};

const KEY: &str = "aai-test-key-0123";

/// Two turns: the first grows in partials, ends unformatted and then formatted; the second
/// is still in flight at `Terminate`.
fn script() -> Vec<(When, Value)> {
    use When::AfterAudioMs as After;
    let hello = |done| ("hello", 600, 700, done);
    let there = |done| ("there", 750, 900, done);
    vec![
        (After(700), turn(0, false, false, "", &[hello(false)])),
        (
            After(1000),
            turn(0, false, false, "hello", &[hello(true), there(false)]),
        ),
        (
            After(1500),
            turn(0, true, false, "hello there", &[hello(true), there(true)]),
        ),
        (After(1500), turn(0, true, true, "Hello there.", &[])),
        (
            After(2000),
            turn(1, false, false, "", &[("bye", 1900, 2000, false)]),
        ),
        (
            When::OnTerminate,
            turn(1, true, true, "Bye.", &[("Bye.", 1900, 2050, true)]),
        ),
    ]
}

/// 2.8 s of microphone audio.
fn session() -> Vec<Mic> {
    let mut script = one_utterance();
    script.push(Mic::Quiet(1000));
    script
}

async fn host(fake: &FakeServer, extra: &str) -> (Studio, Arc<PluginHost>) {
    let (studio, host) = studio_host(
        "assemblyai",
        &format!(
            r#"capabilities = ["log", "config", "websocket"]
allowed_hosts = ["ws://127.0.0.1:*"]
secrets = ["ASSEMBLYAI_API_KEY"]
[plugins.assemblyai.config]
base_url = "{}"
retry_base_ms = 20
{extra}
"#,
            fake.ws_url()
        ),
    )
    .await;
    host.set_secret("ASSEMBLYAI_API_KEY", KEY);
    (studio, host)
}

fn all(transcripts: &[Transcript]) -> Vec<(TranscriptKind, String, u64, u64)> {
    transcripts
        .iter()
        .map(|t| (t.kind, t.text.clone(), t.start_ms, t.end_ms))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_turns_are_partials_and_the_formatted_end_of_turn_is_final() {
    let fake = assemblyai::start(script()).await;
    let (_studio, host) = host(&fake, "").await;
    let (result, transcripts) = run(&host, &session()).await;
    result.expect("transcribe");
    use TranscriptKind::{Final, Partial};
    assert_eq!(
        all(&transcripts),
        vec![
            (Partial, "hello".to_owned(), 600, 700),
            (Partial, "hello there".to_owned(), 600, 900),
            (Final, "Hello there.".to_owned(), 600, 900),
            (Partial, "bye".to_owned(), 1900, 2000),
            (Final, "Bye.".to_owned(), 1900, 2050),
        ]
    );
    let connections = fake.requests();
    assert_eq!(connections.len(), 1);
    let c = &connections[0];
    assert_eq!((c.method.as_str(), c.path.as_str()), ("WS", "/v3/ws"));
    assert_eq!(c.query_param("sample_rate"), Some("16000"));
    assert_eq!(c.query_param("encoding"), Some("pcm_s16le"));
    assert_eq!(
        c.query_param("speech_model"),
        Some("universal-streaming-english")
    );
    assert_eq!(c.query_param("format_turns"), Some("true"));
    assert_eq!(
        c.header("authorization"),
        Some(KEY),
        "the raw key, no Bearer"
    );
    // Binary chunks of 50-1000 ms of 16 kHz s16 (32 bytes per ms), all the audio fed.
    assert!(!c.binary_sizes.is_empty());
    assert!(
        c.binary_sizes
            .iter()
            .all(|&n| (50 * 32..=1000 * 32).contains(&n)),
        "{:?}",
        c.binary_sizes
    );
    assert_eq!(c.body.len(), 2800 * 32, "2.8 s of 16 kHz audio");
    assert_tone_at_16_khz(&le_samples(&c.body));
    assert_eq!(c.texts, vec![r#"{"type":"Terminate"}"#.to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_formatting_the_end_of_turn_is_final_at_once() {
    let fake = assemblyai::start(script()).await;
    let (_studio, host) = host(&fake, "format_turns = false\nmin_turn_silence = 560").await;
    let mut request = request();
    request.key_terms = vec!["Claude".into(), "Ada Lovelace".into()];
    let (result, transcripts) = run_request(&host, &session(), request).await;
    result.expect("transcribe");
    let finals = finals(&transcripts);
    assert_eq!(finals[0], ("hello there".to_owned(), 600, 900));
    let c = &fake.requests()[0];
    assert_eq!(c.query_param("format_turns"), Some("false"));
    assert_eq!(c.query_param("min_turn_silence"), Some("560"));
    assert_eq!(
        c.query_param("keyterms_prompt"),
        Some("%5B%22Claude%22%2C%22Ada%20Lovelace%22%5D"),
        "the key terms as a JSON list"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_handshake_is_an_auth_error_naming_the_key_without_retry() {
    let fake = assemblyai::start(script()).await;
    fake.push_faults([Fault::Unauthorized]);
    let (_studio, host) = host(&fake, "").await;
    let error = failure(&host, &session()).await;
    match &error {
        PluginError::Auth(m) => {
            assert!(
                m.contains("AssemblyAI") && m.contains("ASSEMBLYAI_API_KEY"),
                "{m}"
            );
            assert!(!m.contains(KEY), "no secret in errors");
        }
        other => panic!("expected auth, got {other:?}"),
    }
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_is_a_config_error() {
    let fake = assemblyai::start(script()).await;
    let (_studio, host) = studio_host(
        "assemblyai",
        &format!(
            r#"capabilities = ["log", "config", "websocket"]
allowed_hosts = ["ws://127.0.0.1:*"]
secrets = ["ASSEMBLYAI_API_KEY"]
[plugins.assemblyai.config]
base_url = "{}""#,
            fake.ws_url()
        ),
    )
    .await;
    assert!(
        matches!(failure(&host, &session()).await, PluginError::Config(m) if m.contains("ASSEMBLYAI_API_KEY"))
    );
    assert!(fake.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_sessions_is_rate_limited() {
    let fake = assemblyai::start(script()).await;
    fake.push_faults([
        Fault::RateLimited { retry_after_s: 0 },
        Fault::RateLimited { retry_after_s: 0 },
        Fault::RateLimited { retry_after_s: 0 },
    ]);
    let (_studio, host) = host(&fake, "").await;
    let (result, transcripts) = run(&host, &session()).await;
    assert!(
        matches!(plugin_error(result), PluginError::RateLimited(limit) if limit.message.contains("3009"))
    );
    assert!(transcripts.is_empty());
    assert!(fake.requests().len() <= 3, "bounded");
}

/// A connection lost mid-session (`fault`) is re-established and the session goes on: the
/// audio after the last final (here: all of it, no turn had ended) is sent again on the new
/// connection, so the words in progress are recognized there, with the stream's times.
async fn survives(fault: Fault) {
    let fake = assemblyai::start(script()).await;
    fake.push_faults([fault]);
    let (_studio, host) = host(&fake, "").await;
    let (result, transcripts) = run(&host, &session()).await;
    result.expect("the session goes on after the connection is lost");
    let connections = fake.requests();
    assert_eq!(connections.len(), 2, "one reconnect");
    assert!(connections[0].body.len() as u64 >= FAULT_AFTER_MS * 32);
    assert!(
        connections[1]
            .binary_sizes
            .iter()
            .all(|&n| (50 * 32..=1000 * 32).contains(&n)),
        "{:?}",
        connections[1].binary_sizes
    );
    assert_eq!(
        connections[1].body.len(),
        2800 * 32,
        "the second connection heard the whole session"
    );
    assert_eq!(
        &connections[1].body[..connections[0].body.len()],
        &connections[0].body[..],
        "the replay is the same audio"
    );
    use TranscriptKind::Final;
    let finals: Vec<_> = all(&transcripts)
        .into_iter()
        .filter(|t| t.0 == Final)
        .collect();
    assert_eq!(
        finals,
        vec![
            (Final, "Hello there.".to_owned(), 600, 900),
            (Final, "Bye.".to_owned(), 1900, 2050),
        ]
    );
    assert_eq!(
        connections[1].texts,
        vec![r#"{"type":"Terminate"}"#.to_owned()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_close_mid_stream_reconnects_and_goes_on() {
    survives(Fault::ServerError).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_mid_stream_reconnects_and_goes_on() {
    survives(Fault::DropMidStream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_keeps_dropping_fails_as_unavailable() {
    let fake = assemblyai::start(script()).await;
    fake.push_faults(std::iter::repeat_n(Fault::DropMidStream, 10));
    let (_studio, host) = host(&fake, "max_reconnects = 2").await;
    let mut long = session();
    long.extend([Mic::Tone(2000), Mic::Quiet(1000)]);
    assert!(
        matches!(failure(&host, &long).await, PluginError::Unavailable(m) if m.contains("AssemblyAI"))
    );
    assert_eq!(
        fake.requests().len(),
        3,
        "the first connection and 2 reconnects"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_is_a_protocol_error() {
    let fake = assemblyai::start(script()).await;
    fake.push_faults([Fault::Malformed]);
    let (_studio, host) = host(&fake, "").await;
    assert!(matches!(
        failure(&host, &session()).await,
        PluginError::Protocol(_)
    ));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_begin_is_retried_and_a_lasting_one_is_unavailable() {
    let fake = assemblyai::start(script()).await;
    fake.push_faults([Fault::SlowFirstByte { ms: 3000 }]);
    let (_studio, host) = host(&fake, "begin_timeout_ms = 300").await;
    let (result, transcripts) = run(&host, &session()).await;
    result.expect("the second connection begins in time");
    assert!(finals(&transcripts).iter().any(|f| f.0 == "Hello there."));
    assert_eq!(fake.requests().len(), 2);

    let fake = assemblyai::start(script()).await;
    fake.push_faults(three_slow_answers());
    let (_studio, slow_host) = self::host(&fake, "begin_timeout_ms = 300").await;
    let started = Instant::now();
    assert!(matches!(
        failure(&slow_host, &session()).await,
        PluginError::Unavailable(_)
    ));
    assert_ended_within(started, Duration::from_secs(5));
}
