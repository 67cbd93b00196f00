//! HTTP routes: `/health`, `/ready` and the frontend's settings API (`/api/config*`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::GatewayState;
use crate::config::{
    ApiKeyField, NodeEnv, RuntimeConfigUpdate, SettingsError, ensure_writable_dir,
};

/// `GET /health`: the original backend's shape plus the loaded plugins.
pub async fn health(State(state): State<Arc<GatewayState>>) -> Json<Value> {
    let runtime = state.live.runtime();
    let providers = &state.config.providers;
    let plugins: Vec<Value> = state
        .plugins
        .plugins()
        .into_iter()
        .map(|p| {
            json!({
                "name": p.name,
                "role": p.role,
                "version": p.version,
                "sha256": p.sha256,
                "lastError": p.last_error,
            })
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
}

/// `GET /ready`: 200 only when the plugins are loaded and recordings can be written.
pub async fn ready(State(state): State<Arc<GatewayState>>) -> Response {
    let not_ready = |reason: String| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not-ready", "reason": reason})),
        )
            .into_response()
    };
    if state.shutting_down.load(Ordering::Acquire) {
        return not_ready("the server is shutting down".into());
    }
    if !state.plugins.is_ready() {
        let errors: Vec<String> = state
            .plugins
            .plugins()
            .into_iter()
            .filter_map(|p| p.last_error.map(|e| format!("{}: {e}", p.name)))
            .collect();
        let detail = if errors.is_empty() {
            String::new()
        } else {
            format!(" ({})", errors.join("; "))
        };
        return not_ready(format!("plugins are not loaded{detail}"));
    }
    let dir = state.config.folders.recording_dir.clone();
    let writable = tokio::task::spawn_blocking(move || ensure_writable_dir(&dir)).await;
    match writable {
        Ok(Ok(())) => Json(json!({"status": "ready"})).into_response(),
        Ok(Err(reason)) => not_ready(format!(
            "RECORDING_DIR {} is not writable: {reason}",
            state.config.folders.recording_dir.display()
        )),
        Err(e) => not_ready(format!("could not check RECORDING_DIR: {e}")),
    }
}

/// `GET /api/config`: providers, the live guest settings, and which keys are set (never values).
pub async fn get_config(State(state): State<Arc<GatewayState>>) -> Json<Value> {
    let runtime = state.live.runtime();
    let providers = &state.config.providers;
    Json(json!({
        "useRealAdapters": providers.use_real_adapters,
        "sttProvider": providers.stt.as_str(),
        "ttsProvider": runtime.tts_provider.as_str(),
        "guestProvider": runtime.guest_provider.as_str(),
        "guestModel": runtime.guest_model,
        "runtimeConfig": runtime,
        "keys": state.live.keys_set(),
    }))
}

/// `POST /api/config/keys` (ApiKeysPayload): hands the keys to the plugins, live.
pub async fn post_keys(
    State(state): State<Arc<GatewayState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(denied) = refuse_unauthorized(&state, &headers) {
        return denied;
    }
    let keys = match parse_json(&body).and_then(|v| ApiKeyField::parse_payload(&v)) {
        Ok(keys) => keys,
        Err(e) => return bad_request(&e),
    };
    let mut updated = Vec::with_capacity(keys.len());
    for (field, value) in keys {
        state.plugins.set_secret(field.variable, &value);
        state.live.mark_key_set(field);
        updated.push(field.field);
    }
    // Names only: a key's value never reaches a log line or a response.
    tracing::info!(?updated, "API keys updated");
    Json(json!({
        "success": true,
        "message": "API keys updated",
        "updated": updated,
    }))
    .into_response()
}

/// `POST /api/config/guest` (RuntimeConfig): the next turn of every studio uses the new settings.
pub async fn post_guest(
    State(state): State<Arc<GatewayState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(denied) = refuse_unauthorized(&state, &headers) {
        return denied;
    }
    let update = match parse_json(&body).and_then(|v| RuntimeConfigUpdate::from_json(&v)) {
        Ok(update) => update,
        Err(e) => return bad_request(&e),
    };
    let runtime = state.live.apply(update);
    tracing::info!(
        guest_provider = runtime.guest_provider.as_str(),
        guest_model = runtime.guest_model.as_deref().unwrap_or(""),
        tts_provider = runtime.tts_provider.as_str(),
        "guest configuration updated"
    );
    Json(json!({
        "success": true,
        "message": "Guest configuration updated",
        "config": runtime,
    }))
    .into_response()
}

fn parse_json(body: &[u8]) -> Result<Value, SettingsError> {
    serde_json::from_slice(body).map_err(|e| SettingsError {
        field: "body".into(),
        message: format!("not valid JSON ({e})"),
    })
}

fn bad_request(e: &SettingsError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"success": false, "error": e.to_string(), "field": e.field})),
    )
        .into_response()
}

/// The refusal of a settings change, if any: changes need the admin token when one is
/// configured; without one they are allowed outside production only, because anyone who can reach
/// the port could otherwise swap the keys.
fn refuse_unauthorized(state: &GatewayState, headers: &HeaderMap) -> Option<Response> {
    let server = &state.config.server;
    match &server.admin_token {
        Some(token) => {
            let presented = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            match presented {
                Some(p) if constant_time_eq(p.as_bytes(), token.expose().as_bytes()) => None,
                _ => Some((
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    Json(json!({
                        "success": false,
                        "error": "missing or wrong token: send Authorization: Bearer <STUDIO_ADMIN_TOKEN>",
                    })),
                )
                    .into_response()),
            }
        }
        None if server.node_env == NodeEnv::Production => Some((
            StatusCode::FORBIDDEN,
            Json(json!({
                "success": false,
                "error": "the settings API is disabled in production without a token: set STUDIO_ADMIN_TOKEN on the server and send Authorization: Bearer <token>",
            })),
        )
            .into_response()),
        None => None,
    }
}

/// Compares without an early exit, so response timing does not reveal how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `2026-11-26T09:22:26.123Z`, like JavaScript's `Date.toISOString()` in the original `/health`.
pub fn iso8601_utc(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (hour, minute, second) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_match_javascripts_to_iso_string() {
        assert_eq!(iso8601_utc(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // 2024-02-29T12:34:56.789Z: a leap day.
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(iso8601_utc(t), "2024-02-29T12:34:56.789Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_798_761_599);
        assert_eq!(iso8601_utc(t), "2026-12-31T23:59:59.000Z");
    }

    #[test]
    fn token_comparison_needs_an_exact_match() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
