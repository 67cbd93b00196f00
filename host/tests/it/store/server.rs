//! The episode store in the real binary, over `GET /api/episodes` and `GET /api/episodes/{id}`:
//! a recording an older server left (a folder the store never saw) is imported at start and
//! still there, once, after a restart; a server killed with SIGKILL while a studio records leaves
//! an episode that the next start lists as `interrupted`, with its files; an episode minted with
//! a briefing is recorded with that briefing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::server::node::{e2e_dir, install_client};
use crate::support::server::{Server, ServerSetup, http};

/// A server whose recordings and `studio.db` live in `shared`, so a later server finds them.
fn server_on(shared: &Path) -> Server {
    ServerSetup::new()
        .var(
            "RECORDING_DIR",
            shared.join("recordings").display().to_string(),
        )
        .var("DATA_DIR", shared.join("data").display().to_string())
        .start()
}

fn episodes(server: &Server) -> Vec<Value> {
    let reply = server.get("/api/episodes");
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["episodes"]
        .as_array()
        .expect("episodes array")
        .clone()
}

/// A folder as a server before the store wrote it: session.yml, a caption, an event log.
fn older_recording(recordings: &Path) {
    let folder = recordings.join("ep-old");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(
        folder.join("session.yml"),
        "episode: ep-old\nsession: ep-old-1\nstartedAt: 2026-11-26T09:22:26.123Z\nendedAt: 2026-11-26T09:23:26.123Z\ndurationMs: 60000\nbriefing:\n  path: briefings/ai-safety.md\n  title: AI safety\nplugins:\n- role: stt\n  name: mock-stt\n  version: 0.1.0\n  hash: abc\n",
    )
    .expect("session.yml");
    std::fs::write(
        folder.join("you.vtt"),
        "WEBVTT\n\nyou-1\n00:00:01.000 --> 00:00:02.500\nHello &amp; welcome\n\n",
    )
    .expect("you.vtt");
    std::fs::write(
        folder.join("claude.vtt"),
        "WEBVTT\n\nclaude-1\n00:00:03.000 --> 00:00:04.000\nThanks for\n\n",
    )
    .expect("claude.vtt");
    std::fs::write(
        folder.join("events.jsonl"),
        "{\"type\":\"turn.end\",\"t\":4000,\"speaker\":\"claude\",\"metrics\":{\"durationMs\":1000,\"interrupted\":true}}\n",
    )
    .expect("events.jsonl");
}

#[test]
fn an_older_recording_is_imported_at_start_and_kept_once_across_a_restart() {
    let shared = tempfile::tempdir().expect("tempdir");
    older_recording(&shared.path().join("recordings"));
    let first = server_on(shared.path());
    let listed = episodes(&first);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let episode = &listed[0];
    assert_eq!(episode["id"], "ep-old");
    assert_eq!(episode["state"], "ended");
    assert_eq!(episode["title"], "AI safety");
    assert_eq!(episode["briefing"], "ai-safety");
    assert_eq!(episode["startedAt"], "2026-11-26T09:22:26.123Z");
    assert_eq!(episode["durationMs"], 60000);
    assert_eq!(episode["lines"], 2);
    assert_eq!(episode["plugins"][0]["name"], "mock-stt");
    assert!(
        episode["files"]
            .as_array()
            .expect("files")
            .iter()
            .any(|f| f["name"] == "you.vtt" && f["url"] == "/recordings/ep-old/you.vtt"),
        "{episode}"
    );
    let (status, log) = first.terminate();
    assert!(status.success(), "{log}");

    let second = server_on(shared.path());
    assert_eq!(episodes(&second).len(), 1, "imported once, not again");
    let one = second.get("/api/episodes/ep-old");
    assert_eq!(one.status, 200, "{}", one.body);
    let one = one.json();
    assert_eq!(one["turns"][0]["speaker"], "claude");
    assert_eq!(one["turns"][0]["metrics"]["interrupted"], true);
    assert_eq!(second.get("/api/episodes/ep-none").status, 404);
    assert_eq!(second.get("/api/episodes?limit=0").status, 400);
}

