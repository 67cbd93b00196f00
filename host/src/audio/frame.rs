//! The canonical 20 ms frame and the cutter that makes frames out of arbitrary chunks.

use super::FRAME_SAMPLES;

/// One 20 ms frame of 48 kHz mono s16 audio: a fixed array, so passing frames never allocates.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    samples: [i16; FRAME_SAMPLES],
}

impl Frame {
    /// A frame of digital silence.
    pub const fn silent() -> Self {
        Self {
            samples: [0; FRAME_SAMPLES],
        }
    }

    /// A frame holding exactly these 960 samples.
    pub const fn from_samples(samples: [i16; FRAME_SAMPLES]) -> Self {
        Self { samples }
    }

    /// The frame's samples.
    pub fn samples(&self) -> &[i16; FRAME_SAMPLES] {
        &self.samples
    }

    /// The frame's samples, writable (to fill a reused frame in place).
    pub fn samples_mut(&mut self) -> &mut [i16; FRAME_SAMPLES] {
        &mut self.samples
    }

    /// Writes the frame as PCM s16le, the wire format of audio sent to browsers.
    pub fn write_le_bytes(&self, out: &mut [u8; FRAME_SAMPLES * 2]) {
        for (pair, sample) in out.chunks_exact_mut(2).zip(self.samples.iter()) {
            pair.copy_from_slice(&sample.to_le_bytes());
        }
    }

    /// Root mean square of the frame, 0.0 (silence) to 1.0 (full-scale square wave).
    pub fn rms(&self) -> f32 {
        rms(&self.samples)
    }

    /// Level of the frame in dBFS (0 dB = full-scale square wave; silence is `-inf`).
    pub fn dbfs(&self) -> f32 {
        dbfs(self.rms())
    }
}

impl Default for Frame {
    fn default() -> Self {
        Self::silent()
    }
}

impl std::fmt::Debug for Frame {
    // 960 numbers help nobody reading a log; the level does.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame").field("dbfs", &self.dbfs()).finish()
    }
}

/// Root mean square of samples, scaled so that full scale is 1.0; an empty slice is 0.0.
pub fn rms(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    // Integer sum of squares is exact: 960 * 32768^2 fits easily in an i64.
    let sum: i64 = samples.iter().map(|&s| i64::from(s) * i64::from(s)).sum();
    ((sum as f64 / samples.len() as f64).sqrt() / 32768.0) as f32
}

/// Converts an RMS level (full scale = 1.0) to dBFS; zero gives `-inf`.
pub fn dbfs(rms: f32) -> f32 {
    20.0 * rms.log10()
}

/// Cuts a stream of PCM s16le bytes or samples, arriving in chunks of any size, into whole frames.
///
/// Browsers send chunks that are rarely a multiple of 960 samples and may even split a sample
/// between two chunks; the assembler keeps the remainder (a partial frame, an odd byte) for the
/// next chunk, so no sample is lost or shifted.
#[derive(Debug, Default)]
pub struct FrameAssembler {
    pending: Frame,
    filled: usize,
    odd_byte: Option<u8>,
}

impl FrameAssembler {
    /// An empty assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Samples waiting for the rest of their frame.
    pub fn pending_samples(&self) -> usize {
        self.filled
    }

    /// Takes PCM s16le bytes and calls `on_frame` for every frame they complete, in order.
    pub fn push_bytes(&mut self, mut bytes: &[u8], mut on_frame: impl FnMut(&Frame)) {
        if let Some(low) = self.odd_byte
            && let Some((&high, rest)) = bytes.split_first()
        {
            self.odd_byte = None;
            self.push_sample(i16::from_le_bytes([low, high]), &mut on_frame);
            bytes = rest;
        }
        let mut pairs = bytes.chunks_exact(2);
        for pair in &mut pairs {
            self.push_sample(i16::from_le_bytes([pair[0], pair[1]]), &mut on_frame);
        }
        if let [last] = pairs.remainder() {
            self.odd_byte = Some(*last);
        }
    }

