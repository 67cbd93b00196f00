//! One speaker's audio track: 48 kHz mono s16 frames on the session clock -> Opus -> WebM.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use audiopus::coder::Encoder;
use audiopus::{Application, Bitrate, Channels, SampleRate};

use super::error::RecordingError;
use super::webm::{FRAME_MS, OpusTrackInfo, TrackSink, WebmWriter};

/// Samples in one 20 ms frame at 48 kHz mono: the only frame size a track takes.
pub const FRAME_SAMPLES: usize = 960;
/// Largest Opus packet we accept from the encoder (RFC 6716's limit for one frame is 1275).
const MAX_PACKET: usize = 1500;
/// Silent frames encoded for real after sound, before switching to the cached silence packet:
/// they flush the encoder's lookahead (the tail of the last word) and let it fade out cleanly.
const WARM_SILENT_FRAMES: u32 = 3;

/// Which libopus tuning a track uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpusApplication {
    /// Tuned for speech intelligibility; it picks SILK or hybrid coding, which costs more CPU.
    Voip,
    /// Tuned for fidelity of any signal (the default).
    Audio,
    /// CELT only, 2.5 ms lookahead: the least CPU per frame.
    LowDelay,
}

/// Encoder settings for every track of a recording.
///
/// DTX stays off: silence is handled by the track itself (gaps and all-zero frames reuse one
/// pre-encoded silence packet, costing no encoder CPU and ~10 bytes per frame), while the human's
/// room tone is kept as recorded instead of being replaced by comfort noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// Target bitrate in bits per second (VBR).
    pub bitrate_bps: i32,
    /// libopus complexity 0..=10: CPU against quality.
    pub complexity: u8,
    /// libopus application.
    pub application: OpusApplication,
}

impl Default for OpusSettings {
    /// 40 kbps VBR, application AUDIO, complexity 1: libopus then codes speech with CELT in full
    /// band (checked on the packets' TOC), at about a fifth of the CPU of the hybrid SILK+CELT
    /// path that VOIP at 32 kbps takes (benches/recorder.rs), and digital silence in 3 bytes.
    /// Complexity 1 keeps CELT's transient analysis (short blocks against pre-echo; 0 drops it,
    /// and the pre-echo before sharp attacks is 12 dB louder) and leaves out its per-band
    /// time-frequency analysis and spreading decision, which cost 15 % more encode time than
    /// they bought in the bench's pre-echo and speech figures (docs/BENCHMARKS.md "Recorder").
    /// The encode is a fifth of the server's CPU in a full studio.
    fn default() -> Self {
        Self {
            bitrate_bps: 40_000,
            complexity: 1,
            application: OpusApplication::Audio,
        }
    }
}

/// Length and size of a finished track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSummary {
    /// Audio in the file, in ms.
    pub duration_ms: u64,
    /// File size in bytes.
    pub bytes: u64,
}

/// One speaker's Opus/WebM track on the session clock.
///
/// Every track starts at session time 0; gaps are filled with silence so the tracks of a session
/// line up in any editor. Frames are placed at the 20 ms slot of their session time, or right
/// after the previous frame when they arrive late, so no audio is ever dropped. Stamp a stream's
/// frames by their position in that stream (its start time + 20 ms per frame), not by arrival
/// time: a network burst then lands where the audio belongs instead of after a false gap.
pub struct Track<S: TrackSink = File> {
    path: PathBuf,
    encoder: Encoder,
    writer: Option<WebmWriter<S>>,
    /// Frames written so far: the next frame's slot.
    next_frame: u64,
    packet: [u8; MAX_PACKET],
    silence: Vec<u8>,
    silent_run: u32,
    /// Audio on disk when a write error stopped the track.
    stopped_at_ms: u64,
}

impl Track<File> {
    /// Creates the file at `path` (never overwriting one) and writes the WebM header.
    pub fn create(path: &Path, name: &str, settings: OpusSettings) -> Result<Self, RecordingError> {
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .open(path)
            .map_err(|e| RecordingError::write(path, e))?;
        Self::with_sink(file, path, name, settings)
    }
}

