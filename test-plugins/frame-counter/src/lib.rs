//! `frame-counter`: an `stt-plugin` that reads `audio-input.next` until the end and reports what it
//! got as one final transcript (`"<frames> frames <samples> samples <hints> hints"`). With the key term
//! `partials` it also pushes a partial transcript per frame. It does no recognition: it measures and
//! checks the host's input path.
//!
//! Other key terms make it misbehave, for the host's deadline and budget tests:
//! - `spin`: loops forever without calling the host (no audio read);
//! - `burn`: reads audio but burns about 50 ms of CPU per frame, far more than real time allows;
//! - `stall`: after the first frame, sleeps an hour outside `next` (it stops reading);
//! - `wait-long`: asks `next` for a timeout of `u32::MAX` ms and reports `timeout` when it comes.

wit_bindgen::generate!({
    path: "../../wit/v0.1.0",
    world: "stt-plugin",
});

use exports::studio::plugin::stt::{Guest as Stt, SttRequest};
use studio::plugin::streams::{AudioInput, InputEvent, TranscriptSink};
use studio::plugin::types::{PluginError, Role, Transcript, TranscriptKind};

/// The plugin; it keeps no state between calls.
struct FrameCounter;

impl Guest for FrameCounter {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "frame-counter".into(),
            version: "1.0.0".into(),
            role: Role::Stt,
            contract: "0.1.0".into(),
            capabilities: Vec::new(),
            summary: "Counts input frames; for host benchmarks and tests.".into(),
        }
    }
}

impl Stt for FrameCounter {
    fn transcribe(
        request: SttRequest,
        input: &AudioInput,
        sink: &TranscriptSink,
    ) -> Result<(), PluginError> {
        let has = |term: &str| request.key_terms.iter().any(|t| t == term);
        let partials = has("partials");
        if has("spin") {
            spin();
        }
        if has("wait-long") {
            let text = match input.next(None, Some(u32::MAX))? {
                InputEvent::Timeout => "timeout",
                _ => "no timeout",
            };
            return sink.push(&transcript(TranscriptKind::Final, text.into(), 0));
        }
        let rate = u64::from(input.sample_rate().max(1));
        let (mut frames, mut samples, mut hints) = (0u64, 0u64, 0u64);
        loop {
            match input.next(None, None)? {
                InputEvent::Audio(frame) => {
                    frames += 1;
                    samples += frame.len() as u64;
                    if has("burn") {
                        burn(std::time::Duration::from_millis(50));
                    }
                    if has("stall") {
                        std::thread::sleep(std::time::Duration::from_secs(3600));
                    }
                    if partials {
                        sink.push(&transcript(
                            TranscriptKind::Partial,
                            format!("{frames} frames"),
                            samples * 1000 / rate,
                        ))?;
                    }
                }
                InputEvent::SpeechStarted | InputEvent::SpeechEnded => hints += 1,
                InputEvent::Socket(_) | InputEvent::Timeout => {}
                InputEvent::End => break,
            }
        }
        let text = format!("{frames} frames {samples} samples {hints} hints");
        sink.push(&transcript(
            TranscriptKind::Final,
            text,
            samples * 1000 / rate,
        ))
    }
}

/// Loops forever without calling the host: only the CPU budget can stop it.
fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

/// Busy for about `wall` of wall-clock time (the guest's own CPU when nothing else runs).
fn burn(wall: std::time::Duration) {
    let start = std::time::Instant::now();
    let mut counter = 0u64;
    while start.elapsed() < wall {
        for _ in 0..10_000 {
            counter = std::hint::black_box(counter.wrapping_add(1));
        }
    }
}

fn transcript(kind: TranscriptKind, text: String, end_ms: u64) -> Transcript {
    Transcript {
        kind,
        text,
        start_ms: 0,
        end_ms,
        confidence: None,
    }
}

// Only on wasm: native linkers reject the component model's export symbol names, and the
// workspace also builds this crate natively.
#[cfg(target_arch = "wasm32")]
export!(FrameCounter);
