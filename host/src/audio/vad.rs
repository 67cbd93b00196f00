//! Voice activity detection: speech-start (barge-in) and end-of-speech events on 48 kHz frames.
//!
//! The detector measures each frame's level in the speech band (150 Hz to 4 kHz, so rumble, hum
//! and hiss count less) and compares it with a noise floor that follows the quiet level of the
//! room: it falls quickly to any quieter frame and rises slowly, so a steady fan or hiss becomes
//! the floor while speech, which comes and goes, stays above it. A level that holds within 3 dB
//! for a second becomes the floor at once (speech never holds that still), so a noise that
//! switches on costs one short false utterance instead of one as long as the slow climb.
//! Speech starts after `start_ms` of frames clearly above the floor and ends after `end_ms` of
//! frames back near it (hangover), so pauses between words do not end a turn.

use super::frame::{Frame, dbfs};
use super::{FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE};

/// Tuning of the voice activity detector; the defaults suit a close microphone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Speech must last this long (consecutive loud frames) before `SpeechStart`.
    pub start_ms: u64,
    /// Quiet must last this long before `SpeechEnd`.
    pub end_ms: u64,
    /// A frame this many dB above the noise floor may start speech.
    pub start_margin_db: f32,
    /// While speaking, a frame this many dB above the floor still counts as speech (hysteresis).
    pub continue_margin_db: f32,
    /// Frames quieter than this (speech-band dBFS) are never speech, however low the floor.
    pub min_speech_dbfs: f32,
    /// How fast the noise floor may rise towards louder frames, in dB per second.
    pub floor_rise_db_per_s: f32,
    /// A level that stays within `steady_band_db` this long is noise, whatever its loudness:
    /// speech rises and falls with every syllable, a fan or hum does not.
    pub steady_ms: u64,
    /// Spread (max - min, dB) under which the level counts as steady.
    pub steady_band_db: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            start_ms: 60,
            end_ms: 500,
            start_margin_db: 10.0,
            continue_margin_db: 6.0,
            min_speech_dbfs: -50.0,
            floor_rise_db_per_s: 2.0,
            steady_ms: 1_000,
            steady_band_db: 3.0,
        }
    }
}

/// A change in voice activity, stamped in the caller's milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began (barge-in trigger).
    SpeechStart {
        /// Start of the first loud frame of the run.
        onset_ms: u64,
        /// End of the frame that confirmed it: when the host could know.
        detected_ms: u64,
    },
    /// Speech ended (end of the human's turn).
    SpeechEnd {
        /// End of the last frame that counted as speech.
        offset_ms: u64,
        /// End of the frame that completed the hangover.
        detected_ms: u64,
    },
}

/// The lowest the floor may go: digital silence must not make every faint click "speech".
const FLOOR_MIN_DBFS: f32 = -80.0;
/// Level reported for an all-zero frame instead of `-inf`.
const SILENCE_DBFS: f32 = -120.0;
/// Share of the gap closed per frame when a frame is quieter than the floor.
const FLOOR_FALL: f32 = 0.3;

/// An energy voice activity detector with an adaptive noise floor and hangover.
#[derive(Debug, Clone)]
pub struct Vad {
    config: VadConfig,
    band: [Biquad; 2],
    floor_dbfs: Option<f32>,
    /// Lowest and highest level of the current steady run, and its length in frames.
    steady: (f32, f32, u64),
    speaking: bool,
    loud_run: u64,
    run_onset_ms: u64,
    quiet_run: u64,
    last_speech_end_ms: u64,
}

impl Vad {
    /// A detector with `config`; the floor is learnt from the first frame on.
    pub fn new(config: VadConfig) -> Self {
        let rate = SAMPLE_RATE as f32;
        Self {
            config,
            band: [
                Biquad::high_pass(150.0, rate),
                Biquad::low_pass(4_000.0, rate),
            ],
            floor_dbfs: None,
            steady: (0.0, 0.0, 0),
            speaking: false,
            loud_run: 0,
            run_onset_ms: 0,
            quiet_run: 0,
            last_speech_end_ms: 0,
        }
    }