    /// Takes samples and calls `on_frame` for every frame they complete, in order.
    pub fn push_samples(&mut self, mut samples: &[i16], mut on_frame: impl FnMut(&Frame)) {
        while !samples.is_empty() {
            let take = (FRAME_SAMPLES - self.filled).min(samples.len());
            self.pending.samples[self.filled..self.filled + take].copy_from_slice(&samples[..take]);
            self.filled += take;
            samples = &samples[take..];
            if self.filled == FRAME_SAMPLES {
                on_frame(&self.pending);
                self.filled = 0;
            }
        }
    }

    fn push_sample(&mut self, sample: i16, on_frame: &mut impl FnMut(&Frame)) {
        self.pending.samples[self.filled] = sample;
        self.filled += 1;
        if self.filled == FRAME_SAMPLES {
            on_frame(&self.pending);
            self.filled = 0;
        }
    }

    /// Drops the partial frame and any odd byte (a new stream starts).
    pub fn reset(&mut self) {
        self.filled = 0;
        self.odd_byte = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp_bytes(samples: usize) -> Vec<u8> {
        (0..samples)
            .flat_map(|i| ((i % 30_000) as i16 - 15_000).to_le_bytes())
            .collect()
    }

    fn collect(assembler: &mut FrameAssembler, chunks: &[&[u8]]) -> Vec<i16> {
        let mut out = Vec::new();
        for chunk in chunks {
            assembler.push_bytes(chunk, |frame| out.extend_from_slice(frame.samples()));
        }
        out
    }

    #[test]
    fn odd_sized_byte_chunks_yield_the_same_frames_as_one_chunk() {
        let bytes = ramp_bytes(FRAME_SAMPLES * 5 + 123);
        let whole = collect(&mut FrameAssembler::new(), &[&bytes]);
        // Chunk sizes that split samples in half and frames anywhere.
        let mut chunks = Vec::new();
        let mut rest: &[u8] = &bytes;
        for size in [1usize, 3, 1919, 7, 2000, 4097, 1].iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (head, tail) = rest.split_at((*size).min(rest.len()));
            chunks.push(head);
            rest = tail;
        }
        let mut assembler = FrameAssembler::new();
        let chunked = collect(&mut assembler, &chunks);
        assert_eq!(whole.len(), FRAME_SAMPLES * 5);
        assert_eq!(chunked, whole);
        assert_eq!(assembler.pending_samples(), 123);
        let expected: Vec<i16> = bytes
            .chunks_exact(2)
            .take(FRAME_SAMPLES * 5)
            .map(|p| i16::from_le_bytes([p[0], p[1]]))
            .collect();
        assert_eq!(whole, expected);
    }

    #[test]
    fn frame_round_trips_through_le_bytes() {
        let mut frame = Frame::silent();
        for (i, s) in frame.samples_mut().iter_mut().enumerate() {
            *s = (i as i16).wrapping_mul(37);
        }
        let mut bytes = [0u8; FRAME_SAMPLES * 2];
        frame.write_le_bytes(&mut bytes);
        let mut back = Vec::new();
        FrameAssembler::new().push_bytes(&bytes, |f| back.push(f.clone()));
        assert_eq!(back, vec![frame]);
    }

    #[test]
    fn levels_of_silence_full_scale_and_a_half_scale_sine() {
        assert_eq!(rms(&[]), 0.0);
        assert_eq!(Frame::silent().dbfs(), f32::NEG_INFINITY);
        let square = [i16::MIN; FRAME_SAMPLES];
        assert!((rms(&square) - 1.0).abs() < 1e-6);
        let sine: Vec<i16> = (0..FRAME_SAMPLES)
            .map(|i| (16384.0 * (i as f64 * 2.0 * std::f64::consts::PI / 48.0).sin()) as i16)
            .collect();
        // A sine's RMS is amplitude / sqrt(2): 0.5 / 1.414 -> -9.03 dBFS.
        assert!(
            (dbfs(rms(&sine)) + 9.03).abs() < 0.05,
            "{}",
            dbfs(rms(&sine))
        );
    }
}
