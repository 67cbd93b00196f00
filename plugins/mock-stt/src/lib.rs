//! `mock-stt`: the offline speech-to-text plugin. It really listens: energy over 20 ms windows
//! finds where speech starts and ends (with a hangover of `end_of_speech_ms`), and it sends
//! partial transcripts during speech and a final one at its end, stamped with the audio's times.
//! Only the words are made up: the next line of the configured `script`, or a description of the
//! utterance when the script is empty.

#![deny(missing_docs)]

mod segmenter;

use segmenter::{Segmenter, Settings};
use studio_plugin::{
    Capability, InputEvent, Microphone, PluginError, PluginInfo, Role, SttPlugin, SttRequest,
    TranscriptSink, config,
};

/// The exported plugin.
pub struct MockStt;

impl SttPlugin for MockStt {
    fn describe() -> PluginInfo {
        // Exactly what plugins.toml grants it, so loading it warns about nothing.
        PluginInfo::for_role(Role::Stt).with_capabilities(&[
            Capability::Log,
            Capability::Clock,
            Capability::Config,
        ])
    }

    fn transcribe(
        _request: SttRequest,
        input: &mut Microphone<'_>,
        sink: &TranscriptSink<'_>,
    ) -> Result<(), PluginError> {
        let settings = Settings {
            threshold_dbfs: config::get_f32("threshold_dbfs", Settings::default().threshold_dbfs),
            end_of_speech_ms: config::get_u32(
                "end_of_speech_ms",
                Settings::default().end_of_speech_ms,
            ),
            partial_every_ms: config::get_u32(
                "partial_every_ms",
                Settings::default().partial_every_ms,
            ),
            min_speech_ms: config::get_u32("min_speech_ms", Settings::default().min_speech_ms),
            script: config::get_list("script"),
        };
        let mut segmenter = Segmenter::new(settings, input.sample_rate());
        for event in input {
            let transcripts = match event? {
                InputEvent::Audio(samples) => segmenter.push_audio(&samples),
                InputEvent::End => segmenter.finish(),
                // The host's VAD hints, timeouts and sockets: this plugin segments on its own.
                InputEvent::SpeechStarted
                | InputEvent::SpeechEnded
                | InputEvent::Timeout
                | InputEvent::Socket(_) => {
                    continue;
                }
            };
            for transcript in &transcripts {
                sink.push(transcript)?;
            }
        }
        Ok(())
    }
}

studio_plugin::export_stt!(MockStt);
