//! `GET /health` and `GET /ready`: what the server runs and whether it can take an episode, with
//! errors and paths only in the admin view.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::openapi::schemas;
use crate::config::ensure_writable_dir;
use crate::gateway::{GatewayState, admin};
use crate::timestamp::iso8601_utc;

/// `GET /health`: `status`, `timestamp`, `version` and `adapters` (the shape the frontend expects)
/// plus the loaded plugins. A plugin's `lastError` (it may hold paths) is shown only in the admin
/// view (see [`admin_view`]).
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    security((), ("admin_token" = [])),
    responses(
        (status = 200, description = "The server runs; with the admin bearer (or on an open \
            development server on loopback) each plugin also shows its `lastError`",
            body = schemas::Health),
        (status = 401, description = "An Authorization header with a wrong admin token",
            body = schemas::Refusal, headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 403, description = "An Authorization header where the admin scope is off \
            (no STUDIO_ADMIN_TOKEN)", body = schemas::Refusal),
        (status = 429, description = "Too many wrong admin tokens from this address",
            body = schemas::Refusal, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn health(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let admin = match admin_view(&state, &headers, peer.ip()) {
        Ok(admin) => admin,
        Err(refused) => return refused,
    };
    let runtime = state.live.runtime();
    let providers = &state.config.providers;
    let plugins: Vec<Value> = state
        .plugins
        .plugins()
        .into_iter()
        .map(|p| {
            let mut plugin = json!({
                "name": p.name,
                "role": p.role,
                "version": p.version,
                "sha256": p.sha256,
                "healthy": p.last_error.is_none(),
            });
            if admin {
                plugin["lastError"] = json!(p.last_error);
            }
            plugin
        })
        .collect();
    Json(json!({
        "status": "ok",
        "timestamp": iso8601_utc(SystemTime::now()),
        "version": env!("CARGO_PKG_VERSION"),
        "adapters": {
            "enabled": providers.use_real_adapters,
            "stt": providers.stt.as_str(),
            "tts": runtime.tts_provider.as_str(),
            "guest": runtime.guest_provider.as_str(),
        },
        "plugins": plugins,
        "studios": state.registry.episode_ids().len(),
    }))
    .into_response()
}

/// Whether the caller gets the admin view of `/health` and `/ready` (errors and paths): with
/// the admin bearer, or on an open development server on loopback. A wrong bearer is answered
/// (401/429) and counted like any admin guess, so these routes are no guessing oracle.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the finished response, built only for a refused request"
)]
fn admin_view(state: &GatewayState, headers: &HeaderMap, peer: IpAddr) -> Result<bool, Response> {
    if !admin::presents_credentials(headers) {
        return Ok(admin::open_without_token(state));
    }
    admin::require_admin(state, headers, peer).map(|()| true)
}

/// `GET /ready`: 200 only when the plugins are loaded and recordings can be written. Anyone
/// learns ready / not-ready and a generic reason; plugin errors and paths go to the admin view
/// only (`detail`).
#[utoipa::path(
    get,
    path = "/ready",
    tag = "health",
    security((), ("admin_token" = [])),
    responses(
        (status = 200, description = "Every role has a loaded plugin and RECORDING_DIR is writable",
            body = schemas::Readiness, example = json!({"status": "ready"})),
        (status = 503, description = "Not ready (also from the start of shutdown): a general \
            reason, and `detail` in the admin view", body = schemas::Readiness),
        (status = 401, description = "An Authorization header with a wrong admin token",
            body = schemas::Refusal, headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 403, description = "An Authorization header where the admin scope is off \
            (no STUDIO_ADMIN_TOKEN)", body = schemas::Refusal),
        (status = 429, description = "Too many wrong admin tokens from this address",
            body = schemas::Refusal, headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
pub async fn ready(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let admin = match admin_view(&state, &headers, peer.ip()) {
        Ok(admin) => admin,
        Err(refused) => return refused,
    };
    let not_ready = |reason: &str, detail: String| {
        let mut body = json!({"status": "not-ready", "reason": reason});
        if admin && !detail.is_empty() {
            body["detail"] = json!(detail);
        }
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    };
    if state.shutting_down.load(Ordering::Acquire) {
        return not_ready("the server is shutting down", String::new());
    }
    if !state.plugins.is_ready() {
        let errors: Vec<String> = state
            .plugins
            .plugins()
            .into_iter()
            .filter_map(|p| p.last_error.map(|e| format!("{}: {e}", p.name)))
            .collect();
        return not_ready("plugins are not loaded", errors.join("; "));
    }
    let dir = state.config.folders.recording_dir.clone();
    let writable = tokio::task::spawn_blocking(move || ensure_writable_dir(&dir)).await;
    match writable {
        Ok(Ok(())) => Json(json!({"status": "ready"})).into_response(),
        Ok(Err(reason)) => not_ready(
            "RECORDING_DIR is not writable",
            format!(
                "RECORDING_DIR {} is not writable: {reason}",
                state.config.folders.recording_dir.display()
            ),
        ),
        Err(e) => not_ready(
            "RECORDING_DIR could not be checked",
            format!("could not check RECORDING_DIR: {e}"),
        ),
    }
}
