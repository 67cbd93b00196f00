//! WAV files of the stems (hound): 16-bit PCM, 48 kHz, mono, written under a hidden temporary
//! name and renamed into place once complete, so a stem that exists is a whole one.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavSpec, WavWriter};

use super::StemsError;
use super::decode::SampleSink;
use super::demux::RATE;

/// The format of every stem and of the mix.
pub(crate) const SPEC: WavSpec = WavSpec {
    channels: 1,
    sample_rate: RATE as u32,
    bits_per_sample: 16,
    sample_format: SampleFormat::Int,
};

/// A stem being written: `.<name>.partial` until [`StemWriter::finish`] renames it.
pub(crate) struct StemWriter {
    writer: WavWriter<BufWriter<File>>,
    partial: PathBuf,
    path: PathBuf,
}

impl StemWriter {
    /// Starts `folder/name` (replacing a partial one an interrupted job left).
    pub(crate) fn create(folder: &Path, name: &str) -> Result<Self, StemsError> {
        let partial = partial_path(folder, name);
        let writer = WavWriter::create(&partial, SPEC).map_err(|e| wav(&partial, e))?;
        Ok(Self {
            writer,
            partial,
            path: folder.join(name),
        })
    }

    /// Completes the header and moves the file to its name; returns its size.
    pub(crate) fn finish(self) -> Result<u64, StemsError> {
        let Self {
            writer,
            partial,
            path,
        } = self;
        writer.finalize().map_err(|e| wav(&partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| StemsError::io(&path, e))?;
        let bytes = std::fs::metadata(&path)
            .map_err(|e| StemsError::io(&path, e))?
            .len();
        Ok(bytes)
    }
}

impl SampleSink for StemWriter {
    fn samples(&mut self, samples: &[i16]) -> Result<(), StemsError> {
        let mut block = self.writer.get_i16_writer(samples.len() as u32);
        for sample in samples {
            block.write_sample(*sample);
        }
        block.flush().map_err(|e| wav(&self.partial, e))
    }
}

/// Reads a stem back, one block of samples at a time (for the mix).
pub(crate) struct StemReader {
    samples: hound::WavIntoSamples<std::io::BufReader<File>, i16>,
    path: PathBuf,
}

impl StemReader {
    pub(crate) fn open(path: &Path) -> Result<Self, StemsError> {
        let reader = hound::WavReader::open(path).map_err(|e| wav(path, e))?;
        if reader.spec() != SPEC {
            return Err(StemsError::Unreadable {
                file: path.to_path_buf(),
                message: "not a 48 kHz mono 16-bit stem".into(),
            });
        }
        Ok(Self {
            samples: reader.into_samples(),
            path: path.to_path_buf(),
        })
    }

    /// Fills `block` from the stem; returns how many samples it holds (0 at the end).
    pub(crate) fn read(&mut self, block: &mut [i16]) -> Result<usize, StemsError> {
        let mut n = 0;
        for slot in block.iter_mut() {
            match self.samples.next() {
                Some(Ok(sample)) => *slot = sample,
                Some(Err(e)) => return Err(wav(&self.path, e)),
                None => break,
            }
            n += 1;
        }
        Ok(n)
    }
}

/// Where `name` is written until it is complete.
pub(crate) fn partial_path(folder: &Path, name: &str) -> PathBuf {
    folder.join(format!(".{name}.partial"))
}

fn wav(path: &Path, error: hound::Error) -> StemsError {
    match error {
        hound::Error::IoError(source) => StemsError::io(path, source),
        other => StemsError::Unreadable {
            file: path.to_path_buf(),
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stem_appears_only_when_finished_and_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mut writer =
            StemWriter::create(dir.path(), "you.wav").unwrap_or_else(|e| panic!("{e}"));
        writer
            .samples(&[1, -2, 3])
            .and_then(|()| writer.silence(10_000))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!dir.path().join("you.wav").exists());
        let bytes = writer.finish().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bytes, 44 + 2 * 10_003);
        assert!(!partial_path(dir.path(), "you.wav").exists());
        let mut reader =
            StemReader::open(&dir.path().join("you.wav")).unwrap_or_else(|e| panic!("{e}"));
        let mut block = [9i16; 8];
        assert_eq!(reader.read(&mut block).unwrap_or(0), 8);
        assert_eq!(block[..4], [1, -2, 3, 0]);
    }
}
