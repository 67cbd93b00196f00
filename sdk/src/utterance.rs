//! Cutting the microphone into utterances on the host's VAD hints, for recognizers that take one
//! request per utterance (Whisper, Google Speech-to-Text's `speech:recognize`). The cutting itself
//! ([`Segmenter`]) is pure: events in, utterances out, so it is unit tested natively;
//! [`transcribe_utterances`] drives it from a [`Microphone`] and pushes each utterance's transcript.
//!
//! The host's VAD reports speech a little after it began, so the last `pre_roll_ms` of audio
//! before the hint belong to the utterance. An utterance longer than `max_utterance_ms` is cut
//! there (recognizers cap a request's length: Whisper's window is 30 s, Google's sync API 60 s)
//! and the speech goes on in a new one. Utterances shorter than `min_utterance_ms` (a click, a
//! cough) are dropped, and every utterance comes out resampled to the recognizer's rate.
//!
//! ```no_run
//! use studio_plugin::utterance::{self, Settings};
//! # fn recognize(_: &utterance::Utterance) -> Result<String, studio_plugin::PluginError> { Ok(String::new()) }
//! # fn run(input: &mut studio_plugin::Microphone<'_>, sink: &studio_plugin::TranscriptSink<'_>) -> Result<(), studio_plugin::PluginError> {
//! utterance::transcribe_utterances(input, sink, Settings::from_config(), 16_000, |utterance| {
//!     Ok(utterance.transcript(recognize(utterance)?))
//! })
//! # }
//! ```

use std::collections::VecDeque;

use crate::pcm::{self, Resampler, samples_for_ms};
use crate::{InputEvent, Microphone, PluginError, Transcript, TranscriptSink, config, log};

/// How utterances are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Audio kept from before the speech-started hint.
    pub pre_roll_ms: u32,
    /// The longest utterance sent in one request; longer speech is cut into several.
    pub max_utterance_ms: u32,
    /// Shorter utterances (a click, a cough) are dropped.
    pub min_utterance_ms: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pre_roll_ms: 300,
            max_utterance_ms: 30_000,
            min_utterance_ms: 200,
        }
    }
}

impl Settings {
    /// The settings from the plugin's config keys `pre_roll_ms`, `max_utterance_ms` and
    /// `min_utterance_ms`, each defaulting to [`Settings::default`]'s value.
    pub fn from_config() -> Self {
        let defaults = Self::default();
        Self {
            pre_roll_ms: config::get_u32("pre_roll_ms", defaults.pre_roll_ms),
            max_utterance_ms: config::get_u32("max_utterance_ms", defaults.max_utterance_ms),
            min_utterance_ms: config::get_u32("min_utterance_ms", defaults.min_utterance_ms),
        }
    }
}

/// One utterance, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utterance {
    /// Mono samples at `sample_rate`.
    pub samples: Vec<i16>,
    /// The rate the recognizer wants.
    pub sample_rate: u32,
    /// Where it starts, in ms of audio since the stream began.
    pub start_ms: u64,
    /// Where it ends, in ms of audio since the stream began.
    pub end_ms: u64,
}

impl Utterance {
    /// The final transcript of this utterance saying `text`; None when no words were heard
    /// (`text` is empty), so nothing is pushed.
    pub fn transcript(&self, text: String) -> Option<Transcript> {
        (!text.is_empty()).then(|| Transcript::final_(text, self.start_ms, self.end_ms))
    }
}

/// Tracks one microphone stream.
#[derive(Debug)]
pub struct Segmenter {
    settings: Settings,
    input_rate: u32,
    /// Input rate to the recognizer's; each utterance is converted as a clip of its own.
    resampler: Resampler,
    /// Input samples seen so far.
    heard: u64,
    /// The last `pre_roll_ms` of input while nobody speaks.
    pre_roll: VecDeque<i16>,
    /// The utterance being collected (input-rate samples and the index of its first sample).
    current: Option<(Vec<i16>, u64)>,
}