impl<S: TrackSink> Track<S> {
    /// Starts a track on any sink; `path` names it in errors.
    pub fn with_sink(
        sink: S,
        path: &Path,
        name: &str,
        settings: OpusSettings,
    ) -> Result<Self, RecordingError> {
        let encoder = new_encoder(path, settings)?;
        let pre_skip = encoder
            .lookahead()
            .map_err(|e| opus_error(path, e))
            .and_then(|samples| {
                u16::try_from(samples).map_err(|_| RecordingError::Encoder {
                    path: path.to_path_buf(),
                    message: format!("lookahead {samples} does not fit OpusHead"),
                })
            })?;
        let silence = silence_packet(path, settings)?;
        let info = OpusTrackInfo { name, pre_skip };
        let writer = WebmWriter::new(sink, &info).map_err(|e| RecordingError::write(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            encoder,
            writer: Some(writer),
            next_frame: 0,
            packet: [0; MAX_PACKET],
            silence,
            silent_run: WARM_SILENT_FRAMES,
            stopped_at_ms: 0,
        })
    }

    /// The file this track writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Audio written so far (including the Cluster still in memory), in ms.
    pub fn duration_ms(&self) -> u64 {
        self.next_frame * FRAME_MS
    }

    /// Audio safely on disk, in ms: what survives a crash now.
    pub fn flushed_ms(&self) -> u64 {
        self.writer
            .as_ref()
            .map_or(self.stopped_at_ms, WebmWriter::flushed_end_ms)
    }

    /// Makes the Clusters written so far survive a power loss (`fdatasync`); a stopped track has
    /// nothing left to sync.
    pub fn sync_data(&mut self) -> Result<(), RecordingError> {
        match self.writer.as_mut() {
            Some(writer) => writer
                .sync_data()
                .map_err(|e| RecordingError::write(&self.path, e)),
            None => Ok(()),
        }
    }

    /// Records one 20 ms frame (960 samples, 48 kHz mono) that started at session time `at_ms`.
    pub fn push_frame(&mut self, at_ms: u64, frame: &[i16]) -> Result<(), RecordingError> {
        if frame.len() != FRAME_SAMPLES {
            return Err(RecordingError::FrameSize {
                expected: FRAME_SAMPLES,
                got: frame.len(),
            });
        }
        self.advance_to(at_ms)?;
        if is_digital_silence(frame) {
            return self.write_silent_frame();
        }
        let len = self
            .encoder
            .encode(frame, &mut self.packet)
            .map_err(|e| opus_error(&self.path, e))?;
        self.silent_run = 0;
        self.write_packet(len)
    }

    /// Fills silence up to session time `ms` (rounded down to a frame): a silent speaker's track
    /// keeps pace with the session.
    pub fn advance_to(&mut self, ms: u64) -> Result<(), RecordingError> {
        let target = ms / FRAME_MS;
        while self.next_frame < target {
            self.write_silent_frame()?;
        }
        Ok(())
    }

    /// Writes the last Cluster, Cues and exact Duration; the file is complete afterwards.
    pub fn finish(mut self) -> Result<TrackSummary, RecordingError> {
        let writer = self.writer.take().ok_or_else(|| RecordingError::Stopped {
            path: self.path.clone(),
        })?;
        let duration_ms = writer.end_ms();
        let (_, bytes) = writer
            .finish()
            .map_err(|e| RecordingError::write(&self.path, e))?;
        Ok(TrackSummary { duration_ms, bytes })
    }

