//! The producer's pages end to end in a real browser: the real server binary in token mode with
//! the offline mock plugins of `plugins.toml` and the repository's example briefing, Debian's
//! Chromium driven by `playwright-core` with a fake microphone. The checks are in
//! `tests/browser/producer.test.mjs`: signing in, editing a briefing (the file changes), setting
//! a key (never shown back), starting an episode from the briefing on the home view, the admin
//! view listing that live studio, and the library playing its track, showing its transcript and
//! making its stems.
//! Screenshots of each view go to the setup's temp folder, or with `UPDATE_SCREENSHOT=1` to
//! `docs/screenshots/` (so a test run does not rewrite tracked files).

use std::process::Command;

use crate::support::browser::{CHROMIUM, browser_dir, repo_root, speech_wav, use_shipped_plugins};
use crate::support::server::ServerSetup;

const SECRET: &str = "producer-browser-token-secret-0123456789abcdef";
const ADMIN: &str = "producer-browser-admin-token-0123456789abcdef";

#[test]
fn producer_pages_run_a_show_in_a_real_browser() {
    let browser_dir = browser_dir();

    let setup = ServerSetup::new()
        .var("STUDIO_TOKEN_SECRET", SECRET)
        .var("STUDIO_ADMIN_TOKEN", ADMIN)
        // The studio ends soon after its page is left, so the library shows it ended.
        .var("STUDIO_GRACE_SECONDS", "1");
    use_shipped_plugins(setup.path());
    let briefings = setup.path().join("briefings");
    std::fs::create_dir_all(&briefings).expect("briefings folder");
    std::fs::copy(
        repo_root()
            .join("briefings")
            .join("cars-in-city-centres.md"),
        briefings.join("cars-in-city-centres.md"),
    )
    .expect("copy the example briefing");
    let setup = setup.var("BRIEFINGS_DIR", briefings.display().to_string());
    let wav = speech_wav(
        setup.path(),
        "Claude, should cities ban cars from their centres? Tell me in a few words.",
    );
    let shots = if std::env::var_os("UPDATE_SCREENSHOT").is_some_and(|v| v == "1") {
        repo_root().join("docs").join("screenshots")
    } else {
        setup.path().to_path_buf()
    };
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let server = setup.start();

    let run = Command::new("node")
        .arg(browser_dir.join("producer.test.mjs"))
        .current_dir(&browser_dir)
        .env("STUDIO_URL", server.url())
        .env("STUDIO_ADMIN_TOKEN", ADMIN)
        .env("BRIEFINGS_DIR", &briefings)
        .env("SPEECH_WAV", &wav)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .expect("run node (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("{stdout}");
    let (status, log) = server.terminate();
    let tail: Vec<&str> = log.lines().rev().take(60).collect();
    assert!(
        run.status.success(),
        "browser checks failed:\n{stdout}\n{stderr}\nserver log (tail):\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    for check in [
        "sign-in-asks-and-keeps-the-token-in-the-tab",
        "briefing-edit-changes-the-file",
        "briefing-refusal-is-said-in-words",
        "key-is-set-and-not-shown-back",
        "home-starts-an-episode-from-a-briefing",
        "admin-lists-the-live-studio",
        "library-plays-a-track-and-shows-the-transcript",
        "library-makes-stems",
    ] {
        assert!(stdout.contains(&format!("CHECK {check} PASS")), "{stdout}");
    }
    assert!(!log.contains(ADMIN), "the admin token reached the log");
    assert_eq!(status.code(), Some(0), "{log}");
}

#[test]
fn on_an_open_loopback_server_the_producer_pages_need_no_token() {
    let browser_dir = browser_dir();
    let setup = ServerSetup::new();
    use_shipped_plugins(setup.path());
    let wav = speech_wav(setup.path(), "Hello from the host.");
    let server = setup.start();
    let run = Command::new("node")
        .arg(browser_dir.join("producer-open.test.mjs"))
        .current_dir(&browser_dir)
        .env("STUDIO_URL", server.url())
        .env("SPEECH_WAV", &wav)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .expect("run node (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("{stdout}");
    let (status, log) = server.terminate();
    assert!(
        run.status.success(),
        "browser checks failed:\n{stdout}\n{stderr}\nserver log:\n{log}"
    );
    for check in [
        "open-home-needs-no-token",
        "open-start-by-keyboard-joins-the-studio",
        "open-admin-lists-the-studio",
    ] {
        assert!(stdout.contains(&format!("CHECK {check} PASS")), "{stdout}");
    }
    assert_eq!(status.code(), Some(0), "{log}");
}
