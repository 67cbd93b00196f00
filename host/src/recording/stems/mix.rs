//! The mixdown: the three stems summed sample by sample on the one timeline.
//!
//! How it never clips: the sum is taken in 32 bits, and a first pass finds its peak. When the
//! peak fits 16 bits (the usual case: the studio's floor keeps speakers mostly apart), the mix is
//! the plain sum, every voice at its recorded level. When it would clip (speakers overlapping
//! loudly), the whole mix is scaled by one gain that puts the peak at -1 dBFS: one gain for the
//! whole file, so voices keep their relative levels and nothing pumps, which a per-sample limiter
//! would cause, and no sample can exceed full scale.

use std::path::Path;
use std::time::Instant;

use super::StemsError;
use super::decode::SampleSink;
use super::wav::{StemReader, StemWriter};

/// Where the peak of a mix that would clip is put: -1 dBFS.
pub(crate) const CEILING: f64 = 29_204.0;
/// Samples mixed per block.
const BLOCK: usize = 4800;

/// The gain the mix is scaled by: 1 when the summed peak fits 16 bits, else the gain that puts it
/// at [`CEILING`].
pub(crate) fn gain_for(peak: i32) -> f64 {
    if peak <= i32::from(i16::MAX) {
        1.0
    } else {
        CEILING / f64::from(peak)
    }
}

/// The largest magnitude of the sample-wise sum of `stems`.
pub(crate) fn peak_of_sum(stems: &[&[i16]]) -> i32 {
    let len = stems.iter().map(|s| s.len()).max().unwrap_or(0);
    (0..len).map(|i| sum_at(stems, i).abs()).max().unwrap_or(0)
}

/// Mixes one block: the sum of `stems` at each sample, times `gain`, into `out`.
pub(crate) fn mix_block(stems: &[&[i16]], gain: f64, out: &mut Vec<i16>) {
    let len = stems.iter().map(|s| s.len()).max().unwrap_or(0);
    out.clear();
    out.extend((0..len).map(|i| {
        let sum = sum_at(stems, i);
        if gain == 1.0 {
            // The peak pass saw this sum fit 16 bits.
            sum.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
        } else {
            // |sum| <= peak, so |sum * gain| <= CEILING < i16::MAX; the clamp only guards.
            (f64::from(sum) * gain)
                .round()
                .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
        }
    }));
}

fn sum_at(stems: &[&[i16]], i: usize) -> i32 {
    stems
        .iter()
        .map(|s| s.get(i).map_or(0, |v| i32::from(*v)))
        .sum()
}

/// Writes `folder/mix.wav` from the finished stems at `paths` (all of the same length); returns
/// its size and the gain used.
pub(crate) fn mix_files(
    folder: &Path,
    paths: &[std::path::PathBuf],
    deadline: Instant,
) -> Result<(u64, f64), StemsError> {
    let mut peak = 0;
    for_each_block(paths, deadline, |stems| {
        peak = peak.max(peak_of_sum(stems));
        Ok(())
    })?;
    let gain = gain_for(peak);
    let mut writer = StemWriter::create(folder, "mix.wav")?;
    let mut out = Vec::with_capacity(BLOCK);
    for_each_block(paths, deadline, |stems| {
        mix_block(stems, gain, &mut out);
        writer.samples(&out)
    })?;
    Ok((writer.finish()?, gain))
}

/// Calls `each` with the next block of every stem until all are read.
fn for_each_block(
    paths: &[std::path::PathBuf],
    deadline: Instant,
    mut each: impl FnMut(&[&[i16]]) -> Result<(), StemsError>,
) -> Result<(), StemsError> {
    let mut readers = paths
        .iter()
        .map(|p| StemReader::open(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut blocks = vec![[0i16; BLOCK]; readers.len()];
    let mut blocks_done = 0u32;
    loop {
        let mut lens = Vec::with_capacity(readers.len());
        for (reader, block) in readers.iter_mut().zip(blocks.iter_mut()) {
            lens.push(reader.read(block)?);
        }
        if lens.iter().all(|n| *n == 0) {
            return Ok(());
        }
        let views: Vec<&[i16]> = blocks.iter().zip(&lens).map(|(b, n)| &b[..*n]).collect();
        each(&views)?;
        blocks_done += 1;
        if blocks_done.is_multiple_of(100) && Instant::now() > deadline {
            return Err(StemsError::TimedOut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sum_that_fits_is_the_plain_sum() {
        let a = [1000i16, -2000, 0, 30_000];
        let b = [500i16, 500, 0, -30_000];
        let c = [0i16, 0, 7, 100];
        let stems: [&[i16]; 3] = [&a, &b, &c];
        let peak = peak_of_sum(&stems);
        assert_eq!(peak, 1500);
        assert_eq!(gain_for(peak), 1.0);
        let mut out = Vec::new();
        mix_block(&stems, gain_for(peak), &mut out);
        assert_eq!(out, [1500, -1500, 7, 100]);
    }

    #[test]
    fn three_full_scale_voices_at_once_never_clip() {
        // The worst case: all three at full scale in phase, both polarities.
        let a = [i16::MAX, i16::MIN, 16_000, 0];
        let stems: [&[i16]; 3] = [&a, &a, &a];
        let peak = peak_of_sum(&stems);
        assert_eq!(peak, 3 * 32_768);
        let gain = gain_for(peak);
        assert!(gain < 1.0);
        let mut out = Vec::new();
        mix_block(&stems, gain, &mut out);
        let loudest = out.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert_eq!(f64::from(loudest), CEILING, "the peak sits at -1 dBFS");
        assert!(out.iter().all(|s| *s != i16::MIN && *s != i16::MAX));
        // Relative levels stay: 16000 * 3 scaled by the same gain.
        assert_eq!(out[2], (48_000.0 * gain).round() as i16);
        assert_eq!(out[3], 0);
    }

    #[test]
    fn stems_of_different_lengths_mix_as_if_padded_with_silence() {
        let a = [100i16, 100, 100];
        let b = [1i16];
        let stems: [&[i16]; 2] = [&a, &b];
        let mut out = Vec::new();
        mix_block(&stems, 1.0, &mut out);
        assert_eq!(out, [101, 100, 100]);
    }

    #[test]
    fn the_mix_file_holds_each_stem_where_it_was() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let names = ["a.wav", "b.wav"];
        let mut paths = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let mut w = StemWriter::create(dir.path(), name).unwrap_or_else(|e| panic!("{e}"));
            // a: loud in the first half; b: loud in the second half.
            let samples: Vec<i16> = (0..20_000)
                .map(|n| if (n < 10_000) == (i == 0) { 30_000 } else { 0 })
                .collect();
            w.samples(&samples).unwrap_or_else(|e| panic!("{e}"));
            w.finish().unwrap_or_else(|e| panic!("{e}"));
            paths.push(dir.path().join(name));
        }
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        let (bytes, gain) =
            mix_files(dir.path(), &paths, deadline).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bytes, 44 + 2 * 20_000);
        assert_eq!(gain, 1.0, "the voices never overlap");
        let mut reader =
            StemReader::open(&dir.path().join("mix.wav")).unwrap_or_else(|e| panic!("{e}"));
        let mut all = vec![0i16; 20_000];
        assert_eq!(reader.read(&mut all).unwrap_or(0), 20_000);
        assert!(all.iter().all(|s| *s == 30_000));
    }
}
