//! Recording of a studio session, crash-safe: one Opus/WebM track and one WebVTT caption file per
//! speaker, `events.jsonl` and `session.yml`, in `RECORDING_DIR/<episodeId>/`.
//!
//! Everything is stamped with the session clock (ms since session start). Tracks hold silence
//! where their speaker is silent, so all three start at 0 and end on the same frame.

mod bucket;
mod ebml;
mod error;
mod events;
mod listing;
pub mod live_copy;
mod manifest;
mod pool;
mod recorder;
mod space;
pub mod stems;
mod track;
mod vtt;
mod webm;
mod writer;

pub use bucket::{BucketError, PART_BYTES, RecordingBucket};
pub use error::RecordingError;
pub use events::{Event, EventLog, TurnMetrics};
pub use listing::{
    RecordedEpisode, RecordedPlugin, RecordedTrack, list_recordings, read_recording,
};
pub use live_copy::TakeState;
pub use manifest::{BriefingRecord, PluginRecord};
pub use pool::WriterPool;
pub use recorder::{
    RecordedFile, Recorder, RecorderConfig, RecordingSummary, folder_name, reserve_folder,
};
pub use space::free_bytes;
pub use track::{FRAME_SAMPLES, OpusApplication, OpusSettings, Track, TrackSummary};
pub use vtt::CaptionFile;
/// WebVTT's timestamp and text escaping, shared with the transcript API's `.vtt`.
pub(crate) use vtt::{Timestamp as VttTimestamp, escape_into as vtt_escape_into};
pub use webm::TrackSink;
pub use writer::{DiskFault, FinishingRecording, RecordingWriter, WriterOptions};
