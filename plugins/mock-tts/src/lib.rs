//! `mock-tts`: the offline text-to-speech plugin. It does not say the words, but it sounds like
//! someone talking: a glottal pulse train through vowel formants, syllables with their own
//! loudness envelope and accent, a falling pitch contour (rising on questions), pauses at
//! punctuation, and a length that follows the text at `words_per_minute`. claude's voice is lower
//! than the guest's, so two AIs are easy to tell apart in a recording.

#![deny(missing_docs)]

mod voice;

use studio_plugin::{
    AudioSink, Capability, PluginError, PluginInfo, Role, TtsPlugin, TtsRequest, config,
};
use voice::{Settings, Synth, VoiceKind};

/// The exported plugin.
pub struct MockTts;

impl TtsPlugin for MockTts {
    fn describe() -> PluginInfo {
        // Exactly what plugins.toml grants it, so loading it warns about nothing.
        PluginInfo::for_role(Role::Tts).with_capabilities(&[Capability::Log, Capability::Config])
    }

    fn synthesize(request: TtsRequest, sink: &AudioSink<'_>) -> Result<(), PluginError> {
        let defaults = Settings::default();
        let settings = Settings {
            sample_rate: config::get_u32("sample_rate", defaults.sample_rate).clamp(8_000, 96_000),
            chunk_ms: config::get_u32("chunk_ms", defaults.chunk_ms).clamp(10, 1_000),
            words_per_minute: config::get_u32("words_per_minute", defaults.words_per_minute)
                .clamp(60, 400),
        };
        // A provider's time to first byte (the benchmark scenario uses 100 ms); none by default.
        let first_byte = config::get_u32("first_byte_ms", 0);
        if first_byte > 0 {
            std::thread::sleep(std::time::Duration::from_millis(u64::from(first_byte)));
        }
        let voice = VoiceKind::pick(request.speaker, &request.voice);
        let mut synth = Synth::new(&request.text, voice, settings.clone());
        let chunk_len = studio_plugin::pcm::samples_for_ms(settings.chunk_ms, settings.sample_rate);
        loop {
            let chunk = synth.next_samples(chunk_len);
            if chunk.is_empty() {
                return Ok(());
            }
            // `cancelled` (barge-in) ends the call at once.
            sink.push(settings.sample_rate, &chunk)?;
        }
    }
}

studio_plugin::export_tts!(MockTts);
