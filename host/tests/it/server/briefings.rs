//! The briefings API on the real binary over real HTTP: create, list, get and update briefings as
//! Markdown and as fields; what the loader refuses is refused with its message and line and writes
//! nothing (the old file stays); ids that would leave the folder are refused; the admin door.

use serde_json::{Value, json};
use voice_studio::briefings::{Briefing, BriefingFields};

use crate::support::server::{Server, ServerSetup, get_bytes, http};

/// A valid `STUDIO_ADMIN_TOKEN` (>= 32 characters).
const ADMIN: &str = "briefings-admin-token-0123456789abcdef";

const EXAMPLE: &str = include_str!("../../../../briefings/cars-in-city-centres.md");

const TEA: &str = "---\ntitle: Tea or coffee\ntopic: Which is the better drink?\nmustCover: [caffeine]\n---\n\nA short one.\n\n## Claude's position\n\nCoffee.\n\n## Guest's position\n\nTea.\n";

/// A server whose briefings folder holds the example briefing as `cars.md`.
fn server() -> Server {
    let setup = ServerSetup::new().var("STUDIO_ADMIN_TOKEN", ADMIN);
    let folder = setup.path().join("briefings");
    std::fs::create_dir(&folder).expect("briefings folder");
    std::fs::write(folder.join("cars.md"), EXAMPLE).expect("example briefing");
    setup.start()
}

fn folder(server: &Server) -> std::path::PathBuf {
    server.setup.path().join("briefings")
}

/// Every name in the briefings folder, sorted (temporary files would show here).
fn names(server: &Server) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder(server))
        .expect("read folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn call(server: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let bearer = format!("Bearer {ADMIN}");
    let body = body.map(Value::to_string);
    let reply = http(
        server.addr,
        method,
        path,
        &[("Authorization", &bearer)],
        body.as_deref(),
    );
    let json = serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {}", reply.body));
    (reply.status, json)
}

#[test]
fn briefings_are_created_listed_read_and_updated_as_markdown_and_as_fields() {
    let server = server();

    let (status, list) = call(&server, "GET", "/api/briefings", None);
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["briefings"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
    let cars = &list["briefings"][0];
    assert_eq!(cars["id"], "cars");
    assert_eq!(
        cars["title"],
        "Car-free centres: should cities ban cars from their cores?"
    );
    assert_eq!(
        cars["topic"],
        "Should cities ban private cars from their centres?"
    );
    assert!(
        cars["updatedAt"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{cars}"
    );

    // Created from Markdown: the file is exactly what was sent.
    let (status, created) = call(
        &server,
        "POST",
        "/api/briefings",
        Some(&json!({"id": "tea", "markdown": TEA})),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], "tea");
    assert_eq!(created["briefing"]["topic"], "Which is the better drink?");
    assert_eq!(created["briefing"]["stances"]["guest"], "Tea.");
    assert_eq!(created["briefing"]["intro"], "A short one.");
    assert_eq!(
        std::fs::read_to_string(folder(&server).join("tea.md")).expect("tea.md"),
        TEA
    );
    // Creating it again changes nothing.
    let (status, again) = call(
        &server,
        "POST",
        "/api/briefings",
        Some(&json!({"id": "tea", "markdown": "---\ntopic: Other\n---\n"})),
    );
    assert_eq!(status, 409, "{again}");
    assert_eq!(
        std::fs::read_to_string(folder(&server).join("tea.md")).expect("tea.md"),
        TEA
    );

    let (status, got) = call(&server, "GET", "/api/briefings/tea", None);
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["markdown"], TEA);
    assert_eq!(got["briefing"], created["briefing"]);

    // Updated from fields, as the console's editor sends them: the file the server writes reads
    // back (by the loader itself) to the same fields.
    let fields = json!({
        "title": "Tea or coffee: round two",
        "topic": "Which is the better drink, really?",
        "tone": "playful: but fair",
        "mustCover": ["caffeine", "ritual & habit", "- price"],
        "avoidTopics": ["brands"],
        "targetDuration": 480,
        "intro": "# Round two\n\nBack by demand.",
        "stances": {"claude": "Coffee, always.\n\n### Why\nTaste.", "guest": "Tea <obviously>."},
        "sections": [{"heading": "Background", "text": "Both are drunk daily."}]
    });
    let (status, updated) = call(
        &server,
        "PUT",
        "/api/briefings/tea",
        Some(&json!({"briefing": fields})),
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["briefing"], fields, "{updated}");
    let on_disk = std::fs::read_to_string(folder(&server).join("tea.md")).expect("tea.md");
    let parsed = Briefing::parse(&on_disk).unwrap_or_else(|e| panic!("{e}\n{on_disk}"));
    let expected: BriefingFields = serde_json::from_value(fields.clone()).expect("fields");
    assert_eq!(BriefingFields::from(&parsed), expected, "{on_disk}");
    assert_eq!(updated["markdown"], on_disk);

    // PUT creates too; `avoid` is read as `avoidTopics`.
    let (status, new) = call(
        &server,
        "PUT",
        "/api/briefings/quick.one_2",
        Some(&json!({"briefing": {"topic": "Quick", "avoid": ["spoilers"]}})),
    );
    assert_eq!(status, 201, "{new}");
    assert_eq!(new["briefing"]["avoidTopics"], json!(["spoilers"]));

    let (_, list) = call(&server, "GET", "/api/briefings", None);
    let ids: Vec<&str> = list["briefings"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|b| b["id"].as_str())
        .collect();
    assert_eq!(ids, ["cars", "quick.one_2", "tea"]);
    // Written atomically: no temporary file is left beside the briefings.
    assert_eq!(names(&server), ["cars.md", "quick.one_2.md", "tea.md"]);

    // A file broken by hand is listed and shown with the loader's reason, for the editor to fix.
    std::fs::write(
        folder(&server).join("broken.md"),
        "---\ntopic: T\nmustCover: one\n---\n",
    )
    .expect("write");
    let (status, broken) = call(&server, "GET", "/api/briefings/broken", None);
    assert_eq!(status, 200, "{broken}");
    assert_eq!(broken["briefing"], Value::Null);
    assert_eq!(broken["problem"]["line"], 3, "{broken}");
    assert_eq!(broken["problem"]["field"], "mustCover", "{broken}");
    let (_, list) = call(&server, "GET", "/api/briefings", None);
    assert!(
        list["briefings"][0]["problem"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("line 3: `mustCover`")),
        "{list}"
    );

    let (status, missing) = call(&server, "GET", "/api/briefings/nothing-here", None);
    assert_eq!(status, 404, "{missing}");
}

