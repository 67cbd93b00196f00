//! Every HTTP route the gateway serves, and the OpenAPI 3.1 document made from them, served at
//! `GET /openapi.json`.
//!
//! [`routes`] is the one table of routes: each is registered with `utoipa-axum`'s `routes!`, which
//! takes the path and method from the handler's `#[utoipa::path]`, so the router and the document
//! cannot disagree. A route registered any other way (axum's own `.route(...)`) would be served but
//! undocumented; `host/tests/it/server/openapi.rs` fails on one.

pub mod schemas;

use std::sync::{Arc, LazyLock};

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    Content, Header, OpenApi as Document, RefOr, Required, Response as DocResponse,
};
use utoipa::{Modify, OpenApi, PartialSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gateway::GatewayState;

// The security schemes, by the names the handlers' `security(...)` spell out (the annotations take
// only literals).
/// The `STUDIO_ADMIN_TOKEN` bearer.
const ADMIN_TOKEN: &str = "admin_token";
/// A host or viewer token sent as a bearer.
const EPISODE_TOKEN: &str = "episode_token";
/// A host or viewer token sent as `?token=`.
const EPISODE_TOKEN_QUERY: &str = "episode_token_query";
/// A signed recording link (`?exp=&sig=`).
const SIGNED_LINK: &str = "signed_link";

const DESCRIPTION: &str = "\
The HTTP side of a voice-studio server: health and readiness, the settings API of the studio \
frontend, minting episodes and their access links, downloading recordings, and the studio console's \
files.

The live studio itself speaks Socket.IO (Engine.IO v4, namespace `/`) on the same port at \
`/socket.io/`, over WebSocket or HTTP long-polling; its events are described in docs/PROTOCOL.md \
of the repository, not here.

On every route: a connection over `MAX_CONNECTIONS_PER_IP` from one address gets `429`, one over \
`MAX_CONNECTIONS` in total `503` (plain text, `Retry-After: 5`, then the connection closes); a \
request body that has not arrived within `HTTP_BODY_TIMEOUT_SECONDS` gets `408`, one over 1 MiB \
`413`; a browser POST whose `Origin` is neither in `CORS_ORIGIN` nor this server's own page gets \
`403`.";

/// The document's frame: what the handlers' annotations do not say.
#[derive(OpenApi)]
#[openapi(
    info(title = "voice-studio"),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "settings", description = "The studio frontend's settings API (changes apply live)"),
        (name = "episodes", description = "Episodes and their host and viewer links"),
        (name = "briefings", description = "Episode briefings: the Markdown files in BRIEFINGS_DIR"),
        (name = "recordings", description = "Recorded episodes' files"),
        (name = "admin", description = "What the producer's admin view reads: live studios and plugin health"),
        (name = "metrics", description = "Prometheus metrics (admin only on this port)"),
        (name = "console", description = "The studio console (a browser page embedded in the binary)"),
        (name = "meta", description = "This document"),
    ),
    modifiers(&Frame)
)]
struct ApiDoc;

/// Every HTTP route of the gateway, documented.
pub fn routes() -> OpenApiRouter<Arc<GatewayState>> {
    use super::{
        admin_views, briefings, episode_list, health, metrics, recordings, settings, stems,
        transcript,
    };
    use crate::gateway::{console, episodes};
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(settings::get_config))
        .routes(routes!(settings::post_keys))
        .routes(routes!(settings::post_guest))
        .routes(routes!(episodes::mint_episode, episode_list::list_episodes))
        .routes(routes!(episode_list::get_episode))
        .routes(routes!(transcript::episode_transcript))
        .routes(routes!(
            briefings::list_briefings,
            briefings::create_briefing
        ))
        .routes(routes!(briefings::get_briefing, briefings::put_briefing))
        .routes(routes!(recordings::recording_file))
        .routes(routes!(stems::make_stems))
        .routes(routes!(metrics::metrics))
        .routes(routes!(admin_views::studios))
        .routes(routes!(admin_views::plugins))
        .routes(routes!(console::index))
        .routes(routes!(console::console_file))
        .routes(routes!(console::socket_io_client))
        .routes(routes!(openapi_json))
}