/// A socket.io-client in `episode` streaming silence until the server goes away; returns once
/// it has sent two seconds (the floor is open and the recording on disk).
fn stream_two_seconds(server: &Server, episode: &str) -> std::process::Child {
    let dir = e2e_dir();
    install_client(&dir);
    let mut client = Command::new("node")
        .arg(dir.join("store-client.mjs"))
        .env("STUDIO_URL", server.url())
        .env("STUDIO_EPISODE", episode)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run node");
    let lines = BufReader::new(client.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    for line in lines {
        let line = line.expect("client output");
        seen.push(line.clone());
        if line == "SENT 100" {
            break;
        }
    }
    assert_eq!(
        seen.last().map(String::as_str),
        Some("SENT 100"),
        "{seen:?}"
    );
    client
}

#[test]
fn a_session_cut_by_sigkill_is_listed_interrupted_with_its_files_after_a_restart() {
    let shared = tempfile::tempdir().expect("tempdir");
    let server = server_on(shared.path());
    let mut client = stream_two_seconds(&server, "ep-killed");
    let live = episodes(&server);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["state"], "live");
    assert_eq!(live[0]["episodeId"], "ep-killed");
    // SIGKILL: nothing of the server runs after this (Server's drop kills with SIGKILL).
    drop(server);
    let _ = client.wait();

    let again = server_on(shared.path());
    let listed = episodes(&again);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let episode = &listed[0];
    assert_eq!(episode["state"], "interrupted", "{episode}");
    assert_eq!(episode["id"], "ep-killed", "its recording folder");
    assert!(episode.get("endedAt").is_none(), "{episode}");
    let files: Vec<&str> = episode["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    for file in ["you.webm", "events.jsonl", "session.yml"] {
        assert!(files.contains(&file), "{file} in {files:?}");
    }
    let track = http(again.addr, "GET", "/api/episodes/ep-killed", &[], None);
    assert_eq!(track.status, 200, "{}", track.body);
}

#[test]
fn an_episode_minted_with_a_briefing_records_with_that_briefing() {
    let shared = tempfile::tempdir().expect("tempdir");
    let briefings = shared.path().join("briefings");
    std::fs::create_dir_all(&briefings).expect("briefings");
    std::fs::write(
        briefings.join("night-trains.md"),
        "---\ntitle: Night trains\ntopic: Should Europe bring back night trains?\n---\n\nA short show.\n",
    )
    .expect("briefing");
    let server = ServerSetup::new()
        .var(
            "RECORDING_DIR",
            shared.path().join("recordings").display().to_string(),
        )
        .var("DATA_DIR", shared.path().join("data").display().to_string())
        .var("BRIEFINGS_DIR", briefings.display().to_string())
        .start();
    let minted = server.post(
        "/api/episodes",
        "{\"briefing\":\"night-trains\"}",
        &[("Content-Type", "application/json")],
    );
    assert_eq!(minted.status, 200, "{}", minted.body);
    let episode = minted.json()["episodeId"]
        .as_str()
        .expect("episodeId")
        .to_owned();
    let bad = server.post(
        "/api/episodes",
        "{\"briefing\":\"../etc\"}",
        &[("Content-Type", "application/json")],
    );
    assert_eq!(bad.status, 400, "{}", bad.body);

    let mut client = stream_two_seconds(&server, &episode);
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    let _ = client.wait();
    let session = std::fs::read_to_string(
        shared
            .path()
            .join("recordings")
            .join(&episode)
            .join("session.yml"),
    )
    .expect("session.yml");
    assert!(session.contains("night-trains.md"), "{session}");

    let again = server_on(shared.path());
    let listed = episodes(&again);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["briefing"], "night-trains");
    assert_eq!(listed[0]["title"], "Night trains");
    assert_eq!(listed[0]["state"], "ended");
}

#[test]
fn the_listing_keeps_the_admin_door() {
    let server = ServerSetup::new()
        .var(
            "STUDIO_ADMIN_TOKEN",
            "store-test-admin-token-0123456789abcdef",
        )
        .start();
    assert_eq!(server.get("/api/episodes").status, 401);
    assert_eq!(server.get("/api/episodes/anything").status, 401);
    let reply = http(
        server.addr,
        "GET",
        "/api/episodes",
        &[(
            "Authorization",
            "Bearer store-test-admin-token-0123456789abcdef",
        )],
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
}
