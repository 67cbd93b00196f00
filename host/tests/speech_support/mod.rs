//! Real speech for studio tests: espeak-ng speaks a line, sox makes it the browser's microphone
//! format (48 kHz mono s16le).

#![allow(dead_code)]

/// `text` spoken by espeak-ng, as 48 kHz mono s16le.
pub fn speech(text: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let wav = dir.path().join("say.wav");
    let raw = dir.path().join("say.raw");
    let spoke = std::process::Command::new("espeak-ng")
        .arg("-w")
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng runs");
    assert!(spoke.success(), "espeak-ng failed");
    let converted = std::process::Command::new("sox")
        .arg(&wav)
        .args(["-r", "48000", "-c", "1", "-b", "16", "-e", "signed-integer"])
        .arg(&raw)
        .status()
        .expect("sox runs");
    assert!(converted.success(), "sox failed");
    std::fs::read(raw).expect("raw speech")
}
