use super::signal::{goertzel, sine, zero_crossing_frequency};
use super::*;

fn resample_all(from: u32, to: u32, input: &[i16], chunk: usize) -> Vec<i16> {
    let mut resampler = Resampler::new(from, to).expect("supported ratio");
    let mut out = Vec::new();
    for piece in input.chunks(chunk) {
        resampler.process(piece, &mut out);
    }
    out
}

#[test]
fn sine_at_24k_keeps_its_frequency_and_amplitude_at_48k() {
    let input = sine(1000.0, 24_000, 0.5, 24_000);
    let out = resample_all(24_000, 48_000, &input, 480);
    assert_eq!(out.len(), 48_000);
    // Skip the filter's start-up, measure a whole number of periods.
    let steady = &out[4_800..4_800 + 38_400];
    let freq = zero_crossing_frequency(steady, 48_000);
    assert!((freq - 1000.0).abs() < 0.5, "frequency {freq}");
    let amplitude = goertzel(steady, 48_000, 1000.0);
    assert!((amplitude - 0.5).abs() < 0.005, "amplitude {amplitude}");
}

#[test]
fn chunked_input_gives_exactly_the_unchunked_output() {
    for (from, to) in [
        (24_000, 48_000),
        (44_100, 48_000),
        (48_000, 16_000),
        (22_050, 48_000),
    ] {
        let input = sine(440.0, from, 0.7, from as usize / 2);
        let whole = resample_all(from, to, &input, input.len());
        for chunk in [1, 7, 160, 441, 1000] {
            assert_eq!(
                resample_all(from, to, &input, chunk),
                whole,
                "{from}->{to} by {chunk}"
            );
        }
    }
}

#[test]
fn output_length_follows_the_rate_ratio() {
    for (from, to) in [
        (44_100, 48_000),
        (16_000, 48_000),
        (48_000, 16_000),
        (22_050, 48_000),
    ] {
        let input = vec![0i16; from as usize];
        let mut resampler = Resampler::new(from, to).expect("supported ratio");
        let mut out = Vec::new();
        resampler.process(&input, &mut out);
        let expected = to as usize;
        assert!(
            out.len().abs_diff(expected) <= 1,
            "{from}->{to}: {}",
            out.len()
        );
    }
}

#[test]
fn tone_above_the_target_nyquist_is_removed_when_downsampling() {
    // 10 kHz cannot exist at 16 kHz; a naive decimator would fold it to 6 kHz at full level.
    let input = sine(10_000.0, 48_000, 0.5, 48_000);
    let out = resample_all(48_000, 16_000, &input, 960);
    let steady = &out[1_600..];
    let folded = goertzel(steady, 16_000, 6_000.0);
    assert!(folded < 0.5 * 1e-3, "alias at 6 kHz: {folded}");
    // And a 1 kHz tone passes at full level.
    let voice = resample_all(48_000, 16_000, &sine(1000.0, 48_000, 0.5, 48_000), 960);
    let level = goertzel(&voice[1_600..], 16_000, 1000.0);
    assert!((level - 0.5).abs() < 0.005, "1 kHz level {level}");
}

#[test]
fn images_above_the_source_nyquist_stay_quiet_when_upsampling() {
    // 24 kHz -> 48 kHz: a 5 kHz tone must not leave its mirror image at 19 kHz.
    let out = resample_all(24_000, 48_000, &sine(5_000.0, 24_000, 0.5, 24_000), 480);
    let image = goertzel(&out[4_800..], 48_000, 19_000.0);
    assert!(image < 0.5 * 1e-3, "image at 19 kHz: {image}");
}

#[test]
fn flush_releases_the_tail_held_in_the_filter() {
    let input = sine(1000.0, 24_000, 0.5, 2_400);
    let mut resampler = Resampler::new(24_000, 48_000).expect("supported ratio");
    let mut out = Vec::new();
    resampler.process(&input, &mut out);
    let before = out.len();
    resampler.flush(&mut out);
    assert!(out.len() >= before + resampler.delay_samples());
    assert!(out.len() >= 4_800);
}

#[test]
fn equal_rates_pass_samples_through_unchanged() {
    let input = sine(440.0, 48_000, 0.3, 1_000);
    assert_eq!(resample_all(48_000, 48_000, &input, 333), input);
}

