//! The studio console page end to end in a real browser: the real server binary with the
//! offline mock plugins of `plugins.toml`, Debian's Chromium driven by `playwright-core` with a
//! fake microphone that plays espeak-ng speech. The checks are in
//! `tests/browser/console.test.mjs`; this test prepares the speech, installs the pinned
//! playwright-core (`npm ci`, once), starts the server and runs the script. The script takes a
//! screenshot mid-conversation into the setup's temp folder; with `UPDATE_SCREENSHOT=1` it goes to
//! `docs/screenshots/studio.png` instead (so a test run does not rewrite a tracked file).

use std::process::Command;

use crate::support::browser::{CHROMIUM, browser_dir, repo_root, speech_wav, use_shipped_plugins};
use crate::support::server::ServerSetup;

#[test]
fn console_page_talks_with_the_studio_in_a_real_browser() {
    let browser_dir = browser_dir();

    // The shipped role map (mock STT/TTS/LLM, host-led policy): the offline studio a user gets.
    let setup = ServerSetup::new();
    use_shipped_plugins(setup.path());
    let wav = speech_wav(
        setup.path(),
        "Claude, what do you make of today's topic? Tell me in a few words.",
    );
    let screenshot = if std::env::var_os("UPDATE_SCREENSHOT").is_some_and(|v| v == "1") {
        repo_root()
            .join("docs")
            .join("screenshots")
            .join("studio.png")
    } else {
        setup.path().join("studio.png")
    };
    let server = setup.start();

    let run = Command::new("node")
        .arg(browser_dir.join("console.test.mjs"))
        .current_dir(&browser_dir)
        .env("STUDIO_URL", server.url())
        .env("SPEECH_WAV", &wav)
        .env("SCREENSHOT", &screenshot)
        .env("CHROMIUM", CHROMIUM)
        .env("EPISODE_ID", "console-browser")
        .output()
        .expect("run node (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("{stdout}");
    let (status, log) = server.terminate();
    assert!(
        run.status.success(),
        "browser checks failed:\n{stdout}\n{stderr}\nserver log (tail):\n{}",
        tail(&log, 60)
    );
    // Guard against a script that ran no checks (it would also exit 0).
    for check in [
        "page-connects",
        "microphone-streams",
        "picker-lists-the-fake-device",
        "headphone-mode-changes-the-constraints",
        "recording-timer-runs",
        "meter-moves-for-the-ai-that-speaks",
        "shortcuts-work-but-not-while-typing",
        "typed-line-gets-an-ai-answer",
        "end-asks-before-ending",
        "recording-downloads",
        "full-transcript-holds-every-line",
        "microphone-at-44k1-is-heard",
        "captions-keep-every-line",
    ] {
        assert!(stdout.contains(&format!("CHECK {check} PASS")), "{stdout}");
    }
    assert!(!stdout.contains(" FAIL"), "{stdout}");
    assert_eq!(status.code(), Some(0), "{log}");
}

#[test]
fn console_opens_host_and_viewer_links_and_says_when_a_link_is_missing_or_expired() {
    let browser_dir = browser_dir();
    let secret = "browser-test-token-secret-0123456789abcdef";
    let admin = "browser-test-admin-token-0123456789abcdef";
    let setup = ServerSetup::new()
        .var("STUDIO_TOKEN_SECRET", secret)
        .var("STUDIO_ADMIN_TOKEN", admin);
    use_shipped_plugins(setup.path());
    let wav = speech_wav(setup.path(), "Hello from the host.");
    let server = setup.start();

    let run = Command::new("node")
        .arg(browser_dir.join("console-links.test.mjs"))
        .current_dir(&browser_dir)
        .env("STUDIO_URL", server.url())
        .env("STUDIO_TOKEN_SECRET", secret)
        .env("STUDIO_ADMIN_TOKEN", admin)
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
        "browser checks failed:\n{stdout}\n{stderr}\nserver log (tail):\n{}",
        tail(&log, 60)
    );
    for check in [
        "host-link-joins-and-speaks",
        "viewer-link-watches-only",
        "no-token-asks-for-a-link",
        "expired-link-says-so",
    ] {
        assert!(stdout.contains(&format!("CHECK {check} PASS")), "{stdout}");
    }
    assert_eq!(status.code(), Some(0), "{log}");
}

fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[test]
fn console_files_are_served_with_their_types_and_unknown_ones_are_not() {
    let server = ServerSetup::new().start();
    // `/` with an episode (or a token) is the studio; without, the producer's home.
    for studio in ["/?episode=console-files", "/?token=x"] {
        let page = server.get(studio);
        assert_eq!(page.status, 200);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(page.body.contains("/console/console.js"), "{}", page.body);
    }
    let home = server.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("/console/producer.js"), "{}", home.body);
    assert!(!home.body.contains("/console/console.js"), "{}", home.body);
    for (path, content_type) in [
        ("/console/console.js", "text/javascript; charset=utf-8"),
        ("/console/mic-worklet.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
        ("/console/studio-page.js", "text/javascript; charset=utf-8"),
        (
            "/console/studio-voices.js",
            "text/javascript; charset=utf-8",
        ),
        ("/console/studio-mic.js", "text/javascript; charset=utf-8"),
        (
            "/console/studio-captions.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/console/studio-controls.js",
            "text/javascript; charset=utf-8",
        ),
        ("/vendor/socket.io.min.js", "text/javascript; charset=utf-8"),
        ("/console/producer.html", "text/html; charset=utf-8"),
        ("/console/producer.css", "text/css; charset=utf-8"),
        ("/console/producer.js", "text/javascript; charset=utf-8"),
        ("/console/producer-api.js", "text/javascript; charset=utf-8"),
        ("/console/view-home.js", "text/javascript; charset=utf-8"),
        (
            "/console/view-briefings.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/console/view-settings.js",
            "text/javascript; charset=utf-8",
        ),
        ("/console/view-library.js", "text/javascript; charset=utf-8"),
        ("/console/view-admin.js", "text/javascript; charset=utf-8"),
    ] {
        let file = server.get(path);
        assert_eq!(file.status, 200, "{path}");
        assert_eq!(file.header("content-type"), Some(content_type), "{path}");
        assert!(!file.body.is_empty(), "{path}");
    }
    // The pinned client keeps its license header.
    assert!(
        server
            .get("/vendor/socket.io.min.js")
            .body
            .contains("Released under the MIT License."),
    );
    assert_eq!(server.get("/console/missing.js").status, 404);
    assert_eq!(server.get("/console/..%2Fsrc%2Fmain.rs").status, 404);
}
