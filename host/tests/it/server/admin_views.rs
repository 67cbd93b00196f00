//! The producer's admin view on the real binary: `GET /api/studios` lists a studio the official
//! `socket.io-client` keeps open, with its client, orbs and autopilot; `GET /api/plugins` lists
//! each plugin of plugins.toml with its roles, version, hash and health; both need the admin
//! token in token mode.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::server::node::{e2e_dir, install_client};
use crate::support::server::{ServerSetup, http};

const SECRET: &str = "test-token-secret-0123456789abcdef0123456789";
const ADMIN: &str = "test-admin-token-0123456789abcdef0123";

#[test]
fn live_studios_list_the_studio_a_client_keeps_open_with_its_client() {
    let dir = e2e_dir();
    install_client(&dir);
    let server = ServerSetup::new().start();
    let before = server.get("/api/studios");
    assert_eq!(before.status, 200, "{}", before.body);
    assert_eq!(before.json(), serde_json::json!({"studios": []}));

    // A client that joins `shutdown-e2e` as `stayer` and stays until the server ends.
    let mut client = Command::new("node")
        .arg(dir.join("shutdown-client.mjs"))
        .env("STUDIO_URL", server.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run node");
    let mut lines = BufReader::new(client.stdout.take().expect("stdout piped")).lines();
    let joined = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line == "JOINED");
    assert!(joined, "the client never joined");

    let listed = server.get("/api/studios");
    assert_eq!(listed.status, 200, "{}", listed.body);
    let body = listed.json();
    let studios = body["studios"].as_array().expect("studios");
    assert_eq!(studios.len(), 1, "{body}");
    let studio = &studios[0];
    assert_eq!(studio["episodeId"], "shutdown-e2e", "{body}");
    assert_eq!(studio["answering"], true, "{body}");
    assert_eq!(studio["clients"], serde_json::json!(["stayer"]), "{body}");
    assert_eq!(studio["autopilot"], false, "{body}");
    for speaker in ["you", "claude", "guest"] {
        assert!(studio["speaking"][speaker].is_string(), "{body}");
    }
    assert!(
        studio["startedAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );

    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    let _ = client.wait();
}

#[test]
fn plugins_show_each_plugins_roles_version_hash_and_health() {
    let server = ServerSetup::new().start();
    let answer = server.get("/api/plugins");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["ready"], true, "{body}");
    let plugins = body["plugins"].as_array().expect("plugins");
    let find = |name: &str| {
        plugins
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {body}"))
    };
    let stt = find("frame-counter");
    assert_eq!(stt["roles"], serde_json::json!(["stt"]), "{body}");
    let llm = find("fault-injector");
    let mut roles: Vec<&str> = llm["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, ["claude", "guest"], "{body}");
    for plugin in plugins {
        assert_eq!(
            plugin["sha256"].as_str().map(str::len),
            Some(64),
            "{plugin}"
        );
        assert!(
            !plugin["version"].as_str().unwrap_or_default().is_empty(),
            "{plugin}"
        );
        for count in ["calls", "errors", "traps", "cancelled"] {
            assert!(plugin["health"][count].is_u64(), "{plugin}");
        }
    }
}

#[test]
fn in_token_mode_the_admin_views_need_the_admin_token() {
    let server = ServerSetup::new()
        .var("STUDIO_TOKEN_SECRET", SECRET)
        .var("STUDIO_ADMIN_TOKEN", ADMIN)
        .start();
    let bearer = format!("Bearer {ADMIN}");
    for path in ["/api/studios", "/api/plugins"] {
        let refused = server.get(path);
        assert_eq!(refused.status, 401, "{path}: {}", refused.body);
        assert_eq!(refused.json()["code"], "unauthorized", "{path}");
        let admitted = http(
            server.addr,
            "GET",
            path,
            &[("Authorization", &bearer)],
            None,
        );
        assert_eq!(admitted.status, 200, "{path}: {}", admitted.body);
    }
}

#[test]
fn the_settings_api_keeps_claudes_voice_apart_from_the_guests() {
    let server = ServerSetup::new().start();
    let set = server.post(
        "/api/config/guest",
        r#"{"claudeVoice":{"provider":"google","googleVoice":"en-GB-Neural2-B"},"guestVoice":{"provider":"coqui","coquiSpeaker":"p243"}}"#,
        &[],
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let config = server.get("/api/config").json();
    let runtime = &config["runtimeConfig"];
    assert_eq!(
        runtime["claudeVoice"]["googleVoice"], "en-GB-Neural2-B",
        "{config}"
    );
    assert_eq!(runtime["guestVoice"]["coquiSpeaker"], "p243", "{config}");
    let bad = server.post(
        "/api/config/guest",
        r#"{"claudeVoice":{"provider":"piper"}}"#,
        &[],
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["field"], "claudeVoice.provider");
}
