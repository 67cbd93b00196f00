//! The Opus/WebM track, read back by the real ffprobe and ffmpeg.

use crate::support::recording::{
    decode, decode_with, decoded_samples, ffmpeg_decode_errors, ffprobe, probed_duration_ms,
    voice_frame,
};
use voice_studio::recording::{OpusSettings, Track};

fn write_track(path: &std::path::Path, frames: u64) {
    let mut track = Track::create(path, "you", OpusSettings::default())
        .unwrap_or_else(|e| panic!("create track: {e}"));
    for n in 0..frames {
        track
            .push_frame(n * 20, &voice_frame(n))
            .unwrap_or_else(|e| panic!("frame {n}: {e}"));
    }
    let summary = track.finish().unwrap_or_else(|e| panic!("finish: {e}"));
    assert_eq!(summary.duration_ms, frames * 20);
}

#[test]
fn a_finished_track_probes_as_webm_opus_48k_mono_with_the_written_duration() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("you.webm");
    write_track(&path, 5 * 50 + 17); // 5.34 s: the last Cluster is partial

    let probe = ffprobe(&path);
    assert_eq!(probe["format"]["format_name"], "matroska,webm");
    let stream = &probe["streams"][0];
    assert_eq!(stream["codec_name"], "opus");
    assert_eq!(stream["sample_rate"], "48000");
    assert_eq!(stream["channels"], 1);
    let duration = probed_duration_ms(&probe);
    assert!(
        (duration - 5340.0).abs() <= 20.0,
        "probed duration {duration} ms, wrote 5340 ms"
    );
}

#[test]
fn a_finished_track_decodes_completely_without_errors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("claude.webm");
    write_track(&path, 3 * 50);
    assert_eq!(ffmpeg_decode_errors(&path, &[]), "");
    // CodecDelay removes the encoder's lookahead, so the decoded audio is what was written
    // minus at most one frame.
    let samples = decoded_samples(&path);
    assert!(
        (samples as i64 - 3 * 48_000).abs() <= 960,
        "decoded {samples} samples of 144000 written"
    );
}

#[test]
fn a_finished_track_seeks_through_its_cues() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("guest.webm");
    write_track(&path, 4 * 50);
    assert_eq!(ffmpeg_decode_errors(&path, &["-ss", "2.5"]), "");
    // From 2.5 s of a 4 s track, 1.5 s remain: the seek landed where it was asked to.
    let rest = decode_with(&path, &["-ss", "2.5"]).len();
    assert!(
        (rest as i64 - 72_000).abs() <= 960,
        "decoded {rest} samples after seeking to 2.5 s of 4 s"
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read back: {e}"));
    // The Cues element id, written at the end and found through the SeekHead.
    assert!(bytes.windows(4).any(|w| w == [0x1C, 0x53, 0xBB, 0x6B]));
}

/// Root mean square of `samples[from_ms..to_ms]` at 48 kHz.
fn rms(samples: &[i16], from_ms: usize, to_ms: usize) -> f64 {
    let part = &samples[from_ms * 48..to_ms * 48];
    (part.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / part.len() as f64).sqrt()
}

#[test]
fn a_gap_is_written_as_silence_and_later_audio_sits_at_its_session_time() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("claude.webm");
    let mut track = Track::create(&path, "claude", OpusSettings::default())
        .unwrap_or_else(|e| panic!("create: {e}"));
    // Sound 0-1 s, nothing pushed 1-3 s, sound 3-4 s.
    for n in (0..50).chain(150..200) {
        track
            .push_frame(n * 20, &voice_frame(n))
            .unwrap_or_else(|e| panic!("frame {n}: {e}"));
    }
    track.finish().unwrap_or_else(|e| panic!("finish: {e}"));

    let samples = decode(&path);
    assert!(
        samples.len() >= 3990 * 48,
        "decoded {} samples",
        samples.len()
    );
    assert!(rms(&samples, 100, 900) > 2000.0, "first sound");
    assert!(rms(&samples, 1100, 2900) < 30.0, "the gap is silent");
    assert!(rms(&samples, 3100, 3900) > 2000.0, "second sound");
    // The second sound starts at 3.000 s on the session clock: CodecDelay removes the encoder's
    // 6.5 ms lookahead, so a wrong pre-skip would show here.
    let onset = samples[2900 * 48..]
        .iter()
        .position(|s| s.unsigned_abs() > 1000)
        .map(|i| (2900 * 48 + i) as f64 / 48.0)
        .unwrap_or_else(|| panic!("no second sound"));
    assert!(
        (onset - 3000.0).abs() <= 2.0,
        "second sound starts at {onset} ms"
    );
}

#[test]
fn a_track_cut_off_before_its_first_second_still_opens() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("you.webm");
    let mut track = Track::create(&path, "you", OpusSettings::default())
        .unwrap_or_else(|e| panic!("create: {e}"));
    for n in 0..10 {
        track
            .push_frame(n * 20, &voice_frame(n))
            .unwrap_or_else(|e| panic!("frame {n}: {e}"));
    }
    // Dropped without `finish`: on disk exactly what a crash at this moment leaves.
    drop(track);
    let probe = ffprobe(&path);
    assert_eq!(probe["streams"][0]["codec_name"], "opus");
    assert_eq!(ffmpeg_decode_errors(&path, &[]), "");
}
