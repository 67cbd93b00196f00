//! Audio path benchmark: host CPU per 20 ms frame for each stage of `voice_studio::audio`.
//!
//! Run: `cargo bench -p voice-studio --bench audio`. The input is real synthesized speech
//! (espeak-ng, resampled to 48 kHz by sox) when those tools are installed, else a voice-like tone
//! under noise; the source is printed. Prints a markdown table of p50/p99/mean microseconds.

use std::hint::black_box;
use std::time::{Duration, Instant};

use audiopus::coder::Encoder;
use audiopus::{Application, Bitrate, Channels, SampleRate};
use studio_test_kit::speech::{Source, Speech, samples_of};
use voice_studio::audio::{
    FRAME_MS, FRAME_SAMPLES, Frame, InputDecoder, InputEncoding, InputFormat, Pacer, PacerConfig,
    PacerEvent, Resampler, Vad, VadConfig,
};

/// Times each stage over this many 20 ms frames (one minute of audio) per round.
const FRAMES: usize = 3000;
/// Rounds per stage; the first warms caches and is discarded.
const ROUNDS: usize = 4;

fn main() {
    let (speech, source) = speech_minute();
    println!("speech source: {source}");
    println!();
    println!(
        "| stage (per 20 ms frame, {FRAMES} frames x {} rounds) | p50 us | p99 us | mean us |",
        ROUNDS - 1
    );
    println!("|---|---:|---:|---:|");

    let pcm48: Vec<Vec<u8>> = speech.chunks_exact(FRAME_SAMPLES).map(le_bytes).collect();
    row(
        "assemble + VAD, PCM s16le 48 kHz chunk",
        measure(|round| {
            let mut decoder = decoder(InputFormat::default());
            let mut vad = Vad::new(VadConfig::default());
            let mut times = Vec::with_capacity(FRAMES);
            for (i, chunk) in pcm48.iter().enumerate() {
                let start = Instant::now();
                run_input(&mut decoder, &mut vad, chunk, i);
                times.push(start.elapsed());
            }
            black_box(round);
            times
        }),
    );

    let speech16 = convert(&speech, 48_000, 16_000);
    let pcm16: Vec<Vec<u8>> = speech16
        .chunks_exact(FRAME_SAMPLES / 3)
        .map(le_bytes)
        .collect();
    row(
        "assemble + VAD, PCM s16le 16 kHz chunk (resampled to 48 kHz)",
        measure(|_| {
            let mut decoder = decoder(InputFormat {
                sample_rate: 16_000,
                ..InputFormat::default()
            });
            let mut vad = Vad::new(VadConfig::default());
            timed(&pcm16, |i, chunk| {
                run_input(&mut decoder, &mut vad, chunk, i)
            })
        }),
    );

    let packets = opus_packets(&speech);
    row(
        "Opus decode of a 20 ms packet (32 kbps VOIP) + assemble + VAD",
        measure(|_| {
            let mut decoder = decoder(InputFormat {
                encoding: InputEncoding::Opus,
                ..InputFormat::default()
            });
            let mut vad = Vad::new(VadConfig::default());
            timed(&packets, |i, packet| {
                run_input(&mut decoder, &mut vad, packet, i)
            })
        }),
    );

    let vad_frames: Vec<Frame> = speech.chunks_exact(FRAME_SAMPLES).map(frame_of).collect();
    row(
        "VAD alone",
        measure(|_| {
            let mut vad = Vad::new(VadConfig::default());
            timed(&vad_frames, |i, frame| {
                black_box(vad.push(frame, i as u64 * FRAME_MS));
            })
        }),
    );

    for (from, to) in [
        (24_000u32, 48_000u32),
        (22_050, 48_000),
        (44_100, 48_000),
        (48_000, 16_000),
    ] {
        let input = convert(&speech, 48_000, from);
        let chunk = from as usize / 50;
        let chunks: Vec<&[i16]> = input.chunks_exact(chunk).collect();
        row(
            &format!("resample 20 ms, {} kHz -> {} kHz", khz(from), khz(to)),
            measure(|_| {
                let mut resampler = match Resampler::new(from, to) {
                    Ok(resampler) => resampler,
                    Err(error) => fail(&format!("resampler {from}->{to}: {error}")),
                };
                let mut out = Vec::with_capacity(4096);
                timed(&chunks, |_, piece| {
                    out.clear();
                    resampler.process(piece, &mut out);
                    black_box(&out);
                })
            }),
        );
    }

    let frames: Vec<&[i16]> = speech.chunks_exact(FRAME_SAMPLES).collect();
    row(
        "pacer: push 20 ms + next frame (paused tokio clock, timer wait included)",
        measure(|_| paced(&frames, PacerConfig::default())),
    );
    row(
        "pacer: push 20 ms + next frame (frame already due, no wait)",
        measure(|_| {
            paced(
                &frames,
                PacerConfig {
                    lead: Duration::from_secs(3600),
                    ..PacerConfig::default()
                },
            )
        }),
    );
}

