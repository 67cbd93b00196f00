//! Fake provider servers on 127.0.0.1 for the adapter tests and the end-to-end test.
//!
//! Each module serves one provider's real wire protocol (`PROVIDERS.md`): the same URLs, headers,
//! bodies and streaming framing, with scripted content. Every fake records the requests it
//! receives, so a test can check that an adapter sent exactly the right thing, and takes a queue
//! of [`Fault`]s, one per request, to play the failures adapters must survive.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;

pub mod google_stt;

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

/// Serves `router` on a free 127.0.0.1 port. Must run inside a tokio runtime.
pub async fn serve(router: Router, control: Control) -> FakeServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a fake provider binds a free port on 127.0.0.1");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    FakeServer {
        addr,
        control,
        task,
    }
}
