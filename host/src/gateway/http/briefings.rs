//! The briefings API (admin): `GET /api/briefings`, `GET`/`PUT /api/briefings/{id}` and
//! `POST /api/briefings`, over the Markdown files in `BRIEFINGS_DIR`.
//!
//! The files stay the source of truth: a write is validated by the loader itself
//! ([`crate::briefings::Briefing::parse`]), written atomically, and picked up by the briefing
//! store's watcher like an edit by hand. A briefing sent as fields is written as the Markdown file
//! the loader reads back to the same fields.
//!
//! A folder missing at start is created by the first write; the store watches only a folder that
//! existed when the server started, so until a restart its new briefings are read when an episode
//! first loads them, and later edits of one already loaded wait for the restart.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::is_json_content_type;
use super::openapi::schemas;
use crate::briefings::folder::{self, BriefingFile, FileProblem, WriteError, WriteMode};
use crate::briefings::{BriefingFields, FieldsError};
use crate::gateway::{GatewayState, admin};
use crate::timestamp::iso8601_utc;

/// A briefing to write: its Markdown file, or its fields (exactly one of the two).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"markdown": "---\ntitle: Tea or coffee\ntopic: Which is the better drink?\n---\n\n## Claude's position\n\nCoffee.\n\n## Guest's position\n\nTea.\n"}))]
pub struct BriefingWrite {
    /// The whole file: YAML front matter between `---` lines, then the Markdown body.
    #[schema(max_length = 65536)]
    markdown: Option<String>,
    /// The briefing as fields; the server writes the file.
    briefing: Option<BriefingFields>,
}

/// `POST /api/briefings`'s body: the new briefing's id and the briefing.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"id": "tea-or-coffee", "briefing": {"topic": "Which is the better drink?",
    "mustCover": ["caffeine"], "stances": {"claude": "Coffee.", "guest": "Tea."}}}))]
pub struct BriefingCreate {
    /// The briefing's id: its file is `<id>.md`.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    id: String,
    /// The whole file.
    #[schema(max_length = 65536)]
    markdown: Option<String>,
    /// The briefing as fields.
    briefing: Option<BriefingFields>,
}

/// One briefing of the listing.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    dead_code,
    reason = "a shape for the document; the handler writes the same JSON"
)]
pub struct BriefingSummary {
    /// The id (the file is `<id>.md`).
    id: String,
    /// The title, when the file has one and parses.
    #[schema(required = false)]
    title: Option<String>,
    /// The topic, when the file parses.
    #[schema(required = false)]
    topic: Option<String>,
    /// When the file last changed, ISO 8601 UTC.
    #[schema(example = "2026-12-03T10:00:00.000Z")]
    updated_at: String,
    /// Why the loader refuses the file (a studio would not get this briefing).
    #[schema(required = false)]
    problem: Option<BriefingProblem>,
}

/// `GET /api/briefings`.
#[derive(utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "a shape for the document; the handler writes the same JSON"
)]
pub struct BriefingList {
    /// Every briefing in the folder, by id (at most 1000).
    briefings: Vec<BriefingSummary>,
}

/// One briefing: its file, the loader's reading of it, or why the loader refuses it.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    dead_code,
    reason = "a shape for the document; the handler writes the same JSON"
)]
pub struct BriefingDocument {
    /// The id.
    #[schema(example = "cars-in-city-centres")]
    id: String,
    /// The file as it is (the source of truth).
    markdown: String,
    /// Its fields as the loader reads them; `null` when the loader refuses the file.
    #[schema(required = true)]
    briefing: Option<BriefingFields>,
    /// Why the loader refuses the file.
    #[schema(required = false)]
    problem: Option<BriefingProblem>,
    /// When the file last changed, ISO 8601 UTC.
    updated_at: String,
}

/// What the loader says is wrong with a briefing.
#[derive(utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "a shape for the document; the handler writes the same JSON"
)]
pub struct BriefingProblem {
    /// The loader's message, with the line.
    #[schema(example = "line 4: `mustCover`: invalid type: string \"one\", expected a sequence")]
    message: String,
    /// The line of the file, from 1.
    #[schema(required = false)]
    line: Option<u64>,
    /// The field at fault (a front matter key, or a field of the structured form).
    #[schema(required = false)]
    field: Option<String>,
}

