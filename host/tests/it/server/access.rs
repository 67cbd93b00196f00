//! The access model on the real binary: signed host and viewer links minted by
//! `POST /api/episodes`, carried by the official `socket.io-client` the three ways a client may
//! carry them (`tests/e2e/access.test.mjs`), and what the admin endpoint refuses.

use crate::support::server::node::{assert_all_passed, run_suites};
use crate::support::server::{Server, ServerSetup};

/// A token key of the required 32+ bytes, known to the tests so they can sign their own tokens.
const SECRET: &str = "test-token-secret-0123456789abcdef0123456789";
/// An admin token of the required 32+ characters.
const ADMIN: &str = "test-admin-token-0123456789abcdef0123";

/// A server for many clients and studios from 127.0.0.1 (the per-address caps protect a real
/// server from one address; here every test client shares it).
fn setup() -> ServerSetup {
    ServerSetup::new()
        .var("MAX_STUDIOS_PER_IP", "1000")
        .var("STUDIO_GRACE_SECONDS", "1")
}

fn token_server() -> Server {
    setup()
        .var("STUDIO_TOKEN_SECRET", SECRET)
        .var("STUDIO_ADMIN_TOKEN", ADMIN)
        .start()
}

#[test]
fn token_access_scenarios_pass_with_the_official_client() {
    let server = token_server();
    let run = run_suites(
        &["access.test.mjs"],
        &[
            ("STUDIO_URL", server.url()),
            ("STUDIO_ACCESS_TEST", "token".into()),
            ("STUDIO_TOKEN_SECRET", SECRET.into()),
            ("STUDIO_ADMIN_TOKEN", ADMIN.into()),
        ],
    );
    assert_all_passed(&run);
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!log.contains(SECRET), "the token secret reached the log");
}

#[test]
fn open_access_scenarios_pass_with_the_official_client() {
    let server = setup().start();
    let run = run_suites(
        &["access.test.mjs"],
        &[
            ("STUDIO_URL", server.url()),
            ("STUDIO_ACCESS_TEST", "open".into()),
        ],
    );
    assert_all_passed(&run);
}

#[test]
fn minting_an_episode_needs_the_admin_token_and_gives_a_new_id_each_time() {
    let server = token_server();
    let refused = server.post("/api/episodes", "", &[]);
    assert_eq!(refused.status, 401, "{}", refused.body);
    let wrong = server.post(
        "/api/episodes",
        "",
        &[(
            "Authorization",
            "Bearer not-the-admin-token-0123456789abcdef",
        )],
    );
    assert_eq!(wrong.status, 401, "{}", wrong.body);

    let bearer = format!("Bearer {ADMIN}");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let minted = server.post("/api/episodes", "", &[("Authorization", &bearer)]);
        assert_eq!(minted.status, 200, "{}", minted.body);
        let body = minted.json();
        let id = body["episodeId"].as_str().expect("episodeId").to_owned();
        // 128 random bits in base32 after the prefix.
        assert!(id.starts_with("ep-") && id.len() == 29, "{id}");
        for role in ["host", "viewer"] {
            let token = body[role]["token"].as_str().expect("token");
            let url = body[role]["url"].as_str().expect("url");
            assert_eq!(url, format!("{}/#token={token}", server.url()));
        }
        assert!(body["expiresAt"].as_str().is_some(), "{body}");
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "an id repeated: {ids:?}");
}

#[test]
fn a_mint_request_body_must_be_json_with_a_bounded_lifetime() {
    let server = token_server();
    let bearer = format!("Bearer {ADMIN}");
    let auth = ("Authorization", bearer.as_str());
    // A `text/plain` POST needs no CORS preflight, so a foreign page could send one.
    let text = raw_post(&server, &bearer, "text/plain", r#"{"ttlSeconds":120}"#);
    assert_eq!(text.0, 415, "{}", text.1);
    let forever = server.post("/api/episodes", r#"{"ttlSeconds":999999999}"#, &[auth]);
    assert_eq!(forever.status, 400, "{}", forever.body);
    assert!(forever.body.contains("ttlSeconds"), "{}", forever.body);
    let short = server.post("/api/episodes", r#"{"ttlSeconds":120}"#, &[auth]);
    assert_eq!(short.status, 200, "{}", short.body);
}

#[test]
fn token_access_without_an_admin_token_mints_nothing() {
    let server = setup().var("STUDIO_TOKEN_SECRET", SECRET).start();
    let refused = server.post("/api/episodes", "", &[]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("STUDIO_ADMIN_TOKEN"),
        "{}",
        refused.body
    );
}

/// A POST with an explicit content type (the support client always says JSON).
fn raw_post(server: &Server, bearer: &str, content_type: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connect");
    let request = format!(
        "POST /api/episodes HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: {bearer}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        server.addr,
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, raw)
}
