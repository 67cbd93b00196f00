//! The console: the studio page (a studio's microphone, speakers and view) and the producer's
//! pages (home, briefings, settings, the episode library and the admin view).
//!
//! Its files (`host/console/`) are embedded in the binary, so the server needs no folder beside
//! it and the page always matches the protocol the binary speaks. Routes (registered with the
//! others in `http/openapi.rs`): `/` (the studio with `?episode=` or `?token=`, else the
//! producer's home), `/console/{file}` and `/vendor/socket.io.min.js` (the pinned official
//! Socket.IO browser client).

use axum::extract::{Path, RawQuery};
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
const PRODUCER_HTML: &str = include_str!("../../console/producer.html");
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
    // The producer's pages: one shell, a shared fetch module and one module per view.
    ConsoleFile {
        name: "producer.html",
        content_type: "text/html; charset=utf-8",
        body: PRODUCER_HTML,
    },
    ConsoleFile {
        name: "producer.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../console/producer.css"),
    },
    ConsoleFile {
        name: "producer.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/producer.js"),
    },
    ConsoleFile {
        name: "producer-api.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/producer-api.js"),
    },
    ConsoleFile {
        name: "view-home.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/view-home.js"),
    },
    ConsoleFile {
        name: "view-briefings.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/view-briefings.js"),
    },
    ConsoleFile {
        name: "view-settings.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/view-settings.js"),
    },
    ConsoleFile {
        name: "view-library.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/view-library.js"),
    },
    ConsoleFile {
        name: "view-admin.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/view-admin.js"),
    },
];

/// `GET /`: the studio page for an episode, else the producer's home.
#[utoipa::path(
    get,
    path = "/",
    tag = "console",
    params(
        ("episode" = Option<String>, Query, description = "Opens the studio of this episode"),
        ("token" = Option<String>, Query, description = "A host or viewer token: opens its \
            episode's studio (links carry it as `#token=`, which the home page hands on)"),
    ),
    responses((status = 200, description = "The studio console with `?episode=<id>` (or \
        `?token=`); without either the producer's home (start an episode from a briefing, \
        briefings, settings, past episodes, live studios)", content_type = "text/html; charset=utf-8",
        body = String)),
)]
pub(super) async fn index(RawQuery(query): RawQuery) -> Response {
    if opens_a_studio(query.as_deref().unwrap_or("")) {
        respond("text/html; charset=utf-8", INDEX_HTML)
    } else {
        respond("text/html; charset=utf-8", PRODUCER_HTML)
    }
}

/// Whether a query names a studio to open: an `episode` or a `token` parameter.
fn opens_a_studio(query: &str) -> bool {
    query
        .split('&')
        .filter_map(|pair| pair.split('=').next())
        .any(|key| key == "episode" || key == "token")
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

    #[test]
    fn every_module_the_producer_pages_import_is_embedded() {
        let embedded = |name: &str| FILES.iter().any(|f| f.name == name);
        assert!(PRODUCER_HTML.contains("/console/producer.js"));
        assert!(PRODUCER_HTML.contains("/console/producer.css"));
        for file in FILES.iter().filter(|f| f.name.ends_with(".js")) {
            for import in file.body.split("from \"/console/").skip(1) {
                let name = import.split('"').next().unwrap_or_default();
                assert!(embedded(name), "{} imports {name}, not embedded", file.name);
            }
        }
    }

    #[test]
    fn only_an_episode_or_a_token_opens_the_studio() {
        assert!(opens_a_studio("episode=ep-1"));
        assert!(opens_a_studio("x=1&token=abc"));
        assert!(opens_a_studio("episode"));
        assert!(!opens_a_studio(""));
        assert!(!opens_a_studio("view=library"));
        assert!(!opens_a_studio("episodes=1"));
    }
}
