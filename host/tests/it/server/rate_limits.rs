//! Per-client limits end to end: the real server binary, driven by the official
//! `socket.io-client` (Node) from several loopback addresses (`tests/e2e/limits.test.mjs`): a
//! hello storm and a control-event burst are cut to their token buckets with at most one
//! `rate-limited` error a second, a fifth studio from one address is refused while joining a
//! running one works, and audio sent at ten times real time reaches the studio at
//! `MIC_REALTIME_FACTOR` (read back from the studio's own audio counters in the server log).

use std::process::Command;

use crate::support::server::ServerSetup;
use crate::support::server::node::{e2e_dir, install_client};

/// Bytes of one 20 ms chunk of 48 kHz mono s16le, what the scenarios send.
const FRAME_BYTES: u64 = 1920;

/// The `audio_bytes` the studio of `episode` counted, from its "studio ended" log line.
fn studio_audio_bytes(log: &str, episode: &str) -> u64 {
    let field = format!("episode={episode} ");
    let line = log
        .lines()
        .find(|l| l.contains("studio ended") && l.contains(&field))
        .unwrap_or_else(|| panic!("no `studio ended` line for {episode} in the log:\n{log}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("audio_bytes="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no audio_bytes in: {line}"))
}

#[test]
fn each_client_is_held_to_its_event_rates_studio_quota_and_real_time_audio() {
    let dir = e2e_dir();
    install_client(&dir);
    let setup = ServerSetup::new()
        .var("MAX_STUDIOS_PER_IP", "4")
        .var("RUST_LOG", "info,voice_studio=info");
    let report = setup.path().join("limits-report.json");
    let server = setup.start();
    let run = Command::new("node")
        .arg("--test")
        .arg(dir.join("limits.test.mjs"))
        .env("STUDIO_URL", server.url())
        .env("STUDIO_LIMITS_REPORT", &report)
        .output()
        .expect("run node --test (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let report = std::fs::read_to_string(&report);
    let (status, log) = server.terminate();
    assert!(
        run.status.success(),
        "limit scenarios failed:\n{stdout}\n{stderr}\nserver log:\n{log}"
    );
    assert!(stdout.contains("# pass 5"), "{stdout}");
    assert!(stdout.contains("# fail 0"), "{stdout}");
    assert_eq!(status.code(), Some(0), "{log}");

    let report: serde_json::Value =
        serde_json::from_str(&report.expect("the scenarios wrote their report")).expect("json");
    let episode = |part: &str| {
        report[part]["episodeId"]
            .as_str()
            .expect("episodeId")
            .to_owned()
    };
    let sent = |part: &str| report[part]["sentChunks"].as_u64().expect("sentChunks");

    // Real time: every chunk reached the studio.
    let realtime = studio_audio_bytes(&log, &episode("realtime"));
    assert_eq!(realtime, sent("realtime") * FRAME_BYTES);

    // Ten times real time: the 2 s burst plus 1.25 x the wall time the server saw, which is at
    // most what the client measured from its first chunk to the answer after its last.
    let fast_seconds =
        studio_audio_bytes(&log, &episode("fast")) as f64 / (FRAME_BYTES as f64 * 50.0);
    let elapsed = report["fast"]["elapsedMs"].as_f64().expect("elapsedMs") / 1000.0;
    let sent_seconds = sent("fast") as f64 / 50.0;
    assert_eq!(sent_seconds, 20.0);
    let allowed = 2.0 + 1.25 * elapsed + 0.02;
    assert!(
        fast_seconds <= allowed,
        "the studio got {fast_seconds} s of audio in {elapsed} s; at most {allowed} s may pass"
    );
    assert!(
        fast_seconds >= 1.0,
        "the burst allowance passed: {fast_seconds} s"
    );

    // Every refusal left a line naming the client's rule, not one per dropped event.
    for line in [
        "events over the rate dropped",
        "microphone audio too fast",
        "MIC_REALTIME_FACTOR",
    ] {
        assert!(log.contains(line), "no `{line}` in the log:\n{log}");
    }
    let rate_lines = log.matches("events over the rate dropped").count();
    assert!(rate_lines <= 10, "{rate_lines} rate-limit log lines");
}