    /// The detector's tuning.
    pub fn config(&self) -> &VadConfig {
        &self.config
    }

    /// Whether speech is in progress.
    pub fn is_speaking(&self) -> bool {
        self.speaking
    }

    /// Loud audio heard so far of a run that may become speech (ms), 0 when there is none or
    /// speech has already started: what a barge-in can act on before the VAD calls it.
    pub fn onset_heard_ms(&self) -> u64 {
        if self.speaking {
            0
        } else {
            self.loud_run * FRAME_MS
        }
    }

    /// The current noise floor in speech-band dBFS (`None` before the first frame).
    pub fn noise_floor_dbfs(&self) -> Option<f32> {
        self.floor_dbfs
    }

    /// Takes the frame that starts at `at_ms` and returns the event it completes, if any.
    pub fn push(&mut self, frame: &Frame, at_ms: u64) -> Option<VadEvent> {
        let level = self.band_level_dbfs(frame);
        let floor = *self.floor_dbfs.get_or_insert(level.max(FLOOR_MIN_DBFS));
        let frame_end_ms = at_ms + FRAME_MS;
        let start_loud =
            level > (floor + self.config.start_margin_db).max(self.config.min_speech_dbfs);
        let still_loud =
            level > (floor + self.config.continue_margin_db).max(self.config.min_speech_dbfs);
        self.follow_floor(level);

        if !self.speaking {
            if !start_loud {
                self.loud_run = 0;
                return None;
            }
            if self.loud_run == 0 {
                self.run_onset_ms = at_ms;
            }
            self.loud_run += 1;
            if self.loud_run * FRAME_MS < self.config.start_ms {
                return None;
            }
            self.speaking = true;
            self.quiet_run = 0;
            self.last_speech_end_ms = frame_end_ms;
            return Some(VadEvent::SpeechStart {
                onset_ms: self.run_onset_ms,
                detected_ms: frame_end_ms,
            });
        }
        if still_loud {
            self.quiet_run = 0;
            self.last_speech_end_ms = frame_end_ms;
            return None;
        }
        self.quiet_run += 1;
        if self.quiet_run * FRAME_MS < self.config.end_ms {
            return None;
        }
        self.speaking = false;
        self.loud_run = 0;
        Some(VadEvent::SpeechEnd {
            offset_ms: self.last_speech_end_ms,
            detected_ms: frame_end_ms,
        })
    }

    /// Forgets speech state and floor (a new input stream starts).
    pub fn reset(&mut self) {
        *self = Self::new(self.config);
    }

    fn band_level_dbfs(&mut self, frame: &Frame) -> f32 {
        // Digital silence into a filter at rest comes out as silence: skip the filter (a muted
        // or idle microphone sends such frames most of a session).
        if self.band.iter().all(|stage| stage.state == [0.0; 2])
            && frame.samples().iter().all(|&s| s == 0)
        {
            return SILENCE_DBFS;
        }
        let mut energy = 0.0f32;
        for &sample in frame.samples() {
            let mut x = f32::from(sample);
            for stage in &mut self.band {
                x = stage.run(x);
            }
            energy += x * x;
        }
        // After sound the filter state decays towards zero and, in digital silence, into subnormal
        // floats, which cost ~50x per operation; far below one LSB it is zero for our purpose.
        for stage in &mut self.band {
            stage.flush_below(1e-3);
        }
        let rms = (energy / FRAME_SAMPLES as f32).sqrt() / 32768.0;
        let level = dbfs(rms);
        if level.is_finite() {
            level.max(SILENCE_DBFS)
        } else {
            SILENCE_DBFS
        }
    }

