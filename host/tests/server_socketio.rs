//! The Socket.IO protocol end to end: the real server binary driven by the official
//! `socket.io-client` (Node), connected as the studio frontend connects. The scenarios are in
//! `tests/e2e/*.test.mjs`; this test starts the server, installs the pinned client
//! (`npm ci`, once) and runs them with Node's built-in test runner.

mod server_support;

use std::path::PathBuf;
use std::process::Command;

use server_support::ServerSetup;

fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("e2e")
}

#[test]
fn socketio_protocol_scenarios_pass_with_the_official_client() {
    let dir = e2e_dir();
    if !dir.join("node_modules").join("socket.io-client").is_dir() {
        let install = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("run npm ci (is Node.js installed?)");
        assert!(
            install.status.success(),
            "npm ci failed:\n{}\n{}",
            String::from_utf8_lossy(&install.stdout),
            String::from_utf8_lossy(&install.stderr)
        );
    }

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
