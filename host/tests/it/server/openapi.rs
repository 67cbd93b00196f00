//! `GET /openapi.json` on the real binary over real HTTP: the document is OpenAPI 3.1, every
//! operation it lists answers on the live server with a status (and a body shape) it documents,
//! and every route the server's source registers is in it, so an undocumented route fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::server::{HttpResponse, Server, ServerSetup, http};

/// A valid `STUDIO_ADMIN_TOKEN` (>= 32 characters).
const ADMIN_TOKEN: &str = "openapi-admin-token-0123456789abcdef-xyz";

/// The document as the live server serves it, checked to be OpenAPI 3.1 by an independent parser
/// (`oas3`), and as plain JSON for walking its schemas.
fn fetch_document(server: &Server) -> (oas3::Spec, Value) {
    let reply = server.get("/openapi.json");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let cache = reply.header("cache-control").unwrap_or_default();
    assert!(cache.contains("public"), "cacheable by anyone: {cache}");
    let spec = oas3::from_json(&reply.body).expect("an OpenAPI document oas3 can read");
    let version = spec
        .validate_version()
        .expect("a supported OpenAPI version");
    assert_eq!((version.major, version.minor), (3, 1), "{}", spec.openapi);
    (spec, reply.json())
}

/// The recorded episode (folder and episode id) the test's server starts with.
const RECORDED: &str = "ep-openapi";

#[test]
fn every_documented_operation_answers_on_the_live_server_as_documented() {
    let setup = ServerSetup::new().var("STUDIO_ADMIN_TOKEN", ADMIN_TOKEN);
    // A recorded episode the server finds at start (the episode store imports it), so the
    // routes of one episode and of its files have something to serve.
    let folder = setup.recording_dir().join(RECORDED);
    std::fs::create_dir_all(&folder).expect("episode folder");
    std::fs::write(
        folder.join("session.yml"),
        format!("episode: {RECORDED}\nsession: {RECORDED}-1\nstartedAt: 2026-12-03T10:00:00.000Z\nendedAt: 2026-12-03T10:01:00.000Z\ndurationMs: 60000\n"),
    )
    .expect("session.yml");
    std::fs::write(
        folder.join("you.webm"),
        b"\x1a\x45\xdf\xa3 a recorded track",
    )
    .expect("track");
    // A briefing, so the routes of one briefing have something to serve.
    let briefings = setup.path().join("briefings");
    std::fs::create_dir_all(&briefings).expect("briefings folder");
    std::fs::write(
        briefings.join("cars-in-city-centres.md"),
        include_str!("../../../../briefings/cars-in-city-centres.md"),
    )
    .expect("briefing");
    let server = setup.start();
    let (spec, doc) = fetch_document(&server);
    assert_eq!(spec.info.title, "voice-studio");
    // Public and the same for everyone: no secret of the server's configuration in it.
    assert!(
        !doc.to_string().contains(ADMIN_TOKEN),
        "the admin token leaked"
    );
    for scheme in [
        "admin_token",
        "episode_token",
        "episode_token_query",
        "signed_link",
    ] {
        assert!(
            doc["components"]["securitySchemes"][scheme].is_object(),
            "security scheme {scheme} missing"
        );
    }
    let description = spec.info.description.clone().unwrap_or_default();
    assert!(
        description.contains("/socket.io/"),
        "the Socket.IO transport is named"
    );

    // A minted episode: its host token opens the routes an episode token may use.
    let minted = http(
        server.addr,
        "POST",
        "/api/episodes",
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        None,
    );
    assert_eq!(minted.status, 200, "{}", minted.body);
    let minted = minted.json();
    let host_token = minted["host"]["token"]
        .as_str()
        .expect("host token")
        .to_owned();

    let mut answered = 0;
    for (path, method, operation) in spec.operations() {
        let name = format!("{method} {path}");
        // Path parameters from the document's examples; the recording folder is the one above.
        let mut target = path.clone();
        let mut query = Vec::new();
        for parameter in operation.parameters(&spec).expect("parameters resolve") {
            let value = match (parameter.location, parameter.name.as_str()) {
                (oas3::spec::ParameterIn::Path, "folder") => Value::String(RECORDED.into()),
                (oas3::spec::ParameterIn::Path, "id") if path.starts_with("/api/episodes/") => {
                    Value::String(RECORDED.into())
                }
                _ => parameter
                    .example
                    .clone()
                    .or_else(|| {
                        let schema = serde_json::to_value(parameter.schema.as_ref()?).ok()?;
                        resolve(&doc, &schema).get("example").cloned()
                    })
                    .unwrap_or(Value::Null),
            };
            if parameter.location == oas3::spec::ParameterIn::Path {
                let value = value
                    .as_str()
                    .unwrap_or_else(|| {
                        panic!("{name}: path parameter {} has no example", parameter.name)
                    })
                    .to_owned();
                target = target.replace(&format!("{{{}}}", parameter.name), &value);
            }
        }
        // The first security requirement the test holds.
        let mut headers: Vec<(&str, String)> = Vec::new();
        let requirements: Vec<Vec<String>> = operation
            .security
            .iter()
            .map(|r| r.0.keys().cloned().collect())
            .collect();
        let chosen = requirements.iter().find(|schemes| {
            schemes.iter().all(|s| {
                matches!(
                    s.as_str(),
                    "admin_token" | "episode_token" | "episode_token_query"
                )
            })
        });
        for scheme in chosen.into_iter().flatten() {
            match scheme.as_str() {
                "admin_token" => headers.push(("Authorization", format!("Bearer {ADMIN_TOKEN}"))),
                "episode_token" => headers.push(("Authorization", format!("Bearer {host_token}"))),
                _ => query.push(format!("token={host_token}")),
            }
        }
        if !query.is_empty() {
            target = format!("{target}?{}", query.join("&"));
        }
        // A body from the document's example, when it documents one.
        let operation_doc = &doc["paths"][&path][method.as_str().to_ascii_lowercase()];
        let media = &operation_doc["requestBody"]["content"]["application/json"];
        let body = media
            .get("example")
            .or_else(|| resolve(&doc, &media["schema"]).get("example"))
            .map(Value::to_string);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = http(
            server.addr,
            method.as_str(),
            &target,
            &headers,
            body.as_deref(),
        );

        assert!(
            reply.status != 404 && reply.status != 405,
            "{name} ({target}) is documented but the server does not serve it: {} {}",
            reply.status,
            reply.body
        );
        let documented = &operation_doc["responses"][reply.status.to_string()];
        assert!(
            documented.is_object(),
            "{name} answered {} ({}), which its document does not list",
            reply.status,
            reply.body
        );
        check_body(&doc, &name, documented, &reply);
        answered += 1;
    }
    assert!(answered >= 11, "only {answered} operations documented");
}

