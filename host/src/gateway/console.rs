//! The studio console: the page at `/` that is a studio's microphone, speakers and view.
//!
//! Its files (`host/console/`) are embedded in the binary, so the server needs no folder beside
//! it and the page always matches the protocol the binary speaks. Routes (registered with the
//! others in `http/openapi.rs`): `/`, `/console/{file}` and `/vendor/socket.io.min.js` (the pinned
//! official Socket.IO browser client).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file of the console.
struct ConsoleFile {
    /// The name under `/console/`.
    name: &'static str,
    /// Its `Content-Type`.
    content_type: &'static str,
    /// Its text.
    body: &'static str,
}

const INDEX_HTML: &str = include_str!("../../console/index.html");
const SOCKET_IO_CLIENT: &str = include_str!("../../console/vendor/socket.io.min.js");

/// The files under `/console/`.
const FILES: &[ConsoleFile] = &[
    ConsoleFile {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: INDEX_HTML,
    },
    ConsoleFile {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/console.js"),
    },
    ConsoleFile {
        name: "mic-worklet.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/mic-worklet.js"),
    },
    ConsoleFile {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../console/console.css"),
    },
    // The studio page's modules (console.js imports them).
    ConsoleFile {
        name: "studio-page.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/studio-page.js"),
    },
    ConsoleFile {
        name: "studio-voices.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/studio-voices.js"),
    },
    ConsoleFile {
        name: "studio-mic.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/studio-mic.js"),
    },
    ConsoleFile {
        name: "studio-captions.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/studio-captions.js"),
    },
    ConsoleFile {
        name: "studio-controls.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/studio-controls.js"),
    },
];

/// `GET /`: the console page.
#[utoipa::path(
    get,
    path = "/",
    tag = "console",
    responses((status = 200, description = "The studio console: `/?episode=<id>` joins that \
        episode, a link's `#token=` carries its access", content_type = "text/html; charset=utf-8",
        body = String)),
)]
pub(super) async fn index() -> Response {
    respond("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /console/{file}`: the page's scripts and style.
#[utoipa::path(
    get,
    path = "/console/{file}",
    tag = "console",
    params(("file" = String, Path, description = "A file of the console",
        example = "console.js")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/javascript; charset=utf-8"),
            (String = "text/css; charset=utf-8"),
            (String = "text/html; charset=utf-8"),
        )),
        (status = 404, description = "No such console file",
            content_type = "text/plain; charset=utf-8", body = String),
    ),
)]
pub(super) async fn console_file(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|f| f.name == file) {
        Some(f) => respond(f.content_type, f.body),
        None => (StatusCode::NOT_FOUND, "no such console file").into_response(),
    }
}

/// `GET /vendor/socket.io.min.js`: the pinned official Socket.IO browser client.
#[utoipa::path(
    get,
    path = "/vendor/socket.io.min.js",
    tag = "console",
    responses((status = 200, description = "socket.io-client 4.8 (minified)",
        content_type = "text/javascript; charset=utf-8", body = String)),
)]
pub(super) async fn socket_io_client() -> Response {
    respond("text/javascript; charset=utf-8", SOCKET_IO_CLIENT)
}

fn respond(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // The files change with the binary; revalidating keeps a browser from mixing a
            // cached page with a newer server.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_loads_is_embedded() {
        for name in ["console.css", "console.js"] {
            assert!(
                INDEX_HTML.contains(&format!("/console/{name}")),
                "index.html does not load {name}"
            );
            assert!(FILES.iter().any(|f| f.name == name), "{name} not embedded");
        }
        assert!(INDEX_HTML.contains("/vendor/socket.io.min.js"));
        let script = |name: &str| {
            FILES
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.body)
                .unwrap_or_default()
        };
        assert!(INDEX_HTML.contains(r#"<script type="module" src="/console/console.js">"#));
        assert!(script("studio-mic.js").contains("/console/mic-worklet.js"));
        assert!(SOCKET_IO_CLIENT.starts_with("/*!\n * Socket.IO v4.8."));
    }
}
