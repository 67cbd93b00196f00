//! Streaming sample-rate conversion by a polyphase windowed-sinc FIR filter, for mono 16-bit
//! audio. One implementation for the voice-studio host (browser input and TTS output to 48 kHz)
//! and its plugins (48 kHz microphone frames to the 16 kHz most recognizers want, through the
//! plugin SDK's `pcm` module): a resampler without a low-pass filter folds everything above the
//! target's Nyquist frequency back into the band a recognizer listens to.
//!
//! A ratio `out/in` reduces to `up/down` (48000/44100 = 160/147). Conceptually the input is
//! upsampled by `up` (zeros stuffed), low-pass filtered below the lower of the two Nyquist
//! frequencies, and every `down`-th sample is kept; the polyphase form computes only the kept
//! samples, each a dot product of `taps` input samples with one of `up` filter phases. The input
//! history is carried between calls, so chunked input gives bit-identical output to one call.

use thiserror::Error;

/// Zero crossings of the sinc kernel at the lower rate: with a Kaiser window (beta 8) this gives
/// about 80 dB of stop band and a transition of ~10% of the lower rate, below its Nyquist
/// frequency so nothing aliases (for 24 kHz -> 48 kHz: flat to ~9.5 kHz, -80 dB from 12 kHz).
const ZERO_CROSSINGS: usize = 48;
/// Kaiser window shape for ~80 dB stop-band attenuation (0.1102 * (80 - 8.7)).
const KAISER_BETA: f64 = 7.86;
/// Largest reduced upsampling factor: bounds the filter table (`up` phases) to a few hundred KiB.
const MAX_UP: usize = 1024;
/// Lanes of the filter's sums: one AVX register of `f32`.
const LANES: usize = 8;

/// Why a resampler cannot be built for a pair of rates.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ResampleError {
    /// One of the rates is zero or above 384 kHz.
    #[error("sample rate {0} Hz is out of range (1..=384000)")]
    RateOutOfRange(u32),
    /// The rates have no small common ratio (e.g. 44101 -> 48000).
    #[error(
        "cannot convert {from} Hz to {to} Hz: their ratio reduces to {up}/{down}, over {MAX_UP} filter phases"
    )]
    RatioTooComplex {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// Reduced upsampling factor.
        up: usize,
        /// Reduced downsampling factor.
        down: usize,
    },
}