#[test]
fn a_bad_briefing_gets_the_loaders_message_and_the_old_file_stays() {
    let server = server();
    let cars = folder(&server).join("cars.md");
    let bad = "---\ntopic: Cars\nmustCover: just one string\n---\n";
    let (status, refused) = call(
        &server,
        "PUT",
        "/api/briefings/cars",
        Some(&json!({"markdown": bad})),
    );
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["code"], "invalid-briefing");
    assert_eq!(refused["line"], 3, "{refused}");
    assert_eq!(refused["field"], "mustCover", "{refused}");
    // Word for word what the loader says of the same text.
    let loader = Briefing::parse(bad).expect_err("the loader refuses it");
    assert_eq!(refused["error"], loader.to_string());

    let cases = [
        // The loader's own checks on fields.
        (
            json!({"briefing": {"topic": "  "}}),
            "invalid-briefing",
            Some("topic"),
        ),
        (
            json!({"briefing": {"topic": "T", "targetDuration": 0}}),
            "invalid-briefing",
            Some("targetDuration"),
        ),
        (
            json!({"briefing": {"topic": "T", "mustCover": ["a", ""]}}),
            "invalid-briefing",
            Some("mustCover"),
        ),
        // Text that would change the file's layout, so it would not read back.
        (
            json!({"briefing": {"topic": "T", "stances": {"claude": "ok\n## Sneaky\nx"}}}),
            "invalid-briefing",
            Some("stances.claude"),
        ),
        (
            json!({"briefing": {"topic": "T", "sections": [{"heading": "Claude's view", "text": "x"}]}}),
            "invalid-briefing",
            Some("sections[0].heading"),
        ),
        // Not a body of this route.
        (
            json!({"markdown": "---\ntopic: T\n---\n", "briefing": {"topic": "T"}}),
            "bad-request",
            None,
        ),
        (json!({}), "bad-request", None),
        (
            json!({"markdown": "---\ntopic: T\n---\n", "extra": 1}),
            "bad-request",
            None,
        ),
        (
            json!({"briefing": {"topic": "T", "misspelt": 1}}),
            "bad-request",
            None,
        ),
        (json!({"markdown": 42}), "bad-request", None),
        // serde would read a struct from an array; the API does not.
        (json!(["---\ntopic: T\n---\n"]), "bad-request", None),
        (json!({"briefing": ["Title", "Topic"]}), "bad-request", None),
        (
            json!({"briefing": {"topic": "T", "sections": [["Heading", "text"]]}}),
            "bad-request",
            None,
        ),
        // Over the loader's 64 KiB.
        (
            json!({"markdown": format!("---\ntopic: T\n---\n{}", "x".repeat(64 * 1024))}),
            "too-large",
            None,
        ),
    ];
    for (body, code, field) in cases {
        let (status, refused) = call(&server, "PUT", "/api/briefings/cars", Some(&body));
        assert_eq!(status, 400, "{body} -> {refused}");
        assert_eq!(refused["code"], code, "{body} -> {refused}");
        assert!(
            refused["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{refused}"
        );
        if let Some(field) = field {
            assert_eq!(refused["field"], field, "{body} -> {refused}");
        }
    }
    // Nothing was written: the example is untouched and no temporary file is left.
    assert_eq!(std::fs::read_to_string(&cars).expect("cars.md"), EXAMPLE);
    assert_eq!(names(&server), ["cars.md"]);
    let (status, got) = call(&server, "GET", "/api/briefings/cars", None);
    assert_eq!(status, 200);
    assert_eq!(got["markdown"], EXAMPLE);
}

