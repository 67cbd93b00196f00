//! Fake provider servers on 127.0.0.1 for the adapter tests and the end-to-end test.
//!
//! Each module serves one provider's real wire protocol, as its public API documents it (each
//! module's header names the endpoint and messages): the same URLs, headers, bodies and streaming
//! framing, with scripted content. Every fake records the requests it receives, so a test can check
//! that an adapter sent exactly the right thing, and takes a queue of [`Fault`]s, one per request,
//! to play the failures adapters must survive.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

pub mod anthropic;
pub mod assemblyai;
pub mod google_oauth;
pub mod google_stt;
pub mod google_tts;
pub mod openai;
pub mod whisper;
pub mod ws;

/// A failure a fake plays for one request (or connection). Requests take faults from the front of
/// the queue; with the queue empty they are served normally.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 401 with the provider's own error body (WebSocket: the handshake is refused with 401).
    Unauthorized,
    /// 429 with `retry-after: <seconds>` and the provider's rate-limit body.
    RateLimited {
        /// The `retry-after` header value in seconds.
        retry_after_s: u32,
    },
    /// 500 (or the provider's server error, e.g. Anthropic 529 is [`Fault::Overloaded`]).
    ServerError,
    /// Anthropic's 529 overloaded_error.
    Overloaded,
    /// The stream starts, then the connection drops in the middle (no clean end).
    DropMidStream,
    /// The response is 200 but the body does not follow the protocol.
    Malformed,
    /// The first byte comes after this many ms (then the normal answer).
    SlowFirstByte {
        /// Delay before anything is sent.
        ms: u64,
    },
}

/// One request as the fake received it.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// `GET`, `POST`, or `WS` for a WebSocket upgrade.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string ("" when none).
    pub query: String,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body (for WebSocket: every binary message received, concatenated).
    pub body: Vec<u8>,
    /// WebSocket text messages received, in order.
    pub texts: Vec<String>,
    /// WebSocket binary message sizes received, in order.
    pub binary_sizes: Vec<usize>,
}