/// A streaming converter from one sample rate to another, for mono s16 audio.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    up: usize,
    down: usize,
    taps: usize,
    /// `up` phases of `taps` coefficients each, stored reversed so each output is a plain dot
    /// product with a contiguous window of the history.
    phases: Vec<f32>,
    /// Input samples still needed by future outputs, oldest first.
    history: Vec<f32>,
    /// Position of the next output on the upsampled time axis, relative to `history[0]`.
    position: usize,
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz; equal rates give an exact pass-through.
    pub fn new(from: u32, to: u32) -> Result<Self, ResampleError> {
        for rate in [from, to] {
            if rate == 0 || rate > 384_000 {
                return Err(ResampleError::RateOutOfRange(rate));
            }
        }
        let divisor = gcd(from as usize, to as usize);
        let (up, down) = (to as usize / divisor, from as usize / divisor);
        if up > MAX_UP {
            return Err(ResampleError::RatioTooComplex { from, to, up, down });
        }
        if up == down {
            return Ok(Self {
                from,
                to,
                up: 1,
                down: 1,
                taps: 1,
                phases: vec![1.0],
                history: Vec::new(),
                position: 0,
            });
        }
        // The kernel spans ZERO_CROSSINGS periods of the lower rate; in input samples that is
        // more when downsampling (the filter is narrower relative to the input rate).
        let taps = (ZERO_CROSSINGS * down).div_ceil(up.min(down)).max(2);
        let length = taps * up;
        let upsampled_rate = from as f64 * up as f64;
        let lower_rate = from.min(to) as f64;
        // Half-amplitude cutoff so that the transition band ends at the lower Nyquist frequency.
        let transition =
            (80.0 - 8.0) / (2.285 * 2.0 * std::f64::consts::PI * ZERO_CROSSINGS as f64);
        let cutoff = (0.5 - transition / 2.0) * lower_rate / upsampled_rate;
        let center = (length - 1) as f64 / 2.0;
        let norm = bessel_i0(KAISER_BETA);
        let kernel: Vec<f64> = (0..length)
            .map(|k| {
                let t = k as f64 - center;
                let sinc = if t == 0.0 {
                    2.0 * cutoff
                } else {
                    (2.0 * std::f64::consts::PI * cutoff * t).sin() / (std::f64::consts::PI * t)
                };
                let ratio = t / (center + 0.5);
                let window = bessel_i0(KAISER_BETA * (1.0 - ratio * ratio).max(0.0).sqrt()) / norm;
                sinc * window
            })
            .collect();
        // Unity gain at DC for every phase: each output sums one phase's taps against the input.
        let mut phases = vec![0.0f32; length];
        for phase in 0..up {
            let sum: f64 = (0..taps).map(|m| kernel[phase + m * up]).sum();
            for m in 0..taps {
                phases[phase * taps + (taps - 1 - m)] = (kernel[phase + m * up] / sum) as f32;
            }
        }
        let mut history = Vec::with_capacity(4096);
        // Silence before the stream: the first outputs see zeros, not garbage.
        history.resize(taps - 1, 0.0);
        Ok(Self {
            from,
            to,
            up,
            down,
            taps,
            phases,
            history,
            position: (taps - 1) * up,
        })
    }

    /// Input rate in Hz.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// Output rate in Hz.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Delay the filter adds, in output samples (about 0.5 ms for 24 kHz -> 48 kHz).
    pub fn delay_samples(&self) -> usize {
        (self.taps * self.up / 2) / self.down
    }

    /// Converts `input` and appends every output sample it makes available to `out`.
    ///
    /// Call with chunks of any size; the output is the same as for one long call. Nothing is
    /// allocated once `out` and the internal history have grown to the chunk size.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.up == self.down {
            out.extend_from_slice(input);
            return;
        }
        self.history
            .extend(input.iter().map(|&s| f32::from(s) / 32768.0));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: this CPU has AVX, checked just above.
            unsafe { self.filter_avx(out) };
        } else {
            self.filter(out);
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.filter(out);
        // Keep only what the next output still reads.
        let oldest_needed = (self.position / self.up + 1).saturating_sub(self.taps);
        let drop = oldest_needed.min(self.history.len());
        self.history.drain(..drop);
        self.position -= drop * self.up;
    }

    /// The filter over the history: every output whose window is complete, one at a time (any
    /// ratio, and what is left after [`Resampler::upsample_blocks_avx`]).
    #[inline(always)]
    fn filter(&mut self, out: &mut Vec<i16>) {
        while self.position / self.up < self.history.len() {
            self.filter_next(out);
        }
    }

    /// Integer upsampling (24 -> 48 kHz, the TTS path) with AVX, eight input samples at a time:
    /// for each phase, the eight outputs of eight consecutive inputs share every coefficient and
    /// read windows one sample apart, so the products run across outputs, eight to an
    /// instruction, with no sum across lanes per output (that reduction and the per-output
    /// bookkeeping were most of [`dot`]'s time). Each output still sums its products in
    /// [`dot`]'s order (tap `m` into lane `m % 8`, then the lanes in turn; a multiply, then an
    /// add, never fused), so the output is the same, bit for bit.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    fn upsample_blocks_avx(&mut self, out: &mut Vec<i16>) {
        use std::arch::x86_64::{
            __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps,
            _mm256_setzero_ps, _mm256_storeu_ps,
        };
        let (up, taps) = (self.up, self.taps);
        // Whole blocks start at phase 0: finish the input sample in progress first.
        while !self.position.is_multiple_of(up) && self.position / up < self.history.len() {
            self.filter_next(out);
        }
        while self.position / up + LANES <= self.history.len() {
            let newest = self.position / up;
            let start = out.len();
            out.resize(start + LANES * up, 0);
            let block = &mut out[start..];
            // The inputs the block's eight windows cover, oldest first.
            let inputs = &self.history[newest + 1 - taps..newest + LANES];
            for phase in 0..up {
                let coefficients = &self.phases[phase * taps..(phase + 1) * taps];
                // lanes[l]: the eight outputs' partial sums over the taps m with m % 8 == l.
                let mut lanes: [__m256; LANES] = [_mm256_setzero_ps(); LANES];
                for (k, chunk) in coefficients.chunks_exact(LANES).enumerate() {
                    let window = &inputs[k * LANES..k * LANES + 2 * LANES - 1];
                    for l in 0..LANES {
                        let w = &window[l..l + LANES];
                        // SAFETY: `w` holds exactly eight f32 (unaligned loads are allowed).
                        let x = unsafe { _mm256_loadu_ps(w.as_ptr()) };
                        lanes[l] =
                            _mm256_add_ps(lanes[l], _mm256_mul_ps(x, _mm256_set1_ps(chunk[l])));
                    }
                }
                let mut sums = [[0.0f32; LANES]; LANES];
                for (sum, lane) in sums.iter_mut().zip(lanes) {
                    // SAFETY: `sum` holds exactly eight f32.
                    unsafe { _mm256_storeu_ps(sum.as_mut_ptr(), lane) };
                }
                for j in 0..LANES {
                    let sum: f32 = sums.iter().map(|lane| lane[j]).sum();
                    block[j * up + phase] = to_sample(sum * 32768.0);
                }
            }
            self.position += LANES * up;
        }
    }

    /// The next output alone.
    #[inline(always)]
    fn filter_next(&mut self, out: &mut Vec<i16>) {
        let taps = self.taps;
        let newest = self.position / self.up;
        let phase = self.position % self.up;
        let window = &self.history[newest + 1 - taps..=newest];
        let coefficients = &self.phases[phase * taps..(phase + 1) * taps];
        out.push(to_sample(dot(window, coefficients) * 32768.0));
        self.position += self.down;
    }

    /// [`Resampler::filter`] compiled for AVX: the same operations in the same order (so the
    /// same output, bit for bit), eight lanes to an instruction instead of four. The TTS audio
    /// of every speaking studio passes here (24 -> 48 kHz); it was the largest cost of the host's
    /// own code in a profile at 200 studios.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    fn filter_avx(&mut self, out: &mut Vec<i16>) {
        if self.down == 1 && self.taps.is_multiple_of(LANES) {
            self.upsample_blocks_avx(out);
        }
        self.filter(out);
    }

    /// Pushes silence through the filter so the last input samples come out (end of a stream).
    pub fn flush(&mut self, out: &mut Vec<i16>) {
        const SILENCE: [i16; 64] = [0; 64];
        let mut remaining = self.taps;
        while remaining > 0 {
            let n = remaining.min(SILENCE.len());
            self.process(&SILENCE[..n], out);
            remaining -= n;
        }
    }

    /// Converts a whole clip (an utterance, a file) as a stream of its own: forgets any earlier
    /// input, pushes the clip and then silence through the filter, and drops the filter's delay,
    /// so output sample `k` lies at input time `k * from / to` and there are
    /// `ceil(len * to / from)` of them. The resampler is ready for another clip afterwards.
    pub fn convert(&mut self, input: &[i16]) -> Vec<i16> {
        self.reset();
        if self.up == self.down {
            return input.to_vec();
        }
        let wanted = (input.len() as u64 * u64::from(self.to)).div_ceil(u64::from(self.from));
        let wanted = usize::try_from(wanted).unwrap_or(usize::MAX);
        let delay = self.delay_samples();
        let mut out = Vec::with_capacity(wanted.saturating_add(delay + self.taps));
        self.process(input, &mut out);
        self.flush(&mut out);
        self.reset();
        out.drain(..delay.min(out.len()));
        out.resize(wanted, 0);
        out
    }

    /// Forgets the history: the next input starts a new stream.
    pub fn reset(&mut self) {
        if self.up == self.down {
            return;
        }
        self.history.clear();
        self.history.resize(self.taps - 1, 0.0);
        self.position = (self.taps - 1) * self.up;
    }
}

/// Rounds to the nearest sample, halves away from zero, and saturates. `f32::round` is a call
/// into libm on x86-64 without SSE4.1 (one per output sample, a fifth of the resampler's time
/// in a profile of the host); adding half with the value's sign and truncating is the same
/// rounding in two instructions (`as` truncates and saturates).
#[inline]
fn to_sample(value: f32) -> i16 {
    (value + 0.5f32.copysign(value)) as i16
}

/// Dot product in eight independent lanes, a shape the compiler turns into SIMD.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let chunks_a = a.chunks_exact(LANES);
    let chunks_b = b.chunks_exact(LANES);
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for lane in 0..LANES {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Modified Bessel function of the first kind, order 0 (power series; converges fast for x < 20).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..64 {
        term *= half / k as f64;
        let squared = term * term;
        sum += squared;
        if squared < sum * 1e-17 {
            break;
        }
    }
    sum
}

pub mod signal;

#[cfg(test)]
mod tests;
