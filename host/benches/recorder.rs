//! Recorder benchmark: CPU per 20 ms frame for Opus encode + WebM mux, and bytes per minute.
//!
//! Run: `cargo bench -p voice-studio --bench recorder`. Speech is real synthesized speech
//! (espeak-ng, resampled to 48 kHz by sox) when those tools are installed, else a voice-like tone.

use std::path::Path;
use std::time::Instant;

use studio_test_kit::speech::{Source, Speech, samples_of};
use voice_studio::recording::{
    Event, FRAME_SAMPLES, OpusApplication, OpusSettings, Recorder, RecorderConfig, Track,
};
use voice_studio::speakers::Speaker;

/// One minute of 20 ms frames.
const FRAMES_PER_MINUTE: usize = 3000;

fn main() {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("no temp dir: {error}");
            std::process::exit(1);
        }
    };
    let (speech, source) = speech_minute();
    let silence = vec![0i16; FRAME_SAMPLES * FRAMES_PER_MINUTE];
    println!("speech source: {source}");
    println!();
    println!(
        "| scenario (one minute, 3000 frames) | p50 us/frame | p99 us/frame | mean us/frame | bytes/minute |"
    );
    println!("|---|---:|---:|---:|---:|");
    let default = OpusSettings::default();
    let with = |application, bitrate_bps, complexity| OpusSettings {
        application,
        bitrate_bps,
        complexity,
    };
    use OpusApplication::{Audio, LowDelay, Voip};
    for (index, (name, samples, settings)) in [
        (
            "speech, 40 kbps AUDIO, complexity 1 (default)",
            &speech,
            default,
        ),
        (
            "speech, 40 kbps AUDIO, complexity 3",
            &speech,
            with(Audio, 40_000, 3),
        ),
        (
            "speech, 40 kbps AUDIO, complexity 5",
            &speech,
            with(Audio, 40_000, 5),
        ),
        (
            "speech, 48 kbps AUDIO, complexity 3",
            &speech,
            with(Audio, 48_000, 3),
        ),
        (
            "speech, 40 kbps LOWDELAY, complexity 3",
            &speech,
            with(LowDelay, 40_000, 3),
        ),
        (
            "speech, 32 kbps VOIP, complexity 5 (SILK)",
            &speech,
            with(Voip, 32_000, 5),
        ),
        (
            "speech, 32 kbps VOIP, complexity 10 (SILK)",
            &speech,
            with(Voip, 32_000, 10),
        ),
        ("silence (gap fill), default settings", &silence, default),
        (
            "silence (gap fill), 32 kbps VOIP",
            &silence,
            with(Voip, 32_000, 5),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.path().join(format!("track-{index}.webm"));
        let row = track_minute(&path, samples, settings);
        print_row(name, &row);
    }
    let row = session_minute(dir.path(), &speech);
    print_row("session frame: you speaking + 2 silent AI tracks", &row);
    println!();
    println!("| per call (3000 calls) | p50 us | p99 us | mean us | bytes/call |");
    println!("|---|---:|---:|---:|---:|");
    let (events, captions) = text_writes(dir.path());
    print_row("events.jsonl: one llm.chunk line", &events);
    print_row("you.vtt: one caption cue", &captions);
    println!();
    complexity_against_quality(&speech);
}

