//! HTTP routes: `/health`, `/ready`, the frontend's settings API (`/api/config*`) and the
//! recordings (`/recordings/<folder>/<file>`).

use std::io::SeekFrom;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::access::Role;
use super::download_links::unix_now;
use super::{GatewayState, admin};
use crate::config::{ApiKeyField, RuntimeConfigUpdate, SettingsError, ensure_writable_dir};

/// `GET /health`: the original backend's shape plus the loaded plugins. A plugin's `lastError`
/// (it may hold paths) is shown only in the admin view (see [`admin_view`]).
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

/// The files a recording folder holds, with their content types: only these are served, so
/// nothing else that might sit in `RECORDING_DIR` (or be linked into it) can be fetched.
const RECORDING_FILES: [(&str, &str); 8] = [
    ("you.webm", "audio/webm"),
    ("claude.webm", "audio/webm"),
    ("guest.webm", "audio/webm"),
    ("you.vtt", "text/vtt; charset=utf-8"),
    ("claude.vtt", "text/vtt; charset=utf-8"),
    ("guest.vtt", "text/vtt; charset=utf-8"),
    ("events.jsonl", "application/x-ndjson"),
    ("session.yml", "application/yaml"),
];

/// Longest episode folder name (an episode id is at most 128 characters, plus a `-N` suffix).
const MAX_RECORDING_FOLDER: usize = 160;

/// Bytes read from disk per body chunk while streaming a recording.
const RECORDING_READ_CHUNK: usize = 64 * 1024;

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
        Ok(None) => return no_such_recording(),
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

/// Whether the request may read `folder/file`: a valid signed link for exactly that file, or an
/// admin token, or a host/viewer token whose episode recorded into `folder`.
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
async fn folder_of_episode(root: &Path, folder: &str, episode: &str) -> bool {
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
    let (handle, _) = open_recording_file(root, folder, "session.yml")
        .await
        .ok()
        .flatten()?;
    // The episode is on the document's second line; the head is plenty.
    let mut head = Vec::with_capacity(1024);
    handle.take(4096).read_to_end(&mut head).await.ok()?;
    let head = String::from_utf8_lossy(&head);
    let quoted = head.lines().find_map(|l| l.strip_prefix("episode: "))?;
    // session.yml quotes strings with JSON-compatible escapes.
    serde_json::from_str::<String>(quoted.trim()).ok()
}

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

/// Opens `root/folder/file` when both are real (not symlinks) and the file lies inside `root`
/// once every link is resolved; `None` when there is no such file to serve.
async fn open_recording_file(
    root: &Path,
    folder: &str,
    file: &str,
) -> std::io::Result<Option<(tokio::fs::File, u64)>> {
    let folder_path = root.join(folder);
    let path = folder_path.join(file);
    // A symlink planted in RECORDING_DIR could point anywhere; the recorder never makes one.
    for p in [&folder_path, &path] {
        match tokio::fs::symlink_metadata(p).await {
            Ok(m) if !m.file_type().is_symlink() => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    // Also refuse a RECORDING_DIR whose parents were swapped for links after the check above.
    let (Ok(real_root), Ok(real_path)) = (
        tokio::fs::canonicalize(root).await,
        tokio::fs::canonicalize(&path).await,
    ) else {
        return Ok(None);
    };
    if real_path.parent() != Some(real_root.join(folder).as_path()) {
        return Ok(None);
    }
    let handle = match tokio::fs::File::open(&real_path).await {
        Ok(h) => h,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = handle.metadata().await?;
    if !meta.is_file() {
        return Ok(None);
    }
    Ok(Some((handle, meta.len())))
}

/// The body of a file as a stream of chunks read as the client takes them.
fn file_chunks(
    reader: tokio::io::Take<tokio::fs::File>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures::stream::try_unfold(reader, |mut reader| async move {
        let mut buf = vec![0u8; RECORDING_READ_CHUNK];
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), reader)))
    })
}

/// The single byte range a `Range` header asks for in a file of `len` bytes, as inclusive
/// `(first, last)`; `None` when it is malformed, has several ranges, or lies past the end.
pub fn byte_range(header: &str, len: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if first.is_empty() {
        // `bytes=-N`: the last N bytes.
        if !digits(last) {
            return None;
        }
        let n: u64 = last.parse().ok()?;
        if n == 0 {
            return None;
        }
        return Some((len.saturating_sub(n), len - 1));
    }
    if !digits(first) || !(last.is_empty() || digits(last)) {
        return None;
    }
    let start: u64 = first.parse().ok()?;
    let end = if last.is_empty() {
        len - 1
    } else {
        last.parse::<u64>().ok()?.min(len - 1)
    };
    (start <= end && start < len).then_some((start, end))
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
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
    fn byte_ranges_follow_rfc_9110_for_one_range() {
        assert_eq!(byte_range("bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(byte_range("bytes=900-", 1000), Some((900, 999)));
        assert_eq!(byte_range("bytes=-100", 1000), Some((900, 999)));
        assert_eq!(byte_range("bytes=-5000", 1000), Some((0, 999)));
        assert_eq!(byte_range("bytes=990-5000", 1000), Some((990, 999)));
        assert_eq!(byte_range("bytes=1000-", 1000), None);
        assert_eq!(byte_range("bytes=5-4", 1000), None);
        assert_eq!(byte_range("bytes=0-1,5-9", 1000), None);
        assert_eq!(byte_range("items=0-1", 1000), None);
        assert_eq!(byte_range("bytes=-0", 1000), None);
        assert_eq!(byte_range("bytes=a-b", 1000), None);
        assert_eq!(byte_range("bytes=0-0", 0), None);
    }

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
