//! A fake Whisper server in all the flavours `WHISPER_ENDPOINT` may point at: a studio
//! transcription server (`POST /transcribe`, the body is bare PCM s16le 16 kHz mono ->
//! `{"text","is_final","language","language_probability"}`), whisper.cpp (`POST /inference`,
//! multipart -> `{"text"}`) and OpenAI (`POST /v1/audio/transcriptions`, multipart -> `{"text"}`).
//! `/transcribe` also takes multipart, like whisper.cpp started with
//! `--inference-path /transcribe`.
//!
//! Each answer takes the next scripted text. Failures: the [`Fault`] queue (401, 429, 500, 503,
//! a body cut off mid-way, a body that is not JSON, a slow first byte) and
//! [`FakeWhisper::answer_errors_in_200`] for the HTTP 200 `{"error": ...}` answers of the studio
//! server and whisper.cpp.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::fakes::{
    Control, FakeServer, Fault, Recorded, cut_off, json_error, serve, with_retry_after,
};

/// A running fake Whisper server.
#[derive(Debug)]
pub struct FakeWhisper {
    server: FakeServer,
    state: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    control: Control,
    texts: Vec<String>,
    next_text: AtomicUsize,
    errors_in_200: AtomicU32,
}

/// Starts a fake that answers each request with the next of `texts` (repeating; "" when empty).
pub async fn start(texts: &[&str]) -> FakeWhisper {
    let control = Control::default();
    let state = Arc::new(Shared {
        control: control.clone(),
        texts: texts.iter().map(|t| t.to_string()).collect(),
        next_text: AtomicUsize::new(0),
        errors_in_200: AtomicU32::new(0),
    });
    let router = Router::new()
        .route("/transcribe", post(transcribe))
        .route("/inference", post(transcribe))
        .route("/v1/audio/transcriptions", post(transcribe))
        .with_state(state.clone());
    FakeWhisper {
        server: serve(router, control).await,
        state,
    }
}

impl FakeWhisper {
    /// The studio server's endpoint (`/transcribe`), the default flavour.
    pub fn endpoint(&self) -> String {
        format!("{}/transcribe", self.server.base_url())
    }

    /// whisper.cpp's endpoint (`/inference`).
    pub fn cpp_endpoint(&self) -> String {
        format!("{}/inference", self.server.base_url())
    }

    /// OpenAI's endpoint (`/v1/audio/transcriptions`).
    pub fn openai_endpoint(&self) -> String {
        format!("{}/v1/audio/transcriptions", self.server.base_url())
    }

    /// The next `n` requests get HTTP 200 with a top-level `error` (after any queued fault).
    pub fn answer_errors_in_200(&self, n: u32) {
        self.state.errors_in_200.store(n, Ordering::SeqCst);
    }
}

impl Deref for FakeWhisper {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The form field name.
    pub name: String,
    /// The file name, for a file part.
    pub filename: Option<String>,
    /// The part's content type, when given.
    pub content_type: Option<String>,
    /// The part's bytes.
    pub data: Vec<u8>,
}

