//! `GET /recordings/<folder>/<file>` against the real binary over a real socket: content types,
//! byte ranges for players, and refusal of everything outside a recording folder. Downloads need
//! a signed link or a token (see `server_doors.rs`); these tests sign their links the documented
//! way, and send an admin token where the path checks behind the door are under test.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::server::{BinaryResponse, Server, ServerSetup, get_bytes};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use voice_studio::gateway::access::{Access, AccessMode, Role};

/// The server's `STUDIO_TOKEN_SECRET`, so the tests can sign links and mint tokens.
const SECRET: &str = "recordings-test-secret-0123456789abcdef";

/// `/recordings/<folder>/<file>?exp=..&sig=..`, signed as docs/PROTOCOL.md says: HMAC-SHA256
/// with the secret over `voice-studio recording\n<folder>\n<file>\n<exp>`.
fn signed(folder: &str, file: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600;
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("hmac key");
    mac.update(format!("voice-studio recording\n{folder}\n{file}\n{exp}").as_bytes());
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("/recordings/{folder}/{file}?exp={exp}&sig={sig}")
}

/// `Authorization: Bearer <admin token>`: passes the door for any folder, so what refuses a
/// request is the path check behind it.
fn admin_bearer() -> String {
    let access = Access::with_key(
        AccessMode::Token,
        SECRET.as_bytes().to_vec(),
        Duration::from_secs(600),
    );
    format!(
        "Bearer {}",
        access.mint(Role::Admin, None, Duration::from_secs(600))
    )
}

/// The eight files a recording folder holds, as the recorder names them, with their types.
const FILES: [(&str, &str); 8] = [
    ("you.webm", "audio/webm"),
    ("claude.webm", "audio/webm"),
    ("guest.webm", "audio/webm"),
    ("you.vtt", "text/vtt"),
    ("claude.vtt", "text/vtt"),
    ("guest.vtt", "text/vtt"),
    ("events.jsonl", "application/x-ndjson"),
    ("session.yml", "application/yaml"),
];

