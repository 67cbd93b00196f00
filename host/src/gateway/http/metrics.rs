//! `GET /metrics`: the Prometheus text exposition of [`crate::metrics`]. On the main port it is
//! an admin action (the `STUDIO_ADMIN_TOKEN` bearer, with the admin scope's lockout); on the
//! optional `METRICS_ADDR` listener it is open to whoever reaches that address, which is why that
//! address serves nothing else.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use super::openapi::schemas;
use crate::config::ConnectionLimits;
use crate::gateway::{GatewayState, admin, connections};

/// The exposition format's content type (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics` on the main port: admin only (401 without the bearer or with a wrong one, 429
/// while an address is locked out, 403 when no admin token is configured where one is needed).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Every metric in the Prometheus text format 0.0.4: studios, \
            clients, turns, latency histograms, audio, plugin calls, recordings, the process (each \
            one in docs/OPERATIONS.md, Reading the metrics)",
            content_type = "text/plain; version=0.0.4; charset=utf-8", body = schemas::PlainText),
        schemas::AdminRefusals,
        (status = 503, description = "Metrics are off: another metrics recorder was installed in \
            this process first", content_type = "text/plain", body = schemas::PlainText),
    ),
)]
pub async fn metrics(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = admin::require_admin(&state, &headers, peer.ip()) {
        return refused;
    }
    exposition()
}

/// Every metric as Prometheus text, or 503 when the recorder could not be installed.
fn exposition() -> Response {
    match crate::metrics::render() {
        Some(text) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            text,
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are off: another metrics recorder was installed in this process\n",
        )
            .into_response(),
    }
}

/// Serves `GET /metrics` alone, without a token, on `listener` (`METRICS_ADDR`) until `stop`
/// resolves; every other path is 404. The main port's connection caps and header timeout hold
/// here too, so an open port cannot be held hostage by slow or many clients.
pub async fn serve_metrics(
    listener: TcpListener,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::metrics::install();
    let router = Router::new().route("/metrics", get(async || exposition()));
    connections::serve(listener, router, limits, stop).await
}
