//! The synthetic voice: a source-filter model small enough to run in real time many times over.
//! Pure: text in, samples out, deterministic.

use std::f32::consts::PI;
use studio_plugin::Speaker;

/// The plugin's settings (the `[plugins.mock-tts.config]` table).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Output sample rate in Hz.
    pub sample_rate: u32,
    /// Length of each pushed chunk in ms.
    pub chunk_ms: u32,
    /// Speaking rate, which sets the length of the audio.
    pub words_per_minute: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            sample_rate: 24_000,
            chunk_ms: 100,
            words_per_minute: 170,
        }
    }
}

/// One of the mock's voices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoiceKind {
    /// The pitch the voice starts a sentence at, in Hz.
    pub base_pitch_hz: f32,
    /// Formant frequencies are scaled by this (shorter vocal tract: higher formants).
    pub formant_scale: f32,
}

impl VoiceKind {
    /// A low voice (claude's default).
    pub const LOW: VoiceKind = VoiceKind {
        base_pitch_hz: 110.0,
        formant_scale: 1.0,
    };
    /// A higher voice (the guest's default).
    pub const HIGH: VoiceKind = VoiceKind {
        base_pitch_hz: 195.0,
        formant_scale: 1.15,
    };

    /// The voice named in the studio's settings (`low`/`high`, or a pitch such as `150hz`), else
    /// the speaker's default: claude low, the guest high.
    pub fn pick(speaker: Speaker, voice: &str) -> VoiceKind {
        let voice = voice.trim().to_lowercase();
        match voice.as_str() {
            "low" | "deep" => return Self::LOW,
            "high" | "bright" => return Self::HIGH,
            _ => {}
        }
        if let Some(hz) = voice
            .strip_suffix("hz")
            .and_then(|n| n.trim().parse::<f32>().ok())
        {
            let hz = hz.clamp(70.0, 300.0);
            return VoiceKind {
                base_pitch_hz: hz,
                formant_scale: 1.0 + (hz - 110.0) / 600.0,
            };
        }
        match speaker {
            Speaker::Guest => Self::HIGH,
            Speaker::Claude | Speaker::You => Self::LOW,
        }
    }
}

/// First three formants (Hz) of the vowels the mock uses.
const VOWELS: [[f32; 3]; 5] = [
    [730.0, 1090.0, 2440.0], // a
    [530.0, 1840.0, 2480.0], // e
    [270.0, 2290.0, 3010.0], // i
    [570.0, 840.0, 2410.0],  // o
    [300.0, 870.0, 2240.0],  // u
];

/// A planned stretch of sound: a syllable or a pause.
#[derive(Debug, Clone, Copy)]
enum Segment {
    Syllable {
        samples: usize,
        vowel: usize,
        /// Pitch at the syllable's start and end, in Hz.
        pitch: (f32, f32),
        /// Loudness, 0..1 (stressed syllables are louder).
        loudness: f32,
        /// A consonant burst at the onset.
        onset_noise: bool,
    },
    Pause {
        samples: usize,
    },
}

/// Words of the text as the mock will "say" them, with the pause after each.
fn plan(text: &str, voice: VoiceKind, settings: &Settings) -> Vec<Segment> {
    let rate = settings.sample_rate as f32;
    let word_seconds = 60.0 / settings.words_per_minute as f32;
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect();
    let mut segments = Vec::new();
    let question = text.trim_end().ends_with('?');
    let total = words.len().max(1) as f32;
    for (index, word) in words.iter().enumerate() {
        let syllables = syllable_count(word);
        // Pauses come out of the word's time budget, so the total length follows words per minute.
        let pause_seconds = match word.chars().last() {
            Some('.' | '!' | '?' | ';' | ':') => 0.28,
            Some(',' | '-' | '—') => 0.15,
            _ => 0.05,
        };
        let voiced_seconds = (word_seconds - pause_seconds * 0.5).max(0.12);
        let syllable_samples = (voiced_seconds / syllables as f32 * rate) as usize;
        // Declination: pitch falls across the text, rises at the end of a question.
        let progress = index as f32 / total;
        let mut base = voice.base_pitch_hz * (1.08 - 0.18 * progress);
        if question && index + 1 == words.len() {
            base *= 1.12;
        }
        let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
        for s in 0..syllables {
            let stressed = s == 0 && (letters.len() > 3 || index % 3 == 0);
            let accent = if stressed { 1.12 } else { 1.0 };
            let rise = if question && index + 1 == words.len() {
                1.25
            } else {
                0.96
            };
            let vowel = letters
                .get(s * 2 % letters.len().max(1))
                .map(|c| vowel_for(*c))
                .unwrap_or(s % VOWELS.len());
            segments.push(Segment::Syllable {
                samples: syllable_samples,
                vowel,
                pitch: (base * accent, base * accent * rise),
                loudness: if stressed { 1.0 } else { 0.72 },
                onset_noise: letters
                    .first()
                    .is_some_and(|c| !"aeiouy".contains(c.to_ascii_lowercase()))
                    && s == 0,
            });
        }
        segments.push(Segment::Pause {
            samples: (pause_seconds * rate) as usize,
        });
    }
    segments
}

