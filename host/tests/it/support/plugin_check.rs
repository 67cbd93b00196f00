//! `voice-studio plugin check` on the real binary, and its JSON report read.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// `voice-studio plugin check ARGS` in `dir`, its input closed.
fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_voice-studio"));
    command
        .args(["plugin", "check"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null());
    command
}

/// Runs `plugin check ARGS` in an empty folder.
pub fn run(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    command(dir.path(), args)
        .output()
        .expect("run voice-studio plugin check")
}

/// [`run`] for async tests: the runtime's threads stay free meanwhile (a fake provider the check
/// calls may be served by them).
pub async fn run_async(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    tokio::process::Command::from(command(dir.path(), args))
        .output()
        .await
        .expect("run voice-studio plugin check")
}

/// The JSON report (`--json`) on `output`'s stdout; a panic shows what came instead.
pub fn report(output: &Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The check `name` in `report`.
fn find<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
}

/// The outcome of the check `name` in `report`.
pub fn outcome<'a>(report: &'a Value, name: &str) -> &'a str {
    find(report, name)
        .and_then(|c| c["outcome"].as_str())
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

/// The detail of the check `name` in `report` (empty when it has none).
pub fn detail<'a>(report: &'a Value, name: &str) -> &'a str {
    find(report, name)
        .and_then(|c| c["detail"].as_str())
        .unwrap_or_default()
}