impl Segmenter {
    /// A segmenter for input at `input_rate` whose utterances come out at `target_rate`; rates
    /// the resampler cannot convert are an `internal` error (see [`pcm::resampler`]).
    pub fn new(settings: Settings, input_rate: u32, target_rate: u32) -> Result<Self, PluginError> {
        Ok(Self {
            settings,
            input_rate,
            resampler: pcm::resampler(input_rate, target_rate)?,
            heard: 0,
            pre_roll: VecDeque::new(),
            current: None,
        })
    }

    /// Takes microphone samples; returns the utterances the length cap cut off.
    pub fn audio(&mut self, samples: &[i16]) -> Vec<Utterance> {
        self.heard += samples.len() as u64;
        let Some((collected, _)) = self.current.as_mut() else {
            let keep = samples_for_ms(self.settings.pre_roll_ms, self.input_rate);
            self.pre_roll.extend(samples.iter().copied());
            let excess = self.pre_roll.len().saturating_sub(keep);
            self.pre_roll.drain(..excess);
            return Vec::new();
        };
        collected.extend_from_slice(samples);
        let max = samples_for_ms(self.settings.max_utterance_ms, self.input_rate).max(1);
        let mut out = Vec::new();
        while let Some((collected, start)) = self.current.as_mut()
            && collected.len() >= max
        {
            let rest = collected.split_off(max);
            let full = std::mem::replace(collected, rest);
            let first = *start;
            *start += max as u64;
            out.push(self.utterance(full, first));
        }
        out
    }

    /// The host heard speech begin: collecting starts, with the pre-roll.
    pub fn speech_started(&mut self) {
        if self.current.is_some() {
            return;
        }
        let samples: Vec<i16> = self.pre_roll.drain(..).collect();
        let start = self.heard - samples.len() as u64;
        self.current = Some((samples, start));
    }

    /// The host heard speech end: the utterance is complete (None when too short or none).
    pub fn speech_ended(&mut self) -> Option<Utterance> {
        let (samples, start) = self.current.take()?;
        let min = samples_for_ms(self.settings.min_utterance_ms, self.input_rate);
        if samples.len() < min.max(1) {
            return None;
        }
        Some(self.utterance(samples, start))
    }

    /// The stream ended: an utterance in progress is complete.
    pub fn finish(&mut self) -> Option<Utterance> {
        self.speech_ended()
    }

    fn utterance(&mut self, samples: Vec<i16>, start: u64) -> Utterance {
        let rate = u64::from(self.input_rate);
        let end = start + samples.len() as u64;
        Utterance {
            samples: self.resampler.convert(&samples),
            sample_rate: self.resampler.to_rate(),
            start_ms: start * 1000 / rate,
            end_ms: end * 1000 / rate,
        }
    }
}