/// Vowel groups in a word, at least one, at most six.
fn syllable_count(word: &str) -> usize {
    let mut count = 0;
    let mut in_vowel = false;
    for c in word.chars().map(|c| c.to_ascii_lowercase()) {
        let vowel = "aeiouy".contains(c);
        if vowel && !in_vowel {
            count += 1;
        }
        in_vowel = vowel;
    }
    count.clamp(1, 6)
}

fn vowel_for(c: char) -> usize {
    (c.to_ascii_lowercase() as usize) % VOWELS.len()
}

/// A two-pole resonator: one formant of the vocal tract.
#[derive(Debug, Clone, Copy, Default)]
struct Resonator {
    b1: f32,
    b2: f32,
    gain: f32,
    y1: f32,
    y2: f32,
}

impl Resonator {
    /// Tunes the resonator; `period` is one sample's length in seconds.
    fn tune(&mut self, frequency: f32, bandwidth: f32, period: f32) {
        let r = (-PI * bandwidth * period).exp();
        self.b1 = 2.0 * r * (2.0 * PI * frequency * period).cos();
        self.b2 = -r * r;
        self.gain = 1.0 - r;
    }

    fn step(&mut self, x: f32) -> f32 {
        let y = self.gain * x + self.b1 * self.y1 + self.b2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// Streams the samples of one text.
#[derive(Debug)]
pub struct Synth {
    segments: Vec<Segment>,
    segment: usize,
    /// Position inside the current segment.
    offset: usize,
    /// One sample's length in seconds: multiplied by, where dividing by the rate would cost a
    /// division per sample in wasm.
    period: f32,
    voice: VoiceKind,
    phase: f32,
    last_pulse: f32,
    formants: [Resonator; 3],
    noise: u32,
    /// The vibrato's phasor (cos, sin) and its turn per sample: a rotation per sample instead of a
    /// `sin` (a software routine in wasm, four of which per sample were most of this plugin's time).
    vibrato: (f32, f32),
    vibrato_step: (f32, f32),
}

impl Synth {
    /// A synthesizer for `text` in `voice`.
    pub fn new(text: &str, voice: VoiceKind, settings: Settings) -> Self {
        let segments = plan(text, voice, &settings);
        Self {
            segments,
            segment: 0,
            offset: 0,
            period: 1.0 / settings.sample_rate as f32,
            voice,
            phase: 0.0,
            last_pulse: 0.0,
            formants: [Resonator::default(); 3],
            noise: 0x1234_5678,
            vibrato: (1.0, 0.0),
            vibrato_step: {
                let turn = 2.0 * PI * VIBRATO_HZ / settings.sample_rate as f32;
                (turn.cos(), turn.sin())
            },
        }
    }

    /// Total length of the speech in samples.
    pub fn total_samples(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Syllable { samples, .. } | Segment::Pause { samples } => *samples,
            })
            .sum()
    }

    /// Samples produced so far.
    fn position(&self) -> usize {
        self.segments[..self.segment.min(self.segments.len())]
            .iter()
            .map(|s| match s {
                Segment::Syllable { samples, .. } | Segment::Pause { samples } => *samples,
            })
            .sum::<usize>()
            + self.offset
    }

    /// The next (at most) `count` samples; empty at the end.
    pub fn next_samples(&mut self, count: usize) -> Vec<i16> {
        let remaining = self.total_samples().saturating_sub(self.position());
        let mut out = Vec::with_capacity(count.min(remaining));
        while out.len() < count && self.segment < self.segments.len() {
            let segment = self.segments[self.segment];
            let length = match segment {
                Segment::Syllable { samples, .. } | Segment::Pause { samples } => samples,
            };
            if self.offset == 0 {
                self.vibrato = (1.0, 0.0);
            }
            if self.offset == 0
                && let Segment::Syllable { vowel, .. } = segment
            {
                for (formant, (frequency, bandwidth)) in self
                    .formants
                    .iter_mut()
                    .zip(VOWELS[vowel].iter().zip([80.0, 100.0, 140.0]))
                {
                    formant.tune(frequency * self.voice.formant_scale, bandwidth, self.period);
                }
            }
            let take = (length - self.offset).min(count - out.len());
            // Divisions are slow in wasm: one per segment here instead of one per sample.
            let per_sample = 1.0 / length.max(1) as f32;
            for i in 0..take {
                let position = self.offset + i;
                let sample = match segment {
                    Segment::Pause { .. } => self.decay(),
                    Segment::Syllable {
                        pitch,
                        loudness,
                        onset_noise,
                        ..
                    } => self.voiced(position as f32 * per_sample, pitch, loudness, onset_noise),
                };
                out.push(studio_plugin::pcm::f32_to_i16(soft_clip(sample)));
            }
            self.offset += take;
            if self.offset >= length {
                self.segment += 1;
                self.offset = 0;
            }
        }
        out
    }

