//! The audio the STT checks speak: a synthetic voice (a 140 Hz glottal tone with vowel-like
//! harmonics, in syllables), between stretches of near silence. A recognizer hears no words in it,
//! but voice activity, end-of-speech and streaming behave as with speech. Generated rather than
//! recorded so the binary carries no clip and needs no speech synthesizer.

use std::f64::consts::TAU;

/// Milliseconds of quiet before and after the voice.
const LEAD_MS: u32 = 400;
const TAIL_MS: u32 = 1_000;
/// Milliseconds of voice.
const VOICE_MS: u32 = 1_600;

/// The whole utterance at `rate` Hz, mono s16.
pub(crate) fn utterance(rate: u32) -> Vec<i16> {
    let mut samples = quiet(rate, LEAD_MS);
    samples.extend(voice(rate, VOICE_MS));
    samples.extend(quiet(rate, TAIL_MS));
    samples
}

/// Where the studio's VAD would call the voice's start and end (after its hangover), in ms.
pub(crate) fn speech_hints_ms() -> (u32, u32) {
    (LEAD_MS, LEAD_MS + VOICE_MS + 200)
}

/// Its length in milliseconds.
pub(crate) fn utterance_ms() -> u32 {
    LEAD_MS + VOICE_MS + TAIL_MS
}

/// `ms` of voice: harmonics of 140 Hz weighted around two vowel formants, at about -15 dBFS,
/// shaped into four syllables a second.
pub(crate) fn voice(rate: u32, ms: u32) -> Vec<i16> {
    let n = (u64::from(rate) * u64::from(ms) / 1000) as usize;
    let f0 = 140.0;
    let harmonics: Vec<(f64, f64)> = (1..=25)
        .map(|k| {
            let f = f0 * f64::from(k);
            let formant = |centre: f64, width: f64| (-((f - centre) / width).powi(2)).exp();
            (
                f,
                1.0 / f64::from(k) + formant(700.0, 150.0) + 0.6 * formant(1_200.0, 200.0),
            )
        })
        .collect();
    let norm: f64 = harmonics.iter().map(|(_, a)| a).sum();
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let syllable = 0.55 + 0.45 * (TAU * 4.0 * t).sin();
            let v: f64 = harmonics.iter().map(|(f, a)| a * (TAU * f * t).sin()).sum();
            (v / norm * syllable * 0.35 * 32_767.0) as i16
        })
        .collect()
}

/// `ms` of near silence (a faint hiss, as a real microphone gives).
fn quiet(rate: u32, ms: u32) -> Vec<i16> {
    let n = (u64::from(rate) * u64::from(ms) / 1000) as usize;
    let mut state: u32 = 0x2545_f491;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 17) as i16 - 8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dbfs(samples: &[i16]) -> f64 {
        let mean =
            samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64;
        10.0 * (mean.sqrt() / 32_768.0).log10() * 2.0
    }

    #[test]
    fn the_voice_is_loud_and_the_quiet_is_quiet() {
        let all = utterance(48_000);
        assert_eq!(all.len(), 48 * utterance_ms() as usize);
        let voice = &all[48 * 400..48 * 2_000];
        let quiet = &all[..48 * 400];
        assert!(dbfs(voice) > -30.0, "voice at {} dBFS", dbfs(voice));
        assert!(dbfs(quiet) < -60.0, "quiet at {} dBFS", dbfs(quiet));
    }
}