/// A briefing refused (`400`): the loader's message, and its line and field when it names them.
#[derive(utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "a shape for the document; the handler writes the same JSON"
)]
#[schema(example = json!({"success": false, "code": "invalid-briefing",
    "error": "line 3: `mustCover`: invalid type: string \"one\", expected a sequence",
    "line": 3, "field": "mustCover"}))]
pub struct BriefingRefusal {
    /// Always `false`.
    success: bool,
    /// `invalid-briefing` (the loader refuses it), `too-large` (over 64 KiB), `bad-id`, or
    /// `bad-request` (not a body of this route).
    code: String,
    /// What is wrong and how to fix it.
    error: String,
    /// The line of the file, from 1 (`invalid-briefing`).
    #[schema(required = false)]
    line: Option<u64>,
    /// The field at fault (`invalid-briefing`).
    #[schema(required = false)]
    field: Option<String>,
}

/// `GET /api/briefings`: every briefing in `BRIEFINGS_DIR`, by id.
#[utoipa::path(
    get,
    path = "/api/briefings",
    tag = "briefings",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Every `<id>.md` in BRIEFINGS_DIR (none when the folder \
            does not exist), by id", body = BriefingList),
        (status = 500, description = "The folder could not be read", body = schemas::Refusal),
        schemas::AdminRefusals,
    ),
)]
pub async fn list_briefings(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = admin::require_admin(&state, &headers, peer.ip()) {
        return refused;
    }
    let dir = state.config.folders.briefings_dir.clone();
    let files = match blocking(move || folder::list(&dir)).await {
        Ok(files) => files,
        Err(e) => return server_error(&e),
    };
    let briefings: Vec<Value> = files
        .iter()
        .map(|file| {
            let mut entry = json!({"id": file.id, "updatedAt": iso8601_utc(file.modified)});
            match &file.parsed {
                Ok(b) => {
                    entry["topic"] = json!(b.topic);
                    if let Some(title) = &b.title {
                        entry["title"] = json!(title);
                    }
                }
                Err(problem) => entry["problem"] = problem_json(problem),
            }
            entry
        })
        .collect();
    Json(json!({"briefings": briefings})).into_response()
}