impl Part {
    /// The part's data as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Splits a recorded `multipart/form-data` body into its parts (empty when it is not multipart).
pub fn multipart_parts(request: &Recorded) -> Vec<Part> {
    let Some(boundary) = request
        .header("content-type")
        .and_then(|t| t.split("boundary=").nth(1))
        .map(|b| b.trim_matches('"').to_owned())
    else {
        return Vec::new();
    };
    let delimiter = format!("--{boundary}").into_bytes();
    let body = &request.body;
    let mut starts = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&body[at..], &delimiter) {
        starts.push(at + found);
        at += found + delimiter.len();
    }
    starts
        .windows(2)
        .filter_map(|pair| {
            let chunk = &body[pair[0] + delimiter.len()..pair[1]];
            let chunk = chunk.strip_prefix(b"\r\n")?;
            let chunk = chunk.strip_suffix(b"\r\n").unwrap_or(chunk);
            let split = find(chunk, b"\r\n\r\n")?;
            let head = String::from_utf8_lossy(&chunk[..split]).into_owned();
            let data = chunk[split + 4..].to_vec();
            let attribute = |name: &str| {
                head.split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .map(str::to_owned)
            };
            let content_type = head
                .lines()
                .find_map(|line| line.strip_prefix("Content-Type:"))
                .or_else(|| head.lines().find_map(|l| l.strip_prefix("content-type:")))
                .map(|t| t.trim().to_owned());
            Some(Part {
                name: attribute("name")?,
                filename: attribute("filename"),
                content_type,
                data,
            })
        })
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn transcribe(State(state): State<Arc<Shared>>, recorded: Recorded) -> Response {
    let multipart = recorded
        .header("content-type")
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    let studio_server = recorded.path == "/transcribe" && !multipart;
    let has_file = !multipart_parts(&recorded).is_empty();
    state.control.record(recorded);

    match state.control.next_fault() {
        Some(Fault::Unauthorized) => {
            return openai_error(
                StatusCode::UNAUTHORIZED,
                "Incorrect API key provided.",
                "invalid_request_error",
                None,
            );
        }
        Some(Fault::RateLimited { retry_after_s }) => {
            return openai_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit reached for requests.",
                "requests",
                Some(retry_after_s),
            );
        }
        Some(Fault::ServerError) => {
            return openai_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server had an error while processing your request.",
                "server_error",
                None,
            );
        }
        Some(Fault::Overloaded) => {
            return openai_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The engine is currently overloaded.",
                "server_error",
                None,
            );
        }
        Some(Fault::DropMidStream) => return cut_off(b"{\"text\":\"Hel"),
        Some(Fault::Malformed) => {
            return (
                [(header::CONTENT_TYPE, "application/json")],
                "<html><body>502 Bad Gateway</body></html>",
            )
                .into_response();
        }
        Some(Fault::SlowFirstByte { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        None => {}
    }
    if !studio_server && !has_file {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "Could not parse multipart form: no `file`.",
            "invalid_request_error",
            None,
        );
    }
    let in_200 = state
        .errors_in_200
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let answer = match (in_200, studio_server) {
        (true, true) => json!({"text": "", "is_final": true, "error": "CUDA out of memory"}),
        (true, false) => json!({"error": "failed to read WAV file"}),
        (false, true) => json!({
            "text": next_text(&state),
            "is_final": true,
            "language": "en",
            "language_probability": 0.98,
        }),
        (false, false) => json!({"text": next_text(&state)}),
    };
    axum::Json(answer).into_response()
}

fn next_text(state: &Shared) -> String {
    if state.texts.is_empty() {
        return String::new();
    }
    let i = state.next_text.fetch_add(1, Ordering::SeqCst);
    state.texts[i % state.texts.len()].clone()
}

/// OpenAI's error shape, `{"error":{"message","type","param","code"}}`.
fn openai_error(
    status: StatusCode,
    message: &str,
    kind: &str,
    retry_after_s: Option<u32>,
) -> Response {
    let body = json!({
        "error": {"message": message, "type": kind, "param": null, "code": null}
    });
    with_retry_after(json_error(status.as_u16(), &body), retry_after_s)
}

/// A 16-bit PCM WAV file as the fake read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// The format code (1 = PCM).
    pub format: u16,
    /// Channels.
    pub channels: u16,
    /// Samples per second.
    pub sample_rate: u32,
    /// Bits per sample.
    pub bits: u16,
    /// The samples (interleaved when several channels).
    pub samples: Vec<i16>,
}

/// Reads a WAV file's `fmt ` and `data` chunks; None when it is not a well-formed WAV (a data
/// chunk longer than the file is malformed here: the adapter wrote the whole file at once).
pub fn parse_wav(bytes: &[u8]) -> Option<Wav> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let riff_len = u32::from_le_bytes(bytes[4..8].try_into().ok()?) as usize;
    if riff_len + 8 != bytes.len() {
        return None;
    }
    let mut at = 12;
    let mut format = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
        let body = bytes.get(at + 8..at + 8 + size)?;
        if id == b"fmt " && size >= 16 {
            let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
            let rate = u32::from_le_bytes(body[4..8].try_into().ok()?);
            format = Some((u16_at(0), u16_at(2), rate, u16_at(14)));
        } else if id == b"data" {
            let (format, channels, sample_rate, bits) = format?;
            return Some(Wav {
                format,
                channels,
                sample_rate,
                bits,
                samples: body
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect(),
            });
        }
        at += 8 + size + (size & 1);
    }
    None
}