/// The OpenAPI document of [`routes`], with the answers every route may get from the layers
/// around it.
pub fn document() -> Document {
    let mut document = routes().into_openapi();
    add_layer_answers(&mut document);
    optional_bodies_may_be_absent(&mut document);
    document
}

/// `GET /openapi.json`: this server's API as OpenAPI 3.1. Public: it holds no secrets, and it
/// changes only with the binary.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this server's HTTP API",
        content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> Response {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        document().to_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "the OpenAPI document could not be serialized");
            "{}".to_owned()
        })
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        JSON.as_str(),
    )
        .into_response()
}

/// The description, the version and the security schemes.
struct Frame;

impl Modify for Frame {
    fn modify(&self, openapi: &mut Document) {
        openapi.info.description = Some(DESCRIPTION.to_owned());
        openapi.info.version = env!("CARGO_PKG_VERSION").to_owned();
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str, format: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format(format)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            ADMIN_TOKEN,
            bearer(
                "`STUDIO_ADMIN_TOKEN` (at least 32 characters). Without it the admin scope is open \
                 only on a development server with open access bound to loopback, and 403 \
                 elsewhere; five wrong tokens from one address lock it out (429, Retry-After).",
                "opaque",
            ),
        );
        components.add_security_scheme(
            EPISODE_TOKEN,
            bearer(
                "A host or viewer token minted by POST /api/episodes (JWT HS256): it opens its \
                 own episode only. An admin token opens everything.",
                "JWT",
            ),
        );
        let mut query_token = ApiKeyValue::new("token");
        query_token.description = Some("The same token as `episode_token`, as `?token=`.".into());
        components.add_security_scheme(
            EPISODE_TOKEN_QUERY,
            SecurityScheme::ApiKey(ApiKey::Query(query_token)),
        );
        let mut signed = ApiKeyValue::new("sig");
        signed.description = Some(
            "A signed recording link as `recording.ready` hands it out: `?exp=<unix seconds>&sig=<hex>` \
             (HMAC-SHA256 over the folder, the file and `exp`); it lasts DOWNLOAD_URL_TTL_SECONDS."
                .into(),
        );
        components.add_security_scheme(SIGNED_LINK, SecurityScheme::ApiKey(ApiKey::Query(signed)));
    }
}

/// `request_body(content = Option<T>)` makes the body optional but also writes its schema as
/// "`T` or `null`"; an optional body here is one that may be left out, and a JSON `null` is
/// refused like any other wrong body, so the schema is `T` alone.
fn optional_bodies_may_be_absent(document: &mut Document) {
    let is_null = |schema: &RefOr<Schema>| matches!(schema, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
    for item in document.paths.paths.values_mut() {
        let operations = [&mut item.post, &mut item.put, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
                continue;
            };
            if body.required == Some(Required::True) {
                continue;
            }
            for content in body.content.values_mut() {
                let RefOr::T(content) = content else { continue };
                let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
                    continue;
                };
                let mut kept = one_of.items.iter().filter(|s| !is_null(s));
                if let (Some(only), None) = (kept.next(), kept.next()) {
                    content.schema = Some(only.clone());
                }
            }
        }
    }
}

/// Adds to every operation the answers of the accept loop (`429`, `503`, plain text), which no
/// handler writes, beside any the handler writes with the same status.
fn add_layer_answers(document: &mut Document) {
    let plain = || RefOr::T(Content::new(Some(schemas::PlainText::schema())));
    let retry_after = || {
        let mut header = Header::new(u64::schema());
        header.description = Some("Seconds to wait before trying again.".into());
        RefOr::T(header)
    };
    let answers = [
        (
            "429",
            "Too many open connections from this address (MAX_CONNECTIONS_PER_IP); the connection closes.",
        ),
        (
            "503",
            "The server is full (MAX_CONNECTIONS); the connection closes.",
        ),
    ];
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, description) in answers {
                let response = operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| RefOr::T(DocResponse::new("")));
                let RefOr::T(response) = response else {
                    continue;
                };
                response.description = if response.description.is_empty() {
                    description.to_owned()
                } else {
                    format!("{}. Also: {description}", response.description)
                };
                response
                    .content
                    .entry("text/plain; charset=utf-8".to_owned())
                    .or_insert_with(plain);
                response
                    .headers
                    .entry("Retry-After".to_owned())
                    .or_insert_with(retry_after);
            }
        }
    }
}
