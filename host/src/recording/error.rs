//! The recorder's typed errors: each names the file it concerns and says what to do.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while recording a session.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The episode id cannot name a folder (empty, `.` or `..` after cleaning).
    #[error(
        "episode id {0:?} cannot name a recording folder; use letters, digits, '-', '_' or '.'"
    )]
    InvalidEpisodeId(String),
    /// The episode folder (or the recording dir above it) could not be created.
    #[error(
        "cannot create recording folder {path}: {source}; check RECORDING_DIR exists and is writable"
    )]
    CreateFolder {
        /// The folder we tried to create.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// Writing, flushing or patching a recording file failed (disk full, I/O error).
    #[error("cannot write recording file {path}: {source}; what was written before stays playable")]
    Write {
        /// The file that failed.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// libopus refused a setting or a frame.
    #[error("opus encoder for {path}: {message}")]
    Encoder {
        /// The track whose encoder failed.
        path: PathBuf,
        /// libopus's message.
        message: String,
    },
    /// A frame pushed to a track was not 20 ms of 48 kHz mono audio.
    #[error("a track frame must be {expected} samples (20 ms at 48 kHz mono), got {got}")]
    FrameSize {
        /// Samples per frame the track takes.
        expected: usize,
        /// Samples that were pushed.
        got: usize,
    },
    /// An earlier write to this file failed; it was closed at its last valid point.
    #[error(
        "recording file {path} stopped after an earlier write error; it is valid up to that point"
    )]
    Stopped {
        /// The file that stopped.
        path: PathBuf,
    },
    /// The disk is not keeping up: the recording's queue is full, so recording frames (and,
    /// when it is full to the brim, captions and events) are dropped while the studio goes on.
    #[error(
        "the disk under {dir} is not keeping up with the recording ({queued} writes waiting): recording frames are dropped while the studio goes on; check that disk"
    )]
    Backlog {
        /// `RECORDING_DIR`.
        dir: PathBuf,
        /// Writes waiting when the first one was dropped.
        queued: usize,
    },
    /// `finish` got no answer from the recorder lane within its deadline (a hung disk).
    #[error(
        "the recording in {dir} was not finished within {after:?}: the disk is not answering; the files hold what reached them before"
    )]
    FinishTimedOut {
        /// `RECORDING_DIR`.
        dir: PathBuf,
        /// The deadline that passed.
        after: std::time::Duration,
    },
    /// The recorder lane could not start or no longer writes the recording (writing it panicked).
    #[error(
        "the recording in {dir} is no longer written ({reason}); the files hold what was written before"
    )]
    WriterLost {
        /// `RECORDING_DIR`.
        dir: PathBuf,
        /// What happened to it.
        reason: String,
    },
}

impl RecordingError {
    /// Wraps an I/O error with the file it concerns.
    pub(crate) fn write(path: &std::path::Path, source: io::Error) -> Self {
        Self::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}