impl Recorded {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON (Null when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// One query parameter's raw value.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

impl Recorded {
    /// An HTTP request as the log keeps it: header names in lower case, values as text.
    pub fn from_http(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Self {
        Self {
            method: method.as_str().to_owned(),
            path: uri.path().to_owned(),
            query: uri.query().unwrap_or_default().to_owned(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            ..Self::default()
        }
    }
}

/// A handler can take the request it serves as a [`Recorded`] (the whole body read), so that
/// recording it and reading its headers and body is one extractor.
impl<S: Send + Sync> FromRequest<S> for Recorded {
    type Rejection = Infallible;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        // A body that breaks off is recorded as far as it came; the handler sees what arrived.
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        Ok(Self::from_http(
            &parts.method,
            &parts.uri,
            &parts.headers,
            &body,
        ))
    }
}

/// What every fake shares: the request log and the fault queue.
#[derive(Debug, Clone, Default)]
pub struct Control {
    requests: Arc<Mutex<Vec<Recorded>>>,
    faults: Arc<Mutex<VecDeque<Fault>>>,
}

impl Control {
    /// Queues faults for the next requests, in order.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(faults);
    }

    /// The fault for the request being served now, if any.
    pub fn next_fault(&self) -> Option<Fault> {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }

    /// Records a request; returns its index (to update a WebSocket's record as messages arrive).
    pub fn record(&self, request: Recorded) -> usize {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        requests.push(request);
        requests.len() - 1
    }

    /// Changes a recorded request in place (WebSocket sessions record as they go).
    pub fn update(&self, index: usize, change: impl FnOnce(&mut Recorded)) {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(request) = requests.get_mut(index) {
            change(request);
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A running fake: its address and its [`Control`]. The server stops when this is dropped.
#[derive(Debug)]
pub struct FakeServer {
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
    /// Its request log and fault queue.
    pub control: Control,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.control.requests()
    }

    /// Queues faults for the next requests.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.control.push_faults(faults);
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves a scripted fake: `router`'s handlers get a fresh [`Control`] and `script` as their state.
pub async fn serve_scripted<S>(router: Router<(Control, S)>, script: S) -> FakeServer
where
    S: Clone + Send + Sync + 'static,
{
    let control = Control::default();
    serve(router.with_state((control.clone(), script)), control).await
}

/// A 200 `text/event-stream` that sends `frames` (whole SSE events) one by one, a few ms apart
/// like a real model, then ends, or with `drop` aborts the connection (no clean end of the
/// chunked body).
pub fn sse_response(frames: Vec<String>, drop: bool) -> Response {
    let pieces = futures::stream::unfold(
        (frames.into_iter(), drop),
        |(mut frames, drop)| async move {
            match frames.next() {
                Some(frame) => {
                    tokio::time::sleep(Duration::from_millis(3)).await;
                    Some((Ok(Bytes::from(frame)), (frames, drop)))
                }
                None if drop => {
                    // Give the client time to read what was sent, then break the connection.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let broken = std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "the fake drops the stream",
                    );
                    Some((Err(broken), (frames, false)))
                }
                None => None,
            }
        },
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(pieces),
    )
        .into_response()
}

/// A JSON error response with `status` (500 when it is not a valid status code).
pub fn json_error(status: u16, body: &serde_json::Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `response` with `retry-after: <seconds>` when a wait is given (a 429 that says how long).
pub fn with_retry_after(mut response: Response, retry_after_s: Option<u32>) -> Response {
    if let Some(seconds) = retry_after_s {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    }
    response
}

/// A 200 JSON answer that sends `start`, then drops the connection mid-body.
pub fn cut_off(start: &'static [u8]) -> Response {
    let pieces: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(start)),
        Err(std::io::Error::other("the fake drops the connection")),
    ];
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(futures::stream::iter(pieces)),
    )
        .into_response()
}

/// Google Cloud's error JSON (`{"error":{"code","message","status","details"}}`) with its
/// status, as every Google API answers a refusal; shared by the Google fakes.
pub fn google_error(status: u16, retry_after_s: Option<u32>) -> Response {
    let (name, message) = match status {
        400 => ("INVALID_ARGUMENT", "Invalid request."),
        401 => (
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        ),
        403 => (
            "PERMISSION_DENIED",
            "The API has not been used in project fake-project before or it is disabled.",
        ),
        404 => (
            "NOT_FOUND",
            "The requested URL was not found on this server.",
        ),
        429 => (
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Requests'.",
        ),
        503 => ("UNAVAILABLE", "The service is currently unavailable."),
        _ => ("INTERNAL", "Internal error encountered."),
    };
    let body = serde_json::json!({
        "error": {"code": status, "message": message, "status": name, "details": []}
    });
    with_retry_after(json_error(status, &body), retry_after_s)
}

/// Google's answer to the [`Fault`]s that are an HTTP status (401, 429 with `retry-after`, 500,
/// 503); None for the others, which each fake plays its own way.
pub fn google_fault_error(fault: &Fault) -> Option<Response> {
    match *fault {
        Fault::Unauthorized => Some(google_error(401, None)),
        Fault::RateLimited { retry_after_s } => Some(google_error(429, Some(retry_after_s))),
        Fault::ServerError => Some(google_error(500, None)),
        Fault::Overloaded => Some(google_error(503, None)),
        _ => None,
    }
}

/// Serves `router` on a free 127.0.0.1 port. Must run inside a tokio runtime.
pub async fn serve(router: Router, control: Control) -> FakeServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a fake provider binds a free port on 127.0.0.1");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    // Real providers stream small SSE and WebSocket writes with Nagle off; so do the fakes, so a
    // streamed piece is not held back waiting for the previous write's ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    FakeServer {
        addr,
        control,
        task,
    }
}
