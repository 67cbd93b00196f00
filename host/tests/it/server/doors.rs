//! The HTTP doors of the real server binary over real sockets: the Origin check on state changes
//! and on the Socket.IO handshake, the settings API's content type and admin token (with its
//! slow-down), recordings only with a token or a signed link, and `/health` and `/ready` that
//! keep errors and paths for the admin.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::server::{Server, ServerSetup};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use voice_studio::gateway::access::{Access, AccessMode, Role};

/// A valid `STUDIO_ADMIN_TOKEN` (>= 32 characters).
const ADMIN_TOKEN: &str = "doors-admin-token-0123456789abcdef-xyz";
/// The server's `STUDIO_TOKEN_SECRET`, so tests can mint tokens and sign links.
const SECRET: &str = "doors-test-secret-0123456789abcdef-0123";
/// Guards against a hung server; never a timing assertion.
const DEADLINE: Duration = Duration::from_secs(60);

/// A raw HTTP exchange.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends `method path` with exactly `headers` (no implied content type) and `body`; reads the
/// whole reply (`Connection: close`), or only the head for a `101` upgrade.
fn send(
    stream: TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut stream = stream;
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).expect("read reply");
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        // A 101 keeps the connection open for WebSocket frames: the head is all we need.
        if raw.starts_with(b"HTTP/1.1 101") && raw.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn request(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let stream = TcpStream::connect(server.addr).expect("connect");
    send(stream, server.addr, method, path, headers, body)
}

/// Like [`request`], from the loopback address `from` (Linux routes all of 127/8 to lo), so
/// per-address rules see another client.
fn request_from(
    from: [u8; 4],
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(IpAddr::from(from), 0))
            .expect("bind the client address");
        socket.connect(server.addr).await.expect("connect")
    });
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    send(stream, server.addr, method, path, headers, body)
}

fn guest_provider(server: &Server) -> String {
    server.get("/api/config").json()["guestProvider"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

// ------------------------------------------------------------------------------------------
// Origin and content type.

#[test]
fn a_cross_site_text_plain_post_to_the_settings_api_is_refused_with_415_and_changes_nothing() {
    // `*` lets every origin past the Origin check: the content type is what must hold.
    let server = ServerSetup::new().var("CORS_ORIGIN", "*").start();
    let body = r#"{"guestProvider": "openai"}"#;
    for content_type in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut headers = vec![("Origin", "http://evil.test")];
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct));
        }
        let reply = request(&server, "POST", "/api/config/guest", &headers, body);
        assert_eq!(reply.status, 415, "{content_type:?}: {}", reply.body);
        assert!(reply.body.contains("application/json"), "{}", reply.body);
        let reply = request(
            &server,
            "POST",
            "/api/config/keys",
            &headers,
            r#"{"groqApiKey":"gsk-evil"}"#,
        );
        assert_eq!(reply.status, 415, "{content_type:?}: {}", reply.body);
    }
    assert_eq!(guest_provider(&server), "groq");
    assert_eq!(
        server.get("/api/config").json()["keys"]["groqApiKey"],
        false
    );

    // The same change as JSON goes through: the refusal was about the content type.
    let reply = request(
        &server,
        "POST",
        "/api/config/guest",
        &[("Content-Type", "application/json; charset=utf-8")],
        body,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(guest_provider(&server), "openai");
}

#[test]
fn a_post_from_a_foreign_origin_is_refused_with_403_naming_the_origin_and_cors_origin() {
    let server = ServerSetup::new()
        .var("CORS_ORIGIN", "http://localhost:3000")
        .start();
    let json = [("Content-Type", "application/json")];
    let body = r#"{"guestProvider": "openai"}"#;
    let from = |origin: &str| {
        let mut headers = json.to_vec();
        headers.push(("Origin", origin));
        request(&server, "POST", "/api/config/guest", &headers, body)
    };

    for foreign in [
        "http://evil.test",
        "http://localhost:3001",
        "null",
        "https://localhost:3000",
    ] {
        let reply = from(foreign);
        assert_eq!(reply.status, 403, "{foreign}: {}", reply.body);
        let error = reply.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(error.contains(foreign), "{error}");
        assert!(error.contains("CORS_ORIGIN"), "{error}");
    }
    assert_eq!(guest_provider(&server), "groq");

    // The listed origin, and this server's own pages (same origin), pass.
    assert_eq!(from("http://localhost:3000").status, 200);
    let own = format!("http://{}", server.addr);
    let reply = from(&own);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(guest_provider(&server), "openai");
}

