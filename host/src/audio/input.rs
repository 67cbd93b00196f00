//! What a browser may send as microphone audio, and its decoding to 48 kHz frames.

use audiopus::coder::Decoder;
use audiopus::packet::Packet;
use audiopus::{Channels, MutSignals, SampleRate};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::Resampler;
use super::SAMPLE_RATE;
use super::frame::{Frame, FrameAssembler};

/// PCM rates a client may announce; each has a small ratio to 48 kHz.
const PCM_RATES: [u32; 7] = [8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000];
/// Rates an Opus encoder may run at (RFC 6716); the decoder always gives 48 kHz regardless.
const OPUS_RATES: [u32; 5] = [8_000, 12_000, 16_000, 24_000, 48_000];
/// Largest Opus packet duration: 120 ms at 48 kHz.
const MAX_OPUS_SAMPLES: usize = 5_760;

/// How the samples of an input stream are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputEncoding {
    /// Raw 16-bit signed little-endian PCM, chunks of any size.
    #[serde(rename = "pcm_s16le")]
    PcmS16le,
    /// One Opus packet per chunk.
    #[serde(rename = "opus")]
    Opus,
}

/// The microphone format a client announces in `hello`: `{"encoding":"pcm_s16le","sampleRate":48000,"channels":1}`.
///
/// Missing fields take the default, PCM s16le 48 kHz mono (what the frontend sends unannounced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct InputFormat {
    /// Sample encoding.
    pub encoding: InputEncoding,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count; only mono is accepted.
    pub channels: u16,
}

impl Default for InputFormat {
    fn default() -> Self {
        Self {
            encoding: InputEncoding::PcmS16le,
            sample_rate: SAMPLE_RATE,
            channels: 1,
        }
    }
}

impl InputFormat {
    /// Checks that the studio can decode this format, saying what to send instead if not.
    pub fn validate(&self) -> Result<(), InputError> {
        if self.channels != 1 {
            return Err(InputError::Channels(self.channels));
        }
        let rates: &[u32] = match self.encoding {
            InputEncoding::PcmS16le => &PCM_RATES,
            InputEncoding::Opus => &OPUS_RATES,
        };
        if !rates.contains(&self.sample_rate) {
            return Err(InputError::SampleRate {
                encoding: self.encoding,
                rate: self.sample_rate,
                supported: rates,
            });
        }
        Ok(())
    }
}

/// Why input audio could not be accepted or decoded.
#[derive(Debug, Error)]
pub enum InputError {
    /// The announced channel count is not mono.
    #[error("{0} audio channels announced; send mono (channels: 1), downmixing in the browser")]
    Channels(u16),
    /// The announced rate is not one the studio converts from.
    #[error(
        "sample rate {rate} Hz is not supported for {encoding:?}; use one of {supported:?} (48000 preferred)"
    )]
    SampleRate {
        /// The announced encoding.
        encoding: InputEncoding,
        /// The announced rate.
        rate: u32,
        /// The rates this encoding accepts.
        supported: &'static [u32],
    },
    /// libopus refused to create a decoder or to decode a packet.
    #[error("Opus: {0}")]
    Opus(#[from] audiopus::Error),
}

/// Turns a client's microphone chunks, in its announced format, into 48 kHz mono frames.
#[derive(Debug)]
pub struct InputDecoder {
    format: InputFormat,
    path: DecodePath,
    assembler: FrameAssembler,
}

#[derive(Debug)]
enum DecodePath {
    /// 48 kHz PCM: bytes go straight into the assembler.
    Pcm48k,
    /// PCM at another rate: bytes -> samples -> resampler -> assembler.
    PcmResampled {
        resampler: Resampler,
        samples: Vec<i16>,
        resampled: Vec<i16>,
        odd_byte: Option<u8>,
    },
    /// Opus packets decoded at 48 kHz.
    Opus {
        decoder: Box<Decoder>,
        decoded: Box<[i16; MAX_OPUS_SAMPLES]>,
    },
}