/// Reads the microphone to its end, cutting utterances (at `target_rate`), and pushes the final
/// transcript `recognize` makes of each (None: no words heard). An error from `recognize` (its
/// retries spent) ends the call with it, so the host reports it and starts a new call.
pub fn transcribe_utterances(
    input: &mut Microphone<'_>,
    sink: &TranscriptSink<'_>,
    settings: Settings,
    target_rate: u32,
    mut recognize: impl FnMut(&Utterance) -> Result<Option<Transcript>, PluginError>,
) -> Result<(), PluginError> {
    let mut segmenter = Segmenter::new(settings, input.sample_rate(), target_rate)?;
    for event in input {
        let utterances = match event? {
            InputEvent::Audio(samples) => segmenter.audio(&samples),
            InputEvent::SpeechStarted => {
                segmenter.speech_started();
                continue;
            }
            InputEvent::SpeechEnded => segmenter.speech_ended().into_iter().collect(),
            InputEvent::End => segmenter.finish().into_iter().collect(),
            InputEvent::Timeout | InputEvent::Socket(_) => continue,
        };
        for utterance in utterances {
            match recognize(&utterance)? {
                Some(transcript) => sink.push(&transcript)?,
                None => log::debug!(
                    "no speech recognized in {}..{} ms",
                    utterance.start_ms,
                    utterance.end_ms
                ),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(value: i16) -> Vec<i16> {
        vec![value; 960]
    }

    fn feed(segmenter: &mut Segmenter, frames: usize, value: i16) -> Vec<Utterance> {
        (0..frames)
            .flat_map(|_| segmenter.audio(&frame(value)))
            .collect()
    }

    #[test]
    fn an_utterance_runs_from_the_pre_roll_to_the_end_hint_at_16_khz() {
        let mut segmenter =
            Segmenter::new(Settings::default(), 48_000, 16_000).expect("supported rates");
        assert!(feed(&mut segmenter, 50, 0).is_empty()); // 1 s of silence
        segmenter.speech_started();
        feed(&mut segmenter, 40, 1000); // 800 ms
        let utterance = segmenter.speech_ended().expect("an utterance");
        // 300 ms of pre-roll + 800 ms, at 16 kHz.
        assert_eq!(utterance.samples.len(), 16 * 1100);
        assert_eq!(utterance.sample_rate, 16_000);
        assert_eq!((utterance.start_ms, utterance.end_ms), (700, 1800));
        assert_eq!(segmenter.finish(), None, "nothing left");
    }

    #[test]
    fn speech_at_the_very_start_has_only_the_audio_there_is() {
        let mut segmenter =
            Segmenter::new(Settings::default(), 48_000, 16_000).expect("supported rates");
        feed(&mut segmenter, 5, 7); // 100 ms
        segmenter.speech_started();
        feed(&mut segmenter, 20, 7);
        let utterance = segmenter.finish().expect("flushed at the end");
        assert_eq!((utterance.start_ms, utterance.end_ms), (0, 500));
        assert_eq!(utterance.samples.len(), 8000);
    }

    #[test]
    fn long_speech_is_cut_at_the_cap_and_goes_on() {
        let settings = Settings {
            max_utterance_ms: 1000,
            pre_roll_ms: 0,
            ..Settings::default()
        };
        let mut segmenter = Segmenter::new(settings, 48_000, 16_000).expect("supported rates");
        segmenter.speech_started();
        let cut = feed(&mut segmenter, 125, 5); // 2.5 s
        assert_eq!(cut.len(), 2);
        assert_eq!((cut[0].start_ms, cut[0].end_ms), (0, 1000));
        assert_eq!((cut[1].start_ms, cut[1].end_ms), (1000, 2000));
        let last = segmenter.speech_ended().expect("the rest");
        assert_eq!((last.start_ms, last.end_ms), (2000, 2500));
    }

    #[test]
    fn clicks_and_stray_hints_make_no_utterance() {
        let mut segmenter =
            Segmenter::new(Settings::default(), 48_000, 16_000).expect("supported rates");
        assert_eq!(segmenter.speech_ended(), None);
        segmenter.speech_started();
        segmenter.audio(&frame(9)); // 20 ms + no pre-roll
        assert_eq!(segmenter.speech_ended(), None);
        assert_eq!(segmenter.finish(), None);
    }

    #[test]
    fn a_second_start_hint_does_not_restart_the_utterance() {
        let mut segmenter =
            Segmenter::new(Settings::default(), 16_000, 16_000).expect("supported rates");
        segmenter.speech_started();
        segmenter.audio(&[1; 8000]);
        segmenter.speech_started();
        segmenter.audio(&[1; 8000]);
        let utterance = segmenter.speech_ended().expect("one utterance");
        assert_eq!(utterance.samples.len(), 16_000);
    }

    #[test]
    fn an_utterance_with_words_becomes_a_final_transcript_and_silence_none() {
        let mut segmenter =
            Segmenter::new(Settings::default(), 16_000, 16_000).expect("supported rates");
        segmenter.speech_started();
        segmenter.audio(&[1; 8000]);
        let utterance = segmenter.speech_ended().expect("an utterance");
        assert_eq!(
            utterance.transcript("hello".to_owned()),
            Some(Transcript::final_("hello", 0, 500))
        );
        assert_eq!(utterance.transcript(String::new()), None);
    }
}