    /// One sample of a syllable at `t` (0..1 through it): pulses through the formants, shaped by
    /// the syllable's envelope.
    fn voiced(&mut self, t: f32, pitch: (f32, f32), loudness: f32, onset_noise: bool) -> f32 {
        let f0 = pitch.0 + (pitch.1 - pitch.0) * t;
        // Slight vibrato keeps it from sounding like a tone generator.
        let f0 = f0 * (1.0 + 0.012 * self.next_vibrato());
        self.phase += f0 * self.period;
        if self.phase >= 1.0 {
            self.phase -= 1.0;
        }
        // Rosenberg glottal pulse: open for 40% of the period, then closed; its derivative excites the tract.
        let pulse = if self.phase < 0.25 {
            0.5 * (1.0 - fast_cos(self.phase * (PI / 0.25)))
        } else if self.phase < 0.4 {
            fast_cos((self.phase - 0.25) * (PI / 0.3))
        } else {
            0.0
        };
        let excitation = (pulse - self.last_pulse) * 4.0;
        self.last_pulse = pulse;
        let mut sample = 0.0;
        for (formant, weight) in self.formants.iter_mut().zip([1.0, 0.6, 0.25]) {
            sample += weight * formant.step(excitation);
        }
        // Attack, hold, release: each syllable swells and fades, which gives the syllable rhythm.
        let envelope = if t < 0.15 {
            t * (1.0 / 0.15)
        } else if t > 0.7 {
            ((1.0 - t) * (1.0 / 0.3)).max(0.0)
        } else {
            1.0
        };
        let mut out = sample * envelope * loudness * 0.9;
        if onset_noise && t < 0.12 {
            out += self.white() * 0.08 * (1.0 - t * (1.0 / 0.12));
        }
        out
    }

    /// sin(2 pi 5.5 Hz t) at this sample of the syllable; the phasor turns one sample on.
    fn next_vibrato(&mut self) -> f32 {
        let (c, s) = self.vibrato;
        let (dc, ds) = self.vibrato_step;
        self.vibrato = (c * dc - s * ds, s * dc + c * ds);
        s
    }

    /// A pause: let the resonators ring out, no new excitation.
    fn decay(&mut self) -> f32 {
        self.last_pulse = 0.0;
        self.formants.iter_mut().map(|f| f.step(0.0)).sum::<f32>() * 0.5
    }

    fn white(&mut self) -> f32 {
        // xorshift32: deterministic noise, no dependency.
        self.noise ^= self.noise << 13;
        self.noise ^= self.noise >> 17;
        self.noise ^= self.noise << 5;
        (self.noise as f32 / u32::MAX as f32) * 2.0 - 1.0
    }
}

/// Vibrato rate of the voice.
const VIBRATO_HZ: f32 = 5.5;

/// cos on 0..=pi by Bhaskara's rational approximation (error below 0.002): the glottal pulse's
/// shape needs no more, and it costs a division instead of a software `cos`.
fn fast_cos(x: f32) -> f32 {
    let bhaskara = |x: f32| {
        let pi2 = PI * PI;
        (pi2 - 4.0 * x * x) / (pi2 + x * x)
    };
    if x <= PI / 2.0 {
        bhaskara(x)
    } else {
        -bhaskara(PI - x)
    }
}

