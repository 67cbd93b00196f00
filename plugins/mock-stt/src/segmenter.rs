//! Utterance detection on raw audio and the transcripts it produces. Pure: audio in, transcripts out.

use studio_plugin::Transcript;
use studio_plugin::pcm::dbfs;

/// How long one analysis window is.
pub const WINDOW_MS: u64 = 20;
/// How fast the mock "recognizes" words in partials (a typical speaking rate).
const WORDS_PER_SECOND: f64 = 2.5;

/// The plugin's settings (the `[plugins.mock-stt.config]` table).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// A window louder than this is speech.
    pub threshold_dbfs: f32,
    /// This much quiet after speech ends the utterance.
    pub end_of_speech_ms: u32,
    /// A partial transcript this often during speech.
    pub partial_every_ms: u32,
    /// Speech shorter than this (a click, a cough) is ignored.
    pub min_speech_ms: u32,
    /// The text of each utterance, in turn, repeating; empty for descriptions.
    pub script: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            threshold_dbfs: -40.0,
            end_of_speech_ms: 500,
            partial_every_ms: 300,
            min_speech_ms: 100,
            script: Vec::new(),
        }
    }
}

/// Tracks one microphone stream: windows, speech state and the utterance count.
#[derive(Debug)]
pub struct Segmenter {
    settings: Settings,
    window_len: usize,
    sample_rate: u64,
    /// Samples of the window being filled.
    window: Vec<i16>,
    /// Samples analysed so far (whole windows).
    consumed: u64,
    speech: Option<Utterance>,
    /// Utterances finished so far (counting only those long enough to report).
    finished: usize,
}

#[derive(Debug, Clone, Copy)]
struct Utterance {
    start_ms: u64,
    last_voice_ms: u64,
    voiced_ms: u64,
    last_partial_ms: u64,
    partials_sent: bool,
}

impl Segmenter {
    /// A segmenter for audio at `sample_rate` Hz.
    pub fn new(settings: Settings, sample_rate: u32) -> Self {
        let sample_rate = u64::from(sample_rate.max(1000));
        let window_len = (sample_rate * WINDOW_MS / 1000) as usize;
        Self {
            settings,
            window_len,
            sample_rate,
            window: Vec::with_capacity(window_len),
            consumed: 0,
            speech: None,
            finished: 0,
        }
    }

