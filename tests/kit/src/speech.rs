//! Real speech for tests and benchmarks: espeak-ng speaks a line and sox turns it into the
//! browser microphone's format (48 kHz mono s16le). Where the tools are missing, [`Speech::pcm_or_tone`]
//! gives a voice-like tone instead and says which of the two it gave, so a benchmark can print its
//! source and still run.

use std::fmt;
use std::path::Path;
use std::process::Command;

/// The microphone's sample rate.
pub const SAMPLE_RATE: u32 = 48_000;

/// Why speech could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    /// A tool is not installed or could not start.
    #[error("{tool} did not run (is it installed?): {source}")]
    Missing {
        tool: &'static str,
        source: std::io::Error,
    },
    /// A tool ran and failed.
    #[error("{tool} failed: {status}")]
    Failed {
        tool: &'static str,
        status: std::process::ExitStatus,
    },
    /// The temporary folder or the output could not be used.
    #[error("speech file: {0}")]
    Io(#[from] std::io::Error),
}

/// Which audio [`Speech::pcm_or_tone`] gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// espeak-ng speech, resampled by sox.
    Espeak,
    /// The voice-like [`tone`], because espeak-ng or sox is missing.
    Tone,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Espeak => "espeak-ng speech at 48 kHz (sox)",
            Source::Tone => "voice-like tone (espeak-ng or sox missing)",
        })
    }
}

/// One line to speak, and how.
#[derive(Debug, Clone)]
pub struct Speech<'a> {
    text: &'a str,
    words_per_minute: Option<u32>,
    pad_before_s: f32,
    pad_after_s: f32,
}

impl<'a> Speech<'a> {
    /// `text` at espeak-ng's default speed (175 words a minute), no padding.
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            words_per_minute: None,
            pad_before_s: 0.0,
            pad_after_s: 0.0,
        }
    }

    /// Speaks at `words_per_minute` (espeak-ng `-s`).
    pub fn words_per_minute(mut self, words_per_minute: u32) -> Self {
        self.words_per_minute = Some(words_per_minute);
        self
    }

    /// Adds silence before and after the speech (sox `pad`), e.g. so a looping fake microphone
    /// leaves a pause that ends a turn.
    pub fn pad(mut self, before_s: f32, after_s: f32) -> Self {
        self.pad_before_s = before_s;
        self.pad_after_s = after_s;
        self
    }

    /// The speech as 48 kHz mono s16le bytes.
    pub fn pcm(&self) -> Result<Vec<u8>, SpeechError> {
        let dir = tempfile::tempdir()?;
        let raw = dir.path().join("speech.raw");
        self.render(dir.path(), &raw, &["-e", "signed-integer", "-t", "raw"])?;
        Ok(std::fs::read(raw)?)
    }

    /// The speech as 48 kHz mono samples.
    pub fn samples(&self) -> Result<Vec<i16>, SpeechError> {
        Ok(samples_of(&self.pcm()?))
    }

    /// Writes the speech to `path` as a 48 kHz mono 16-bit WAV file (what Chromium's fake
    /// microphone plays).
    pub fn wav(&self, path: &Path) -> Result<(), SpeechError> {
        let dir = tempfile::tempdir()?;
        self.render(dir.path(), path, &[])
    }

    /// The speech as 48 kHz mono s16le bytes, or `tone_seconds` of [`tone`] where espeak-ng or
    /// sox is missing or fails; with which one it is.
    pub fn pcm_or_tone(&self, tone_seconds: f32) -> (Vec<u8>, Source) {
        match self.pcm() {
            Ok(pcm) if !pcm.is_empty() => (pcm, Source::Espeak),
            _ => (bytes_of(&tone(tone_seconds)), Source::Tone),
        }
    }

    /// espeak-ng into a WAV in `dir`, then sox to 48 kHz mono 16-bit at `out` with `format`
    /// options (empty: a WAV file).
    fn render(&self, dir: &Path, out: &Path, format: &[&str]) -> Result<(), SpeechError> {
        let spoken = dir.join("espeak.wav");
        let mut espeak = Command::new("espeak-ng");
        if let Some(wpm) = self.words_per_minute {
            espeak.args(["-s", &wpm.to_string()]);
        }
        espeak.arg("-w").arg(&spoken).arg(self.text);
        run(&mut espeak, "espeak-ng")?;
        let mut sox = Command::new("sox");
        sox.arg(&spoken)
            .args(["-r", "48000", "-c", "1", "-b", "16"])
            .args(format)
            .arg(out);
        if self.pad_before_s > 0.0 || self.pad_after_s > 0.0 {
            sox.arg("pad")
                .arg(self.pad_before_s.to_string())
                .arg(self.pad_after_s.to_string());
        }
        run(&mut sox, "sox")
    }
}

fn run(command: &mut Command, tool: &'static str) -> Result<(), SpeechError> {
    let status = command
        .status()
        .map_err(|source| SpeechError::Missing { tool, source })?;
    if status.success() {
        Ok(())
    } else {
        Err(SpeechError::Failed { tool, status })
    }
}

/// `text` spoken by espeak-ng at its default speed, as 48 kHz mono s16le; panics with the reason
/// when the tools are missing (tests that need real speech install them: `.ci/setup`).
pub fn speech(text: &str) -> Vec<u8> {
    Speech::new(text)
        .pcm()
        .unwrap_or_else(|error| panic!("speech for {text:?}: {error}"))
}

/// `seconds` of a voice-like sound at 48 kHz: a 180 Hz tone whose loudness rises and falls a few
/// times a second, as syllables do, so level meters, VAD and the mock STT hear a talker.
pub fn tone(seconds: f32) -> Vec<i16> {
    let samples = (seconds.max(0.0) * SAMPLE_RATE as f32) as usize;
    (0..samples)
        .map(|i| {
            let t = i as f64 / f64::from(SAMPLE_RATE);
            let envelope = 0.3 + 0.7 * (t * 3.0).sin().abs();
            ((std::f64::consts::TAU * 180.0 * t).sin() * envelope * 10_000.0) as i16
        })
        .collect()
}

/// s16le bytes as samples (a trailing odd byte is dropped).
pub fn samples_of(pcm: &[u8]) -> Vec<i16> {
    pcm.chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Samples as s16le bytes.
pub fn bytes_of(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tone_is_as_long_as_asked_and_audible() {
        let tone = tone(0.5);
        assert_eq!(tone.len(), 24_000);
        assert!(tone.iter().any(|s| s.unsigned_abs() > 3_000));
    }

    #[test]
    fn bytes_and_samples_round_trip() {
        let samples = vec![0, 1, -1, i16::MAX, i16::MIN];
        assert_eq!(samples_of(&bytes_of(&samples)), samples);
    }

    #[test]
    fn espeak_speech_is_48_khz_and_padding_adds_silence() {
        let plain = Speech::new("hello there")
            .samples()
            .expect("espeak-ng and sox");
        let padded = Speech::new("hello there")
            .pad(0.5, 1.0)
            .samples()
            .expect("espeak-ng and sox");
        assert!(plain.len() > 24_000, "under half a second of speech");
        assert_eq!(padded.len(), plain.len() + 72_000);
        // sox dithers when it resamples: the padding is silence give or take a step or two.
        assert!(padded[..24_000].iter().all(|s| s.unsigned_abs() <= 4));
    }
}
