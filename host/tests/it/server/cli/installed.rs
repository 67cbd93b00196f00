//! The binary away from its checkout: copied to a folder outside the target folder and started
//! from an empty working folder (no plugins.toml, no briefings, no plugin folder), it serves with
//! the plugins built into it and its built-in plugins.toml, and `check` and `plugins` agree.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{run_with, text};
use crate::support::server::http;

/// The test binary's copy (a hard link when the filesystem allows: same bytes, another path).
fn copy_binary(dir: &Path) -> PathBuf {
    let program = dir.join("voice-studio");
    let built = Path::new(env!("CARGO_BIN_EXE_voice-studio"));
    if std::fs::hard_link(built, &program).is_err() {
        std::fs::copy(built, &program).expect("copy the binary");
    }
    program
}

#[test]
fn a_copied_binary_serves_from_an_empty_folder_with_its_built_in_plugins() {
    let root = tempfile::tempdir().expect("tempdir");
    let bin = root.path().join("bin");
    let work = root.path().join("work");
    let home = root.path().join("home");
    for dir in [&bin, &work, &home] {
        std::fs::create_dir(dir).expect("folder");
    }
    let program = copy_binary(&bin);
    let env: Vec<(String, String)> = [
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("HOME", home.display().to_string()),
        ("RUST_LOG", "info".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    let plugins = run_with(&program, &work, &env, &["plugins", "--json"]);
    assert_eq!(plugins.status.code(), Some(0), "{}", text(&plugins.stderr));
    let report: serde_json::Value = serde_json::from_slice(&plugins.stdout).expect("JSON");
    assert_eq!(report["builtInManifest"], true, "{report:#}");
    let embedded: Vec<&serde_json::Value> = report["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .filter(|p| p["source"] == "embedded" && p["error"].is_null())
        .collect();
    assert!(embedded.len() >= 5, "{report:#}");
    assert!(embedded.iter().any(|p| p["name"] == "mock-stt"));

    let check = run_with(&program, &work, &env, &["check"]);
    let report = text(&check.stdout);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{report}{}",
        text(&check.stderr)
    );
    assert!(report.contains("(built-in) plugins.toml"), "{report}");
    assert!(
        report.contains(&home.join(".cache").display().to_string()),
        "the compile cache goes to the user's cache folder: {report}"
    );

    // Serve: /ready answers, the banner says what is built in, SIGTERM stops it cleanly.
    let mut child = Command::new(&program)
        .current_dir(&work)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the copy");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut banner = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("Health check:") {
                let _ = tx.send(banner.clone());
            }
        }
    });
    let mut stderr = child.stderr.take().expect("stderr");
    let log = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all);
        all
    });
    // A guard against a hung start; never a timing assertion.
    let banner = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(banner) => banner,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the copy did not start: {}", log.join().unwrap_or_default());
        }
    };
    assert!(banner.contains("built-in plugins.toml"), "{banner}");
    assert!(banner.contains("built into this program"), "{banner}");
    assert!(banner.contains("example briefing"), "{banner}");
    let address = banner
        .lines()
        .find_map(|l| l.strip_prefix("Listening on:"))
        .and_then(|rest| rest.trim().strip_prefix("http://"))
        .and_then(|addr| addr.parse().ok())
        .expect("the address");
    let ready = http(address, "GET", "/ready", &[], None);
    assert_eq!(ready.status, 200, "{}", ready.body);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    let log = log.join().unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("using the built-in plugins.toml"), "{log}");
    assert!(
        !work.join("plugins.toml").exists(),
        "nothing is written unasked"
    );
}
