//! `POST /api/episodes/{id}/stems` on the real binary: who may make stems (admin, the episode's
//! host; not a viewer, not another episode's host), the files it answers with and their download
//! through `/recordings/<folder>/<file>`, and a live recording refused with 409.

use std::path::Path;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::recording::{ffprobe, probed_duration_ms, voice_frame};
use crate::support::server::{Server, ServerSetup, get_bytes};
use crate::support::studio::{CHUNK_BYTES, PATIENCE};
use voice_studio::gateway::access::{Access, AccessMode, Role};
use voice_studio::recording::{Recorder, RecorderConfig};
use voice_studio::speakers::Speaker;

/// The server's token key, so the tests can mint host, viewer and admin tokens.
const SECRET: &str = "stems-test-secret-0123456789abcdef0123456789";
/// The server's admin token.
const ADMIN: &str = "stems-admin-token-0123456789abcdef0123";
const EPISODE: &str = "ep-stems-http";

fn token(role: Role, episode: Option<&str>) -> String {
    let access = Access::with_key(
        AccessMode::Token,
        SECRET.as_bytes().to_vec(),
        Duration::from_secs(600),
    );
    format!(
        "Bearer {}",
        access.mint(role, episode, Duration::from_secs(600))
    )
}

/// A finished 3-second recording of `EPISODE` in `dir`: the human 0-1 s, claude 1.5-2.5 s.
fn record(dir: &Path) {
    let mut recorder = Recorder::create(RecorderConfig::new(dir, EPISODE, "s-1"))
        .unwrap_or_else(|e| panic!("recorder: {e}"));
    for (speaker, from_ms) in [(Speaker::You, 0), (Speaker::Claude, 1500)] {
        recorder
            .advance_to(from_ms)
            .unwrap_or_else(|e| panic!("advance: {e}"));
        for n in 0..50 {
            recorder
                .push_frame(speaker, from_ms + n * 20, &voice_frame(n))
                .unwrap_or_else(|e| panic!("frame: {e}"));
        }
    }
    recorder
        .finish(3000)
        .unwrap_or_else(|e| panic!("finish: {e}"));
}

fn server() -> Server {
    let setup = ServerSetup::new()
        .var("STUDIO_TOKEN_SECRET", SECRET)
        .var("STUDIO_ADMIN_TOKEN", ADMIN);
    record(&setup.recording_dir());
    setup.start()
}

fn post_stems(server: &Server, folder: &str, bearer: Option<&str>) -> (u16, serde_json::Value) {
    let headers: Vec<(&str, &str)> = bearer.map(|b| ("Authorization", b)).into_iter().collect();
    let response = server.post(&format!("/api/episodes/{folder}/stems"), "", &headers);
    let json = serde_json::from_str(&response.body).unwrap_or(serde_json::Value::Null);
    (response.status, json)
}

#[test]
fn the_episodes_host_makes_the_stems_and_downloads_them_as_wav() {
    let server = server();
    let host = token(Role::Host, Some(EPISODE));

    // Neither a viewer nor another episode's host may make them, nor anyone without a token.
    let (status, body) = post_stems(&server, EPISODE, Some(&token(Role::Viewer, Some(EPISODE))));
    assert_eq!(status, 403, "{body}");
    let (status, body) = post_stems(&server, EPISODE, Some(&token(Role::Host, Some("ep-other"))));
    assert_eq!(status, 404, "{body}");
    let (status, body) = post_stems(&server, EPISODE, None);
    assert_eq!(status, 401, "{body}");
    assert!(
        !server
            .setup
            .recording_dir()
            .join(EPISODE)
            .join("mix.wav")
            .exists()
    );

    let (status, body) = post_stems(&server, EPISODE, Some(&host));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["made"], true, "{body}");
    let files = body["files"].as_array().expect("files");
    let names: Vec<&str> = files.iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names, ["you.wav", "claude.wav", "guest.wav", "mix.wav"]);
    let folder = server.setup.recording_dir().join(EPISODE);
    for file in files {
        let name = file["name"].as_str().expect("name");
        assert_eq!(
            file["url"],
            format!("/recordings/{EPISODE}/{name}"),
            "{file}"
        );
        // 3 s of 16-bit 48 kHz mono and a 44-byte header.
        assert_eq!(file["bytes"], 44 + 3 * 96_000, "{file}");
        let download = get_bytes(
            server.addr,
            "GET",
            file["url"].as_str().expect("url"),
            &[("Authorization", &host)],
        );
        assert_eq!(download.status, 200, "{name}");
        assert_eq!(download.header("content-type"), Some("audio/wav"), "{name}");
        assert_eq!(download.body, std::fs::read(folder.join(name)).expect(name));
        let duration = probed_duration_ms(&ffprobe(&folder.join(name)));
        assert!((duration - 3000.0).abs() <= 20.0, "{name}: {duration} ms");
    }

    // Asked again (by the admin this time), the kept files come back unmade.
    let (status, body) = post_stems(&server, EPISODE, Some(&format!("Bearer {ADMIN}")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["made"], false, "{body}");
    assert_eq!(body["files"].as_array().map(Vec::len), Some(4));

    let (status, _) = post_stems(
        &server,
        "ep-never-recorded",
        Some(&format!("Bearer {ADMIN}")),
    );
    assert_eq!(status, 404);
    let (status, _) = post_stems(&server, ".hidden", Some(&format!("Bearer {ADMIN}")));
    assert_eq!(status, 400);
}