/// `GET /api/briefings/{id}`: the file, and its fields as the loader reads them.
#[utoipa::path(
    get,
    path = "/api/briefings/{id}",
    tag = "briefings",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "The briefing's id (its file is `<id>.md`)",
        pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", example = "cars-in-city-centres")),
    responses(
        (status = 200, description = "The file and its fields (or why the loader refuses it)",
            body = BriefingDocument),
        (status = 400, description = "Not a briefing id", body = BriefingRefusal),
        (status = 404, description = "No such briefing", body = schemas::Refusal),
        (status = 500, description = "The file could not be read", body = schemas::Refusal),
        schemas::AdminRefusals,
    ),
)]
pub async fn get_briefing(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<UrlPath<String>, PathRejection>,
) -> Response {
    if let Err(refused) = admin::require_admin(&state, &headers, peer.ip()) {
        return refused;
    }
    let id = match checked_id(id) {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let dir = state.config.folders.briefings_dir.clone();
    let read = {
        let id = id.clone();
        blocking(move || folder::read(&dir, &id)).await
    };
    match read {
        Ok(Some(file)) => Json(document(&file)).into_response(),
        Ok(None) => refusal(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("no briefing `{id}`: create it with POST /api/briefings"),
        ),
        Err(e) => server_error(&e),
    }
}

/// `PUT /api/briefings/{id}`: creates or replaces `<id>.md` with a briefing the loader accepts.
#[utoipa::path(
    put,
    path = "/api/briefings/{id}",
    tag = "briefings",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "The briefing's id (its file is `<id>.md`)",
        pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", example = "tea-or-coffee")),
    request_body(content = BriefingWrite, content_type = "application/json",
        description = "`markdown` (the whole file) or `briefing` (its fields), not both"),
    responses(
        (status = 200, description = "Replaced; studios get it from their next look at the \
            briefing", body = BriefingDocument),
        (status = 201, description = "Created", body = BriefingDocument),
        (status = 400, description = "The loader refuses the briefing (its message, line and \
            field), it is over 64 KiB, the id is not one, or the body is not {markdown} or \
            {briefing}; nothing was written", body = BriefingRefusal),
        (status = 500, description = "The file could not be written", body = schemas::Refusal),
        schemas::AdminRefusals,
        schemas::JsonBodyRefusals,
    ),
)]
pub async fn put_briefing(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<UrlPath<String>, PathRejection>,
    body: Bytes,
) -> Response {
    if let Err(refused) = write_door(&state, &headers, peer) {
        return refused;
    }
    let id = match checked_id(id) {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let write: BriefingWrite = match parse_body(&body) {
        Ok(write) => write,
        Err(e) => return bad_body(&e, "{\"markdown\": string} or {\"briefing\": {...}}"),
    };
    let markdown = match markdown_of(write.markdown, write.briefing) {
        Ok(markdown) => markdown,
        Err(refused) => return refused,
    };
    write_and_answer(&state, id, markdown, WriteMode::CreateOrReplace).await
}

/// `POST /api/briefings`: creates `<id>.md`; an existing briefing is left alone (`409`).
#[utoipa::path(
    post,
    path = "/api/briefings",
    tag = "briefings",
    security(("admin_token" = [])),
    request_body(content = BriefingCreate, content_type = "application/json",
        description = "`id` and `markdown` (the whole file) or `briefing` (its fields), not both"),
    responses(
        (status = 201, description = "Created", body = BriefingDocument),
        (status = 400, description = "The loader refuses the briefing (its message, line and \
            field), it is over 64 KiB, the id is not one, or the body is not {id, markdown} or \
            {id, briefing}; nothing was written", body = BriefingRefusal),
        (status = 409, description = "A briefing with this id exists (change it with PUT)",
            body = schemas::Refusal),
        (status = 500, description = "The file could not be written", body = schemas::Refusal),
        schemas::AdminRefusals,
        schemas::JsonBodyRefusals,
    ),
)]
pub async fn create_briefing(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = write_door(&state, &headers, peer) {
        return refused;
    }
    let create: BriefingCreate = match parse_body(&body) {
        Ok(create) => create,
        Err(e) => {
            return bad_body(
                &e,
                "{\"id\": string, \"markdown\": string or \"briefing\": {...}}",
            );
        }
    };
    if let Err(e) = folder::check_id(&create.id) {
        return refusal(StatusCode::BAD_REQUEST, "bad-id", &e.to_string());
    }
    let markdown = match markdown_of(create.markdown, create.briefing) {
        Ok(markdown) => markdown,
        Err(refused) => return refused,
    };
    write_and_answer(&state, create.id, markdown, WriteMode::CreateNew).await
}

/// Writes the briefing and answers with it (`201` when new), or why not.
async fn write_and_answer(
    state: &GatewayState,
    id: String,
    markdown: String,
    mode: WriteMode,
) -> Response {
    let dir: PathBuf = state.config.folders.briefings_dir.clone();
    let written = {
        let (dir, id) = (dir.clone(), id.clone());
        blocking(move || folder::write(&dir, &id, &markdown, mode)).await
    };
    match written {
        Ok((created, _)) => {
            tracing::info!(briefing = %id, created, "briefing written");
            let read = {
                let id = id.clone();
                blocking(move || folder::read(&dir, &id)).await
            };
            match read {
                Ok(Some(file)) => {
                    let status = if created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    };
                    (status, Json(document(&file))).into_response()
                }
                // Removed between the write and the read: the write still happened.
                Ok(None) => server_error(&std::io::Error::other("the briefing vanished")),
                Err(e) => server_error(&e),
            }
        }
        Err(WriteError::Id(e)) => refusal(StatusCode::BAD_REQUEST, "bad-id", &e.to_string()),
        Err(e @ WriteError::TooLarge(_)) => {
            refusal(StatusCode::BAD_REQUEST, "too-large", &e.to_string())
        }
        Err(WriteError::Invalid(e)) => invalid(&e.to_string(), Some(e.line), e.field.as_deref()),
        Err(e @ WriteError::Exists(_)) => refusal(StatusCode::CONFLICT, "exists", &e.to_string()),
        Err(WriteError::Io(e)) => server_error(&e),
    }
}