#[test]
fn a_socketio_handshake_from_a_foreign_origin_is_refused_and_allowed_or_originless_ones_open() {
    let server = ServerSetup::new()
        .var("CORS_ORIGIN", "http://localhost:3000")
        .start();
    let websocket = |origin: Option<&str>| {
        let mut headers = vec![
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ];
        if let Some(origin) = origin {
            headers.push(("Origin", origin));
        }
        // `send` adds `Connection: close` first; hyper reads the last `Connection` header set,
        // so send the upgrade by hand to keep one `Connection: Upgrade`.
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let mut raw = format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {}\r\n",
            server.addr
        );
        for (k, v) in &headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        raw.push_str("\r\n");
        stream.write_all(raw.as_bytes()).expect("send");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).expect("read") == 0 {
                break;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        head.split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .expect("status")
    };
    assert_eq!(websocket(Some("http://evil.test")), 403);
    assert_eq!(websocket(Some("http://localhost:3000")), 101);
    assert_eq!(websocket(None), 101);

    // Long-polling is the same handshake by other means.
    let polling = |origin: Option<&str>| {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("Origin", o)).into_iter().collect();
        request(
            &server,
            "GET",
            "/socket.io/?EIO=4&transport=polling",
            &headers,
            "",
        )
    };
    let refused = polling(Some("http://evil.test"));
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("CORS_ORIGIN"), "{}", refused.body);
    let opened = polling(None);
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert!(opened.body.contains("\"sid\""), "{}", opened.body);
    assert_eq!(polling(Some("http://localhost:3000")).status, 200);
}

// ------------------------------------------------------------------------------------------
// The admin token.

#[test]
fn wrong_admin_tokens_get_401_then_429_with_retry_after_while_other_addresses_go_on() {
    let server = ServerSetup::new()
        .var("STUDIO_ADMIN_TOKEN", ADMIN_TOKEN)
        .start();
    let body = r#"{"guestProvider": "openai"}"#;
    let post = |from: [u8; 4], token: &str| {
        let bearer = format!("Bearer {token}");
        request_from(
            from,
            &server,
            "POST",
            "/api/config/guest",
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &bearer),
            ],
            body,
        )
    };
    let wrong = "doors-admin-token-0123456789abcdef-xyZ";
    for attempt in 1..=5 {
        let reply = post([127, 0, 0, 1], wrong);
        assert_eq!(reply.status, 401, "attempt {attempt}: {}", reply.body);
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
    // Every further guess locks the address again, for twice as long, so a 429 comes at once
    // (or after one more guess, should a slow machine let the first lockout pass).
    let limited = (0..6)
        .map(|_| post([127, 0, 0, 1], wrong))
        .find(|r| r.status == 429)
        .expect("repeated wrong tokens are slowed down with 429");
    let retry_after: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(limited.json()["code"], "rate-limited");
    assert_eq!(guest_provider(&server), "groq");

    // Another address is not slowed down by these failures.
    assert_eq!(post([127, 0, 0, 2], wrong).status, 401);
    let reply = post([127, 0, 0, 2], ADMIN_TOKEN);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(guest_provider(&server), "openai");
}

#[test]
fn an_admin_token_shorter_than_32_characters_refuses_to_start() {
    let short = "let-me-in-please";
    let (status, stderr) = ServerSetup::new()
        .var("STUDIO_ADMIN_TOKEN", short)
        .run_to_exit();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("STUDIO_ADMIN_TOKEN"), "{stderr}");
    assert!(stderr.contains("32"), "{stderr}");
    assert!(!stderr.contains(short), "the token was echoed: {stderr}");
}

