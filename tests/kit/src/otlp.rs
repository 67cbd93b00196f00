//! A local OpenTelemetry collector for tests and benchmarks: a real HTTP server on 127.0.0.1
//! that accepts OTLP/HTTP trace exports (`POST /v1/traces`, protobuf or JSON), decodes them with
//! the OpenTelemetry protocol types and keeps every span, flattened, for the test to read.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let collector = studio_test_kit::otlp::OtlpReceiver::start().await?;
//! // Point the server at it: OTEL_EXPORTER_OTLP_ENDPOINT=<collector.endpoint()>.
//! let spans = collector.spans();
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use tokio::sync::Notify;

/// One received span, flattened with its resource and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// The trace id in lower-case hex.
    pub trace_id: String,
    /// The span id in lower-case hex.
    pub span_id: String,
    /// The parent's span id in hex, empty for a root span.
    pub parent_span_id: String,
    /// The span's name.
    pub name: String,
    /// Start, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end_ns: u64,
    /// The span's attributes, values as text.
    pub attributes: BTreeMap<String, String>,
    /// The resource's attributes (`service.name`, ...), values as text.
    pub resource: BTreeMap<String, String>,
    /// The instrumentation scope's name.
    pub scope: String,
}

impl ReceivedSpan {
    /// The attribute `key`, if present.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// How long the span lasted, in nanoseconds (0 when its end is before its start).
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// What the receiver has seen.
#[derive(Debug, Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    /// Export requests, valid or not.
    requests: usize,
    /// Requests that could not be decoded.
    rejected: usize,
    /// Requests sent as JSON (the rest were protobuf).
    json: usize,
}

#[derive(Debug, Default)]
struct Shared {
    received: Mutex<Received>,
    arrived: Notify,
}

/// A running OTLP/HTTP receiver; it stops when dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl OtlpReceiver {
    /// Starts a receiver on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.lock().spans.clone()
    }

    /// How many export requests arrived, and how many of them could not be decoded.
    pub fn requests(&self) -> (usize, usize) {
        let received = self.lock();
        (received.requests, received.rejected)
    }

    /// How many export requests came as JSON, and how many as protobuf.
    pub fn json_and_protobuf(&self) -> (usize, usize) {
        let received = self.lock();
        (received.json, received.requests - received.json)
    }

    /// Waits until `done` holds for the spans received (checked on each arrival), at most
    /// `limit`; returns the spans either way.
    pub async fn wait_for(
        &self,
        limit: Duration,
        done: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let arrived = self.shared.arrived.notified();
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.spans();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Received> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `POST /v1/traces`: protobuf unless the content type says JSON.
async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let decoded = if json {
        serde_json::from_slice::<ExportTraceServiceRequest>(&body).map_err(|e| e.to_string())
    } else {
        ExportTraceServiceRequest::decode(body).map_err(|e| e.to_string())
    };
    let mut received = shared
        .received
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    received.requests += 1;
    received.json += usize::from(json);
    let status = match decoded {
        Ok(request) => {
            received.spans.extend(flatten(request));
            StatusCode::OK
        }
        Err(_) => {
            received.rejected += 1;
            StatusCode::BAD_REQUEST
        }
    };
    drop(received);
    shared.arrived.notify_waiters();
    status
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans.scope.map(|s| s.name).unwrap_or_default();
            for span in scope_spans.spans {
                spans.push(ReceivedSpan {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano,
                    attributes: attributes(&span.attributes),
                    resource: resource.clone(),
                    scope: scope.clone(),
                });
            }
        }
    }
    spans
}

fn attributes(pairs: &[KeyValue]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(text).unwrap_or_default(),
            )
        })
        .collect()
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