impl InputDecoder {
    /// A decoder for a validated `format`.
    pub fn new(format: InputFormat) -> Result<Self, InputError> {
        format.validate()?;
        let path = match (format.encoding, format.sample_rate) {
            (InputEncoding::PcmS16le, SAMPLE_RATE) => DecodePath::Pcm48k,
            (InputEncoding::PcmS16le, rate) => DecodePath::PcmResampled {
                // validate() only lets through rates with a small ratio to 48 kHz.
                resampler: Resampler::new(rate, SAMPLE_RATE).map_err(|_| {
                    InputError::SampleRate {
                        encoding: format.encoding,
                        rate,
                        supported: &PCM_RATES,
                    }
                })?,
                samples: Vec::with_capacity(4096),
                resampled: Vec::with_capacity(8192),
                odd_byte: None,
            },
            (InputEncoding::Opus, _) => DecodePath::Opus {
                decoder: Box::new(Decoder::new(SampleRate::Hz48000, Channels::Mono)?),
                decoded: Box::new([0; MAX_OPUS_SAMPLES]),
            },
        };
        Ok(Self {
            format,
            path,
            assembler: FrameAssembler::new(),
        })
    }

    /// The format this decoder reads.
    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// Decodes one chunk and calls `on_frame` for every whole 48 kHz frame it completes.
    ///
    /// A PCM chunk may have any length; an Opus chunk must be exactly one packet. A bad Opus
    /// packet is an error for that chunk only: the decoder stays usable for the next one.
    pub fn push(
        &mut self,
        chunk: &[u8],
        mut on_frame: impl FnMut(&Frame),
    ) -> Result<(), InputError> {
        match &mut self.path {
            DecodePath::Pcm48k => self.assembler.push_bytes(chunk, on_frame),
            DecodePath::PcmResampled {
                resampler,
                samples,
                resampled,
                odd_byte,
            } => {
                samples.clear();
                let mut bytes = chunk;
                if let Some(low) = *odd_byte
                    && let Some((&high, rest)) = bytes.split_first()
                {
                    *odd_byte = None;
                    samples.push(i16::from_le_bytes([low, high]));
                    bytes = rest;
                }
                let pairs = bytes.chunks_exact(2);
                if let [last] = pairs.remainder() {
                    *odd_byte = Some(*last);
                }
                samples.extend(pairs.map(|p| i16::from_le_bytes([p[0], p[1]])));
                resampled.clear();
                resampler.process(samples, resampled);
                self.assembler.push_samples(resampled, &mut on_frame);
            }
            DecodePath::Opus { decoder, decoded } => {
                let packet = Packet::try_from(chunk)?;
                let output = MutSignals::try_from(&mut decoded[..])?;
                let count = decoder.decode(Some(packet), output, false)?;
                self.assembler
                    .push_samples(&decoded[..count.min(MAX_OPUS_SAMPLES)], &mut on_frame);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use audiopus::coder::Encoder;
    use audiopus::{Application, Channels, SampleRate};

    use super::*;
    use studio_plugin::resample::signal::{goertzel, sine, zero_crossing_frequency};

    fn decode_all(format: InputFormat, chunks: &[&[u8]]) -> Vec<i16> {
        let mut decoder = InputDecoder::new(format).expect("valid format");
        let mut out = Vec::new();
        for chunk in chunks {
            decoder
                .push(chunk, |frame| out.extend_from_slice(frame.samples()))
                .expect("decodable chunk");
        }
        out
    }

    fn le_bytes(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    #[test]
    fn format_json_uses_the_protocol_names_and_defaults_to_pcm_48k_mono() {
        let parsed: InputFormat =
            serde_json::from_str(r#"{"encoding":"opus","sampleRate":48000,"channels":1}"#)
                .expect("valid json");
        assert_eq!(
            parsed,
            InputFormat {
                encoding: InputEncoding::Opus,
                sample_rate: 48_000,
                channels: 1
            }
        );
        let empty: InputFormat = serde_json::from_str("{}").expect("valid json");
        assert_eq!(empty, InputFormat::default());
        let json = serde_json::to_value(InputFormat::default()).expect("serializable");
        assert_eq!(
            json,
            serde_json::json!({"encoding":"pcm_s16le","sampleRate":48000,"channels":1})
        );
        let unknown = serde_json::from_str::<InputFormat>(r#"{"encoding":"mp3"}"#);
        assert!(unknown.is_err_and(|e| e.to_string().contains("pcm_s16le")));
    }

    #[test]
    fn stereo_and_odd_rates_are_refused_with_a_message_saying_what_to_send() {
        let stereo = InputFormat {
            channels: 2,
            ..InputFormat::default()
        };
        let message = InputDecoder::new(stereo).err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("2 audio channels announced; send mono (channels: 1), downmixing in the browser")
        );
        let odd_rate = InputFormat {
            sample_rate: 11_000,
            ..InputFormat::default()
        };
        let message = InputDecoder::new(odd_rate)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("11000 Hz is not supported"), "{message}");
        assert!(message.contains("48000"), "{message}");
        let opus_44k = InputFormat {
            encoding: InputEncoding::Opus,
            sample_rate: 44_100,
            channels: 1,
        };
        assert!(matches!(
            opus_44k.validate(),
            Err(InputError::SampleRate { .. })
        ));
    }

    #[test]
    fn pcm_48k_chunks_pass_through_unchanged() {
        let input = sine(440.0, 48_000, 0.5, 960 * 4);
        let bytes = le_bytes(&input);
        let (a, b) = bytes.split_at(1001);
        assert_eq!(decode_all(InputFormat::default(), &[a, b]), input);
    }

    #[test]
    fn pcm_at_16k_24k_and_44k1_arrives_as_the_same_tone_at_48k() {
        for rate in [16_000, 24_000, 44_100] {
            let input = sine(700.0, rate, 0.5, rate as usize);
            let bytes = le_bytes(&input);
            // Odd chunk sizes split samples between chunks.
            let chunks: Vec<&[u8]> = bytes.chunks(777).collect();
            let format = InputFormat {
                sample_rate: rate,
                ..InputFormat::default()
            };
            let out = decode_all(format, &chunks);
            assert!(
                out.len() >= 48_000 - 960 * 2,
                "{rate}: {} samples",
                out.len()
            );
            let steady = &out[4_800..43_200];
            let freq = zero_crossing_frequency(steady, 48_000);
            assert!((freq - 700.0).abs() < 0.5, "{rate}: frequency {freq}");
            let level = goertzel(steady, 48_000, 700.0);
            assert!((level - 0.5).abs() < 0.01, "{rate}: level {level}");
        }
    }

    #[test]
    fn opus_packets_decode_to_48k_frames_of_the_same_tone() {
        let encoder = Encoder::new(SampleRate::Hz48000, Channels::Mono, Application::Audio)
            .expect("libopus encoder");
        let input = sine(440.0, 48_000, 0.5, 960 * 50);
        let mut packets = Vec::new();
        for frame in input.chunks_exact(960) {
            let mut packet = vec![0u8; 1500];
            let len = encoder.encode(frame, &mut packet).expect("encodable frame");
            packet.truncate(len);
            packets.push(packet);
        }
        let chunks: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
        let format = InputFormat {
            encoding: InputEncoding::Opus,
            ..InputFormat::default()
        };
        let out = decode_all(format, &chunks);
        assert_eq!(out.len(), 960 * 50);
        let steady = &out[9_600..];
        let freq = zero_crossing_frequency(steady, 48_000);
        assert!((freq - 440.0).abs() < 1.0, "frequency {freq}");
        let level = goertzel(steady, 48_000, 440.0);
        assert!((level - 0.5).abs() < 0.05, "level {level}");
    }

    #[test]
    fn a_corrupt_opus_packet_fails_alone_and_decoding_continues() {
        let format = InputFormat {
            encoding: InputEncoding::Opus,
            ..InputFormat::default()
        };
        let mut decoder = InputDecoder::new(format).expect("valid format");
        let mut frames = 0;
        assert!(decoder.push(&[], |_| frames += 1).is_err());
        // TOC byte announcing a code-3 packet with a frame count of zero: invalid per RFC 6716.
        assert!(decoder.push(&[0xfb, 0x00], |_| frames += 1).is_err());
        let encoder = Encoder::new(SampleRate::Hz48000, Channels::Mono, Application::Audio)
            .expect("libopus encoder");
        let mut packet = vec![0u8; 1500];
        let len = encoder
            .encode(&sine(440.0, 48_000, 0.5, 960), &mut packet)
            .expect("encodable frame");
        decoder
            .push(&packet[..len], |_| frames += 1)
            .expect("a good packet after bad ones");
        assert_eq!(frames, 1);
    }
}
