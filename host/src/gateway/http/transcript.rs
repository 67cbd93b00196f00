//! `GET /api/episodes/{id}/transcript?format=json|md|srt|vtt`: an episode's merged transcript from
//! the episode store, for the admin or a holder of that episode's host or viewer token.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::is_recording_folder_name;
use super::openapi::schemas;
use crate::gateway::access::Role;
use crate::gateway::{GatewayState, admin};
use crate::store::EpisodeDetail;
use crate::transcript::Format;

/// The query: the format, and a host or viewer token (as `?token=`, for a plain download link).
#[derive(Debug, Default, Deserialize)]
pub struct TranscriptQuery {
    format: Option<String>,
    token: Option<String>,
}

/// `GET /api/episodes/{id}/transcript`: every final line of every speaker, merged in time order.
#[utoipa::path(
    get,
    path = "/api/episodes/{id}/transcript",
    tag = "episodes",
    security(("admin_token" = []), ("episode_token" = []), ("episode_token_query" = [])),
    params(
        ("id" = String, Path, description = "The episode's recording folder: its id, or \
            `<id>-N` for a later take", pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,159}$",
            example = "ep-n2h36sy3cctr6reel4ikle7afm"),
        ("format" = Option<String>, Query, description = "`json` (the default), `md` \
            (Markdown), `srt` (SubRip) or `vtt` (WebVTT)", pattern = "^(json|md|srt|vtt)$"),
        ("token" = Option<String>, Query, description = "A host or viewer token of this \
            episode (or an admin token)"),
    ),
    responses(
        (status = 200, description = "The transcript; md, srt and vtt come as a download \
            (Content-Disposition: attachment; filename=\"<id>-transcript.<format>\"). Subtitles \
            put two lines of at most 42 columns on screen at once, so a long line of speech \
            becomes several cues that share its time; lines without text are left out of all \
            but json.", content(
            (crate::transcript::json::TranscriptDocument = "application/json"),
            (schemas::PlainText = "text/markdown; charset=utf-8"),
            (schemas::PlainText = "application/x-subrip; charset=utf-8"),
            (schemas::PlainText = "text/vtt; charset=utf-8"),
        )),
        (status = 400, description = "Not an episode id, or not a format", body = schemas::Refusal),
        (status = 404, description = "No such episode, or the token is for another one: one \
            answer for both, so episodes cannot be probed", body = schemas::Refusal),
        (status = 500, description = "The episode store could not be read", body = schemas::Refusal),
        schemas::AdminRefusals,
    ),
)]
pub async fn episode_transcript(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<UrlPath<String>, PathRejection>,
    query: Result<Query<TranscriptQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(e) => return refusal(StatusCode::BAD_REQUEST, "bad-request", &e.body_text()),
    };
    // The door before anything is looked up; which episode a token opens is checked below.
    let token_episode = match door(&state, &headers, peer, query.token.as_deref()) {
        Ok(episode) => episode,
        Err(refused) => return refused,
    };
    let id = match id {
        Ok(UrlPath(id)) if is_recording_folder_name(&id) => id,
        _ => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "not an episode id: use the `id` of GET /api/episodes",
            );
        }
    };
    let format = match query.format.as_deref().map(Format::from_name) {
        None => Format::Json,
        Some(Some(format)) => format,
        Some(None) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "format must be json, md, srt or vtt",
            );
        }
    };
    let store = state.store.clone();
    let looked_up = {
        let id = id.clone();
        tokio::task::spawn_blocking(move || {
            let Some(episode) = store.episode(&id)? else {
                return Ok(None);
            };
            let lines = store.transcript(&id)?.unwrap_or_default();
            Ok::<_, crate::store::StoreError>(Some((episode, lines)))
        })
        .await
    };
    let (episode, lines): (EpisodeDetail, _) = match looked_up {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => return no_such_episode(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, episode = %id, "reading a transcript failed");
            return store_error();
        }
        Err(e) => {
            tracing::warn!(error = %e, episode = %id, "reading a transcript failed");
            return store_error();
        }
    };
    if let Some(own) = token_episode
        && own != episode.episode.episode_id
    {
        tracing::debug!(episode = %id, rule = "transcript-token", "transcript refused: another episode's token");
        return no_such_episode();
    }
    let body = format.render(&id, episode.episode.title.as_deref(), &lines);
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    // A live episode's transcript grows.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if format != Format::Json {
        // The id is letters, digits, `.`, `_` and `-` only: nothing to quote.
        let disposition = format!("attachment; filename=\"{id}-transcript.{}\"", format.name());
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            h.insert(header::CONTENT_DISPOSITION, value);
        }
    }
    response
}

/// Who may read a transcript: a valid token (bearer or `?token=`) of the admin role opens every
/// episode, a host or viewer token its own episode (returned, to compare with the episode's);
/// without one (or with one that does not verify), the admin scope (the admin token, or an open
/// development server).
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the finished response, built only for a refused request"
)]
fn door(
    state: &GatewayState,
    headers: &HeaderMap,
    peer: SocketAddr,
    query_token: Option<&str>,
) -> Result<Option<String>, Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(token) = query_token.or(bearer)
        && let Ok(grant) = state.access.verify(token)
    {
        return match (grant.role, grant.episode_id) {
            (Role::Admin, _) => Ok(None),
            (_, Some(episode)) => Ok(Some(episode)),
            // A host or viewer grant always names its episode (verify refuses others).
            (_, None) => Err(no_such_episode()),
        };
    }
    admin::require_admin(state, headers, peer.ip()).map(|()| None)
}

fn no_such_episode() -> Response {
    refusal(StatusCode::NOT_FOUND, "not-found", "no such episode")
}

fn store_error() -> Response {
    refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "store",
        "the episode store could not be read; the server's log says why",
    )
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"success": false, "code": code, "error": message})),
    )
        .into_response()
}
