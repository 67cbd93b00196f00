//! Stems benchmark: how many seconds of recorded audio a stems job turns into WAV stems and a
//! mix per second of wall time (WebM demux, libopus decode onto the timeline, WAV writing, the
//! two-pass mix).
//!
//! Run: `cargo bench -p voice-studio --bench stems` (`STEMS_BENCH_MINUTES`, default 10: the
//! session's length). The session is recorded first by the real recorder: the three speakers take
//! turns of 10 s of espeak-ng speech (a voice-like tone without espeak-ng/sox), the others silent.

use std::time::Instant;

use studio_test_kit::speech::{Speech, samples_of};
use voice_studio::recording::stems::{StemLimits, make_stems};
use voice_studio::recording::{FRAME_SAMPLES, Recorder, RecorderConfig};
use voice_studio::speakers::Speaker;

fn main() {
    let minutes: u64 = std::env::var("STEMS_BENCH_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(10);
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("no temp dir: {error}");
            std::process::exit(1);
        }
    };
    let (pcm, source) = Speech::new(
        "The studio records every voice on its own track, and the stems put them side by side.",
    )
    .pcm_or_tone(5.0);
    let speech = samples_of(&pcm);
    let frames = minutes * 60 * 50;
    let recording = Instant::now();
    let mut recorder = match Recorder::create(RecorderConfig::new(dir.path(), "ep-bench", "s")) {
        Ok(recorder) => recorder,
        Err(error) => {
            eprintln!("recorder: {error}");
            std::process::exit(1);
        }
    };
    for n in 0..frames {
        // Turns of 10 s (500 frames): you, claude, guest, you, ...
        let speaker = Speaker::ALL[(n / 500 % 3) as usize];
        let at = (n as usize * FRAME_SAMPLES) % (speech.len() - FRAME_SAMPLES);
        let frame = &speech[at..at + FRAME_SAMPLES];
        let pushed = recorder
            .push_frame(speaker, n * 20, frame)
            .and_then(|()| recorder.advance_to((n + 1) * 20));
        if let Err(error) = pushed {
            eprintln!("frame {n}: {error}");
            std::process::exit(1);
        }
    }
    let folder = match recorder.finish(frames * 20) {
        Ok(summary) => summary.folder,
        Err(error) => {
            eprintln!("finish: {error}");
            std::process::exit(1);
        }
    };
    let recorded_in = recording.elapsed();
    let started = Instant::now();
    let stems = match make_stems(&folder, &StemLimits::default()) {
        Ok(stems) => stems,
        Err(error) => {
            eprintln!("stems: {error}");
            std::process::exit(1);
        }
    };
    let took = started.elapsed().as_secs_f64();
    let session_s = (frames * 20) as f64 / 1000.0;
    let bytes: u64 = stems.files.iter().map(|f| f.bytes).sum();
    println!("speech source: {source}; session recorded in {recorded_in:.1?}");
    println!();
    println!(
        "| session | tracks decoded | stems job | audio s decoded per s | session s per s | bytes written |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {session_s:.0} s | 3 x {session_s:.0} s | {took:.2} s | {:.0} | {:.0} | {bytes} |",
        3.0 * session_s / took,
        session_s / took,
    );
}
