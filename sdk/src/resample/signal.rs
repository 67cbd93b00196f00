//! Test signals and the measurements made on them: a sine, the level of one frequency
//! (Goertzel), a frequency from zero crossings. What the resampler's tests measure with, public so
//! the tests of its users (the host's audio path, the plugins' resampling) measure the same way.

/// A sine of `freq` Hz at `amplitude` (full scale 1.0), `n` samples at `rate`.
pub fn sine(freq: f64, rate: u32, amplitude: f64, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / rate as f64;
            (amplitude * 32767.0 * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

/// Amplitude (full scale 1.0) of the `freq` Hz component of `samples` (Goertzel).
pub fn goertzel(samples: &[i16], rate: u32, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate as f64;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / samples.len() as f64
}

/// Frequency estimated from rising zero crossings (interpolated) over the whole signal.
pub fn zero_crossing_frequency(samples: &[i16], rate: u32) -> f64 {
    let mut crossings = Vec::new();
    for i in 1..samples.len() {
        let (a, b) = (f64::from(samples[i - 1]), f64::from(samples[i]));
        if a < 0.0 && b >= 0.0 {
            crossings.push((i - 1) as f64 + a / (a - b));
        }
    }
    let (Some(first), Some(last)) = (crossings.first(), crossings.last()) else {
        return 0.0;
    };
    (crossings.len() - 1) as f64 * rate as f64 / (last - first)
}
