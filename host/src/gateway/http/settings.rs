//! The frontend's settings API: `GET /api/config`, `POST /api/config/keys` and
//! `POST /api/config/guest`. Changes apply live (the next turn uses them) and need the admin scope.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::openapi::schemas;
use crate::config::{ApiKeyField, RuntimeConfigUpdate, SettingsError};
use crate::gateway::{GatewayState, admin};

/// `GET /api/config`: providers, the live guest settings, and which keys are set (never values).
#[utoipa::path(
    get,
    path = "/api/config",
    tag = "settings",
    responses((status = 200, description = "The providers, the live guest settings, and which \
        keys are set (never their values)", body = schemas::Settings)),
)]
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
#[utoipa::path(
    post,
    path = "/api/config/keys",
    tag = "settings",
    security(("admin_token" = [])),
    request_body(content = schemas::ApiKeysPayload, content_type = "application/json"),
    responses(
        (status = 200, description = "The keys reach the plugins on their next call",
            body = schemas::KeysUpdated),
        (status = 400, description = "The body is not a valid ApiKeysPayload",
            body = schemas::SettingsRefusal),
        schemas::AdminRefusals,
        schemas::JsonBodyRefusals,
    ),
)]
pub async fn post_keys(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = settings_door(&state, &headers, peer.ip()) {
        return refused;
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
#[utoipa::path(
    post,
    path = "/api/config/guest",
    tag = "settings",
    security(("admin_token" = [])),
    request_body(content = schemas::RuntimeConfigUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "Every studio's next turn uses the new settings",
            body = schemas::GuestUpdated),
        (status = 400, description = "The body is not a valid RuntimeConfig",
            body = schemas::SettingsRefusal),
        schemas::AdminRefusals,
        schemas::JsonBodyRefusals,
    ),
)]
pub async fn post_guest(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = settings_door(&state, &headers, peer.ip()) {
        return refused;
    }
    let update = match parse_json(&body).and_then(|v| RuntimeConfigUpdate::from_json(&v)) {
        Ok(update) => update,
        Err(e) => return bad_request(&e),
    };
    let runtime = state.live.apply(update);
    // The guest's adapter reads these each call (declared in its `secrets`), so the next turn
    // goes to the new provider.
    state
        .plugins
        .set_secret("GUEST_PROVIDER", runtime.guest_provider.as_str());
    if let Some(model) = &runtime.guest_model {
        state.plugins.set_secret("GUEST_MODEL", model);
    }
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

/// A settings body as JSON, or the 400 error naming `body`.
pub fn parse_json(body: &[u8]) -> Result<Value, SettingsError> {
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

/// The settings API's door: a JSON body (a `text/plain` or form POST needs no CORS preflight, so
/// a foreign page could send one; requiring `application/json` forces the preflight) and the
/// admin scope.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the finished response, built only for a refused request"
)]
fn settings_door(state: &GatewayState, headers: &HeaderMap, peer: IpAddr) -> Result<(), Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(is_json_content_type) {
        tracing::debug!(%peer, ?content_type, rule = "settings-content-type", "settings change refused");
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Json(json!({
                "success": false,
                "error": "send the settings as JSON with Content-Type: application/json",
            })),
        )
            .into_response());
    }
    admin::require_admin(state, headers, peer)
}

/// Whether a `Content-Type` value is JSON (`application/json`, parameters such as a charset
/// allowed, case-insensitive).
pub fn is_json_content_type(value: &str) -> bool {
    value
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_bodies_count_as_json() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        for other in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "",
            "text/plain; application/json",
        ] {
            assert!(!is_json_content_type(other), "{other}");
        }
    }
}
