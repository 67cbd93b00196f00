//! OpenTelemetry traces of the AI lines, on the real binary: the server exports to the test
//! kit's local OTLP receiver (`studio_test_kit::otlp`) when `OTEL_EXPORTER_OTLP_ENDPOINT` points
//! at it; a Socket.IO client joins, speaks in real time (espeak-ng speech, or the kit's tone),
//! and claude answers. Then the trace of that line must arrive with a span per stage, in order,
//! under one root, each naming the plugin that served it; without the variables nothing is
//! exported, and a collector that cannot be reached changes nothing for the session.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use studio_test_kit::manifest::Manifest;
use studio_test_kit::otlp::{OtlpReceiver, ReceivedSpan};
use studio_test_kit::speech::Speech;

use crate::server::flood::client::{Client, Incoming};
use crate::support::server::{Server, ServerSetup};

/// What the mock STT hears.
const QUESTION: &str = "Claude, what do you make of today's topic?";
/// 20 ms of 48 kHz mono s16le, the browser's microphone chunk.
const CHUNK_BYTES: usize = 1920;
/// Guards against a hung server; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);
/// The stage spans of a line that answers the human, in the order of the line.
const STAGES: [&str; 7] = [
    "end_of_speech",
    "stt.final",
    "policy",
    "llm.first_token",
    "first_clause",
    "tts.first_audio",
    "first_frame",
];

/// The shipped mocks, paced for a test.
fn manifest() -> String {
    Manifest::shipped()
        .script(&[QUESTION])
        .config("mock-stt", "end_of_speech_ms", 400)
        .config("mock-tts", "words_per_minute", 400)
        .config("mock-llm", "token_delay_ms", 5)
        .to_string()
}

/// A server on the mocks, with `vars` set; exports are batched every 200 ms.
fn server(vars: &[(&str, String)]) -> Server {
    let mut setup = ServerSetup::new()
        .manifest(&manifest())
        .var("OTEL_BSP_SCHEDULE_DELAY", "200");
    for (key, value) in vars {
        setup = setup.var(key, value.clone());
    }
    setup.start()
}

/// Joins `episode`, speaks the question in real time between silences, and waits for claude's
/// `turn.end`; returns it.
async fn claude_answers(server: &Server, episode: &str) -> Value {
    let hello = json!({"episodeId": episode, "participantName": "host"});
    let mut client = Client::joined(server.addr, hello, PATIENCE).await;
    let (speech, _) = Speech::new(QUESTION).pcm_or_tone(2.0);
    let silence = vec![0u8; CHUNK_BYTES * 25];
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let audio = [&silence[..], &speech, &silence, &silence];
    for chunk in audio.iter().flat_map(|a| a.chunks_exact(CHUNK_BYTES)) {
        ticker.tick().await;
        client.send_audio(chunk);
    }
    // Silence goes on while claude answers, as an open microphone sends it.
    let quiet = vec![0u8; CHUNK_BYTES];
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        ticker.tick().await;
        client.send_audio(&quiet);
        for incoming in client.drain() {
            match incoming {
                Incoming::Event { name, payload, .. }
                    if name == "turn.end" && payload["speaker"] == "claude" =>
                {
                    client.close();
                    return payload;
                }
                Incoming::Closed(how) => panic!("the connection closed: {how:?}"),
                Incoming::Event { .. } => {}
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "claude never answered"
        );
    }
}

/// The spans of each trace, by trace id.
fn traces(spans: &[ReceivedSpan]) -> BTreeMap<String, Vec<ReceivedSpan>> {
    let mut traces: BTreeMap<String, Vec<ReceivedSpan>> = BTreeMap::new();
    for span in spans {
        traces
            .entry(span.trace_id.clone())
            .or_default()
            .push(span.clone());
    }
    traces
}