#[test]
fn rates_without_a_small_ratio_are_refused() {
    assert_eq!(
        Resampler::new(0, 48_000).err(),
        Some(ResampleError::RateOutOfRange(0))
    );
    assert!(matches!(
        Resampler::new(44_101, 48_000),
        Err(ResampleError::RatioTooComplex { .. })
    ));
}

/// Level ratio in dB.
fn db(level: f64, reference: f64) -> f64 {
    20.0 * (level / reference).log10()
}

#[test]
fn tones_above_8_khz_do_not_fold_into_16_khz_speech_and_1_khz_passes() {
    // At 16 kHz everything above 8 kHz folds: f becomes |f - 16 kHz| (reflected below 8 kHz), so
    // 15 and 17 kHz land on 1 kHz, in the middle of speech, and 9 kHz on 7 kHz. Decimating by 3
    // without a filter (what linear interpolation does at exactly 48 -> 16 kHz) keeps them at
    // full level. (A 7 kHz tone is below 8 kHz: it is representable at 16 kHz and does not fold.)
    let reference = resample_all(48_000, 16_000, &sine(1_000.0, 48_000, 0.5, 48_000), 960);
    let level = goertzel(&reference[1_600..], 16_000, 1_000.0);
    assert!(
        db(level, 0.5).abs() < 0.1,
        "1 kHz gain {} dB",
        db(level, 0.5)
    );
    for (tone, alias) in [(9_000.0, 7_000.0), (15_000.0, 1_000.0), (17_000.0, 1_000.0)] {
        let out = resample_all(48_000, 16_000, &sine(tone, 48_000, 0.5, 48_000), 960);
        let folded = goertzel(&out[1_600..], 16_000, alias);
        let below = db(folded, level);
        assert!(
            below < -60.0,
            "{tone} Hz folds to {alias} Hz at {below:.1} dB"
        );
    }
}

#[test]
fn a_whole_clip_comes_out_aligned_and_of_the_ratio_s_length() {
    let mut resampler = Resampler::new(48_000, 16_000).expect("supported ratio");
    // A click at 30 ms (sample 1440 at 48 kHz) must come out at 30 ms (sample 480 at 16 kHz).
    let mut clip = vec![0i16; 4_801];
    clip[1_440] = 30_000;
    let out = resampler.convert(&clip);
    assert_eq!(out.len(), 1_601);
    let peak = (0..out.len()).max_by_key(|&i| out[i].unsigned_abs());
    assert_eq!(peak, Some(480));
    // The resampler forgets the clip: the same clip again gives the same output.
    assert_eq!(resampler.convert(&clip), out);
    // A steady level stays that level away from the clip's edges.
    let level = resampler.convert(&[1_000; 4_800]);
    assert!(level[100..1_500].iter().all(|&s| (s - 1_000).abs() <= 2));
    assert_eq!(
        Resampler::new(16_000, 16_000)
            .expect("same rate")
            .convert(&[1, 2]),
        [1, 2]
    );
}

// On a CPU with AVX, `process` takes the block path for these ratios.
#[test]
fn integer_upsampling_in_blocks_gives_the_one_by_one_output_bit_for_bit() {
    // Speech-like input with every sample value class: full scale, silence, small noise.
    let mut input = sine(180.0, 24_000, 0.99, 4_000);
    input.extend(std::iter::repeat_n(0, 500));
    input.extend((0..3_000u32).map(|i| ((i.wrapping_mul(2_654_435_761) >> 20) as i16) - 2_048));
    for (from, to) in [(24_000, 48_000), (16_000, 48_000), (8_000, 48_000)] {
        for chunk in [1, 5, 8, 480, input.len()] {
            let mut blocks = Resampler::new(from, to).expect("supported ratio");
            let mut one_by_one = blocks.clone();
            let (mut fast, mut plain) = (Vec::new(), Vec::new());
            for piece in input.chunks(chunk) {
                blocks.process(piece, &mut fast);
                one_by_one
                    .history
                    .extend(piece.iter().map(|&s| f32::from(s) / 32768.0));
                one_by_one.filter(&mut plain);
            }
            assert!(fast.len() > input.len(), "{from}->{to} by {chunk}");
            assert_eq!(fast, plain[..fast.len()], "{from}->{to} by {chunk}");
        }
    }
}
