//! STT plugins driven directly through the host: microphone audio at 48 kHz with the host's VAD
//! hints, one `transcribe` call over it, and what a fake provider received read back as samples.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use voice_studio::plugins::wit::{SttRequest, Transcript};
use voice_studio::plugins::{CallError, PluginHost, SttInput};

/// Samples per 20 ms frame at the studio's 48 kHz.
const FRAME: usize = 960;
/// The test tone: a frequency a wrong sample rate would move.
pub const TONE_HZ: f64 = 440.0;

/// What the microphone does next.
#[derive(Debug, Clone, Copy)]
pub enum Mic {
    /// A 440 Hz tone for this many ms.
    Tone(usize),
    /// Silence for this many ms.
    Quiet(usize),
    /// The host's VAD hears speech begin.
    Started,
    /// The host's VAD hears speech end.
    Ended,
}

/// 20 ms frames and hints for a script, the tone's phase running on across frames.
pub fn microphone(script: &[Mic]) -> Vec<SttInput> {
    let mut out = Vec::new();
    let mut n = 0u64;
    for step in script {
        match *step {
            Mic::Tone(ms) | Mic::Quiet(ms) => {
                let loud = matches!(step, Mic::Tone(_));
                for _ in 0..ms / 20 {
                    let frame = (0..FRAME)
                        .map(|_| {
                            n += 1;
                            if loud {
                                let t = n as f64 / 48_000.0;
                                ((t * TONE_HZ * std::f64::consts::TAU).sin() * 9_000.0) as i16
                            } else {
                                0
                            }
                        })
                        .collect();
                    out.push(SttInput::Audio(frame));
                }
            }
            Mic::Started => out.push(SttInput::SpeechStarted),
            Mic::Ended => out.push(SttInput::SpeechEnded),
        }
    }
    out
}

/// One `transcribe` call fed `inputs` (a plugin that stops reading gets no more): the call's
/// result and every transcript pushed.
pub async fn transcribe(
    host: &Arc<PluginHost>,
    request: SttRequest,
    inputs: Vec<SttInput>,
) -> (Result<(), CallError>, Vec<Transcript>) {
    let mut stt = host.stt();
    let (in_tx, in_rx) = mpsc::channel(64);
    let (out_tx, mut out_rx) = mpsc::channel(256);
    let feeder = tokio::spawn(async move {
        for input in inputs {
            // A plugin that failed stops reading; the rest of the audio has nowhere to go.
            if in_tx.send(input).await.is_err() {
                return;
            }
        }
    });
    let collector = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(t) = out_rx.recv().await {
            all.push(t);
        }
        all
    });
    // A bound against a hang, not a timing check.
    let result = tokio::time::timeout(
        Duration::from_secs(120),
        stt.transcribe(request, in_rx, out_tx),
    )
    .await
    .expect("an STT call never hangs");
    feeder.abort();
    let transcripts = collector.await.expect("collector");
    (result, transcripts)
}

/// Zero crossings per second of `samples` at `rate`: 2 x the tone's frequency when the rate is right.
pub fn crossings_per_second(samples: &[i16], rate: u32) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 * f64::from(rate) / samples.len() as f64
}

/// Bare s16le bytes as samples.
pub fn le_samples(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}