    fn follow_floor(&mut self, level: f32) {
        let Some(floor) = self.floor_dbfs.as_mut() else {
            return;
        };
        if level < *floor {
            *floor += (level - *floor) * FLOOR_FALL;
        } else {
            let rise = self.config.floor_rise_db_per_s * FRAME_MS as f32 / 1000.0;
            *floor += (level - *floor).min(rise);
        }
        let (low, high, frames) = &mut self.steady;
        if *frames == 0 || level.max(*high) - level.min(*low) > self.config.steady_band_db {
            (*low, *high, *frames) = (level, level, 1);
        } else {
            (*low, *high, *frames) = (low.min(level), high.max(level), *frames + 1);
        }
        // A new steady noise (a fan switched on) becomes the floor at once instead of at the slow
        // rise rate, which would hold "speech" for as long as the climb takes.
        if *frames * FRAME_MS >= self.config.steady_ms && *low > *floor {
            *floor = *low;
        }
        *floor = floor.max(FLOOR_MIN_DBFS);
    }
}

/// A second-order IIR section (RBJ cookbook), transposed direct form II.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f32; 3],
    a: [f32; 2],
    state: [f32; 2],
}

impl Biquad {
    fn high_pass(cutoff: f32, rate: f32) -> Self {
        let (cos, alpha) = Self::prewarp(cutoff, rate);
        let b = [(1.0 + cos) / 2.0, -(1.0 + cos), (1.0 + cos) / 2.0];
        Self::normalized(b, [1.0 + alpha, -2.0 * cos, 1.0 - alpha])
    }

    fn low_pass(cutoff: f32, rate: f32) -> Self {
        let (cos, alpha) = Self::prewarp(cutoff, rate);
        let b = [(1.0 - cos) / 2.0, 1.0 - cos, (1.0 - cos) / 2.0];
        Self::normalized(b, [1.0 + alpha, -2.0 * cos, 1.0 - alpha])
    }

    /// cos(w0) and alpha for a Butterworth (Q = 1/sqrt 2) section.
    fn prewarp(cutoff: f32, rate: f32) -> (f32, f32) {
        let w0 = 2.0 * std::f32::consts::PI * cutoff / rate;
        (w0.cos(), w0.sin() / (2.0 * std::f32::consts::FRAC_1_SQRT_2))
    }

    fn normalized(b: [f32; 3], a: [f32; 3]) -> Self {
        Self {
            b: [b[0] / a[0], b[1] / a[0], b[2] / a[0]],
            a: [a[1] / a[0], a[2] / a[0]],
            state: [0.0; 2],
        }
    }

    fn flush_below(&mut self, threshold: f32) {
        for value in &mut self.state {
            if value.abs() < threshold {
                *value = 0.0;
            }
        }
    }

    fn run(&mut self, x: f32) -> f32 {
        let y = self.b[0] * x + self.state[0];
        self.state[0] = self.b[1] * x - self.a[0] * y + self.state[1];
        self.state[1] = self.b[2] * x - self.a[1] * y;
        y
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use studio_plugin::resample::signal::sine;

    /// Speech from espeak-ng at 48 kHz mono s16 (the test kit's speech).
    fn spoken(text: &str) -> Vec<i16> {
        studio_test_kit::speech::Speech::new(text)
            .samples()
            .unwrap_or_else(|error| panic!("speech for the VAD tests: {error}"))
    }

    /// First and last sample of `speech` that are audibly speech (above -40 dBFS), in ms.
    fn speech_bounds_ms(speech: &[i16]) -> (u64, u64) {
        let loud = |s: &&i16| s.unsigned_abs() > 328;
        let first = speech
            .iter()
            .position(|s| loud(&s))
            .expect("speech has sound");
        let last = speech
            .iter()
            .rposition(|s| loud(&s))
            .expect("speech has sound");
        (first as u64 * 1000 / 48_000, last as u64 * 1000 / 48_000)
    }

    /// Deterministic white noise with uniform samples of the given RMS in dBFS.
    fn noise(level_dbfs: f32, n: usize, seed: u64) -> Vec<i16> {
        let mut state = seed | 1;
        // A uniform distribution on [-a, a] has RMS a / sqrt(3).
        let amplitude = 10f32.powf(level_dbfs / 20.0) * 3f32.sqrt() * 32767.0;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let unit = (state >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0;
                (unit * amplitude) as i16
            })
            .collect()
    }

