//! `GET /recordings/<folder>/<file>`: which files of a recording are served and who may read
//! them (a signed link, or a token for the episode that recorded into the folder).

use std::io::SeekFrom;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::file_serving::{byte_range, file_chunks, open_recording_file};
use super::openapi::schemas;
use crate::gateway::GatewayState;
use crate::gateway::access::Role;
use crate::gateway::download_links::unix_now;

/// The files a recording folder holds, with their content types: only these are served, so
/// nothing else that might sit in `RECORDING_DIR` (or be linked into it) can be fetched.
const RECORDING_FILES: [(&str, &str); 12] = [
    ("you.webm", "audio/webm"),
    ("claude.webm", "audio/webm"),
    ("guest.webm", "audio/webm"),
    ("you.vtt", "text/vtt; charset=utf-8"),
    ("claude.vtt", "text/vtt; charset=utf-8"),
    ("guest.vtt", "text/vtt; charset=utf-8"),
    ("events.jsonl", "application/x-ndjson"),
    ("session.yml", "application/yaml"),
    // The stems and mixdown `POST /api/episodes/{id}/stems` makes.
    ("you.wav", "audio/wav"),
    ("claude.wav", "audio/wav"),
    ("guest.wav", "audio/wav"),
    ("mix.wav", "audio/wav"),
];

/// Longest episode folder name (an episode id is at most 128 characters, plus a `-N` suffix).
const MAX_RECORDING_FOLDER: usize = 160;

/// How a recording download proves it may read the file: a signed link (`exp` + `sig`) or an
/// access token for the episode (`token`, or `Authorization: Bearer`).
#[derive(Debug, Default, Deserialize)]
pub struct RecordingQuery {
    exp: Option<String>,
    sig: Option<String>,
    token: Option<String>,
}

/// The one answer for a recording that is missing, forbidden or wrongly signed, so folder names
/// cannot be probed.
fn no_such_recording() -> Response {
    plain(StatusCode::NOT_FOUND, "no such recording file")
}