fn decoder(format: InputFormat) -> InputDecoder {
    match InputDecoder::new(format) {
        Ok(decoder) => decoder,
        Err(error) => fail(&format!("input decoder: {error}")),
    }
}

/// One client chunk through decoding, framing and VAD, as the session does on `audio.chunk`.
fn run_input(decoder: &mut InputDecoder, vad: &mut Vad, chunk: &[u8], index: usize) {
    let at_ms = index as u64 * FRAME_MS;
    let result = decoder.push(chunk, |frame| {
        black_box(vad.push(frame, at_ms));
    });
    if let Err(error) = result {
        fail(&format!("decode: {error}"));
    }
}

/// Runs the pacer on a current-thread runtime with tokio's paused clock, so waits cost no wall time.
fn paced(frames: &[&[i16]], config: PacerConfig) -> Vec<Duration> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => fail(&format!("tokio runtime: {error}")),
    };
    runtime.block_on(async {
        let mut pacer = Pacer::new(config);
        let mut times = Vec::with_capacity(frames.len());
        for samples in frames {
            let start = Instant::now();
            pacer.push(samples);
            match pacer.next().await {
                PacerEvent::Frame(paced) => {
                    black_box(paced);
                }
                PacerEvent::Finished { .. } => fail("pacer finished early"),
            }
            times.push(start.elapsed());
        }
        times
    })
}

fn timed<T>(items: &[T], mut run: impl FnMut(usize, &T)) -> Vec<Duration> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let start = Instant::now();
            run(i, item);
            start.elapsed()
        })
        .collect()
}

/// Runs `round` ROUNDS times, drops the warm-up round, returns all per-frame times.
fn measure(mut round: impl FnMut(usize) -> Vec<Duration>) -> Vec<Duration> {
    let mut all = Vec::new();
    for index in 0..ROUNDS {
        let times = round(index);
        if index > 0 {
            all.extend(times);
        }
    }
    all
}

fn row(name: &str, mut times: Vec<Duration>) {
    times.sort_unstable();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |q: f64| micros(times[((times.len() - 1) as f64 * q).round() as usize]);
    let mean = times.iter().copied().map(micros).sum::<f64>() / times.len() as f64;
    println!(
        "| {name} | {:.2} | {:.2} | {:.2} |",
        at(0.5),
        at(0.99),
        mean
    );
}

fn khz(rate: u32) -> String {
    let khz = f64::from(rate) / 1000.0;
    if rate.is_multiple_of(1000) {
        format!("{khz:.0}")
    } else {
        format!("{khz}")
    }
}

fn convert(samples: &[i16], from: u32, to: u32) -> Vec<i16> {
    let mut resampler = match Resampler::new(from, to) {
        Ok(resampler) => resampler,
        Err(error) => fail(&format!("resampler {from}->{to}: {error}")),
    };
    let mut out = Vec::with_capacity(samples.len() * to as usize / from as usize + 64);
    resampler.process(samples, &mut out);
    out
}

fn frame_of(samples: &[i16]) -> Frame {
    let mut frame = Frame::silent();
    frame.samples_mut().copy_from_slice(samples);
    frame
}

fn le_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// Encodes 48 kHz speech as a browser would: 20 ms Opus packets, 32 kbps, VOIP.
fn opus_packets(speech: &[i16]) -> Vec<Vec<u8>> {
    let mut encoder = match Encoder::new(SampleRate::Hz48000, Channels::Mono, Application::Voip) {
        Ok(encoder) => encoder,
        Err(error) => fail(&format!("opus encoder: {error}")),
    };
    if let Err(error) = encoder.set_bitrate(Bitrate::BitsPerSecond(32_000)) {
        fail(&format!("opus bitrate: {error}"));
    }
    speech
        .chunks_exact(FRAME_SAMPLES)
        .map(|frame| {
            let mut packet = vec![0u8; 1500];
            match encoder.encode(frame, &mut packet) {
                Ok(len) => packet.truncate(len),
                Err(error) => fail(&format!("opus encode: {error}")),
            }
            packet
        })
        .collect()
}

/// One minute of 48 kHz speech with pauses: espeak-ng + sox (the test kit's speech), else its
/// voice-like tone; a second of silence follows each utterance.
fn speech_minute() -> (Vec<i16>, Source) {
    let total = FRAME_SAMPLES * FRAMES;
    let (pcm, source) = Speech::new(
        "The studio hears every word in twenty millisecond frames. \
         A pause follows each sentence, then the next speaker takes the floor.",
    )
    .pcm_or_tone(2.0);
    let utterance = samples_of(&pcm);
    let mut speech = Vec::with_capacity(total);
    while speech.len() < total && !utterance.is_empty() {
        speech.extend_from_slice(&utterance);
        speech.extend(std::iter::repeat_n(0i16, 48_000));
    }
    speech.truncate(total);
    (speech, source)
}

fn fail(message: &str) -> ! {
    eprintln!("audio bench: {message}");
    std::process::exit(1);
}