/// A soft limiter like tanh (its [3/2] Pade approximant, exact at 0 and joined to +-1 at +-3).
fn soft_clip(x: f32) -> f32 {
    let x = x.clamp(-3.0, 3.0);
    x * (27.0 + x * x) / (27.0 + 9.0 * x * x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use studio_plugin::pcm::dbfs;

    fn render(text: &str, speaker: Speaker) -> Vec<i16> {
        let mut synth = Synth::new(text, VoiceKind::pick(speaker, ""), Settings::default());
        let mut all = Vec::new();
        loop {
            let chunk = synth.next_samples(2400);
            if chunk.is_empty() {
                return all;
            }
            all.extend(chunk);
        }
    }

    /// The strongest period between 60 and 400 Hz by autocorrelation, as a pitch in Hz.
    fn pitch_hz(samples: &[i16], rate: f32) -> f32 {
        // Low-pass first (four one-pole stages at ~300 Hz) so the formants do not pass for the pitch.
        let alpha = 1.0 - (-2.0 * PI * 300.0 / rate).exp();
        let mut x: Vec<f32> = samples.iter().map(|&s| f32::from(s)).collect();
        for _ in 0..4 {
            let mut y = 0.0;
            for v in x.iter_mut() {
                y += alpha * (*v - y);
                *v = y;
            }
        }
        let (min_lag, max_lag) = ((rate / 400.0) as usize, (rate / 60.0) as usize);
        let best = (min_lag..=max_lag)
            .max_by(|&a, &b| {
                // Normalized by the overlap, so long lags are not penalized.
                let ca: f32 =
                    x.iter().zip(&x[a..]).map(|(p, q)| p * q).sum::<f32>() / (x.len() - a) as f32;
                let cb: f32 =
                    x.iter().zip(&x[b..]).map(|(p, q)| p * q).sum::<f32>() / (x.len() - b) as f32;
                ca.total_cmp(&cb)
            })
            .unwrap_or(min_lag);
        rate / best as f32
    }

    /// The loudest 60 ms window of the audio (a vowel's steady part).
    fn loudest_window(samples: &[i16]) -> &[i16] {
        samples
            .chunks(960)
            .max_by(|a, b| dbfs(a).total_cmp(&dbfs(b)))
            .unwrap_or(samples)
    }

    #[test]
    fn length_follows_the_words_per_minute() {
        let ten_words = "one two three four five six seven eight nine ten";
        let audio = render(ten_words, Speaker::Claude);
        let seconds = audio.len() as f32 / 24_000.0;
        // 10 words at 170 wpm = 3.5 s.
        assert!((3.0..=4.0).contains(&seconds), "{seconds} s");
        let twenty = render(&format!("{ten_words} {ten_words}"), Speaker::Claude);
        let ratio = twenty.len() as f32 / audio.len() as f32;
        assert!((1.9..=2.1).contains(&ratio), "{ratio}");
    }

    #[test]
    fn speech_is_audible_and_not_constant() {
        let audio = render(
            "Hello there, and welcome to the show. Today we talk about rivers.",
            Speaker::Claude,
        );
        let level = dbfs(&audio);
        assert!(
            (-30.0..=-12.0).contains(&level),
            "overall level {level} dBFS"
        );
        // Syllables and pauses: the 10 ms loudness swings by more than 20 dB.
        let windows: Vec<f32> = audio.chunks(240).map(dbfs).collect();
        let loudest = windows.iter().cloned().fold(f32::MIN, f32::max);
        let quietest = windows.iter().cloned().fold(f32::MAX, f32::min);
        assert!(loudest - quietest > 20.0, "{quietest}..{loudest}");
        // Many separate loud stretches (words and syllables), not one long tone.
        let threshold = loudest - 20.0;
        let onsets = windows
            .windows(2)
            .filter(|w| w[0] < threshold && w[1] >= threshold)
            .count();
        assert!(onsets >= 10, "{onsets} onsets");
    }

    #[test]
    fn claude_speaks_lower_than_the_guest() {
        let text = "Well, that is a fair point about the harbor.";
        let claude = pitch_hz(loudest_window(&render(text, Speaker::Claude)), 24_000.0);
        let guest = pitch_hz(loudest_window(&render(text, Speaker::Guest)), 24_000.0);
        assert!((85.0..=140.0).contains(&claude), "claude {claude} Hz");
        assert!((150.0..=250.0).contains(&guest), "guest {guest} Hz");
    }

    #[test]
    fn the_same_text_gives_the_same_audio() {
        assert_eq!(
            render("Same words.", Speaker::Guest),
            render("Same words.", Speaker::Guest)
        );
        assert_ne!(
            render("Same words.", Speaker::Guest),
            render("Other words.", Speaker::Guest)
        );
    }

    #[test]
    fn empty_or_symbol_only_text_is_silent_and_short() {
        assert!(render("", Speaker::Claude).is_empty());
        assert!(render(" ... ", Speaker::Claude).is_empty());
    }

    #[test]
    fn the_sample_rate_setting_scales_the_length() {
        let settings = Settings {
            sample_rate: 16_000,
            ..Settings::default()
        };
        let mut synth = Synth::new("one two three", VoiceKind::LOW, settings);
        let low_rate = synth.total_samples();
        let high_rate =
            Synth::new("one two three", VoiceKind::LOW, Settings::default()).total_samples();
        assert!((high_rate as f32 / low_rate as f32 - 1.5).abs() < 0.01);
        assert_eq!(synth.next_samples(usize::MAX / 2).len(), low_rate);
    }

    #[test]
    fn a_named_voice_overrides_the_speaker_default() {
        assert_eq!(VoiceKind::pick(Speaker::Claude, "high"), VoiceKind::HIGH);
        assert_eq!(VoiceKind::pick(Speaker::Guest, ""), VoiceKind::HIGH);
        assert_eq!(
            VoiceKind::pick(Speaker::Guest, "150Hz").base_pitch_hz,
            150.0
        );
    }
}
