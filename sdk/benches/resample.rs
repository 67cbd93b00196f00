//! What the resampler costs a plugin per 20 ms microphone frame, natively (no criterion: it prints
//! a markdown table of p50/p99/mean microseconds).
//!
//! Run: `cargo bench -p studio-plugin-sdk --bench resample`. The input is a voice-like mix of tones; the filter's cost
//! does not depend on the signal.

use std::hint::black_box;
use std::time::{Duration, Instant};

use studio_plugin::resample::Resampler;
use studio_plugin::resample::signal::sine;

/// Frames timed per round (one minute of audio).
const FRAMES: usize = 3000;
/// Rounds per row; the first warms caches and is discarded.
const ROUNDS: usize = 4;

fn main() {
    println!(
        "| conversion (per 20 ms frame, {FRAMES} frames x {} rounds) | p50 us | p99 us | mean us |",
        ROUNDS - 1
    );
    println!("|---|---:|---:|---:|");
    for (from, to) in [
        (48_000u32, 16_000u32),
        (48_000, 24_000),
        (44_100, 16_000),
        (24_000, 16_000),
        // The host's side: TTS audio to the studio's 48 kHz.
        (24_000, 48_000),
        (16_000, 48_000),
    ] {
        let input = voice(from);
        let frames: Vec<&[i16]> = input.chunks_exact(from as usize / 50).collect();
        let mut times = Vec::new();
        for round in 0..ROUNDS {
            let mut resampler = resampler(from, to);
            let mut out = Vec::with_capacity(4096);
            let mut round_times = Vec::with_capacity(FRAMES);
            for frame in &frames {
                let start = Instant::now();
                out.clear();
                resampler.process(frame, &mut out);
                black_box(&out);
                round_times.push(start.elapsed());
            }
            if round > 0 {
                times.extend(round_times);
            }
        }
        row(&format!("stream, {} -> {}", khz(from), khz(to)), times);
    }
    // A recognizer that takes one request per utterance converts each utterance whole.
    let utterance = &voice(48_000)[..48_000 * 3];
    let mut resampler = resampler(48_000, 16_000);
    let mut times = Vec::new();
    for round in 0..ROUNDS * 10 {
        let start = Instant::now();
        black_box(resampler.convert(black_box(utterance)));
        if round >= 10 {
            // Per 20 ms of the 3 s utterance.
            times.push(start.elapsed() / 150);
        }
    }
    row("whole 3 s utterance (convert), 48 -> 16 kHz", times);
}

fn resampler(from: u32, to: u32) -> Resampler {
    match Resampler::new(from, to) {
        Ok(resampler) => resampler,
        Err(error) => {
            eprintln!("resampler {from} -> {to}: {error}");
            std::process::exit(1);
        }
    }
}

/// One minute at `rate` of three tones under a slow tremolo, roughly speech's spectrum.
fn voice(rate: u32) -> Vec<i16> {
    let n = rate as usize * 60;
    let parts = [(180.0, 0.3), (900.0, 0.2), (3_100.0, 0.1)];
    let tones: Vec<Vec<i16>> = parts
        .iter()
        .map(|&(freq, amplitude)| sine(freq, rate, amplitude, n))
        .collect();
    (0..n)
        .map(|i| {
            let sum: i32 = tones.iter().map(|t| i32::from(t[i])).sum();
            sum.clamp(-32768, 32767) as i16
        })
        .collect()
}

fn khz(rate: u32) -> String {
    let khz = f64::from(rate) / 1000.0;
    if rate.is_multiple_of(1000) {
        format!("{khz:.0} kHz")
    } else {
        format!("{khz} kHz")
    }
}

fn row(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |q: f64| us(times[((times.len() - 1) as f64 * q) as usize]);
    let mean = times.iter().map(|&d| us(d)).sum::<f64>() / times.len() as f64;
    println!(
        "| {name} | {:.2} | {:.2} | {:.2} |",
        at(0.5),
        at(0.99),
        mean
    );
}
