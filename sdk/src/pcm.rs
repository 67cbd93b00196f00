//! 16-bit PCM helpers: bytes to samples and back (little-endian, as providers send them), loudness,
//! and linear resampling.

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
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    ((sum / samples.len() as f64).sqrt() / 32768.0) as f32
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

/// Resamples by linear interpolation. Good enough for speech between the usual rates
/// (16, 22.05, 24, 48 kHz); the host does its own high-quality resampling of TTS output.
pub fn resample_linear(samples: &[i16], from_rate: u32, to_rate: u32) -> Vec<i16> {
    if from_rate == to_rate || samples.is_empty() || from_rate == 0 || to_rate == 0 {
        return samples.to_vec();
    }
    let out_len =
        (samples.len() as u64 * u64::from(to_rate)).div_ceil(u64::from(from_rate)) as usize;
    let step = f64::from(from_rate) / f64::from(to_rate);
    let last = samples.len() - 1;
    (0..out_len)
        .map(|i| {
            let position = i as f64 * step;
            let index = position.floor() as usize;
            if index >= last {
                return samples[last];
            }
            let fraction = position - index as f64;
            let a = f64::from(samples[index]);
            let b = f64::from(samples[index + 1]);
            (a + (b - a) * fraction).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// Converts a float sample in -1..=1 to 16 bits, clipping anything outside.
pub fn f32_to_i16(sample: f32) -> i16 {
    (sample * 32767.0).round().clamp(-32768.0, 32767.0) as i16
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
    fn resampling_changes_length_by_the_rate_ratio() {
        let input = vec![1000i16; 480];
        assert_eq!(resample_linear(&input, 48000, 16000).len(), 160);
        assert_eq!(resample_linear(&input, 24000, 48000).len(), 960);
        assert!(
            resample_linear(&input, 48000, 16000)
                .iter()
                .all(|&s| s == 1000)
        );
    }

    #[test]
    fn upsampling_interpolates_between_samples() {
        assert_eq!(
            resample_linear(&[0, 100, 200], 1, 2),
            vec![0, 50, 100, 150, 200, 200]
        );
    }

    #[test]
    fn resampling_keeps_a_tone_at_its_frequency() {
        // 1 kHz at 24 kHz -> 48 kHz: zero crossings per second stay ~2000.
        let tone: Vec<i16> = (0..24000)
            .map(|i| {
                f32_to_i16(0.5 * (i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 24000.0).sin())
            })
            .collect();
        let up = resample_linear(&tone, 24000, 48000);
        let crossings = up.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((1990..=2010).contains(&crossings), "{crossings}");
    }

    #[test]
    fn float_conversion_clips() {
        assert_eq!(f32_to_i16(2.0), 32767);
        assert_eq!(f32_to_i16(-2.0), -32768);
        assert_eq!(f32_to_i16(0.0), 0);
        assert_eq!(samples_for_ms(20, 48000), 960);
    }
}