/// A trace holding the root `ai.line` of `speaker` and every stage span.
fn complete_line<'a>(
    traces: &'a BTreeMap<String, Vec<ReceivedSpan>>,
    speaker: &str,
) -> Option<&'a Vec<ReceivedSpan>> {
    traces.values().find(|spans| {
        spans
            .iter()
            .any(|s| s.name == "ai.line" && s.attribute("studio.speaker") == Some(speaker))
            && STAGES
                .iter()
                .all(|stage| spans.iter().any(|s| s.name == *stage))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_is_one_trace_with_a_span_per_stage_naming_its_plugin() {
    let collector = OtlpReceiver::start().await.expect("the receiver starts");
    let server = server(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
        ("OTEL_SERVICE_NAME", "studio-under-test".into()),
    ]);
    let turn_end = claude_answers(&server, "traced").await;
    let spans = collector
        .wait_for(PATIENCE, |spans| {
            complete_line(&traces(spans), "claude").is_some()
        })
        .await;
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    let all = traces(&spans);
    let Some(line) = complete_line(&all, "claude") else {
        panic!("no complete trace of claude's line; turn.end {turn_end}; spans {spans:#?}\n{log}");
    };
    let root = line.iter().find(|s| s.name == "ai.line").expect("root");
    assert_eq!(root.parent_span_id, "", "the line's span is the root");
    assert_eq!(
        root.resource.get("service.name").map(String::as_str),
        Some("studio-under-test")
    );
    assert_eq!(root.scope, "voice-studio");
    assert_eq!(root.attribute("studio.episode_id"), Some("traced"));
    assert!(
        root.attribute("studio.session_id")
            .is_some_and(|s| s.starts_with("traced/"))
    );
    assert_eq!(root.attribute("studio.interrupted"), Some("false"));
    let host_added: u64 = root
        .attribute("studio.host_added_us")
        .and_then(|v| v.parse().ok())
        .expect("the host's own time is on the root");
    assert!(host_added > 0, "{root:?}");
    let expected_plugin = |stage: &str| match stage {
        "end_of_speech" | "stt.final" => "mock-stt",
        "policy" => "host-led",
        "llm.first_token" | "first_clause" => "mock-llm",
        _ => "mock-tts",
    };
    let mut previous_start = 0;
    for stage in STAGES {
        let span = line.iter().find(|s| s.name == stage).expect("stage span");
        assert_eq!(
            span.parent_span_id, root.span_id,
            "{stage} is a child of the line"
        );
        assert!(
            span.end_ns >= span.start_ns,
            "{stage} ends after it starts: {span:?}"
        );
        assert!(
            span.start_ns >= previous_start,
            "{stage} starts after the stage before it: {line:#?}"
        );
        assert!(
            span.start_ns >= root.start_ns && span.end_ns <= root.end_ns,
            "{stage} lies within the line: {span:?} {root:?}"
        );
        previous_start = span.start_ns;
        assert_eq!(
            span.attribute("plugin.name"),
            Some(expected_plugin(stage)),
            "{span:?}"
        );
        assert!(
            span.attribute("plugin.version")
                .is_some_and(|v| !v.is_empty()),
            "{span:?}"
        );
        assert_eq!(span.attribute("studio.speaker"), Some("claude"));
        assert_eq!(span.attribute("studio.episode_id"), Some("traced"));
    }
    // The stage spans carry the same latencies turn.end reports (milliseconds, rounded down).
    let ms = |stage: &str| {
        let span = line.iter().find(|s| s.name == stage).expect("stage span");
        span.duration_ns() / 1_000_000
    };
    assert_eq!(
        Some(ms("llm.first_token")),
        turn_end["llmFirstTokenMs"].as_u64(),
        "{turn_end}"
    );
    assert_eq!(
        Some(ms("tts.first_audio")),
        turn_end["ttsFirstAudioMs"].as_u64(),
        "{turn_end}"
    );
    assert_eq!(collector.requests().1, 0, "every export decoded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_otel_variables_nothing_is_exported() {
    let collector = OtlpReceiver::start().await.expect("the receiver starts");
    // A service name alone does not turn traces on; the endpoint set but the SDK disabled
    // neither.
    let server = server(&[
        ("OTEL_SERVICE_NAME", "studio-without-traces".into()),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("{}/v1/traces", collector.endpoint()),
        ),
        ("OTEL_SDK_DISABLED", "true".into()),
    ]);
    claude_answers(&server, "untraced").await;
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(collector.requests(), (0, 0), "nothing was exported");
    assert!(!log.contains("exporting OpenTelemetry traces"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_does_not_touch_the_session() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("address").port();
    drop(closed);
    let server = server(&[(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        format!("http://127.0.0.1:{port}"),
    )]);
    let turn_end = claude_answers(&server, "collector-down").await;
    assert_eq!(turn_end["interrupted"], false, "{turn_end}");
    assert!(
        turn_end["playedMs"].as_u64().is_some_and(|ms| ms > 0),
        "{turn_end}"
    );
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "shutdown still ends cleanly: {log}");
    assert!(
        log.contains("traces could not be exported"),
        "the failed export is logged: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_also_travel_as_json() {
    let collector = OtlpReceiver::start().await.expect("the receiver starts");
    let server = server(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".into()),
    ]);
    claude_answers(&server, "traced-as-json").await;
    let spans = collector
        .wait_for(PATIENCE, |spans| {
            complete_line(&traces(spans), "claude").is_some()
        })
        .await;
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    let all = traces(&spans);
    let line = complete_line(&all, "claude").expect("a complete trace of claude's line");
    assert!(
        line.iter()
            .all(|s| s.trace_id.len() == 32 && s.span_id.len() == 16),
        "{line:#?}"
    );
    assert_eq!(collector.requests().1, 0, "every JSON export decoded");
    let (json, protobuf) = collector.json_and_protobuf();
    assert!(
        json > 0 && protobuf == 0,
        "{json} JSON and {protobuf} protobuf exports"
    );
}