    fn mix(a: &[i16], b: &[i16]) -> Vec<i16> {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| (i32::from(x) + i32::from(y)).clamp(-32768, 32767) as i16)
            .collect()
    }

    fn events(samples: &[i16]) -> Vec<VadEvent> {
        let mut vad = Vad::new(VadConfig::default());
        samples
            .chunks_exact(FRAME_SAMPLES)
            .enumerate()
            .filter_map(|(i, chunk)| {
                let mut frame = Frame::silent();
                frame.samples_mut().copy_from_slice(chunk);
                vad.push(&frame, i as u64 * FRAME_MS)
            })
            .collect()
    }

    /// `lead_ms` of silence, the speech, then 1.5 s of silence; returns samples and speech bounds.
    fn padded_speech(lead_ms: usize) -> (Vec<i16>, u64, u64) {
        let speech = spoken("Hello there, this is the human speaking in the studio.");
        let (first, last) = speech_bounds_ms(&speech);
        let mut samples = vec![0i16; lead_ms * 48];
        samples.extend_from_slice(&speech);
        samples.extend(std::iter::repeat_n(0, 72_000));
        (samples, lead_ms as u64 + first, lead_ms as u64 + last)
    }

    fn assert_one_utterance(found: &[VadEvent], onset: u64, offset: u64) {
        let [
            VadEvent::SpeechStart {
                detected_ms: start, ..
            },
            VadEvent::SpeechEnd {
                detected_ms: end, ..
            },
        ] = found
        else {
            panic!("expected one start and one end, got {found:?} (speech {onset}..{offset} ms)");
        };
        assert!(
            *start >= onset && *start <= onset + 100,
            "start {start} for onset {onset}"
        );
        assert!(
            *end >= offset && *end <= offset + 600,
            "end {end} for offset {offset}"
        );
    }

    #[test]
    fn speech_in_silence_starts_within_100_ms_and_ends_within_600_ms() {
        let (samples, onset, offset) = padded_speech(1_000);
        assert_one_utterance(&events(&samples), onset, offset);
    }

    #[test]
    fn loud_frames_before_the_call_are_reported_as_a_possible_onset_and_a_quiet_one_clears_it() {
        let mut vad = Vad::new(VadConfig::default());
        let frame_of = |samples: &[i16]| {
            let mut frame = Frame::silent();
            frame.samples_mut().copy_from_slice(samples);
            frame
        };
        let quiet = Frame::silent();
        // A tone burst faded in and out (Hann window), so the band filter does not ring into the
        // next frame as it would after a hard cut.
        let loud = frame_of(
            &sine(500.0, 48_000, 0.3, FRAME_SAMPLES)
                .iter()
                .enumerate()
                .map(|(i, &s)| {
                    let w = (std::f64::consts::PI * i as f64 / FRAME_SAMPLES as f64).sin();
                    (f64::from(s) * w * w) as i16
                })
                .collect::<Vec<_>>(),
        );
        let mut at = 0;
        let mut push = |vad: &mut Vad, frame: &Frame| {
            at += FRAME_MS;
            vad.push(frame, at)
        };
        for _ in 0..10 {
            assert_eq!(push(&mut vad, &quiet), None);
        }
        assert_eq!(vad.onset_heard_ms(), 0);
        assert_eq!(push(&mut vad, &loud), None);
        assert_eq!(
            vad.onset_heard_ms(),
            20,
            "one loud frame: speech may be starting"
        );
        assert_eq!(push(&mut vad, &quiet), None);
        assert_eq!(vad.onset_heard_ms(), 0, "a click, not speech");
        assert_eq!(push(&mut vad, &loud), None);
        assert_eq!(push(&mut vad, &loud), None);
        assert_eq!(vad.onset_heard_ms(), 40);
        assert!(matches!(
            push(&mut vad, &loud),
            Some(VadEvent::SpeechStart { .. })
        ));
        assert_eq!(
            vad.onset_heard_ms(),
            0,
            "called: no longer a possible onset"
        );
    }

    #[test]
    fn speech_in_steady_noise_starts_within_100_ms_and_ends_within_600_ms() {
        let (clean, onset, offset) = padded_speech(1_500);
        // Hiss at -45 dBFS and mains hum at -35 dBFS under the whole recording.
        let hiss = noise(-45.0, clean.len(), 7);
        let hum = sine(50.0, 48_000, 0.025, clean.len());
        let noisy = mix(&mix(&clean, &hiss), &hum);
        assert_one_utterance(&events(&noisy), onset, offset);
    }

    #[test]
    fn silence_and_steady_noise_alone_raise_no_event() {
        assert_eq!(events(&vec![0i16; 48_000 * 3]), vec![]);
        for level in [-60.0, -40.0, -25.0] {
            assert_eq!(
                events(&noise(level, 48_000 * 5, 11)),
                vec![],
                "noise at {level} dBFS"
            );
        }
        let hum = sine(60.0, 48_000, 0.3, 48_000 * 3);
        assert_eq!(events(&hum), vec![], "hum");
    }

    #[test]
    fn a_noise_that_switches_on_is_learnt_as_the_floor_and_speech_above_it_still_counts() {
        // 1 s of silence, then hiss at -35 dBFS for the rest; speech starts 6 s in.
        let (speech, onset, offset) = padded_speech(6_000);
        let mut hiss = vec![0i16; 48_000];
        hiss.extend(noise(-35.0, speech.len() - 48_000, 3));
        let found = events(&mix(&speech, &hiss));
        // The switch-on itself reads as speech until the level has been steady for `steady_ms`.
        let [
            VadEvent::SpeechStart {
                onset_ms: 1_000, ..
            },
            VadEvent::SpeechEnd {
                detected_ms: settled,
                ..
            },
            rest @ ..,
        ] = found.as_slice()
        else {
            panic!("expected the switch-on to start and end one utterance, got {found:?}");
        };
        assert!(
            *settled <= 1_000 + 1_000 + 600,
            "noise learnt only at {settled} ms"
        );
        assert_one_utterance(rest, onset, offset);
    }

    #[test]
    fn speech_sent_as_opus_packets_is_decoded_and_detected() {
        use audiopus::coder::Encoder;
        use audiopus::{Application, Channels, SampleRate};

        use super::super::input::{InputDecoder, InputEncoding, InputFormat};

        let (samples, onset, offset) = padded_speech(1_000);
        let encoder = Encoder::new(SampleRate::Hz48000, Channels::Mono, Application::Voip)
            .expect("libopus encoder");
        let mut decoder = InputDecoder::new(InputFormat {
            encoding: InputEncoding::Opus,
            ..InputFormat::default()
        })
        .expect("valid format");
        let mut vad = Vad::new(VadConfig::default());
        let mut found = Vec::new();
        let mut at_ms = 0;
        let mut packet = [0u8; 1500];
        for frame in samples.chunks_exact(FRAME_SAMPLES) {
            let len = encoder.encode(frame, &mut packet).expect("encodable frame");
            decoder
                .push(&packet[..len], |decoded| {
                    found.extend(vad.push(decoded, at_ms));
                    at_ms += FRAME_MS;
                })
                .expect("decodable packet");
        }
        assert_one_utterance(&found, onset, offset);
    }

    #[test]
    fn pauses_shorter_than_the_hangover_keep_one_utterance() {
        let (first, onset, _) = padded_speech(500);
        // Cut the trailing silence to 300 ms and say it again: one utterance, not two.
        let again = spoken("And again.");
        let (_, last_again) = speech_bounds_ms(&again);
        let (_, first_last) = speech_bounds_ms(&first);
        let cut = (first_last as usize + 300) * 48;
        let mut samples = first[..cut].to_vec();
        let offset = samples.len() as u64 / 48 + last_again;
        samples.extend_from_slice(&again);
        samples.extend(std::iter::repeat_n(0, 72_000));
        assert_one_utterance(&events(&samples), onset, offset);
    }
}
