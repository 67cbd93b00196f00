//! `text.say`, a line the human types instead of speaking, on the real binary with the mock
//! plugins and a Socket.IO client over a real WebSocket: the line is captioned as the human's
//! final line, an AI answers it as if it had been spoken, and it is recorded (`stt.final` with
//! `typed`, a `you.vtt` cue). Bad lines get their error, the event passes the client's control
//! bucket, a client outside a studio is told to say hello, and a viewer is refused.

use std::time::Duration;

use serde_json::{Value, json};
use studio_test_kit::manifest::Manifest;

use crate::server::flood::client::{Client, Incoming, loopback};
use crate::support::server::ServerSetup;
use voice_studio::config::AccessMode;
use voice_studio::gateway::access::{Access, Role};

/// Guards against a hung server; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// The shipped mocks, paced for a test.
fn manifest() -> String {
    Manifest::shipped()
        .config("mock-tts", "words_per_minute", 400)
        .config("mock-llm", "token_delay_ms", 5)
        .to_string()
}

/// Waits for the first event that `pick` accepts; panics with what arrived if none does.
async fn expect(client: &mut Client, what: &str, pick: impl Fn(&str, &Value) -> bool) -> Value {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let incoming = tokio::time::timeout_at(deadline, client.events.recv()).await;
        match incoming {
            Ok(Some(Incoming::Event { name, payload, .. })) => {
                if pick(&name, &payload) {
                    return payload;
                }
                seen.push(format!("{name} {payload}"));
            }
            Ok(Some(Incoming::Closed(how))) => panic!("closed ({how:?}) before {what}: {seen:?}"),
            Ok(None) | Err(_) => panic!("no {what}; saw {seen:?}"),
        }
    }
}

fn error_code<'a>(name: &str, payload: &'a Value) -> Option<&'a str> {
    (name == "error")
        .then(|| payload["code"].as_str())
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_line_is_captioned_answered_and_recorded_like_a_spoken_one() {
    let setup = ServerSetup::new().manifest(&manifest());
    let recordings = setup.recording_dir();
    let server = setup.start();
    let hello = json!({"episodeId": "typed-line", "participantName": "host"});
    let mut client = Client::joined(server.addr, hello, PATIENCE).await;

    // No microphone at all: the typed line opens the floor by itself.
    client.emit(
        "text.say",
        json!({"text": "  what do you make of\ntoday's topic?  ", "to": "guest"}),
    );
    let caption = expect(&mut client, "the typed caption", |name, p| {
        name == "caption" && p["speaker"] == "you" && p["final"] == true
    })
    .await;
    assert_eq!(
        caption["text"], "Guest, what do you make of today's topic?",
        "{caption}"
    );
    assert!(
        caption["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("you-typed-")),
        "{caption}"
    );
    // The guest, whom the line names, answers it.
    let answer = expect(&mut client, "the guest's answer", |name, p| {
        name == "turn.end" && p["speaker"] != "you"
    })
    .await;
    assert_eq!(answer["speaker"], "guest", "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .is_some_and(|t| !t.trim().is_empty()),
        "{answer}"
    );

    // Bad lines: each its own error, and nothing is said.
    let too_long = "a".repeat(voice_studio::gateway::MAX_SAY_CHARS + 1);
    for (payload, code) in [
        (json!({"text": too_long}), "text-too-long"),
        (json!({"text": " \n\t "}), "bad-payload"),
        (json!({"text": 42}), "bad-payload"),
        (json!({"text": "hello", "to": "you"}), "bad-payload"),
        (json!("hello"), "bad-payload"),
    ] {
        client.emit("text.say", payload.clone());
        let error = expect(&mut client, code, |name, p| error_code(name, p).is_some()).await;
        assert_eq!(error["code"], code, "{payload} -> {error}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("text.say")),
            "{error}"
        );
    }
    if let Some(long) = client
        .drain()
        .iter()
        .find(|i| matches!(i, Incoming::Event { name, payload, .. } if name == "caption" && payload["speaker"] == "you" && payload["text"].as_str().is_some_and(|t| t.len() > 1000)))
    {
        panic!("a refused line was captioned: {long:?}");
    }

    // The recording holds the typed line: its event and its caption cue.
    client.emit("client.end-session", Value::Null);
    let ready = expect(&mut client, "recording.ready", |name, _| {
        name == "recording.ready"
    })
    .await;
    let folder = recordings.join(ready["folder"].as_str().unwrap_or("typed-line"));
    let events = std::fs::read_to_string(folder.join("events.jsonl")).expect("events.jsonl");
    let typed: Vec<Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "stt.final")
        .collect();
    assert_eq!(typed.len(), 1, "{events}");
    assert_eq!(typed[0]["typed"], true, "{}", typed[0]);
    assert_eq!(
        typed[0]["text"], "Guest, what do you make of today's topic?",
        "{}",
        typed[0]
    );
    let vtt = std::fs::read_to_string(folder.join("you.vtt")).expect("you.vtt");
    assert!(
        vtt.contains("Guest, what do you make of today's topic?"),
        "{vtt}"
    );
    client.close();
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_lines_need_a_studio_and_pass_the_control_bucket() {
    let server = ServerSetup::new().manifest(&manifest()).start();
    let mut client = Client::connect(loopback(1), server.addr)
        .await
        .expect("the client connects");
    client.emit("text.say", json!({"text": "anyone there?"}));
    let error = expect(&mut client, "not-in-studio", |name, p| {
        error_code(name, p).is_some()
    })
    .await;
    assert_eq!(error["code"], "not-in-studio", "{error}");

    // A burst past CONTROL_EVENT_RATE's bucket (bursts of 20): the excess is dropped and the
    // client hears `rate-limited` naming the variable. Blank lines, so nothing is said either way.
    for _ in 0..60 {
        client.emit("text.say", json!({"text": " "}));
    }
    let limited = expect(&mut client, "rate-limited", |name, p| {
        error_code(name, p) == Some("rate-limited")
    })
    .await;
    assert!(
        limited["message"]
            .as_str()
            .is_some_and(|m| m.contains("CONTROL_EVENT_RATE")),
        "{limited}"
    );
    client.close();
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_cannot_type_a_line() {
    const SECRET: &str = "text-say-test-secret-0123456789abcdef-0123";
    let server = ServerSetup::new()
        .manifest(&manifest())
        .var("STUDIO_TOKEN_SECRET", SECRET)
        .start();
    let ttl = Duration::from_secs(600);
    let access = Access::with_key(AccessMode::Token, SECRET.as_bytes().to_vec(), ttl);
    let viewer = access.mint(Role::Viewer, Some("typed-by-viewer"), ttl);
    let mut client = Client::connect(loopback(1), server.addr)
        .await
        .expect("the client connects");
    client
        .join(
            json!({"token": viewer, "participantName": "viewer"}),
            PATIENCE,
        )
        .await
        .expect("the viewer joins");
    client.emit("text.say", json!({"text": "Claude, over to you."}));
    let error = expect(&mut client, "forbidden", |name, p| {
        error_code(name, p).is_some()
    })
    .await;
    assert_eq!(error["code"], "forbidden", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("text.say")),
        "{error}"
    );
    // Nothing reached the studio: asked for its state, it has no caption.
    client.emit("client.request-state", Value::Null);
    let snapshot = expect(&mut client, "state.snapshot", |name, _| {
        name == "state.snapshot"
    })
    .await;
    assert_eq!(snapshot["captions"], json!([]), "{snapshot}");
    client.close();
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
}
