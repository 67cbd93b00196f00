//! 16-bit PCM helpers: bytes to samples and back (little-endian, as providers send them), loudness,
//! and resampling.
//!
//! [`Resampler`] is the host's own converter (the SDK's [`crate::resample`], which the host uses too): a polyphase windowed-sinc
//! filter with about 80 dB of stop band, so the 48 kHz microphone becomes the 16 kHz most
//! recognizers want without folding what lies above 8 kHz back into the speech band (decimating
//! or interpolating linearly does). Stream with [`Resampler::process`] (keep one resampler per
//! stream: it carries the filter's history between frames) or convert a whole utterance with
//! [`Resampler::convert`].

use crate::PluginError;

/// Decodes little-endian 16-bit samples. A trailing odd byte is ignored (callers that read a stream
/// in pieces should carry it over; see [`PcmBytes`]).
pub fn samples_from_le_bytes(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect()
}

/// Encodes samples as little-endian 16-bit bytes.
pub fn samples_to_le_bytes(samples: &[i16]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(samples.len() * 2);
    for sample in samples {
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    bytes
}

/// Turns a byte stream that arrives in arbitrary pieces into whole samples, keeping an odd byte
/// until the next piece completes it.
#[derive(Debug, Default)]
pub struct PcmBytes {
    carry: Option<u8>,
}

impl PcmBytes {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes the next piece, returning every sample it completes.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<i16> {
        let mut samples = Vec::with_capacity(bytes.len() / 2 + 1);
        let mut rest = bytes;
        if let Some(low) = self.carry.take() {
            match rest.split_first() {
                Some((&high, tail)) => {
                    samples.push(i16::from_le_bytes([low, high]));
                    rest = tail;
                }
                None => {
                    self.carry = Some(low);
                    return samples;
                }
            }
        }
        let mut pairs = rest.chunks_exact(2);
        samples.extend(
            pairs
                .by_ref()
                .map(|pair| i16::from_le_bytes([pair[0], pair[1]])),
        );
        self.carry = pairs.remainder().first().copied();
        samples
    }
}

/// Root-mean-square level of the samples, in 0..=1 of full scale (0 for no samples).
pub fn rms(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    // Integer squares summed in i64: exact (as the f64 sum was, below 2^53) and several times
    // cheaper in wasm, where a recognizer runs this on every 20 ms of the microphone.
    let sum: i64 = samples
        .iter()
        .map(|&s| i64::from(i32::from(s) * i32::from(s)))
        .sum();
    ((sum as f64 / samples.len() as f64).sqrt() / 32768.0) as f32
}

/// The level of the samples in dBFS (0 for a full-scale square wave; -inf for silence is reported
/// as [`SILENCE_DBFS`] so that comparisons stay simple).
pub fn dbfs(samples: &[i16]) -> f32 {
    let level = rms(samples);
    if level <= 0.0 {
        return SILENCE_DBFS;
    }
    (20.0 * level.log10()).max(SILENCE_DBFS)
}

/// The level reported for digital silence: below anything a microphone produces.
pub const SILENCE_DBFS: f32 = -120.0;

pub use crate::resample::{ResampleError, Resampler};

/// A resampler from `from_rate` to `to_rate` Hz; rates it cannot convert (zero, above 384 kHz, or
/// without a small common ratio, such as 44101 Hz) are an `internal` error that names them.
pub fn resampler(from_rate: u32, to_rate: u32) -> Result<Resampler, PluginError> {
    Resampler::new(from_rate, to_rate).map_err(|error| PluginError::Internal(error.to_string()))
}

/// Converts a float sample in -1..=1 to 16 bits, clipping anything outside.
pub fn f32_to_i16(sample: f32) -> i16 {
    // Round half away from zero by adding half with the sign and truncating; `as` saturates.
    // `f32::round` is a software routine in wasm and a libm call on x86-64 without SSE4.1.
    let scaled = sample * 32767.0;
    (scaled + 0.5f32.copysign(scaled)) as i16
}

/// How many samples `ms` milliseconds take at `sample_rate`.
pub fn samples_for_ms(ms: u32, sample_rate: u32) -> usize {
    (u64::from(ms) * u64::from(sample_rate) / 1000) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_little_endian() {
        let samples = [0i16, 1, -1, i16::MAX, i16::MIN, 0x1234];
        let bytes = samples_to_le_bytes(&samples);
        assert_eq!(&bytes[10..12], &[0x34, 0x12]);
        assert_eq!(samples_from_le_bytes(&bytes), samples);
    }

    #[test]
    fn stream_decoder_carries_odd_bytes_between_pieces() {
        let bytes = samples_to_le_bytes(&[100, -200, 300]);
        let mut decoder = PcmBytes::new();
        let mut out = decoder.push(&bytes[..1]);
        out.extend(decoder.push(&bytes[1..4]));
        out.extend(decoder.push(&[]));
        out.extend(decoder.push(&bytes[4..]));
        assert_eq!(out, vec![100, -200, 300]);
    }

    #[test]
    fn level_of_silence_and_full_scale() {
        assert_eq!(dbfs(&[0; 480]), SILENCE_DBFS);
        assert_eq!(dbfs(&[]), SILENCE_DBFS);
        let square: Vec<i16> = (0..480)
            .map(|i| if i % 2 == 0 { 32767 } else { -32767 })
            .collect();
        assert!(dbfs(&square).abs() < 0.01);
    }

    #[test]
    fn sine_at_half_scale_is_about_minus_nine_dbfs() {
        // A sine's RMS is peak / sqrt(2): half scale gives -6.02 - 3.01 = -9.03 dBFS.
        let sine: Vec<i16> = (0..4800)
            .map(|i| {
                f32_to_i16(0.5 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 48000.0).sin())
            })
            .collect();
        assert!((dbfs(&sine) + 9.03).abs() < 0.1, "{}", dbfs(&sine));
    }

    #[test]
    fn the_microphone_at_16_khz_keeps_speech_and_drops_what_would_fold() {
        use crate::resample::signal::{goertzel, sine};
        // 48 -> 16 kHz in 20 ms frames, as an STT plugin streams it. 15 kHz folds onto 1 kHz at
        // 16 kHz (|15 - 16|); a plain decimation would keep it at full level.
        let stream = |tone: f64| {
            let mut resampler = resampler(48_000, 16_000).expect("48 -> 16 kHz");
            let mut out = Vec::new();
            for frame in sine(tone, 48_000, 0.5, 48_000).chunks(960) {
                resampler.process(frame, &mut out);
            }
            out
        };
        let speech = stream(1_000.0);
        assert_eq!(speech.len(), 16_000);
        let level = goertzel(&speech[1_600..], 16_000, 1_000.0);
        assert!((level - 0.5).abs() < 0.005, "1 kHz level {level}");
        let folded = goertzel(&stream(15_000.0)[1_600..], 16_000, 1_000.0);
        assert!(
            20.0 * (folded / level).log10() < -60.0,
            "15 kHz folded onto 1 kHz at {folded}"
        );
    }

    #[test]
    fn rates_without_a_small_ratio_are_an_internal_error() {
        assert!(matches!(
            resampler(44_101, 16_000),
            Err(PluginError::Internal(message)) if message.contains("44101")
        ));
        let utterance = resampler(48_000, 16_000)
            .expect("48 -> 16 kHz")
            .convert(&[1_000; 4_800]);
        assert_eq!(utterance.len(), 1_600);
    }

    #[test]
    fn float_conversion_clips() {
        assert_eq!(f32_to_i16(2.0), 32767);
        assert_eq!(f32_to_i16(-2.0), -32768);
        assert_eq!(f32_to_i16(0.0), 0);
        assert_eq!(samples_for_ms(20, 48000), 960);
    }
}
