//! `POST /api/episodes/{id}/stems`: a recording's tracks as WAV stems and a mixdown, made once in
//! its folder (off the async runtime) and downloaded through `/recordings/<folder>/<file>`.
//!
//! The door: an admin (the `STUDIO_ADMIN_TOKEN` bearer, or an admin token), or a host token of the
//! episode that recorded into the folder. A viewer may download the stems once made, not make them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::openapi::schemas;
use super::recordings::{folder_of_episode, is_recording_folder_name};
use crate::gateway::GatewayState;
use crate::gateway::access::Role;
use crate::gateway::admin;
use crate::recording::stems::{
    RecordingState, StemLimits, StemsError, make_stems_blocking, recording_state,
    tracks_being_written,
};

/// The answer: the four files, each with its download path.
#[derive(utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "a shape for the document; the handler writes the same JSON"
)]
struct StemsMade {
    /// `you.wav`, `claude.wav`, `guest.wav`, `mix.wav` (16-bit PCM, 48 kHz, mono).
    files: Vec<StemFileLink>,
    /// Whether this request made them (false: they were kept from an earlier one).
    made: bool,
    /// Tracks a crash cut short, made into stems up to the cut (empty when kept).
    truncated: Vec<String>,
}

/// One stem.
#[derive(utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "a shape for the document; the handler writes the same JSON"
)]
struct StemFileLink {
    #[schema(example = "mix.wav")]
    name: String,
    bytes: u64,
    /// Where it downloads (with a token, as the other recording files).
    #[schema(example = "/recordings/ep-n2h36sy3cctr6reel4ikle7afm/mix.wav")]
    url: String,
}

/// `POST /api/episodes/{id}/stems`.
#[utoipa::path(
    post,
    path = "/api/episodes/{id}/stems",
    tag = "episodes",
    security(("admin_token" = []), ("episode_token" = [])),
    params(
        ("id" = String, Path, description = "The recording folder: the episode id, or \
            `<id>-N` for a later take", pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,159}$",
            example = "ep-n2h36sy3cctr6reel4ikle7afm"),
    ),
    responses(
        (status = 200, description = "The stems, made now or kept from before: each track \
            decoded onto the session's timeline (every stem as long as the session) and mix.wav, \
            their sum scaled down as a whole only if it would clip", body = StemsMade),
        (status = 400, description = "Not a recording folder name", body = schemas::Refusal),
        (status = 404, description = "No such recording, or one of another episode than the \
            host token's", body = schemas::Refusal),
        (status = 409, description = "The episode is still being recorded: end it first",
            body = schemas::Refusal),
        (status = 422, description = "A track cannot be read, or the session is longer than \
            a stems job makes (4 h)", body = schemas::Refusal),
        (status = 500, description = "A file could not be read or written",
            body = schemas::Refusal),
        (status = 503, description = "Making the stems took longer than allowed",
            body = schemas::Refusal),
        (status = 507, description = "The recording disk has no room for the stems",
            body = schemas::Refusal),
        schemas::AdminRefusals,
    ),
)]
pub async fn make_stems(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if !is_recording_folder_name(&id) {
        return refusal(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "not a recording folder name",
        );
    }
    let root = state.config.folders.recording_dir.clone();
    if let Err(refused) = authorize(&state, &headers, peer, &id).await {
        return refused;
    }
    let folder = root.join(&id);
    let read = {
        let folder = folder.clone();
        tokio::task::spawn_blocking(move || recording_state(&folder)).await
    };
    let recorded = match read {
        Ok(Ok(recorded)) => recorded,
        Ok(Err(error)) => return failed(&id, &error),
        Err(e) => {
            tracing::warn!(folder = id, error = %e, "reading session.yml failed");
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "could not read the recording",
            );
        }
    };
    let folder_written = {
        let folder = folder.clone();
        tokio::task::spawn_blocking(move || tracks_being_written(&folder))
            .await
            .unwrap_or(true)
    };
    if is_live(&state, &recorded, folder_written) {
        return refusal(
            StatusCode::CONFLICT,
            "live",
            "this episode is still being recorded: end it, then ask for its stems",
        );
    }
    match make_stems_blocking(folder, StemLimits::default()).await {
        Ok(stems) => Json(json!({
            "files": stems.files.iter().map(|f| json!({
                "name": f.name,
                "bytes": f.bytes,
                "url": format!("/recordings/{id}/{}", f.name),
            })).collect::<Vec<_>>(),
            "made": stems.made,
            "truncated": stems.truncated,
        }))
        .into_response(),
        Err(error) => failed(&id, &error),
    }
}

/// A recording is live while its session has not finished and its episode runs in this server,
/// or its tracks are still being written (a studio ending, whose recorder is finishing, or another
/// server on the same folder); an unfinished one that is neither was cut off by a crash and is
/// made into stems.
fn is_live(state: &GatewayState, recorded: &RecordingState, folder_written: bool) -> bool {
    !recorded.finished
        && (folder_written
            || recorded
                .episode
                .as_deref()
                .is_some_and(|episode| state.registry.get(episode).is_some()))
}

/// Admits an admin, or a host token of the episode that recorded into `folder`.
async fn authorize(
    state: &GatewayState,
    headers: &HeaderMap,
    peer: SocketAddr,
    folder: &str,
) -> Result<(), Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(grant) = bearer.and_then(|token| state.access.verify(token).ok()) {
        let root = &state.config.folders.recording_dir;
        return match (grant.role, grant.episode_id) {
            (Role::Admin, _) => Ok(()),
            (Role::Host, Some(episode)) if folder_of_episode(root, folder, &episode).await => {
                Ok(())
            }
            (Role::Viewer, _) => Err(refusal(
                StatusCode::FORBIDDEN,
                "forbidden",
                "a viewer link cannot make stems: ask the host or the producer",
            )),
            // Another episode's folder: the same answer as a missing one, so none can be probed.
            _ => Err(not_found()),
        };
    }
    admin::require_admin(state, headers, peer.ip())
}

fn failed(folder: &str, error: &StemsError) -> Response {
    tracing::warn!(folder, %error, "stems not made");
    // Messages name files, never their place on the server's disk.
    let file_name = |path: &std::path::Path| {
        path.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    };
    let (status, code, message) = match error {
        StemsError::NotARecording(_) => return not_found(),
        StemsError::Unreadable { file, message } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            format!("cannot read {}: {message}", file_name(file)),
        ),
        StemsError::TooLarge { file, .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            format!("{} is larger than a stems job reads", file_name(file)),
        ),
        StemsError::TooLong { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            error.to_string(),
        ),
        StemsError::NoSpace { .. } => (
            StatusCode::INSUFFICIENT_STORAGE,
            "no-space",
            error.to_string(),
        ),
        StemsError::TimedOut => (
            StatusCode::SERVICE_UNAVAILABLE,
            "timed-out",
            error.to_string(),
        ),
        StemsError::Opus(_) | StemsError::Io { .. } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "could not read or write the recording's files".to_owned(),
        ),
    };
    refusal(status, code, &message)
}

fn not_found() -> Response {
    refusal(StatusCode::NOT_FOUND, "not-found", "no such recording")
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"success": false, "code": code, "error": message})),
    )
        .into_response()
}