// ------------------------------------------------------------------------------------------
// Recordings.

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The documented link: HMAC-SHA256 with the secret over
/// `voice-studio recording\n<folder>\n<file>\n<exp>`, hex.
fn signature(folder: &str, file: &str, exp: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("hmac key");
    mac.update(format!("voice-studio recording\n{folder}\n{file}\n{exp}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn signed(folder: &str, file: &str, exp: u64) -> String {
    format!(
        "/recordings/{folder}/{file}?exp={exp}&sig={}",
        signature(folder, file, exp)
    )
}

fn token(role: Role, episode: Option<&str>) -> String {
    Access::with_key(
        AccessMode::Token,
        SECRET.as_bytes().to_vec(),
        Duration::from_secs(600),
    )
    .mint(role, episode, Duration::from_secs(600))
}

/// A server whose RECORDING_DIR holds `show` and its second take `show-2`, `show-3` (take 1 of
/// another episode named `show-3`) and `other`, each with a `you.webm` saying which it is.
fn server_with_recordings() -> Server {
    let setup = ServerSetup::new().var("STUDIO_TOKEN_SECRET", SECRET);
    for (folder, episode) in [
        ("show", "show"),
        ("show-2", "show"),
        ("show-3", "show-3"),
        ("other", "other"),
    ] {
        let dir = setup.recording_dir().join(folder);
        std::fs::create_dir_all(&dir).expect("create folder");
        std::fs::write(dir.join("you.webm"), format!("audio of {folder}")).expect("write");
        std::fs::write(
            dir.join("session.yml"),
            format!(
                "# voice-studio session record\nepisode: \"{episode}\"\nfolder: \"{folder}\"\n"
            ),
        )
        .expect("write session.yml");
    }
    setup.start()
}

#[test]
fn a_recording_is_served_only_with_a_token_for_its_episode_or_a_valid_signed_link() {
    let server = server_with_recordings();
    let get = |path: &str, headers: &[(&str, &str)]| request(&server, "GET", path, headers, "");
    let host = format!("Bearer {}", token(Role::Host, Some("show")));
    let viewer = token(Role::Viewer, Some("show"));
    let elsewhere = format!("Bearer {}", token(Role::Host, Some("other")));

    // Allowed: a host token (header), a viewer token (query), an admin token, a signed link.
    let ok = get("/recordings/show/you.webm", &[("Authorization", &host)]);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body, "audio of show");
    let take = get("/recordings/show-2/you.webm", &[("Authorization", &host)]);
    assert_eq!(take.body, "audio of show-2", "a later take of the episode");
    let by_query = get(&format!("/recordings/show/you.webm?token={viewer}"), &[]);
    assert_eq!(by_query.status, 200, "{}", by_query.body);
    let admin = format!("Bearer {}", token(Role::Admin, None));
    assert_eq!(
        get("/recordings/other/you.webm", &[("Authorization", &admin)]).status,
        200
    );
    let link = get(&signed("other", "you.webm", unix_now() + 300), &[]);
    assert_eq!(link.status, 200, "{}", link.body);
    assert_eq!(link.body, "audio of other");

    // Refused, all with the same 404: no proof, another episode's token, a folder that only
    // looks like a take of this episode, a tampered, expired or misapplied signature, a token
    // of another server, and a folder that does not exist (with a valid signature even).
    let exp = unix_now() + 300;
    let good = signature("show", "you.webm", exp);
    let mut tampered = good.clone().into_bytes();
    tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).expect("hex");
    let past = unix_now() - 10;
    let foreign = Access::with_key(
        AccessMode::Token,
        b"another-secret-of-32-bytes-or-more!".to_vec(),
        Duration::from_secs(600),
    )
    .mint(Role::Host, Some("show"), Duration::from_secs(600));
    let refused: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/recordings/show/you.webm".into(), vec![]),
        (
            "/recordings/show/you.webm".into(),
            vec![("Authorization", elsewhere.as_str())],
        ),
        (
            "/recordings/show-3/you.webm".into(),
            vec![("Authorization", host.as_str())],
        ),
        (
            format!("/recordings/show/you.webm?exp={exp}&sig={tampered}"),
            vec![],
        ),
        (
            format!("/recordings/show/you.webm?exp={}&sig={good}", exp + 1),
            vec![],
        ),
        (signed("show", "you.webm", past), vec![]),
        (
            format!("/recordings/other/you.webm?exp={exp}&sig={good}"),
            vec![],
        ),
        (format!("/recordings/show/you.webm?token={foreign}"), vec![]),
        ("/recordings/show/you.webm?token=not-a-token".into(), vec![]),
        ("/recordings/no-such-show/you.webm".into(), vec![]),
        (signed("no-such-show", "you.webm", exp), vec![]),
        (
            "/recordings/no-such-show/you.webm".into(),
            vec![("Authorization", admin.as_str())],
        ),
    ];
    let mut bodies = Vec::new();
    for (path, headers) in &refused {
        let reply = get(path, headers);
        assert_eq!(reply.status, 404, "{path} {headers:?}: {}", reply.body);
        assert!(!reply.body.contains("audio of"), "{path}");
        bodies.push(reply.body);
    }
    bodies.dedup();
    assert_eq!(bodies.len(), 1, "refusals must look alike: {bodies:?}");
}