/// A body whose every byte says where it is, so a served range can be checked exactly.
fn numbered_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A server whose RECORDING_DIR holds `episode-1` with all eight files (and `outside/` next to
/// RECORDING_DIR with a secret the route must never serve).
fn server_with_recording() -> Server {
    let setup = ServerSetup::new().var("STUDIO_TOKEN_SECRET", SECRET);
    let folder = setup.recording_dir().join("episode-1");
    std::fs::create_dir_all(&folder).expect("create recording folder");
    for (i, (name, _)) in FILES.iter().enumerate() {
        std::fs::write(folder.join(name), numbered_bytes(1000 + i)).expect("write file");
    }
    std::fs::write(folder.join("notes.txt"), b"not a recording file").expect("write notes");
    let outside = setup.path().join("outside");
    std::fs::create_dir_all(&outside).expect("create outside");
    std::fs::write(outside.join("events.jsonl"), b"SECRET").expect("write secret");
    std::fs::write(outside.join("secret.txt"), b"SECRET").expect("write secret");
    setup.start()
}

fn get(server: &Server, target: &str, headers: &[(&str, &str)]) -> BinaryResponse {
    get_bytes(server.addr, "GET", target, headers)
}

fn assert_refused(response: &BinaryResponse, target: &str) {
    assert!(
        matches!(response.status, 400 | 404),
        "{target}: status {} ({:?})",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    assert!(
        !response.body.windows(6).any(|w| w == b"SECRET"),
        "{target} leaked the secret"
    );
}

#[test]
fn every_recording_file_is_served_whole_with_its_content_type() {
    let server = server_with_recording();
    for (i, (name, content_type)) in FILES.iter().enumerate() {
        let response = get(&server, &signed("episode-1", name), &[]);
        assert_eq!(response.status, 200, "{name}");
        let served_type = response.header("content-type").unwrap_or_default();
        assert!(
            served_type.starts_with(content_type),
            "{name}: {served_type}"
        );
        assert_eq!(response.header("accept-ranges"), Some("bytes"), "{name}");
        assert_eq!(response.body, numbered_bytes(1000 + i), "{name}");
    }
}

#[test]
fn a_byte_range_is_answered_with_206_and_exactly_those_bytes() {
    let server = server_with_recording();
    let whole = numbered_bytes(1000);
    let target = &signed("episode-1", "you.webm");

    let response = get(&server, target, &[("Range", "bytes=100-199")]);
    assert_eq!(response.status, 206);
    assert_eq!(response.header("content-range"), Some("bytes 100-199/1000"));
    assert_eq!(response.header("content-length"), Some("100"));
    assert_eq!(response.body, whole[100..200]);

    let response = get(&server, target, &[("Range", "bytes=990-")]);
    assert_eq!(response.status, 206);
    assert_eq!(response.header("content-range"), Some("bytes 990-999/1000"));
    assert_eq!(response.body, whole[990..]);

    let response = get(&server, target, &[("Range", "bytes=-10")]);
    assert_eq!(response.status, 206);
    assert_eq!(response.header("content-range"), Some("bytes 990-999/1000"));
    assert_eq!(response.body, whole[990..]);

    // A player asking past the end of a still-growing file gets what there is.
    let response = get(&server, target, &[("Range", "bytes=500-5000")]);
    assert_eq!(response.status, 206);
    assert_eq!(response.header("content-range"), Some("bytes 500-999/1000"));
    assert_eq!(response.body, whole[500..]);
}

#[test]
fn an_unsatisfiable_or_malformed_range_is_answered_with_416() {
    let server = server_with_recording();
    for range in [
        "bytes=1000-",
        "bytes=2000-3000",
        "bytes=50-10",
        "bytes=0-1,5-9",
        "pages=0-1",
    ] {
        let response = get(
            &server,
            &signed("episode-1", "you.webm"),
            &[("Range", range)],
        );
        assert_eq!(response.status, 416, "{range}");
        assert_eq!(
            response.header("content-range"),
            Some("bytes */1000"),
            "{range}"
        );
    }
}

#[test]
fn head_tells_a_player_the_length_without_the_body() {
    let server = server_with_recording();
    let response = get_bytes(server.addr, "HEAD", &signed("episode-1", "you.webm"), &[]);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-length"), Some("1000"));
    assert!(response.body.is_empty());
}

#[test]
fn paths_that_climb_out_of_the_recording_folder_are_refused() {
    let server = server_with_recording();
    for target in [
        "/recordings/../outside/secret.txt",
        "/recordings/episode-1/../../outside/secret.txt",
        "/recordings/../../outside/events.jsonl",
        "/recordings/%2e%2e/outside",
        "/recordings/..%2Foutside/events.jsonl",
        "/recordings/%2E%2E%2Foutside/events.jsonl",
        "/recordings/episode-1/..%2F..%2Foutside%2Fevents.jsonl",
        "/recordings/episode-1/%2e%2e%2f%2e%2e%2foutside%2fsecret.txt",
        "/recordings/%252e%252e/events.jsonl",
        "/recordings/..%5Coutside/events.jsonl",
        "/recordings/%2Fetc/passwd",
        "/recordings//etc/passwd",
        "/recordings/episode-1/%2Fetc%2Fpasswd",
        "/recordings/.hidden/events.jsonl",
        "/recordings/episode-1%00/events.jsonl",
    ] {
        let response = get(&server, target, &[("Authorization", &admin_bearer())]);
        assert_refused(&response, target);
    }
}

#[test]
fn files_the_recorder_does_not_write_are_not_served() {
    let server = server_with_recording();
    for target in [
        "/recordings/episode-1/notes.txt",
        "/recordings/episode-1/",
        "/recordings/episode-1",
        "/recordings/episode-1/you.webm.bak",
        "/recordings/episode-1/YOU.WEBM",
        "/recordings/no-such-episode/you.webm",
    ] {
        let response = get(&server, target, &[("Authorization", &admin_bearer())]);
        assert_refused(&response, target);
    }
    let bearer = admin_bearer();
    let response = get(
        &server,
        "/recordings/episode-1/notes.txt",
        &[("Authorization", &bearer)],
    );
    assert_eq!(response.status, 404);
    let response = get(
        &server,
        "/recordings/no-such-episode/you.webm",
        &[("Authorization", &bearer)],
    );
    assert_eq!(response.status, 404);
}

#[test]
fn symlinks_out_of_the_recording_folder_are_not_followed() {
    let server = server_with_recording();
    let recordings = server.setup.recording_dir();
    let outside = server.setup.path().join("outside");
    symlink(&outside, &recordings.join("linked-episode"));
    // Replace one real file with a link to the secret.
    let you_vtt = recordings.join("episode-1").join("you.vtt");
    std::fs::remove_file(&you_vtt).expect("remove you.vtt");
    symlink(&outside.join("secret.txt"), &you_vtt);

    for target in [
        "/recordings/linked-episode/events.jsonl",
        "/recordings/episode-1/you.vtt",
    ] {
        let response = get(&server, target, &[("Authorization", &admin_bearer())]);
        assert_refused(&response, target);
        assert_eq!(response.status, 404, "{target}");
    }
}

fn symlink(original: &Path, link: &Path) {
    std::os::unix::fs::symlink(original, link).expect("create symlink");
}
