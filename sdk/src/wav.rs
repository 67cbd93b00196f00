//! WAV files of 16-bit PCM: write one (mono), and parse one to get at its samples. Several TTS
//! APIs (Google's LINEAR16, some local servers) return a whole WAV file where we want bare samples.

/// Why bytes are not a WAV file this module can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WavError {
    /// No `RIFF`/`WAVE` header.
    NotWav,
    /// The header or a chunk ends before its declared size.
    Truncated,
    /// The `fmt ` chunk is missing.
    MissingFormat,
    /// Not 16-bit integer PCM (the format code or bits per sample).
    Unsupported(String),
}

impl std::fmt::Display for WavError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotWav => write!(f, "not a RIFF/WAVE file"),
            Self::Truncated => write!(f, "the WAV data is truncated"),
            Self::MissingFormat => write!(f, "the WAV file has no fmt chunk"),
            Self::Unsupported(what) => write!(f, "unsupported WAV format: {what}"),
        }
    }
}

impl std::error::Error for WavError {}

/// The audio in a WAV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// Samples per second.
    pub sample_rate: u32,
    /// Interleaved channels (1 for mono).
    pub channels: u16,
    /// The samples, interleaved when there are several channels.
    pub samples: Vec<i16>,
}

impl Wav {
    /// The samples mixed down to mono (the average of the channels).
    pub fn to_mono(&self) -> Vec<i16> {
        let channels = usize::from(self.channels.max(1));
        if channels == 1 {
            return self.samples.clone();
        }
        self.samples
            .chunks_exact(channels)
            .map(|frame| {
                (frame.iter().map(|&s| i32::from(s)).sum::<i32>() / channels as i32) as i16
            })
            .collect()
    }
}

/// Writes a complete 16-bit mono WAV file.
pub fn write_mono(samples: &[i16], sample_rate: u32) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

/// Parses a 16-bit PCM WAV file, skipping chunks it does not need (`LIST`, `fact`, ...).
/// A data chunk whose size is 0 or too large (streamed WAVs write a placeholder) runs to the end.
pub fn parse(bytes: &[u8]) -> Result<Wav, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWav);
    }
    let mut at = 12;
    let mut format: Option<(u16, u32, u16)> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
            as usize;
        let body = at + 8;
        if id == b"fmt " {
            if size < 16 || body + 16 > bytes.len() {
                return Err(WavError::Truncated);
            }
            let f = &bytes[body..body + 16];
            let code = u16::from_le_bytes([f[0], f[1]]);
            let channels = u16::from_le_bytes([f[2], f[3]]);
            let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
            let bits = u16::from_le_bytes([f[14], f[15]]);
            // 0xFFFE is WAVE_FORMAT_EXTENSIBLE, which still holds integer PCM for 16-bit files.
            if code != 1 && code != 0xFFFE {
                return Err(WavError::Unsupported(format!("format code {code}")));
            }
            if bits != 16 {
                return Err(WavError::Unsupported(format!("{bits} bits per sample")));
            }
            format = Some((channels, rate, bits));
        } else if id == b"data" {
            let (channels, sample_rate, _) = format.ok_or(WavError::MissingFormat)?;
            let end = if size == 0 || body + size > bytes.len() {
                bytes.len()
            } else {
                body + size
            };
            return Ok(Wav {
                sample_rate,
                channels,
                samples: crate::pcm::samples_from_le_bytes(&bytes[body..end]),
            });
        }
        // Chunks are padded to an even length.
        at = body + size + (size & 1);
    }
    Err(if format.is_some() {
        WavError::Truncated
    } else {
        WavError::MissingFormat
    })
}

/// Returns the samples of a WAV file, or the bytes as raw little-endian samples when they carry no
/// RIFF header (LINEAR16 responses are documented as WAV but some servers send bare PCM).
pub fn strip_header(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    if bytes.starts_with(b"RIFF") {
        return parse(bytes).map(|wav| wav.to_mono());
    }
    Ok(crate::pcm::samples_from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_wav_has_a_44_byte_header_and_parses_back() {
        let samples = vec![0i16, 1000, -1000, 32767, -32768];
        let bytes = write_mono(&samples, 24000);
        assert_eq!(bytes.len(), 44 + 10);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            36 + 10
        );
        let wav = parse(&bytes).expect("our own WAV parses");
        assert_eq!(
            wav,
            Wav {
                sample_rate: 24000,
                channels: 1,
                samples
            }
        );
    }

    #[test]
    fn extra_chunks_before_data_are_skipped() {
        let plain = write_mono(&[5, 6, 7], 16000);
        let mut with_list = plain[..36].to_vec();
        with_list.extend_from_slice(b"LIST");
        with_list.extend_from_slice(&3u32.to_le_bytes());
        with_list.extend_from_slice(b"abc\0"); // odd size + pad byte
        with_list.extend_from_slice(&plain[36..]);
        assert_eq!(parse(&with_list).map(|w| w.samples), Ok(vec![5, 6, 7]));
    }

    #[test]
    fn placeholder_data_size_reads_to_the_end() {
        let mut bytes = write_mono(&[1, 2, 3, 4], 8000);
        bytes[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse(&bytes).map(|w| w.samples), Ok(vec![1, 2, 3, 4]));
    }

    #[test]
    fn stereo_is_mixed_to_mono() {
        let wav = Wav {
            sample_rate: 8000,
            channels: 2,
            samples: vec![100, 300, -50, -150],
        };
        assert_eq!(wav.to_mono(), vec![200, -100]);
    }

    #[test]
    fn non_wav_and_unsupported_formats_are_errors() {
        assert_eq!(parse(b"hello world, not a wav"), Err(WavError::NotWav));
        let mut float = write_mono(&[1], 8000);
        float[20] = 3; // IEEE float
        assert!(matches!(parse(&float), Err(WavError::Unsupported(_))));
        let truncated = &write_mono(&[1], 8000)[..30];
        assert_eq!(parse(truncated), Err(WavError::Truncated));
    }

    #[test]
    fn strip_header_accepts_wav_and_bare_pcm() {
        assert_eq!(strip_header(&write_mono(&[9, -9], 24000)), Ok(vec![9, -9]));
        assert_eq!(strip_header(&[9, 0, 0xF7, 0xFF]), Ok(vec![9, -9]));
    }
}
