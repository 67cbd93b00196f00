//! `voice-studio plugin check` on the real binary: the first-party plugins of every role pass
//! their contract, and broken ones (a trap, a spin, a hog, the wrong role, a file that is no
//! component) are reported as failures with exit status 1; bad usage exits 2.

use std::path::Path;

use serde_json::Value;

use crate::support::plugin_check::{detail, outcome, report, run as check};

fn built(name: &str) -> String {
    Path::new(voice_studio::plugins::BUILT_PLUGIN_DIR)
        .join(format!("{name}.wasm"))
        .display()
        .to_string()
}

/// The JSON report of `plugin check --json FILE args`, with its exit code.
fn run_report(name: &str, args: &[&str]) -> (i32, Value) {
    let file = built(name);
    let mut all = vec![file.as_str(), "--json"];
    all.extend_from_slice(args);
    let output = check(&all);
    (output.status.code().expect("exit code"), report(&output))
}

#[test]
fn the_first_party_plugins_of_every_role_pass_their_contract() {
    for (name, role, streaming, cancellation) in [
        ("mock-stt", "stt", "stt streaming", "stt cancellation"),
        ("mock-tts", "tts", "tts streaming", "tts cancellation"),
        ("mock-llm", "llm", "llm streaming", "llm cancellation"),
        (
            "round-robin",
            "policy",
            "policy decisions",
            "policy cancellation",
        ),
    ] {
        let (code, report) = run_report(name, &["--role", role]);
        assert_eq!(code, 0, "{name}: {report:#}");
        assert_eq!(report["plugin"]["name"], name);
        for check in ["load", "describe", "contract", streaming] {
            assert_eq!(
                outcome(&report, check),
                "pass",
                "{name} {check}: {report:#}"
            );
        }
        let expected = if role == "policy" { "skipped" } else { "pass" };
        assert_eq!(
            outcome(&report, cancellation),
            expected,
            "{name}: {report:#}"
        );
        // Nothing failed, so error mapping had nothing to judge; the limits were measured.
        assert_eq!(outcome(&report, "error mapping"), "skipped", "{name}");
        let limits = report["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == "limits"))
            .expect("limits");
        assert_eq!(limits["outcome"], "pass", "{name}: {limits:#}");
        let figure = |n: &str| {
            limits["figures"]
                .as_array()
                .and_then(|f| f.iter().find(|f| f["name"] == n))
                .and_then(|f| f["value"].as_f64())
                .unwrap_or_else(|| panic!("{name}: no figure {n} in {limits:#}"))
        };
        assert!(figure("memory_peak_mib") > 0.0, "{name}: {limits:#}");
        assert_eq!(figure("memory_limit_mib"), 64.0);
    }
}

#[test]
fn the_text_report_has_a_line_per_check_and_a_summary() {
    let output = check(&[&built("mock-tts")]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.starts_with(&format!("{}: mock-tts ", built("mock-tts"))),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("pass")
            && l.contains("tts streaming")
            && l.contains("Hz")),
        "{text}"
    );
    assert!(
        text.lines().last().is_some_and(|l| l.contains("0 failed")),
        "{text}"
    );
}

#[test]
fn a_plugin_that_traps_fails_streaming_and_error_mapping() {
    let (code, report) = run_report("fault-injector", &["--model", "trap"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(outcome(&report, "llm streaming"), "fail");
    assert_eq!(outcome(&report, "error mapping"), "fail");
    assert!(
        detail(&report, "error mapping").contains("trapped instead of returning a plugin-error")
    );
    // The backtrace stays out of the report.
    assert!(!detail(&report, "llm streaming").contains('\n'));
}

#[test]
fn a_plugin_over_its_cpu_or_memory_limit_fails_the_limits_check() {
    let (code, report) = run_report(
        "fault-injector",
        &["--model", "spin", "--cpu-limit-ms", "100"],
    );
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(outcome(&report, "limits"), "fail");
    assert!(
        detail(&report, "limits").contains("cpu_limit_ms = 100"),
        "{report:#}"
    );

    let (code, report) = run_report(
        "fault-injector",
        &["--model", "hog", "--memory-limit-mb", "16"],
    );
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(outcome(&report, "limits"), "fail");
    assert!(
        detail(&report, "limits").contains("memory limit of 16 MiB"),
        "{report:#}"
    );
}

#[test]
fn a_provider_on_a_closed_port_shows_its_error_mapped_and_streaming_skipped() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let model = format!("http:http://127.0.0.1:{port}/");
    let (code, report) = run_report(
        "fault-injector",
        &["--model", &model, "--allow-host", "http://127.0.0.1:*"],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(outcome(&report, "llm streaming"), "skipped");
    assert_eq!(outcome(&report, "error mapping"), "pass");
    assert!(
        detail(&report, "error mapping").contains("unavailable"),
        "{report:#}"
    );
}

#[test]
fn the_wrong_role_fails_describe_and_runs_no_calls() {
    let (code, report) = run_report("mock-stt", &["--role", "tts"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(outcome(&report, "describe"), "fail");
    assert!(detail(&report, "describe").contains("not the tts plugin"));
    assert_eq!(outcome(&report, "streaming"), "skipped");
}

#[test]
fn grants_narrower_than_the_declaration_warn() {
    let (code, report) = run_report("fault-injector", &["--grant", "log", "--grant", "config"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(outcome(&report, "capabilities"), "warn");
    assert!(
        detail(&report, "capabilities").contains("leaves out http, websocket, process"),
        "{report:#}"
    );
}

#[test]
fn a_file_that_is_no_component_fails_and_bad_usage_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").expect("write");
    let output = check(&[&junk.display().to_string()]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("FAIL") && l.contains("load")),
        "{text}"
    );

    let missing = check(&[&dir.path().join("none.wasm").display().to_string()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("none.wasm"));
    let bad = check(&[&built("mock-tts"), "--config", "no-equals-sign"]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = check(&[&built("mock-tts"), "--role", "painter"]);
    assert_eq!(bad.status.code(), Some(2));
}
