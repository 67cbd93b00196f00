//! Recording of a studio session, crash-safe: one Opus/WebM track, one WebVTT caption file per
//! speaker, `events.jsonl` and `session.yml` in `RECORDING_DIR/<episodeId>/`.

mod ebml;
mod error;
mod track;
mod webm;

pub use error::RecordingError;
pub use track::{FRAME_SAMPLES, OpusApplication, OpusSettings, Track, TrackSummary};
pub use webm::TrackSink;
