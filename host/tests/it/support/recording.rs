//! What the recording tests share: real ffprobe/ffmpeg runs and test signals.

use std::path::Path;
use std::process::Command;

use voice_studio::recording::FRAME_SAMPLES;

/// Runs `ffprobe` on `path` and returns its JSON; fails the test (never skips) if ffprobe is missing.
pub fn ffprobe(path: &Path) -> serde_json::Value {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("ffprobe could not run ({e}); install ffmpeg (apt-get install ffmpeg)")
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "ffprobe {} failed: {stderr}",
        path.display()
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("ffprobe printed no JSON for {}: {e}", path.display()))
}

/// The container duration ffprobe reports, in ms.
pub fn probed_duration_ms(probe: &serde_json::Value) -> f64 {
    let text = probe["format"]["duration"]
        .as_str()
        .unwrap_or_else(|| panic!("ffprobe reported no duration: {probe}"));
    text.parse::<f64>()
        .unwrap_or_else(|e| panic!("duration {text:?} is no number: {e}"))
        * 1000.0
}

/// Decodes `path` completely with ffmpeg (extra input options first) and returns what it
/// printed at level error: empty means a clean decode.
pub fn ffmpeg_decode_errors(path: &Path, input_options: &[&str]) -> String {
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error"])
        .args(input_options)
        .arg("-i")
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap_or_else(|e| {
            panic!("ffmpeg could not run ({e}); install ffmpeg (apt-get install ffmpeg)")
        });
    let mut errors = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        errors.push_str(&format!("ffmpeg exited with {}", output.status));
    }
    errors
}

/// Samples ffmpeg decodes from `path` (48 kHz mono s16), counted from its raw output.
pub fn decoded_samples(path: &Path) -> usize {
    decode(path).len()
}

/// The audio ffmpeg decodes from `path`, as 48 kHz mono s16 samples.
pub fn decode(path: &Path) -> Vec<i16> {
    decode_with(path, &[])
}

/// The audio ffmpeg decodes from `path` with extra input options (e.g. `-ss 2.5`).
pub fn decode_with(path: &Path, input_options: &[&str]) -> Vec<i16> {
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error"])
        .args(input_options)
        .arg("-i")
        .arg(path)
        .args(["-f", "s16le", "-ac", "1", "-ar", "48000", "-"])
        .output()
        .unwrap_or_else(|e| {
            panic!("ffmpeg could not run ({e}); install ffmpeg (apt-get install ffmpeg)")
        });
    assert!(
        output.status.success(),
        "ffmpeg decode of {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// A voice-like test frame: a 180 Hz tone with harmonics, loudness moving with the frame number.
pub fn voice_frame(frame_index: u64) -> [i16; FRAME_SAMPLES] {
    let mut frame = [0i16; FRAME_SAMPLES];
    let envelope = 0.3 + 0.7 * ((frame_index as f64) * 0.37).sin().abs();
    for (i, sample) in frame.iter_mut().enumerate() {
        let t = (frame_index as f64 * FRAME_SAMPLES as f64 + i as f64) / 48_000.0;
        let phase = std::f64::consts::TAU * 180.0 * t;
        let value = 0.5 * phase.sin() + 0.25 * (2.0 * phase).sin() + 0.12 * (3.0 * phase).sin();
        *sample = (value * envelope * 12_000.0) as i16;
    }
    frame
}