#[test]
fn ids_that_would_leave_the_folder_are_refused_and_write_nothing() {
    let server = server();
    // A briefing outside the folder that a traversal would reach.
    let outside = server.setup.path().join("secret.md");
    std::fs::write(&outside, TEA).expect("secret.md");
    let bearer = format!("Bearer {ADMIN}");
    for target in [
        "/api/briefings/..%2Fsecret",
        "/api/briefings/%2E%2E%2Fsecret",
        "/api/briefings/.hidden",
        "/api/briefings/a%5Cb",
        "/api/briefings/a%00b",
        "/api/briefings/%C3%A9t%C3%A9",
    ] {
        let reply = get_bytes(server.addr, "GET", target, &[("Authorization", &bearer)]);
        assert_eq!(
            reply.status,
            400,
            "{target}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let body: Value = serde_json::from_slice(&reply.body).expect("JSON");
        assert_eq!(body["code"], "bad-id", "{target}: {body}");
    }
    let too_long = format!("/api/briefings/{}", "a".repeat(129));
    let (status, _) = call(&server, "GET", &too_long, None);
    assert_eq!(status, 400);
    // Unnormalised dot segments reach no briefing either.
    let reply = get_bytes(
        server.addr,
        "GET",
        "/api/briefings/../secret",
        &[("Authorization", &bearer)],
    );
    assert_ne!(reply.status, 200);

    let good = json!({"markdown": TEA});
    for target in ["/api/briefings/..%2Fescape", "/api/briefings/.escape"] {
        let (status, body) = call(&server, "PUT", target, Some(&good));
        assert_eq!(status, 400, "{target}: {body}");
    }
    for id in ["../escape", "/tmp/escape", ".escape", "", "a/b"] {
        let (status, body) = call(
            &server,
            "POST",
            "/api/briefings",
            Some(&json!({"id": id, "markdown": TEA})),
        );
        assert_eq!(status, 400, "{id}: {body}");
        assert_eq!(body["code"], "bad-id", "{id}: {body}");
    }
    assert!(!server.setup.path().join("escape.md").exists());
    assert_eq!(std::fs::read_to_string(&outside).expect("secret.md"), TEA);
    assert_eq!(names(&server), ["cars.md"]);
}

#[test]
fn briefings_need_the_admin_token() {
    let server = server();
    for (method, path, body) in [
        ("GET", "/api/briefings", None),
        ("GET", "/api/briefings/cars", None),
        (
            "PUT",
            "/api/briefings/cars",
            Some(json!({"markdown": TEA}).to_string()),
        ),
        (
            "POST",
            "/api/briefings",
            Some(json!({"id": "new", "markdown": TEA}).to_string()),
        ),
    ] {
        let reply = http(server.addr, method, path, &[], body.as_deref());
        assert_eq!(reply.status, 401, "{method} {path}: {}", reply.body);
        let wrong = http(
            server.addr,
            method,
            path,
            &[(
                "Authorization",
                "Bearer not-the-admin-token-0123456789abcdef",
            )],
            body.as_deref(),
        );
        assert_eq!(wrong.status, 401, "{method} {path}: {}", wrong.body);
    }
    assert_eq!(
        std::fs::read_to_string(folder(&server).join("cars.md")).expect("cars.md"),
        EXAMPLE
    );
    assert_eq!(names(&server), ["cars.md"]);
}

#[test]
fn writes_take_json_bodies_only_like_the_other_json_routes() {
    use std::io::{Read, Write};
    let server = server();
    // A text/plain PUT needs no CORS preflight, so a foreign page could send one.
    let body = json!({"markdown": TEA}).to_string();
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connect");
    let request = format!(
        "PUT /api/briefings/cars HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        server.addr,
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    assert!(raw.starts_with("HTTP/1.1 415"), "{raw}");
    assert!(raw.contains("unsupported-media-type"), "{raw}");

    assert_eq!(
        std::fs::read_to_string(folder(&server).join("cars.md")).expect("cars.md"),
        EXAMPLE
    );
    assert_eq!(names(&server), ["cars.md"]);
}