#[test]
fn a_track_that_is_not_webm_is_refused_naming_the_file_and_not_the_disk() {
    let setup = ServerSetup::new()
        .var("STUDIO_TOKEN_SECRET", SECRET)
        .var("STUDIO_ADMIN_TOKEN", ADMIN);
    record(&setup.recording_dir());
    let folder = setup.recording_dir().join(EPISODE);
    std::fs::write(folder.join("guest.webm"), b"\x1a\x45\xdf\xa3 not a track").expect("damage");
    let server = setup.start();
    let (status, body) = post_stems(&server, EPISODE, Some(&format!("Bearer {ADMIN}")));
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "unprocessable", "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains("guest.webm"), "{error}");
    let dir = server.setup.recording_dir().display().to_string();
    assert!(!error.contains(&dir), "the server's path leaked: {error}");
    // Nothing half-made is kept.
    for name in ["you.wav", "claude.wav", "guest.wav", "mix.wav"] {
        assert!(!folder.join(name).exists(), "{name}");
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Waits for Socket.IO `event`, answering pings.
async fn expect_event(ws: &mut Ws, event: &str) {
    let wait = async {
        loop {
            let message = ws.next().await.expect("connection open").expect("frame");
            let Message::Text(text) = message else {
                continue;
            };
            if text.as_str() == "2" {
                ws.send(Message::text("3")).await.expect("pong");
                continue;
            }
            if text.as_str().starts_with(&format!("42[\"{event}\"")) {
                return;
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("no {event} event"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_still_going_on_is_refused_with_409() {
    let server = ServerSetup::new()
        .var("STUDIO_TOKEN_SECRET", SECRET)
        .var("STUDIO_ADMIN_TOKEN", ADMIN)
        .start();
    let host = token(Role::Host, Some("ep-live-stems"));
    let raw_token = host.trim_start_matches("Bearer ");
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket&token={raw_token}",
        server.addr
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");
    ws.send(Message::text("40")).await.expect("connect packet");
    expect_event(&mut ws, "state.snapshot").await;
    let hello = serde_json::json!(["hello", {"participantName": "tester"}]);
    ws.send(Message::text(format!("42{hello}")))
        .await
        .expect("hello");
    expect_event(&mut ws, "state.snapshot").await;
    let header = format!(
        "451-{}",
        serde_json::json!(["audio.chunk", {"_placeholder": true, "num": 0}])
    );
    let folder = server.setup.recording_dir().join("ep-live-stems");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !folder.join("session.yml").is_file() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the studio never began recording"
        );
        ws.send(Message::text(header.clone())).await.expect("audio");
        ws.send(Message::binary(vec![0u8; CHUNK_BYTES]))
            .await
            .expect("audio");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let admin = format!("Bearer {ADMIN}");
    let (status, body) =
        tokio::task::block_in_place(|| post_stems(&server, "ep-live-stems", Some(&admin)));
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "live", "{body}");
    assert!(!folder.join("you.wav").exists());
}

/// `voice-studio episodes stems <args>` with RECORDING_DIR at `dir`: exit code, stdout, stderr.
fn cli(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_voice-studio"))
        .args(["episodes", "stems"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("RECORDING_DIR", dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run voice-studio");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_makes_the_stems_once_and_then_lists_the_kept_ones() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    record(dir.path());
    let (code, stdout, stderr) = cli(dir.path(), &[EPISODE, "--json"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let made: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(made["made"], true, "{made}");
    for file in made["files"].as_array().expect("files") {
        let path = Path::new(file["path"].as_str().expect("path"));
        assert_eq!(
            std::fs::metadata(path).map(|m| m.len()).ok(),
            file["bytes"].as_u64(),
            "{file}"
        );
    }
    let (code, stdout, _) = cli(dir.path(), &[EPISODE]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("kept from before") && stdout.contains("mix.wav"),
        "{stdout}"
    );
    let (code, _, stderr) = cli(dir.path(), &["ep-not-there"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("not a recording folder"), "{stderr}");
}