/// What libopus's complexity buys at the default bitrate: encode time per frame, and the
/// pre-echo before sharp attacks (the artefact its transient analysis exists to prevent).
/// Pre-echo: the error energy in the 10 ms before each noise burst of a click track, relative
/// to the bursts' own energy (lower is better).
fn complexity_against_quality(speech: &[i16]) {
    let clicks = click_track();
    println!("| 40 kbps AUDIO | speech encode p50 us/frame | pre-echo before attacks |");
    println!("|---|---:|---:|");
    for complexity in [0, 1, 2, 3, 5] {
        let encoder = opus_encoder(complexity);
        let mut times = Vec::with_capacity(FRAMES_PER_MINUTE);
        let mut packet = [0u8; 1500];
        for frame in speech.chunks_exact(FRAME_SAMPLES) {
            let start = Instant::now();
            encoder
                .encode(frame, &mut packet)
                .unwrap_or_else(|e| fail(e));
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
        times.sort_by(f64::total_cmp);
        let pre_echo = pre_echo_db(&clicks, complexity);
        let default = if OpusSettings::default().complexity == complexity {
            " (default)"
        } else {
            ""
        };
        println!(
            "| complexity {complexity}{default} | {:.1} | {pre_echo:.1} dB |",
            times[times.len() / 2]
        );
    }
}

fn opus_encoder(complexity: u8) -> audiopus::coder::Encoder {
    OpusSettings {
        complexity,
        ..OpusSettings::default()
    }
    .encoder()
    .unwrap_or_else(|e| fail(e))
}

/// Ten seconds of a quiet 200 Hz tone with a sharp noise burst (4 ms decay) every 250 ms, at
/// offsets that move within the 20 ms frame; returns the samples and the bursts' onsets.
fn click_track() -> (Vec<i16>, Vec<usize>) {
    let mut noise = 0x2545_f491u32;
    let mut white = move || {
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        noise as f32 / u32::MAX as f32 * 2.0 - 1.0
    };
    let mut signal: Vec<f32> = (0..480_000)
        .map(|n| 0.02 * (2.0 * std::f32::consts::PI * 200.0 * n as f32 / 48_000.0).sin())
        .collect();
    let onsets: Vec<usize> = (0..38)
        .map(|k| 9_600 + k * 12_000 + (k * 131) % 960)
        .collect();
    for &onset in &onsets {
        for (i, sample) in signal[onset..onset + 1_440].iter_mut().enumerate() {
            *sample += 0.6 * white() * (-(i as f32) / 192.0).exp();
        }
    }
    let samples = signal
        .iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16)
        .collect();
    (samples, onsets)
}

fn pre_echo_db((clicks, onsets): &(Vec<i16>, Vec<usize>), complexity: u8) -> f64 {
    let encoder = opus_encoder(complexity);
    let mut decoder =
        audiopus::coder::Decoder::new(audiopus::SampleRate::Hz48000, audiopus::Channels::Mono)
            .unwrap_or_else(|e| fail(e));
    let lookahead = usize::try_from(encoder.lookahead().unwrap_or_else(|e| fail(e)))
        .unwrap_or_else(|e| fail(e));
    let mut decoded = Vec::with_capacity(clicks.len());
    let mut packet = [0u8; 1500];
    let mut pcm = [0i16; FRAME_SAMPLES];
    for frame in clicks.chunks_exact(FRAME_SAMPLES) {
        let len = encoder
            .encode(frame, &mut packet)
            .unwrap_or_else(|e| fail(e));
        let packet = audiopus::packet::Packet::try_from(&packet[..len]).unwrap_or_else(|e| fail(e));
        let output = audiopus::MutSignals::try_from(&mut pcm[..]).unwrap_or_else(|e| fail(e));
        let n = decoder
            .decode(Some(packet), output, false)
            .unwrap_or_else(|e| fail(e));
        decoded.extend_from_slice(&pcm[..n]);
    }
    let decoded = &decoded[lookahead..];
    let (mut error, mut burst) = (0.0f64, 0.0f64);
    for &onset in onsets {
        for i in onset - 480..onset - 48 {
            let diff = f64::from(decoded[i]) - f64::from(clicks[i]);
            error += diff * diff;
        }
        for &s in &clicks[onset..onset + 480] {
            burst += f64::from(s) * f64::from(s);
        }
    }
    10.0 * (error / burst).log10()
}

