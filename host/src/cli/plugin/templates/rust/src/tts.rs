//! `{{name}}`: a text-to-speech plugin for voice-studio that "speaks" each word as a short tone
//! (longer words lower), so you can hear it work without any voice model. Replace `word_tone` with
//! your synthesizer: call a provider with `studio_plugin::http` (and `wav::strip_header`) or run a
//! local one with `studio_plugin::process`, and push its audio as it arrives.

use studio_plugin::{AudioSink, PluginError, TtsPlugin, TtsRequest, config, log};

/// The exported plugin.
pub struct Plugin;

/// The rate the tones are made at: any rate works, the host resamples.
pub const SAMPLE_RATE: u32 = 16_000;

impl TtsPlugin for Plugin {
    // `describe()` has a default: role `tts`, contract 0.1.0, capabilities `log` and `config`, and
    // name, version and summary from Cargo.toml. Override it to ask for more (`http`, `process`).

    fn synthesize(request: TtsRequest, sink: &AudioSink<'_>) -> Result<(), PluginError> {
        let word_ms = config::get_u32("word_ms", 180);
        log::debug!(
            "{} words for {}",
            request.text.split_whitespace().count(),
            request.speaker.name()
        );
        for word in request.text.split_whitespace() {
            // One push per word (20-200 ms each): playback starts at once and a barge-in (the push
            // fails with `Cancelled`) stops it within a word.
            sink.push(SAMPLE_RATE, &word_tone(word, word_ms))?;
        }
        Ok(())
    }
}

studio_plugin::export_tts!(Plugin);

/// One word as mono 16-bit audio at [`SAMPLE_RATE`]: a tone for most of `word_ms`, then a gap.
pub fn word_tone(word: &str, word_ms: u32) -> Vec<i16> {
    let total = (u64::from(word_ms) * u64::from(SAMPLE_RATE) / 1000) as usize;
    let sounding = total * 3 / 4;
    let letters = word.chars().filter(|c| c.is_alphanumeric()).count().max(1) as f32;
    let pitch = 200.0 + 400.0 / letters;
    (0..total)
        .map(|i| {
            if i >= sounding {
                return 0;
            }
            // A short fade in and out, so words do not click.
            let edge = (i.min(sounding - i) as f32 / 160.0).min(1.0);
            let phase = i as f32 * pitch * std::f32::consts::TAU / SAMPLE_RATE as f32;
            (phase.sin() * 6_000.0 * edge) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_is_a_tone_then_a_gap() {
        let samples = word_tone("hello", 200);
        assert_eq!(samples.len(), 3_200);
        assert!(samples[..2_400].iter().any(|s| s.unsigned_abs() > 5_000));
        assert!(samples[2_400..].iter().all(|s| *s == 0));
    }
}