/// The reply's content type is one the document lists for its status, and a JSON body has the
/// documented shape.
fn check_body(doc: &Value, name: &str, documented: &Value, reply: &HttpResponse) {
    let Some(content) = documented["content"].as_object() else {
        return;
    };
    let essence = |t: &str| {
        t.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    let actual = essence(reply.header("content-type").unwrap_or_default());
    let Some((_, media)) = content.iter().find(|(t, _)| essence(t) == actual) else {
        panic!(
            "{name}: {} answered as {actual}, the document says {:?}",
            reply.status,
            content.keys().collect::<Vec<_>>()
        );
    };
    if actual == "application/json" {
        let mut problems = Vec::new();
        conforms(doc, &media["schema"], &reply.json(), "$", &mut problems);
        assert!(
            problems.is_empty(),
            "{name}: the {} body does not match its schema: {problems:?}\n{}",
            reply.status,
            reply.body
        );
    }
}

/// `schema` with a `$ref` to `#/components/schemas/NAME` followed.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// A small JSON Schema check (the keywords the document uses): `type`, `enum`, `required`,
/// `properties`, `additionalProperties`, `items`, `oneOf`/`anyOf`/`allOf`.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    let Some(schema) = schema.as_object() else {
        return;
    };
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let fits = options.iter().any(|option| {
                let mut inner = Vec::new();
                conforms(doc, option, value, at, &mut inner);
                inner.is_empty()
            });
            if !fits {
                problems.push(format!("{at}: fits none of {key}"));
            }
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            conforms(doc, part, value, at, problems);
        }
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let fits = types.iter().any(|t| match *t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        });
        if !fits {
            problems.push(format!("{at}: {value} is not {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        problems.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                problems.push(format!("{at}: `{name}` is required but missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, field) in object {
            let field_at = format!("{at}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(property) => conforms(doc, property, field, &field_at, problems),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        problems.push(format!("{field_at}: not in the schema"));
                    }
                    Some(extra @ Value::Object(_)) => {
                        conforms(doc, extra, field, &field_at, problems);
                    }
                    // Undeclared fields: a schema with properties lists every field the server
                    // writes, so one it does not list is drift.
                    _ if properties.is_some() => {
                        problems.push(format!("{field_at}: not in the schema"));
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, item) in list.iter().enumerate() {
            conforms(doc, items, item, &format!("{at}[{i}]"), problems);
        }
    }
}

/// Every `.route("…")`, `.route_service("…")`, `.nest("…")` and `.nest_service("…")` in the
/// server's source, as (file:line, path).
fn registered_routes(dir: &Path, found: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read source folder")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            registered_routes(&path, found);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read source");
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                let Some(at) = line.find(call) else { continue };
                let rest = line[at + call.len()..].trim_start();
                let where_ = format!("{}:{}", path.display(), i + 1);
                let route = rest
                    .strip_prefix('"')
                    .and_then(|r| r.split_once('"'))
                    .map(|(route, _)| route.to_owned())
                    .unwrap_or_else(|| {
                        panic!("{where_}: a route whose path is not a literal: {line}")
                    });
                found.push((where_, route));
            }
        }
    }
}

#[test]
fn every_route_the_server_registers_is_documented() {
    let server = ServerSetup::new().start();
    let (spec, _) = fetch_document(&server);
    let documented: BTreeSet<String> = spec
        .paths
        .as_ref()
        .map(|paths| paths.keys().cloned().collect())
        .unwrap_or_default();
    for path in ["/health", "/ready", "/api/episodes", "/openapi.json", "/"] {
        assert!(documented.contains(path), "{path} is not documented");
    }
    // The documented routes come from one table (utoipa-axum's `routes!`, which cannot register a
    // handler without its `#[utoipa::path]`); any other registration must name a documented path.
    let mut found = Vec::new();
    registered_routes(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    let undocumented: Vec<_> = found
        .iter()
        .filter(|(_, route)| !documented.contains(route))
        .collect();
    assert!(
        undocumented.is_empty(),
        "routes served but not in /openapi.json: {undocumented:?}; register them in \
         host/src/gateway/http/openapi.rs with routes!() and a #[utoipa::path] on the handler"
    );
}
