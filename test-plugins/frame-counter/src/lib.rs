//! `frame-counter`: an `stt-plugin` that reads `audio-input.next` until the end and reports what it
//! got as one final transcript (`"<frames> frames <samples> samples <hints> hints"`). With the key term
//! `partials` it also pushes a partial transcript per frame. It does no recognition: it measures and
//! checks the host's input path.

wit_bindgen::generate!({
    path: "../../wit",
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
        let partials = request.key_terms.iter().any(|t| t == "partials");
        let rate = u64::from(input.sample_rate().max(1));
        let (mut frames, mut samples, mut hints) = (0u64, 0u64, 0u64);
        loop {
            match input.next(None, None)? {
                InputEvent::Audio(frame) => {
                    frames += 1;
                    samples += frame.len() as u64;
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
