//! `POST /api/episodes` (admin): a new episode with a random, unguessable id, and its host and
//! viewer links for the console.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::GatewayState;
use super::access::{AccessMode, Role, random_id};
use super::admin;
use super::http::is_json_content_type;
use super::http::openapi::schemas;
use crate::timestamp::iso8601_utc;

/// Shortest lifetime a caller may ask for (a link must survive being sent to someone).
pub const MIN_TTL_SECONDS: u64 = 60;
/// Longest lifetime a caller may ask for: one year.
pub const MAX_TTL_SECONDS: u64 = 31_536_000;
/// Random bytes in a minted episode id (128 bits: not guessable, not enumerable).
const EPISODE_ID_BYTES: usize = 16;

/// The optional body: `{ttlSeconds}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MintRequest {
    /// How long the links live, in seconds; absent: the server's STUDIO_TOKEN_TTL_SECONDS.
    #[serde(default)]
    #[schema(minimum = 60, maximum = 31_536_000)]
    ttl_seconds: Option<u64>,
    /// The briefing (its id: the file name in BRIEFINGS_DIR without `.md`) the episode's
    /// studio loads; absent: the briefing named like the episode, else the built-in one.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,128}$", example = "ai-safety")]
    briefing: Option<String>,
}

/// `POST /api/episodes`: `{episodeId, expiresAt, host: {token, url}, viewer: {token, url}}`.
#[utoipa::path(
    post,
    path = "/api/episodes",
    tag = "episodes",
    security(("admin_token" = [])),
    request_body(content = Option<MintRequest>, content_type = "application/json",
        description = "Optional; without a body the links live STUDIO_TOKEN_TTL_SECONDS"),
    responses(
        (status = 200, description = "A new episode with a random id, and its host and viewer \
            links (https when the request carried X-Forwarded-Proto: https)",
            body = schemas::MintedEpisode),
        (status = 400, description = "ttlSeconds out of range, a briefing that is not a \
            briefing id, or a body that is not {\"ttlSeconds\"?: number, \"briefing\"?: string}",
            body = schemas::Refusal),
        (status = 500, description = "The briefing binding could not be kept", body = schemas::Refusal),
        schemas::AdminRefusals,
        schemas::JsonBodyRefusals,
    ),
)]
pub async fn mint_episode(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if state.access.mode() == AccessMode::Token && state.config.server.admin_token.is_none() {
        // Token access without an admin token would let anyone who reaches the port mint links.
        tracing::debug!(%peer, rule = "admin-token-unset", "episode mint refused");
        return refusal(
            StatusCode::FORBIDDEN,
            "forbidden",
            "minting episodes needs the admin scope: set STUDIO_ADMIN_TOKEN (at least 32 characters) and send Authorization: Bearer <token>",
        );
    }
    if let Err(refused) = admin::require_admin(&state, &headers, peer.ip()) {
        return refused;
    }
    let request = match parse_request(&headers, &body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let ttl = match request.ttl_seconds {
        None => state.access.token_ttl(),
        Some(secs) if (MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&secs) => {
            Duration::from_secs(secs)
        }
        Some(secs) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "bad-request",
                &format!(
                    "ttlSeconds {secs} is outside {MIN_TTL_SECONDS}-{MAX_TTL_SECONDS}; omit it for the server's STUDIO_TOKEN_TTL_SECONDS"
                ),
            );
        }
    };
    if let Some(briefing) = &request.briefing
        && !valid_briefing_id(briefing)
    {
        return refusal(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "briefing must be a briefing id: 1-128 letters, digits, '-', '_' or '.', not only dots",
        );
    }
    let episode_id = format!("ep-{}", random_id(EPISODE_ID_BYTES));
    if let Some(briefing) = request.briefing.clone() {
        let store = state.store.clone();
        let id = episode_id.clone();
        // SQLite is synchronous: off the async workers.
        let bound = tokio::task::spawn_blocking(move || store.bind_briefing(&id, &briefing)).await;
        if !matches!(bound, Ok(Ok(()))) {
            tracing::error!(episode = %episode_id, ?bound, "binding the briefing failed");
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the episode's briefing could not be kept (episode store); the server log says why",
            );
        }
    }
    let access = &state.access;
    let host = access.mint(Role::Host, Some(&episode_id), ttl);
    let viewer = access.mint(Role::Viewer, Some(&episode_id), ttl);
    let expires_at = super::access::unix_now().saturating_add(ttl.as_secs());
    let base = console_base(&headers);
    tracing::info!(%peer, episode = %episode_id, ttl_seconds = ttl.as_secs(), "episode minted");
    Json(json!({
        "episodeId": episode_id,
        "expiresAt": iso8601_utc(UNIX_EPOCH + Duration::from_secs(expires_at)),
        "host": {"url": console_link(&base, &host), "token": host},
        "viewer": {"url": console_link(&base, &viewer), "token": viewer},
    }))
    .into_response()
}

#[allow(
    clippy::result_large_err,
    reason = "the refusal is the finished response, built only for a refused request"
)]
fn parse_request(headers: &HeaderMap, body: &[u8]) -> Result<MintRequest, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(MintRequest::default());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(is_json_content_type) {
        return Err(refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the body as JSON with Content-Type: application/json (or no body)",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        refusal(
            StatusCode::BAD_REQUEST,
            "bad-request",
            &format!("the body must be {{\"ttlSeconds\"?: number, \"briefing\"?: string}} ({e})"),
        )
    })
}

/// A briefing id as the briefings folder names files: no path separators, not only dots.
fn valid_briefing_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !id.chars().all(|c| c == '.')
}

/// Where the console is, as the caller reached this server: `http(s)://<Host>`, or a relative
/// link when the request named no usable host.
fn console_base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| h.parse::<axum::http::uri::Authority>().is_ok());
    let Some(host) = host else {
        return String::new();
    };
    // Behind a TLS-terminating proxy the link must say https.
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// The console link carrying `token` in its fragment, which browsers never send to a server (so
/// it stays out of access logs and `Referer` headers).
fn console_link(base: &str, token: &str) -> String {
    format!("{base}/#token={token}")
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"success": false, "code": code, "error": message})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_link_names_the_host_the_caller_used_and_carries_the_token_in_the_fragment() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("studio.test:4000"));
        let base = console_base(&headers);
        assert_eq!(
            console_link(&base, "abc"),
            "http://studio.test:4000/#token=abc"
        );
        headers.insert(header::HOST, HeaderValue::from_static("bad host/x"));
        assert_eq!(console_link(&console_base(&headers), "abc"), "/#token=abc");
    }

    #[test]
    fn a_body_needs_json_and_only_ttl_seconds() {
        let mut headers = HeaderMap::new();
        assert!(parse_request(&headers, b"").is_ok());
        assert!(parse_request(&headers, b"{\"ttlSeconds\":120}").is_err());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let parsed = parse_request(&headers, b"{\"ttlSeconds\":120}").expect("parses");
        assert_eq!(parsed.ttl_seconds, Some(120));
        assert!(parse_request(&headers, b"{\"role\":\"admin\"}").is_err());
    }
}
