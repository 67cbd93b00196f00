//! A fake Anthropic Messages API (streaming): `POST /v1/messages` answered with the
//! real server-sent event stream (`message_start`, `content_block_*`, `ping`, `message_delta`,
//! `message_stop`), one `text_delta` per scripted piece, and the real error bodies for every
//! [`Fault`] (401 authentication_error, 429 rate_limit_error with `retry-after`, 500 api_error,
//! 529 overloaded_error, a dropped stream, garbage data lines, a slow first byte).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use crate::fakes::{
    Control, FakeServer, Fault, Recorded, json_error, serve_scripted, sse_response,
};

/// `usage.input_tokens` the fake reports in `message_start`.
pub const INPUT_TOKENS: u32 = 11;
/// The model id the stream reports (the snapshot behind the `claude-haiku-4-5` alias).
pub const MODEL_SNAPSHOT: &str = "claude-haiku-4-5-20251001";

/// What the fake answers with when no fault is queued.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The reply, one `text_delta` per piece.
    pub reply: Vec<String>,
    /// After this many pieces, an `event: error` (`overloaded_error`) ends the stream.
    pub error_after: Option<usize>,
    /// End the body cleanly without `message_stop` (a truncated stream).
    pub omit_message_stop: bool,
}

impl Script {
    /// A plain reply.
    pub fn reply(reply: Vec<String>) -> Self {
        Self {
            reply,
            error_after: None,
            omit_message_stop: false,
        }
    }
}

/// Starts the fake answering every request with `reply`.
pub async fn start(reply: Vec<String>) -> FakeServer {
    start_with(Script::reply(reply)).await
}

/// Starts the fake with a full [`Script`].
pub async fn start_with(script: Script) -> FakeServer {
    serve_scripted(Router::new().route("/v1/messages", post(messages)), script).await
}

async fn messages(
    State((control, script)): State<(Control, Script)>,
    request: Recorded,
) -> Response {
    control.record(request.clone());
    let fault = control.next_fault();
    match fault {
        Some(Fault::Unauthorized) => {
            return error(401, "authentication_error", "invalid x-api-key");
        }
        Some(Fault::RateLimited { retry_after_s }) => {
            let mut response = error(
                429,
                "rate_limit_error",
                "This request would exceed your organization's rate limit of 50 requests per minute.",
            );
            response
                .headers_mut()
                .insert("retry-after", retry_after_s.into());
            return response;
        }
        Some(Fault::ServerError) => return error(500, "api_error", "Internal server error"),
        Some(Fault::Overloaded) => return error(529, "overloaded_error", "Overloaded"),
        Some(Fault::SlowFirstByte { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(Fault::DropMidStream | Fault::Malformed) | None => {}
    }
    // What the real API checks before it streams.
    if request.header("x-api-key").is_none_or(str::is_empty) {
        return error(401, "authentication_error", "x-api-key header is required");
    }
    if request.header("anthropic-version").is_none() {
        return error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return error(
            400,
            "invalid_request_error",
            "The request body is not valid JSON.",
        );
    };
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    if model.is_empty() || body["max_tokens"].as_u64().is_none() {
        return error(
            400,
            "invalid_request_error",
            "model and max_tokens: Field required",
        );
    }
    let mut frames = vec![frame(
        "message_start",
        json!({"type":"message_start","message":{"id":"msg_fake_1","type":"message","role":"assistant","content":[],"model": MODEL_SNAPSHOT,"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens": INPUT_TOKENS,"output_tokens":1}}}),
    )];
    match fault {
        Some(Fault::Malformed) => {
            frames.push("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_de\n\n".to_owned());
            frames.push("event: content_block_delta\ndata: <html>garbage</html>\n\n".to_owned());
            return sse_response(frames, false);
        }
        Some(Fault::DropMidStream) => {
            frames.push(frame(
                "content_block_start",
                json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            ));
            let first = script.reply.first().cloned().unwrap_or_default();
            frames.push(text_delta(&first));
            return sse_response(frames, true);
        }
        _ => {}
    }
    frames.push(frame(
        "content_block_start",
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
    ));
    frames.push(frame("ping", json!({"type": "ping"})));
    for (i, piece) in script.reply.iter().enumerate() {
        if script.error_after == Some(i) {
            frames.push(frame(
                "error",
                json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
            ));
            return sse_response(frames, false);
        }
        frames.push(text_delta(piece));
    }
    frames.push(frame(
        "content_block_stop",
        json!({"type":"content_block_stop","index":0}),
    ));
    frames.push(frame(
        "message_delta",
        json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens": script.reply.len()}}),
    ));
    if !script.omit_message_stop {
        frames.push(frame("message_stop", json!({"type":"message_stop"})));
    }
    sse_response(frames, false)
}

fn text_delta(text: &str) -> String {
    frame(
        "content_block_delta",
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text": text}}),
    )
}

/// One SSE event: `event:` named like `data.type`, a `data:` line, a blank line.
fn frame(event: &str, data: Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// Anthropic's error response: `{"type":"error","error":{"type","message"}}`.
fn error(status: u16, kind: &str, message: &str) -> Response {
    json_error(
        status,
        &json!({"type":"error","error":{"type": kind,"message": message}}),
    )
}
