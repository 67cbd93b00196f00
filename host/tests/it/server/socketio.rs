//! The Socket.IO protocol end to end: the real server binary driven by the official
//! `socket.io-client` (Node), connected as the studio frontend connects. The scenarios are in
//! `tests/e2e/*.test.mjs`; this test starts the server, installs the pinned client
//! (`npm ci`, once) and runs them with Node's built-in test runner.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::server::ServerSetup;
use crate::support::server::node::{e2e_dir, install_client};

#[test]
fn socketio_protocol_scenarios_pass_with_the_official_client() {
    let dir = e2e_dir();
    install_client(&dir);
    let server = ServerSetup::new().start();
    let run = Command::new("node")
        .arg("--test")
        .arg(&dir)
        .env("STUDIO_URL", server.url())
        .output()
        .expect("run node --test (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "Socket.IO scenarios failed:\n{stdout}\n{stderr}"
    );
    // Guard against a runner that found no tests (it would also exit 0).
    assert!(stdout.contains("# pass"), "{stdout}");
    assert!(!stdout.contains("# pass 0"), "no scenario ran:\n{stdout}");
    assert!(stdout.contains("# fail 0"), "{stdout}");

    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
}

#[test]
fn shutdown_tells_connected_clients_their_studio_ended() {
    let dir = e2e_dir();
    install_client(&dir);
    let server = ServerSetup::new().start();
    let mut client = Command::new("node")
        .arg(dir.join("shutdown-client.mjs"))
        .env("STUDIO_URL", server.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run node");
    let mut lines = BufReader::new(client.stdout.take().expect("stdout piped")).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("read client output");
        seen.push(line.clone());
        if line == "JOINED" {
            break;
        }
    }
    assert_eq!(seen.last().map(String::as_str), Some("JOINED"), "{seen:?}");

    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    seen.extend(lines.map_while(Result::ok));
    let exit = client.wait().expect("wait for node");
    assert!(exit.success(), "client output: {seen:?}");
    let end = seen
        .iter()
        .find_map(|l| l.strip_prefix("SESSION_END "))
        .expect("session.end received");
    let end: serde_json::Value = serde_json::from_str(end).expect("session.end JSON");
    assert_eq!(
        end,
        serde_json::json!({"episodeId": "shutdown-e2e", "reason": "shutdown"})
    );
}