/// `GET /recordings/<folder>/<file>`: one file of a finished or live recording, with byte ranges
/// so players can seek; only with a signed link or a token for its episode.
#[utoipa::path(
    get,
    path = "/recordings/{folder}/{file}",
    tag = "recordings",
    security(("signed_link" = []), ("admin_token" = []), ("episode_token" = []),
        ("episode_token_query" = [])),
    params(
        ("folder" = String, Path, description = "The episode's folder: its id, or `<id>-N` for \
            a later take", pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,159}$",
            example = "ep-n2h36sy3cctr6reel4ikle7afm"),
        ("file" = String, Path, description = "One of the files a recording holds",
            pattern = "^(you|claude|guest)\\.(webm|vtt|wav)$|^mix\\.wav$|^events\\.jsonl$|^session\\.yml$",
            example = "you.webm"),
        ("exp" = Option<String>, Query, description = "A signed link's expiry (unix seconds)"),
        ("sig" = Option<String>, Query, description = "A signed link's signature (hex)"),
        ("token" = Option<String>, Query, description = "A host, viewer or admin token"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`"),
    ),
    responses(
        (status = 200, description = "The whole file (Cache-Control: no-cache: a live \
            recording grows)", content(
            (schemas::FileBytes = "audio/webm"),
            (schemas::FileBytes = "audio/wav"),
            (schemas::FileBytes = "text/vtt; charset=utf-8"),
            (schemas::FileBytes = "application/x-ndjson"),
            (schemas::FileBytes = "application/yaml"),
        ), headers(("Accept-Ranges" = String, description = "`bytes`"))),
        (status = 206, description = "The range asked for", content(
            (schemas::FileBytes = "audio/webm"),
            (schemas::FileBytes = "audio/wav"),
            (schemas::FileBytes = "text/vtt; charset=utf-8"),
            (schemas::FileBytes = "application/x-ndjson"),
            (schemas::FileBytes = "application/yaml"),
        ), headers(("Content-Range" = String, description = "`bytes <first>-<last>/<length>`"))),
        (status = 307, description = "The file is not on this host's disk but in the \
            recording bucket (`RECORDING_BUCKET`): `Location` is a presigned URL of its copy",
            headers(("Location" = String, description = "A presigned GET URL"))),
        (status = 400, description = "Not a recording folder name",
            content_type = "text/plain; charset=utf-8", body = schemas::PlainText),
        (status = 404, description = "No such file, no proof, a wrong or expired proof, or \
            another episode's folder: one answer for all, so folders cannot be probed",
            content_type = "text/plain; charset=utf-8", body = schemas::PlainText),
        (status = 416, description = "Not one satisfiable byte range of this file",
            content_type = "text/plain; charset=utf-8", body = schemas::PlainText,
            headers(("Content-Range" = String, description = "`bytes */<length>`"))),
        (status = 500, description = "The file could not be read",
            content_type = "text/plain; charset=utf-8", body = schemas::PlainText),
    ),
)]
pub async fn recording_file(
    State(state): State<Arc<GatewayState>>,
    UrlPath((folder, file)): UrlPath<(String, String)>,
    Query(proof): Query<RecordingQuery>,
    headers: HeaderMap,
) -> Response {
    if !is_recording_folder_name(&folder) {
        return plain(StatusCode::BAD_REQUEST, "not a recording folder name");
    }
    let Some(content_type) = RECORDING_FILES
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, ty)| *ty)
    else {
        return no_such_recording();
    };
    let root = state.config.folders.recording_dir.clone();
    // The proof is checked before the disk is looked at: a refused request learns nothing of
    // what RECORDING_DIR holds.
    if !may_download(&state, &root, &folder, &file, &proof, &headers).await {
        tracing::debug!(
            folder,
            file,
            rule = "recording-download",
            "recording download refused"
        );
        return no_such_recording();
    }
    let opened = open_recording_file(&root, &folder, &file).await;
    let (mut handle, len) = match opened {
        Ok(Some(opened)) => opened,
        Ok(None) => return from_bucket(&state, &folder, &file).await,
        Err(e) => {
            tracing::warn!(folder, file, error = %e, "reading a recording file failed");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "could not read the file");
        }
    };
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(value) => match value.to_str().ok().and_then(|v| byte_range(v, len)) {
            Some(range) => Some(range),
            None => {
                return (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{len}"))],
                    "the range is not a single satisfiable byte range of this file",
                )
                    .into_response();
            }
        },
    };
    let (start, end_inclusive) = range.unwrap_or((0, len.saturating_sub(1)));
    let count = if len == 0 {
        0
    } else {
        end_inclusive - start + 1
    };
    if start > 0
        && let Err(e) = handle.seek(SeekFrom::Start(start)).await
    {
        tracing::warn!(folder, file, error = %e, "seeking in a recording file failed");
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "could not read the file");
    }
    // A live recording keeps growing: serve the length seen at open, so Content-Length holds.
    let body = Body::from_stream(file_chunks(handle.take(count)));
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    // Live files change from one request to the next.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end_inclusive}/{len}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    response
}

/// A file that is not on this host's disk (recorded on another host, or removed here after it
/// was copied): a redirect to a presigned URL of its copy in the bucket, valid as long as a
/// signed link (`DOWNLOAD_URL_TTL_SECONDS`); without a bucket, not found.
async fn from_bucket(state: &GatewayState, folder: &str, file: &str) -> Response {
    let Some(bucket) = state.registry.recording_bucket() else {
        return no_such_recording();
    };
    match bucket
        .signed_url(folder, file, state.config.doors.download_url_ttl)
        .await
    {
        Ok(url) => match HeaderValue::from_str(url.as_str()) {
            Ok(location) => (
                StatusCode::TEMPORARY_REDIRECT,
                [
                    (header::LOCATION, location),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
            )
                .into_response(),
            Err(_) => no_such_recording(),
        },
        Err(error) => {
            tracing::warn!(folder, file, %error, "signing a bucket download failed");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not sign the download",
            )
        }
    }
}

/// Whether the request may read `folder/file`: a valid signed link for exactly that file, or the
/// admin scope (see `admin::holds_admin`), or an admin token, or a host/viewer token whose
/// episode recorded into `folder`.
async fn may_download(
    state: &GatewayState,
    root: &Path,
    folder: &str,
    file: &str,
    proof: &RecordingQuery,
    headers: &HeaderMap,
) -> bool {
    if let (Some(exp), Some(sig)) = (&proof.exp, &proof.sig) {
        return state
            .download_links
            .verify(folder, file, exp, sig, unix_now());
    }
    // The producer's episode library plays and downloads every recording under the admin scope.
    if crate::gateway::admin::holds_admin(state, headers) {
        return true;
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = proof.token.as_deref().or(bearer) else {
        return false;
    };
    let Ok(grant) = state.access.verify(token) else {
        return false;
    };
    match (grant.role, grant.episode_id) {
        (Role::Admin, _) => true,
        (_, Some(episode)) => folder_of_episode(root, folder, &episode).await,
        (_, None) => false,
    }
}

/// Whether `folder` holds a recording of `episode`: its name is the episode's folder name or
/// that name with a `-N` take suffix, and its `session.yml` (when written) names the episode. The
/// second check matters because `show-2` may be take 2 of `show` or take 1 of `show-2`.
pub(super) async fn folder_of_episode(root: &Path, folder: &str, episode: &str) -> bool {
    let Ok(base) = crate::recording::folder_name(episode) else {
        return false;
    };
    let is_take = folder
        .strip_prefix(base.as_str())
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if folder != base && !is_take {
        return false;
    }
    match recorded_episode(root, folder).await {
        Some(recorded) => recorded == episode,
        // No manifest yet (a recording just begun): only the episode's own first folder.
        None => folder == base,
    }
}

/// The `episode:` that `folder/session.yml` names, if the file is there and says one.
async fn recorded_episode(root: &Path, folder: &str) -> Option<String> {
    /// The one field of `session.yml` this needs; the others are ignored.
    #[derive(Deserialize)]
    struct Recorded {
        episode: String,
    }
    let (handle, _) = open_recording_file(root, folder, "session.yml")
        .await
        .ok()
        .flatten()?;
    // A session.yml is a few kilobytes; a larger file is not one the recorder wrote.
    let mut text = Vec::with_capacity(4096);
    handle
        .take(MAX_SESSION_YML_BYTES)
        .read_to_end(&mut text)
        .await
        .ok()?;
    let text = std::str::from_utf8(&text).ok()?;
    serde_yaml_ng::from_str::<Recorded>(text)
        .ok()
        .map(|recorded| recorded.episode)
}

/// The most of a `session.yml` read to find its episode.
const MAX_SESSION_YML_BYTES: u64 = 64 * 1024;

/// An episode folder name as the recorder makes them: letters, digits, `.`, `_`, `-`, not
/// starting with `.` (so never `..`), and no separators of any platform.
pub fn is_recording_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_RECORDING_FOLDER
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_cannot_leave_the_recording_dir() {
        assert!(is_recording_folder_name("episode-1764150000000"));
        assert!(is_recording_folder_name("show_2.take-2"));
        for bad in [
            "..", ".", ".hidden", "a/b", "a\\b", "/etc", "", "a%2Fb", "é",
        ] {
            assert!(!is_recording_folder_name(bad), "{bad}");
        }
    }
}
