//! `HTTP_BODY_TIMEOUT_SECONDS`: a request body must have arrived whole within a deadline counted
//! from the end of its head. tower-http's `RequestBodyTimeoutLayer` restarts its timer on every
//! frame, so a client trickling one byte a second would never hit it; this deadline is absolute.
//!
//! A request without a body (every WebSocket upgrade, every long-polling `GET`) is untouched, so
//! long-lived connections are not cut by it.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::connections::RefusalLog;

static BODY_TIMEOUTS: RefusalLog = RefusalLog::new("HTTP_BODY_TIMEOUT_SECONDS");

/// Why a request body stopped: its deadline passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?} (HTTP_BODY_TIMEOUT_SECONDS)")]
pub struct BodyTimedOut(Duration);

/// A request body that fails once its deadline has passed.
struct DeadlineBody {
    inner: Body,
    deadline: Instant,
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        // What has arrived is handed on even at the deadline.
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut(this.timeout)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: puts the deadline on the request's body; when it passed, the answer is `408`
/// naming the variable (whatever the handler made of the failed read) and the connection closes.
pub async fn limit_body_time(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let expired = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + timeout;
    let request = request.map(|inner| {
        Body::new(DeadlineBody {
            inner,
            deadline,
            timeout,
            sleep: None,
            expired: expired.clone(),
        })
    });
    let response = next.run(request).await;
    if !expired.load(Ordering::Acquire) {
        return response;
    }
    let message = format!(
        "request body not received within {}s (HTTP_BODY_TIMEOUT_SECONDS)",
        timeout.as_secs_f64()
    );
    if let Some(client) = client {
        BODY_TIMEOUTS.refused(client, &message);
    }
    (
        StatusCode::REQUEST_TIMEOUT,
        [(header::CONNECTION, "close")],
        format!("{message}\n"),
    )
        .into_response()
}
