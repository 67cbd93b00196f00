//! A fake AssemblyAI Universal Streaming v3 server (`streaming.assemblyai.com`): `GET /v3/ws`
//! upgraded to a WebSocket. It checks nothing, records everything (query, `Authorization`, every
//! binary chunk's size and bytes, every text message), answers `Begin`, then plays a script of
//! `Turn`s as the audio it has received reaches each one's time, and on `Terminate` plays the
//! in-flight turns, sends `Termination` and closes with 1000.
//!
//! Faults, one per connection: [`Fault::Unauthorized`] refuses the handshake with 401,
//! [`Fault::Overloaded`] with 503; [`Fault::RateLimited`] closes at once with 3009 (too many
//! concurrent sessions); [`Fault::ServerError`] sends `Error` 3005 and closes with 3005 after
//! [`FAULT_AFTER_MS`] of audio; [`Fault::DropMidStream`] drops the TCP connection there without a
//! close frame; [`Fault::Malformed`] sends a text frame that is not JSON there;
//! [`Fault::SlowFirstByte`] delays `Begin`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::fakes::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use crate::fakes::{Control, FakeServer, Fault, Recorded, serve};

/// Audio (ms) a connection receives before a mid-stream fault strikes.
pub const FAULT_AFTER_MS: u64 = 400;

/// When a scripted message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Once the connection has received this many ms of 16 kHz audio.
    AfterAudioMs(u64),
    /// After the client's `Terminate`, before `Termination` (a turn still in flight).
    OnTerminate,
}

/// A `Turn` message as the service sends it. `words` are `(text, start_ms, end_ms, final)`.
pub fn turn(
    order: u64,
    end_of_turn: bool,
    formatted: bool,
    transcript: &str,
    words: &[(&str, u64, u64, bool)],
) -> Value {
    json!({
        "type": "Turn",
        "turn_order": order,
        "turn_is_formatted": formatted,
        "end_of_turn": end_of_turn,
        "transcript": transcript,
        "end_of_turn_confidence": if end_of_turn { 0.73 } else { 0.01 },
        "words": words.iter().map(|(text, start, end, is_final)| json!({
            "start": start, "end": end, "text": text, "confidence": 0.9, "word_is_final": is_final,
        })).collect::<Vec<_>>(),
        "utterance": if end_of_turn { transcript } else { "" },
    })
}

#[derive(Debug)]
struct Shared {
    control: Control,
    script: Vec<(When, Value)>,
}

/// Starts a fake that plays `script` on every connection.
pub async fn start(script: Vec<(When, Value)>) -> FakeServer {
    let control = Control::default();
    let shared = Arc::new(Shared {
        control: control.clone(),
        script,
    });
    let router = Router::new()
        .route("/v3/ws", get(upgrade))
        .with_state(shared);
    serve(router, control).await
}

async fn upgrade(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let index = shared.control.record(Recorded {
        method: "WS".into(),
        ..Recorded::from_http(&Method::GET, &uri, &headers, &[])
    });
    let fault = shared.control.next_fault();
    match fault {
        Some(Fault::Unauthorized) => {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "Invalid API key"})),
            )
                .into_response();
        }
        Some(Fault::Overloaded) => {
            return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
        }
        _ => {}
    }
    ws.on_upgrade(move |socket| session(socket, shared, index, fault))
}

async fn session(mut socket: WebSocket, shared: Arc<Shared>, index: usize, fault: Option<Fault>) {
    let control = &shared.control;
    match fault {
        Some(Fault::RateLimited { .. }) => {
            let _ = socket
                .send(Message::Text(json!({"type":"Error","error_code":3009,"error":"Too many concurrent sessions"}).to_string().into()))
                .await;
            let _ = close(&mut socket, 3009, "Too many concurrent sessions").await;
            return;
        }
        Some(Fault::SlowFirstByte { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        _ => {}
    }
    let begin = json!({"type":"Begin","id":"5f0d2e1c-fake-session","expires_at": 1_900_000_000u64});
    if socket
        .send(Message::Text(begin.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let mut received_ms = 0u64;
    let mut next = 0usize;
    let mut fault = fault.filter(|f| {
        matches!(
            f,
            Fault::ServerError | Fault::DropMidStream | Fault::Malformed
        )
    });
    while let Some(Ok(message)) = socket.recv().await {
        match message {
            Message::Binary(bytes) => {
                control.update(index, |r| {
                    r.body.extend_from_slice(&bytes);
                    r.binary_sizes.push(bytes.len());
                });
                received_ms += bytes.len() as u64 / 32;
                if received_ms >= FAULT_AFTER_MS {
                    match fault.take() {
                        Some(Fault::ServerError) => {
                            let error = json!({"type":"Error","error_code":3005,"error":"Internal server error"});
                            let _ = socket.send(Message::Text(error.to_string().into())).await;
                            let _ = close(&mut socket, 3005, "Internal server error").await;
                            return;
                        }
                        Some(Fault::DropMidStream) => return, // no close frame: the TCP connection just ends
                        Some(Fault::Malformed) => {
                            let _ = socket
                                .send(Message::Text("{\"type\":\"Turn\",\"turn_order\":0,".into()))
                                .await;
                        }
                        _ => {}
                    }
                }
                while let Some((When::AfterAudioMs(at), message)) = shared.script.get(next) {
                    if *at > received_ms {
                        break;
                    }
                    next += 1;
                    if socket
                        .send(Message::Text(message.to_string().into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            Message::Text(text) => {
                let text = text.to_string();
                control.update(index, |r| r.texts.push(text.clone()));
                let kind = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned));
                if kind.as_deref() == Some("Terminate") {
                    for (when, message) in &shared.script[next..] {
                        if *when == When::OnTerminate {
                            let _ = socket.send(Message::Text(message.to_string().into())).await;
                        }
                    }
                    let seconds = received_ms.div_ceil(1000);
                    let termination = json!({"type":"Termination","audio_duration_seconds": seconds,"session_duration_seconds": seconds});
                    let _ = socket
                        .send(Message::Text(termination.to_string().into()))
                        .await;
                    let _ = close(&mut socket, 1000, "").await;
                    return;
                }
            }
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

async fn close(
    socket: &mut WebSocket,
    code: u16,
    reason: &str,
) -> Result<(), crate::fakes::ws::Error> {
    socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.to_owned().into(),
        })))
        .await
}