/// The file to write: the Markdown as sent, or the file written from the fields.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the finished response, built only for a refused request"
)]
fn markdown_of(
    markdown: Option<String>,
    fields: Option<BriefingFields>,
) -> Result<String, Response> {
    match (markdown, fields) {
        (Some(markdown), None) => Ok(markdown),
        (None, Some(fields)) => fields.to_markdown().map_err(|e| match e {
            FieldsError::Invalid(p) => invalid(&p.to_string(), Some(p.line), p.field.as_deref()),
            FieldsError::NotReadBack { ref field, .. } => {
                invalid(&e.to_string(), None, Some(field))
            }
        }),
        _ => Err(refusal(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "send the briefing as \"markdown\" (the whole file) or as \"briefing\" (its fields), \
             exactly one of them",
        )),
    }
}

/// The admin scope, and a JSON body (which forces a browser's CORS preflight).
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the finished response, built only for a refused request"
)]
fn write_door(state: &GatewayState, headers: &HeaderMap, peer: SocketAddr) -> Result<(), Response> {
    admin::require_admin(state, headers, peer.ip())?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(is_json_content_type) {
        return Err(refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the briefing as JSON with Content-Type: application/json",
        ));
    }
    Ok(())
}

/// The id from the path, if it can name a briefing file.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the finished response, built only for a refused request"
)]
fn checked_id(id: Result<UrlPath<String>, PathRejection>) -> Result<String, Response> {
    let UrlPath(id) = id.map_err(|e| refusal(StatusCode::BAD_REQUEST, "bad-id", &e.body_text()))?;
    folder::check_id(&id)
        .map_err(|e| refusal(StatusCode::BAD_REQUEST, "bad-id", &e.to_string()))?;
    Ok(id)
}

/// `GET /api/briefings/{id}`'s body for a file.
fn document(file: &BriefingFile) -> Value {
    let mut out = json!({
        "id": file.id,
        "markdown": file.markdown,
        "briefing": Value::Null,
        "updatedAt": iso8601_utc(file.modified),
    });
    match &file.parsed {
        Ok(b) => out["briefing"] = json!(BriefingFields::from(b)),
        Err(problem) => out["problem"] = problem_json(problem),
    }
    out
}

fn problem_json(problem: &FileProblem) -> Value {
    let mut out = json!({"message": problem.to_string()});
    if let FileProblem::Invalid(p) = problem {
        out["line"] = json!(p.line);
        if let Some(field) = &p.field {
            out["field"] = json!(field);
        }
    }
    out
}

fn invalid(message: &str, line: Option<usize>, field: Option<&str>) -> Response {
    let mut body = json!({"success": false, "code": "invalid-briefing", "error": message});
    if let Some(line) = line {
        body["line"] = json!(line);
    }
    if let Some(field) = field {
        body["field"] = json!(field);
    }
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// The body as `T`, its objects written as JSON objects: serde also reads a struct from an array
/// (`["topic"]`), which no client means and the document does not allow.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    use serde::de::Error as _;
    let value: Value = serde_json::from_slice(body)?;
    let briefing = value.get("briefing");
    let objects = [
        Some(&value),
        briefing,
        briefing.and_then(|b| b.get("stances")),
    ];
    let sections = briefing
        .and_then(|b| b.get("sections"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    if objects
        .into_iter()
        .flatten()
        .chain(sections)
        .any(|v| !v.is_object() && !v.is_null())
        || !value.is_object()
    {
        return Err(serde_json::Error::custom(
            "an object is written as a JSON object, not an array",
        ));
    }
    serde_json::from_value(value)
}

fn bad_body(e: &serde_json::Error, shape: &str) -> Response {
    refusal(
        StatusCode::BAD_REQUEST,
        "bad-request",
        &format!("the body must be {shape} ({e})"),
    )
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"success": false, "code": code, "error": message})),
    )
        .into_response()
}

fn server_error(e: &std::io::Error) -> Response {
    tracing::warn!(error = %e, "briefings folder");
    refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "io",
        "the briefings folder could not be read or written; the server's log says why",
    )
}

/// Runs file work off the async threads.
async fn blocking<R, E>(work: impl FnOnce() -> Result<R, E> + Send + 'static) -> Result<R, E>
where
    R: Send + 'static,
    E: From<std::io::Error> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(E::from(std::io::Error::other(e.to_string()))))
}