    fn write_silent_frame(&mut self) -> Result<(), RecordingError> {
        if self.silent_run < WARM_SILENT_FRAMES {
            let zeros = [0i16; FRAME_SAMPLES];
            let len = self
                .encoder
                .encode(&zeros, &mut self.packet)
                .map_err(|e| opus_error(&self.path, e))?;
            self.silent_run += 1;
            return self.write_packet(len);
        }
        let at_ms = self.next_frame * FRAME_MS;
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| RecordingError::Stopped {
                path: self.path.clone(),
            })?;
        let result = writer.push_packet(at_ms, &self.silence);
        self.after_write(result)
    }

    fn write_packet(&mut self, len: usize) -> Result<(), RecordingError> {
        let at_ms = self.next_frame * FRAME_MS;
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| RecordingError::Stopped {
                path: self.path.clone(),
            })?;
        let result = writer.push_packet(at_ms, &self.packet[..len]);
        self.after_write(result)
    }

    fn after_write(&mut self, result: std::io::Result<()>) -> Result<(), RecordingError> {
        match result {
            Ok(()) => {
                self.next_frame += 1;
                Ok(())
            }
            Err(error) => {
                // The writer cut the file back to its last complete Cluster; stop here so the
                // file stays valid, and say so on every later call.
                tracing::warn!(path = %self.path.display(), %error, "recording track stopped");
                if let Some(writer) = self.writer.take() {
                    self.stopped_at_ms = writer.flushed_end_ms();
                }
                Err(RecordingError::write(&self.path, error))
            }
        }
    }
}

impl OpusSettings {
    /// A libopus encoder for one 48 kHz mono track with these settings (VBR, DTX off).
    pub fn encoder(&self) -> Result<Encoder, audiopus::Error> {
        let application = match self.application {
            OpusApplication::Voip => Application::Voip,
            OpusApplication::Audio => Application::Audio,
            OpusApplication::LowDelay => Application::LowDelay,
        };
        let mut encoder = Encoder::new(SampleRate::Hz48000, Channels::Mono, application)?;
        encoder.set_bitrate(Bitrate::BitsPerSecond(self.bitrate_bps))?;
        encoder.set_complexity(self.complexity)?;
        encoder.set_vbr(true)?;
        encoder.set_dtx(false)?;
        Ok(encoder)
    }
}

/// Every sample zero: ORs 32 at a time (the compiler vectorizes it) instead of a test and an early
/// exit per sample; the human's track tests every frame of the microphone.
fn is_digital_silence(frame: &[i16]) -> bool {
    frame
        .chunks(32)
        .all(|chunk| chunk.iter().fold(0, |acc, sample| acc | sample) == 0)
}

fn new_encoder(path: &Path, settings: OpusSettings) -> Result<Encoder, RecordingError> {
    settings.encoder().map_err(|e| opus_error(path, e))
}

/// Encodes digital silence with a throwaway encoder of the same settings until it settles, and
/// keeps that packet: it decodes to silence whatever the track's encoder did before.
fn silence_packet(path: &Path, settings: OpusSettings) -> Result<Vec<u8>, RecordingError> {
    let encoder = new_encoder(path, settings)?;
    let zeros = [0i16; FRAME_SAMPLES];
    let mut packet = [0u8; MAX_PACKET];
    let mut len = 0;
    for _ in 0..10 {
        len = encoder
            .encode(&zeros, &mut packet)
            .map_err(|e| opus_error(path, e))?;
    }
    Ok(packet[..len].to_vec())
}

fn opus_error(path: &Path, error: audiopus::Error) -> RecordingError {
    RecordingError::Encoder {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digital_silence_is_every_sample_zero_wherever_a_sound_sample_sits() {
        let mut frame = [0i16; FRAME_SAMPLES];
        assert!(is_digital_silence(&frame));
        for at in [0, 31, 32, 500, FRAME_SAMPLES - 1] {
            for sample in [1, -1, i16::MIN] {
                frame[at] = sample;
                assert!(!is_digital_silence(&frame), "sample {sample} at {at}");
                frame[at] = 0;
            }
        }
        // A length that is not a multiple of the 32-sample blocks.
        let mut odd = [0i16; 45];
        assert!(is_digital_silence(&odd));
        odd[44] = 7;
        assert!(!is_digital_silence(&odd));
    }
}
