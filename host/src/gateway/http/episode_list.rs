//! `GET /api/episodes` and `GET /api/episodes/{id}` (admin): past and live episodes from the
//! episode store, newest first, with their files, plugins and line counts; one episode adds its
//! turns' metrics.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::openapi::schemas;
use crate::gateway::{GatewayState, admin};
use crate::store::{Episode, ListQuery, StoreError};

/// Most episodes one page may ask for.
const MAX_LIMIT: u32 = 500;

/// `GET /api/episodes`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EpisodeList {
    /// Newest first.
    pub episodes: Vec<Episode>,
}

/// `GET /api/episodes`: newest first; `before` pages on (the `startedAt` of the last episode
/// of the previous page).
#[utoipa::path(
    get,
    path = "/api/episodes",
    tag = "episodes",
    security(("admin_token" = [])),
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500,
            description = "At most this many episodes (default 50)"),
        ("before" = Option<String>, Query, example = "2026-12-03T10:00:00.000Z",
            description = "Only episodes that started before this ISO 8601 UTC time"),
    ),
    responses(
        (status = 200, description = "Episodes, newest first", body = EpisodeList),
        (status = 400, description = "limit outside 1-500, before not an ISO 8601 UTC time, or \
            another parameter", body = schemas::Refusal),
        (status = 500, description = "The episode store could not be read", body = schemas::Refusal),
        schemas::AdminRefusals,
    ),
)]
pub async fn list_episodes(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(refused) = admin::require_admin(&state, &headers, peer.ip()) {
        return refused;
    }
    let query = match parse_query(query.as_deref().unwrap_or("")) {
        Ok(query) => query,
        Err(message) => return refusal(StatusCode::BAD_REQUEST, "bad-request", &message),
    };
    let store = state.store.clone();
    // SQLite is synchronous: off the async workers.
    match tokio::task::spawn_blocking(move || store.episodes(query)).await {
        Ok(Ok(episodes)) => Json(EpisodeList { episodes }).into_response(),
        Ok(Err(error)) => store_failed(&error),
        Err(error) => internal(&error.to_string()),
    }
}

/// `GET /api/episodes/{id}`: one episode (by its recording folder's name) with its turns.
#[utoipa::path(
    get,
    path = "/api/episodes/{id}",
    tag = "episodes",
    security(("admin_token" = [])),
    params(("id" = String, Path, example = "ep-n2h36sy3cctr6reel4ikle7afm",
        description = "The episode's id from the listing: its recording folder's name \
        (`<episode>` or `<episode>-N` for a later take)")),
    responses(
        (status = 200, description = "The episode and each turn's metrics", body = Episode),
        (status = 404, description = "No episode has this id", body = schemas::Refusal),
        (status = 500, description = "The episode store could not be read", body = schemas::Refusal),
        schemas::AdminRefusals,
    ),
)]
pub async fn get_episode(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(refused) = admin::require_admin(&state, &headers, peer.ip()) {
        return refused;
    }
    let store = state.store.clone();
    let lookup = id.clone();
    match tokio::task::spawn_blocking(move || store.episode(&lookup)).await {
        Ok(Ok(Some(detail))) => Json(detail.into_episode()).into_response(),
        Ok(Ok(None)) => refusal(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("no episode {id:?}: take an id from GET /api/episodes"),
        ),
        Ok(Err(error)) => store_failed(&error),
        Err(error) => internal(&error.to_string()),
    }
}

/// `limit` and `before` from the query string; anything else is refused, so a misspelt
/// parameter is not silently ignored.
fn parse_query(raw: &str) -> Result<ListQuery, String> {
    let mut query = ListQuery::default();
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        match key.as_ref() {
            "limit" => {
                query.limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        format!("limit must be a whole number 1-{MAX_LIMIT}, not {value:?}")
                    })?;
            }
            "before" => {
                query.before_ms = Some(crate::store::parse_iso8601_ms(&value).ok_or_else(|| {
                    format!("before must be an ISO 8601 UTC time such as 2026-12-03T10:00:00.000Z, not {value:?}")
                })?);
            }
            other => return Err(format!("unknown parameter {other:?}: use limit and before")),
        }
    }
    Ok(query)
}

fn store_failed(error: &StoreError) -> Response {
    tracing::error!(%error, "episode store read failed");
    internal("the episode store could not be read; the server log says why")
}

fn internal(message: &str) -> Response {
    refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
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

    #[test]
    fn the_query_takes_limit_and_before_and_refuses_the_rest() {
        assert_eq!(parse_query(""), Ok(ListQuery::default()));
        let query = parse_query("limit=2&before=1970-01-01T00:00:01.000Z").expect("valid");
        assert_eq!(query.limit, 2);
        assert_eq!(query.before_ms, Some(1000));
        assert!(parse_query("limit=0").is_err());
        assert!(parse_query("limit=501").is_err());
        assert!(parse_query("before=yesterday").is_err());
        assert!(parse_query("page=2").is_err());
    }
}