/// Cost of the per-event writes: one line to events.jsonl, one cue to a .vtt.
fn text_writes(dir: &Path) -> (Row, Row) {
    let mut recorder = Recorder::create(RecorderConfig::new(dir, "bench-text", "bench"))
        .unwrap_or_else(|e| fail(e));
    let event = Event::LlmChunk {
        speaker: Speaker::Claude,
        text: "and that is why the studio".to_owned(),
    };
    let mut event_micros = Vec::with_capacity(FRAMES_PER_MINUTE);
    let mut caption_micros = Vec::with_capacity(FRAMES_PER_MINUTE);
    for n in 0..FRAMES_PER_MINUTE as u64 {
        let start = Instant::now();
        recorder.event(n * 20, &event).unwrap_or_else(|e| fail(e));
        event_micros.push(start.elapsed().as_secs_f64() * 1e6);
        let start = Instant::now();
        recorder
            .caption(
                Speaker::You,
                n * 20,
                n * 20 + 900,
                "Claude, what do you make of it?",
            )
            .unwrap_or_else(|e| fail(e));
        caption_micros.push(start.elapsed().as_secs_f64() * 1e6);
    }
    let summary = recorder.finish(60_000).unwrap_or_else(|e| fail(e));
    let size = |name: &str| {
        summary
            .files
            .iter()
            .find(|f| f.name == name)
            .map_or(0, |f| f.bytes)
            / FRAMES_PER_MINUTE as u64
    };
    (
        Row {
            micros: event_micros,
            bytes: size("events.jsonl"),
        },
        Row {
            micros: caption_micros,
            bytes: size("you.vtt"),
        },
    )
}

struct Row {
    micros: Vec<f64>,
    bytes: u64,
}

fn print_row(name: &str, row: &Row) {
    let mut sorted = row.micros.clone();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
    println!(
        "| {name} | {:.1} | {:.1} | {:.1} | {} |",
        at(0.5),
        at(0.99),
        mean,
        row.bytes
    );
}

/// Encodes and muxes one minute into one track, timing each frame (Cluster flushes included).
fn track_minute(path: &Path, samples: &[i16], settings: OpusSettings) -> Row {
    let mut track = Track::create(path, "bench", settings).unwrap_or_else(|e| fail(e));
    let mut micros = Vec::with_capacity(FRAMES_PER_MINUTE);
    for (n, frame) in samples.chunks_exact(FRAME_SAMPLES).enumerate() {
        let start = Instant::now();
        track
            .push_frame(n as u64 * 20, frame)
            .unwrap_or_else(|e| fail(e));
        micros.push(start.elapsed().as_secs_f64() * 1e6);
    }
    let summary = track.finish().unwrap_or_else(|e| fail(e));
    Row {
        micros,
        bytes: summary.bytes,
    }
}

/// A live session's recorder per 20 ms: the human's frame plus both AI tracks kept aligned.
fn session_minute(dir: &Path, speech: &[i16]) -> Row {
    let mut recorder = Recorder::create(RecorderConfig::new(dir, "bench-session", "bench"))
        .unwrap_or_else(|e| fail(e));
    let mut micros = Vec::with_capacity(FRAMES_PER_MINUTE);
    for (n, frame) in speech.chunks_exact(FRAME_SAMPLES).enumerate() {
        let at = n as u64 * 20;
        let start = Instant::now();
        recorder
            .push_frame(Speaker::You, at, frame)
            .unwrap_or_else(|e| fail(e));
        recorder.advance_to(at + 20).unwrap_or_else(|e| fail(e));
        micros.push(start.elapsed().as_secs_f64() * 1e6);
    }
    let summary = recorder.finish(60_000).unwrap_or_else(|e| fail(e));
    let bytes = summary
        .files
        .iter()
        .filter(|f| f.name.ends_with(".webm"))
        .map(|f| f.bytes)
        .sum();
    Row { micros, bytes }
}

/// One minute of speech: espeak-ng + sox (the test kit's speech) if installed, else its
/// voice-like tone; looped to a minute.
fn speech_minute() -> (Vec<i16>, Source) {
    let (pcm, source) = Speech::new(
        "The studio records three speakers on one clock. Each track holds silence where \
         its speaker is quiet, so an editor lines them up at zero. Opus at thirty two \
         kilobits per second keeps a voice clear for a podcast, and the file stays \
         playable even if the server is killed in the middle of a sentence.",
    )
    .words_per_minute(165)
    .pcm_or_tone(10.0);
    let samples = samples_of(&pcm);
    let wanted = FRAME_SAMPLES * FRAMES_PER_MINUTE;
    let looped: Vec<i16> = samples.iter().copied().cycle().take(wanted).collect();
    (looped, source)
}

fn fail(error: impl std::fmt::Display) -> ! {
    eprintln!("benchmark failed: {error}");
    std::process::exit(1);
}
