//! `{{name}}`: a speech-to-text plugin for voice-studio that hears when you speak (by energy) and
//! transcribes every utterance as how long it was: partial captions while you talk, a final one
//! after a pause. Replace `Listener::text` (or the whole listener) with a call to your recognizer:
//! `studio_plugin::utterance` cuts utterances on the host's voice-activity hints for REST
//! recognizers, and `studio_plugin::websocket` streams to a realtime one.

use studio_plugin::pcm::dbfs;
use studio_plugin::{
    InputEvent, Microphone, PluginError, SttPlugin, SttRequest, Transcript, TranscriptSink, config,
    log,
};

/// The exported plugin.
pub struct Plugin;

impl SttPlugin for Plugin {
    // `describe()` has a default: role `stt`, contract 0.1.0, capabilities `log` and `config`, and
    // name, version and summary from Cargo.toml. Override it to ask for more (`http`, `websocket`).

    fn transcribe(
        request: SttRequest,
        input: &mut Microphone<'_>,
        sink: &TranscriptSink<'_>,
    ) -> Result<(), PluginError> {
        log::info!(
            "listening to {} at {} Hz",
            request.speaker.name(),
            input.sample_rate()
        );
        let mut listener = Listener::new(input.sample_rate(), Settings::from_config());
        for event in input {
            match event? {
                InputEvent::Audio(samples) => {
                    for transcript in listener.feed(&samples) {
                        // A push fails with `Cancelled` when the session ends: return it at once.
                        sink.push(&transcript)?;
                    }
                }
                InputEvent::End => break,
                // The host's VAD hints, provider sockets and timeouts: not used here.
                _ => {}
            }
        }
        if let Some(last) = listener.finish() {
            sink.push(&last)?;
        }
        Ok(())
    }
}

studio_plugin::export_stt!(Plugin);

/// How utterances are found, from the plugin's `[plugins.NAME.config]` table.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// A frame louder than this (dBFS) is speech.
    pub threshold_dbfs: f32,
    /// This much quiet ends an utterance.
    pub end_of_speech_ms: u64,
    /// A partial transcript this often during speech.
    pub partial_every_ms: u64,
}

impl Settings {
    /// The settings from the config table, with defaults.
    pub fn from_config() -> Settings {
        let defaults = Settings::default();
        Settings {
            threshold_dbfs: config::get_f32("threshold_dbfs", defaults.threshold_dbfs),
            end_of_speech_ms: config::get_u32("end_of_speech_ms", 600).into(),
            partial_every_ms: config::get_u32("partial_every_ms", 400).into(),
        }
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            threshold_dbfs: -40.0,
            end_of_speech_ms: 600,
            partial_every_ms: 400,
        }
    }
}

/// Finds utterances in a stream of audio frames. Pure (no host calls), so it is unit tested natively.
#[derive(Debug)]
pub struct Listener {
    sample_rate: u32,
    settings: Settings,
    /// Audio heard so far (ms since the stream began).
    now_ms: u64,
    /// When the current utterance began, if one is going on.
    started_ms: Option<u64>,
    /// The end of its last loud frame.
    last_loud_ms: u64,
    /// When its last partial was pushed.
    last_partial_ms: u64,
}

impl Listener {
    /// A listener for audio at `sample_rate`.
    pub fn new(sample_rate: u32, settings: Settings) -> Listener {
        Listener {
            sample_rate: sample_rate.max(1),
            settings,
            now_ms: 0,
            started_ms: None,
            last_loud_ms: 0,
            last_partial_ms: 0,
        }
    }

    /// One frame of mono samples in; the transcripts it completes out.
    pub fn feed(&mut self, samples: &[i16]) -> Vec<Transcript> {
        let start = self.now_ms;
        self.now_ms += samples.len() as u64 * 1000 / u64::from(self.sample_rate);
        let loud = !samples.is_empty() && dbfs(samples) > self.settings.threshold_dbfs;
        let mut out = Vec::new();
        match (self.started_ms, loud) {
            (None, true) => {
                self.started_ms = Some(start);
                self.last_loud_ms = self.now_ms;
                self.last_partial_ms = start;
            }
            (Some(began), true) => {
                self.last_loud_ms = self.now_ms;
                if self.now_ms - self.last_partial_ms >= self.settings.partial_every_ms {
                    self.last_partial_ms = self.now_ms;
                    out.push(Transcript::partial(
                        Self::text(began, self.now_ms),
                        began,
                        self.now_ms,
                    ));
                }
            }
            (Some(_), false)
                if self.now_ms - self.last_loud_ms >= self.settings.end_of_speech_ms =>
            {
                out.extend(self.finish());
            }
            _ => {}
        }
        out
    }

    /// Ends the utterance going on, if any: its final transcript.
    pub fn finish(&mut self) -> Option<Transcript> {
        let began = self.started_ms.take()?;
        Some(Transcript::final_(
            Self::text(began, self.last_loud_ms),
            began,
            self.last_loud_ms,
        ))
    }

    /// What an utterance from `began` to `ended` reads as.
    fn text(began: u64, ended: u64) -> String {
        format!(
            "I spoke for {:.1} seconds.",
            (ended - began) as f64 / 1000.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use studio_plugin::TranscriptKind;

    /// `ms` of a loud 440 Hz tone (or silence) at 16 kHz, in 20 ms frames.
    fn frames(ms: usize, loud: bool) -> Vec<Vec<i16>> {
        let samples: Vec<i16> = (0..ms * 16)
            .map(|i| {
                if loud {
                    ((i as f32 * 440.0 * std::f32::consts::TAU / 16_000.0).sin() * 8_000.0) as i16
                } else {
                    0
                }
            })
            .collect();
        samples.chunks(320).map(<[i16]>::to_vec).collect()
    }

    #[test]
    fn one_second_of_sound_then_a_pause_is_one_utterance() {
        let mut listener = Listener::new(16_000, Settings::default());
        let mut heard = Vec::new();
        for frame in frames(200, false)
            .into_iter()
            .chain(frames(1_000, true))
            .chain(frames(1_000, false))
        {
            heard.extend(listener.feed(&frame));
        }
        let finals: Vec<_> = heard
            .iter()
            .filter(|t| t.kind == TranscriptKind::Final)
            .collect();
        assert_eq!(finals.len(), 1, "{heard:?}");
        assert_eq!(finals[0].text, "I spoke for 1.0 seconds.");
        assert_eq!((finals[0].start_ms, finals[0].end_ms), (200, 1_200));
        assert_eq!(
            heard
                .iter()
                .filter(|t| t.kind == TranscriptKind::Partial)
                .count(),
            2
        );
        assert!(listener.finish().is_none());
    }
}