    /// Analyses more audio and returns the transcripts it produced.
    pub fn push_audio(&mut self, samples: &[i16]) -> Vec<Transcript> {
        let mut out = Vec::new();
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (self.window_len - self.window.len()).min(rest.len());
            self.window.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.window.len() == self.window_len {
                let level = dbfs(&self.window);
                self.window.clear();
                let start_ms = self.consumed * 1000 / self.sample_rate;
                self.consumed += self.window_len as u64;
                let end_ms = self.consumed * 1000 / self.sample_rate;
                self.window_done(
                    level > self.settings.threshold_dbfs,
                    start_ms,
                    end_ms,
                    &mut out,
                );
            }
        }
        out
    }

    /// The stream ended: an utterance in progress becomes final.
    pub fn finish(&mut self) -> Vec<Transcript> {
        match self.speech.take() {
            Some(utterance) => self.finalize(utterance).into_iter().collect(),
            None => Vec::new(),
        }
    }

    fn window_done(&mut self, voiced: bool, start_ms: u64, end_ms: u64, out: &mut Vec<Transcript>) {
        let Some(mut utterance) = self.speech else {
            if voiced {
                self.speech = Some(Utterance {
                    start_ms,
                    last_voice_ms: end_ms,
                    voiced_ms: WINDOW_MS,
                    last_partial_ms: start_ms,
                    partials_sent: false,
                });
            }
            return;
        };
        if voiced {
            utterance.last_voice_ms = end_ms;
            utterance.voiced_ms += WINDOW_MS;
        } else if end_ms - utterance.last_voice_ms >= u64::from(self.settings.end_of_speech_ms) {
            self.speech = None;
            out.extend(self.finalize(utterance));
            return;
        }
        let every = u64::from(self.settings.partial_every_ms.max(WINDOW_MS as u32));
        // Partials only while words are heard: a recognizer has nothing new to say in a pause.
        if voiced
            && utterance.voiced_ms >= u64::from(self.settings.min_speech_ms)
            && end_ms - utterance.last_partial_ms >= every
        {
            utterance.last_partial_ms = end_ms;
            utterance.partials_sent = true;
            out.push(Transcript::partial(
                self.partial_text(&utterance, end_ms),
                utterance.start_ms,
                end_ms,
            ));
        }
        self.speech = Some(utterance);
    }

    fn finalize(&mut self, utterance: Utterance) -> Option<Transcript> {
        // A click or cough too short to be speech: nothing was said, unless partials already showed words.
        if utterance.voiced_ms < u64::from(self.settings.min_speech_ms) && !utterance.partials_sent
        {
            return None;
        }
        self.finished += 1;
        let text = self.utterance_text(
            self.finished,
            utterance.last_voice_ms - utterance.start_ms,
            false,
        );
        Some(
            Transcript::final_(text, utterance.start_ms, utterance.last_voice_ms)
                .with_confidence(1.0),
        )
    }

    /// The words "heard" so far: a growing prefix of the utterance's text, at a speaking rate.
    fn partial_text(&self, utterance: &Utterance, now_ms: u64) -> String {
        let number = self.finished + 1;
        let elapsed = now_ms - utterance.start_ms;
        let full = self.utterance_text(number, elapsed, true);
        if self.settings.script.is_empty() {
            return full;
        }
        let words: Vec<&str> = full.split_whitespace().collect();
        let heard = ((elapsed as f64 / 1000.0 * WORDS_PER_SECOND).ceil() as usize)
            .clamp(1, words.len().max(1));
        words[..heard.min(words.len())].join(" ")
    }

    /// The text of utterance `number` (1-based): the script's line, or a description.
    fn utterance_text(&self, number: usize, duration_ms: u64, partial: bool) -> String {
        if let Some(line) = self
            .settings
            .script
            .get((number - 1) % self.settings.script.len().max(1))
        {
            return line.clone();
        }
        let seconds = duration_ms as f64 / 1000.0;
        if partial {
            format!("utterance {number}, {seconds:.1} seconds so far")
        } else {
            format!("utterance {number}, {seconds:.1} seconds")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use studio_plugin::TranscriptKind;

    const RATE: u32 = 48_000;

    /// `ms` of a 200 Hz tone at about -15 dBFS (speech-loud).
    fn voice(ms: u32) -> Vec<i16> {
        let n = (RATE / 1000 * ms) as usize;
        (0..n)
            .map(|i| {
                (8000.0 * (i as f32 * 2.0 * std::f32::consts::PI * 200.0 / RATE as f32).sin())
                    as i16
            })
            .collect()
    }

    /// `ms` of quiet room noise at about -60 dBFS.
    fn quiet(ms: u32) -> Vec<i16> {
        let n = (RATE / 1000 * ms) as usize;
        (0..n).map(|i| if i % 2 == 0 { 30 } else { -30 }).collect()
    }

    /// Feeds audio in 20 ms frames, like the studio does.
    fn feed(segmenter: &mut Segmenter, audio: &[i16]) -> Vec<Transcript> {
        audio
            .chunks(960)
            .flat_map(|frame| segmenter.push_audio(frame))
            .collect()
    }

    fn script() -> Settings {
        Settings {
            script: vec![
                "Claude, what do you make of today's topic?".into(),
                "Guest, do you agree?".into(),
            ],
            ..Settings::default()
        }
    }

    #[test]
    fn speech_then_silence_gives_partials_then_one_final_with_times() {
        let mut segmenter = Segmenter::new(script(), RATE);
        let mut audio = quiet(1000);
        audio.extend(voice(1500));
        audio.extend(quiet(1000));
        let out = feed(&mut segmenter, &audio);
        let finals: Vec<&Transcript> = out
            .iter()
            .filter(|t| t.kind == TranscriptKind::Final)
            .collect();
        let partials: Vec<&Transcript> = out
            .iter()
            .filter(|t| t.kind == TranscriptKind::Partial)
            .collect();
        assert_eq!(finals.len(), 1);
        assert_eq!(finals[0].text, "Claude, what do you make of today's topic?");
        assert_eq!((finals[0].start_ms, finals[0].end_ms), (1000, 2500));
        // 1.5 s of speech with a partial every 300 ms.
        assert!((4..=5).contains(&partials.len()), "{partials:?}");
        assert!(
            partials
                .windows(2)
                .all(|w| w[0].text.len() <= w[1].text.len()),
            "partials grow: {partials:?}"
        );
        assert!(
            partials
                .iter()
                .all(|p| p.start_ms == 1000 && p.end_ms <= 2500 + 500)
        );
        // The final comes last.
        assert_eq!(out.last().map(|t| t.kind), Some(TranscriptKind::Final));
    }

    #[test]
    fn a_pause_shorter_than_the_hangover_does_not_split_the_utterance() {
        let mut segmenter = Segmenter::new(script(), RATE);
        let mut audio = voice(600);
        audio.extend(quiet(300));
        audio.extend(voice(600));
        audio.extend(quiet(600));
        let finals: Vec<Transcript> = feed(&mut segmenter, &audio)
            .into_iter()
            .filter(|t| t.kind == TranscriptKind::Final)
            .collect();
        assert_eq!(finals.len(), 1);
        assert_eq!((finals[0].start_ms, finals[0].end_ms), (0, 1500));
    }

    #[test]
    fn script_lines_are_used_in_turn_and_repeat() {
        let mut segmenter = Segmenter::new(script(), RATE);
        let mut audio = Vec::new();
        for _ in 0..3 {
            audio.extend(voice(400));
            audio.extend(quiet(700));
        }
        let finals: Vec<String> = feed(&mut segmenter, &audio)
            .into_iter()
            .filter(|t| t.kind == TranscriptKind::Final)
            .map(|t| t.text)
            .collect();
        assert_eq!(
            finals,
            vec![
                "Claude, what do you make of today's topic?",
                "Guest, do you agree?",
                "Claude, what do you make of today's topic?"
            ]
        );
    }

    #[test]
    fn without_a_script_the_utterance_is_described() {
        let mut segmenter = Segmenter::new(Settings::default(), RATE);
        let mut audio = voice(1800);
        audio.extend(quiet(600));
        audio.extend(voice(400));
        audio.extend(quiet(600));
        let finals: Vec<String> = feed(&mut segmenter, &audio)
            .into_iter()
            .filter(|t| t.kind == TranscriptKind::Final)
            .map(|t| t.text)
            .collect();
        assert_eq!(
            finals,
            vec!["utterance 1, 1.8 seconds", "utterance 2, 0.4 seconds"]
        );
    }

    #[test]
    fn end_of_stream_flushes_speech_in_progress_as_final() {
        let mut segmenter = Segmenter::new(script(), RATE);
        let out = feed(&mut segmenter, &voice(800));
        assert!(out.iter().all(|t| t.kind == TranscriptKind::Partial));
        let flushed = segmenter.finish();
        assert_eq!(flushed.len(), 1);
        assert_eq!(flushed[0].kind, TranscriptKind::Final);
        assert_eq!((flushed[0].start_ms, flushed[0].end_ms), (0, 800));
        assert!(segmenter.finish().is_empty());
    }

    #[test]
    fn silence_and_clicks_produce_nothing() {
        let mut segmenter = Segmenter::new(script(), RATE);
        assert!(feed(&mut segmenter, &quiet(3000)).is_empty());
        let mut click = voice(40);
        click.extend(quiet(1000));
        assert!(feed(&mut segmenter, &click).is_empty());
        assert!(segmenter.finish().is_empty());
    }

    #[test]
    fn the_threshold_decides_what_is_speech() {
        let mut strict = Segmenter::new(
            Settings {
                threshold_dbfs: -5.0,
                ..script()
            },
            RATE,
        );
        let mut audio = voice(1000);
        audio.extend(quiet(600));
        assert!(feed(&mut strict, &audio).is_empty());
    }

    #[test]
    fn times_follow_the_sample_rate_and_odd_frame_sizes() {
        let mut segmenter = Segmenter::new(script(), 16_000);
        let tone: Vec<i16> = (0..16_000)
            .map(|i| (8000.0 * (i as f32 * 0.08).sin()) as i16)
            .collect();
        let mut audio = vec![0i16; 8_000];
        audio.extend(tone);
        audio.extend(vec![0i16; 16_000]);
        let out: Vec<Transcript> = audio
            .chunks(333)
            .flat_map(|c| segmenter.push_audio(c))
            .collect();
        let last = out.last().cloned();
        assert_eq!(
            last.map(|t| (t.kind, t.start_ms, t.end_ms)),
            Some((TranscriptKind::Final, 500, 1500))
        );
    }
}
