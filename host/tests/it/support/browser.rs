//! What the real-browser tests share: Debian's Chromium, the pinned `playwright-core` of
//! `tests/browser` (installed from its lock file once), the studio's shipped `plugins.toml`, and
//! espeak-ng speech for Chromium's fake microphone.

use std::path::{Path, PathBuf};
use std::process::Command;

use studio_test_kit::speech::Speech;

/// The browser the tests drive: Debian's package (`apt-get install chromium`), never a download.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// This checkout's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tests/browser`, ready to run: Chromium is there (else the test fails saying how to get it)
/// and the pinned playwright-core is installed.
pub fn browser_dir() -> PathBuf {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: apt-get install -y chromium"
    );
    let dir = repo_root().join("tests").join("browser");
    if !dir.join("node_modules").join("playwright-core").is_dir() {
        let install = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
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
    dir
}

/// Copies the repository's `plugins.toml` (the offline mock plugins) into a server's folder.
pub fn use_shipped_plugins(folder: &Path) {
    let manifest = std::fs::read_to_string(repo_root().join("plugins.toml")).expect("plugins.toml");
    std::fs::write(folder.join("plugins.toml"), manifest).expect("write plugins.toml");
}

/// Speaks `text` with espeak-ng into `dir/speech.wav` (48 kHz mono), with silence after it so
/// the fake microphone (which loops the file) leaves a pause the recogniser hears as the end of
/// a turn.
pub fn speech_wav(dir: &Path, text: &str) -> PathBuf {
    let wav = dir.join("speech.wav");
    Speech::new(text)
        .words_per_minute(150)
        .pad(0.3, 2.5)
        .wav(&wav)
        .unwrap_or_else(|error| panic!("speech for the fake microphone: {error}"));
    wav
}