// ------------------------------------------------------------------------------------------
// /health and /ready.

#[test]
fn health_and_ready_show_errors_and_paths_only_to_the_admin() {
    // Plugins from a folder of our own, watched, so one can be broken while the server runs.
    let plugins = tempfile::tempdir().expect("plugin dir");
    for name in ["frame-counter", "fault-injector", "echo-policy"] {
        let file = format!("{name}.wasm");
        std::fs::copy(
            std::path::Path::new(voice_studio::plugins::BUILT_PLUGIN_DIR).join(&file),
            plugins.path().join(&file),
        )
        .expect("copy plugin");
    }
    let server = ServerSetup::new()
        .var("STUDIO_ADMIN_TOKEN", ADMIN_TOKEN)
        .var("PLUGIN_DIR", plugins.path().display().to_string())
        .var("PLUGINS_WATCH", "true")
        .start();
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let admin = [("Authorization", bearer.as_str())];
    std::fs::write(
        plugins.path().join("fault-injector.wasm"),
        b"\0asm this is not a component",
    )
    .expect("break the plugin");

    // The reload fails and is reported (the old version keeps serving).
    let started = Instant::now();
    let detailed = loop {
        let health = request(&server, "GET", "/health", &admin, "");
        assert_eq!(health.status, 200);
        let body = health.json();
        let broken = body["plugins"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "fault-injector").cloned())
            .expect("fault-injector listed");
        if broken["lastError"].is_string() {
            break broken;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the broken plugin was never reported: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(detailed["healthy"], false);

    let public = server.get("/health");
    assert_eq!(public.status, 200);
    let body = public.json();
    for field in ["status", "timestamp", "version", "adapters", "plugins"] {
        assert!(!body[field].is_null(), "{field} missing: {body}");
    }
    assert!(!public.body.contains("lastError"), "{}", public.body);
    assert!(
        !public.body.contains(&plugins.path().display().to_string()),
        "{}",
        public.body
    );
    let broken = body["plugins"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "fault-injector").cloned())
        .expect("fault-injector listed");
    assert_eq!(broken["healthy"], false);

    // A wrong bearer is not a quiet downgrade: it is refused like any admin guess.
    let wrong = request(
        &server,
        "GET",
        "/health",
        &[("Authorization", "Bearer nope")],
        "",
    );
    assert_eq!(wrong.status, 401);

    // /ready: a generic reason for anyone, the path and the error for the admin.
    let dir = server.setup.recording_dir();
    std::fs::remove_dir_all(&dir).ok();
    std::fs::write(&dir, "not a folder").expect("put a file there");
    let ready = server.get("/ready");
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["status"], "not-ready");
    assert!(ready.body.contains("RECORDING_DIR"), "{}", ready.body);
    assert!(
        !ready.body.contains(&dir.display().to_string()),
        "{}",
        ready.body
    );
    let ready = request(&server, "GET", "/ready", &admin, "");
    assert_eq!(ready.status, 503);
    let detail = ready.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains(&dir.display().to_string()),
        "{}",
        ready.body
    );
}
