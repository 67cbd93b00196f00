//! Stems and a mixdown of a recording: each speaker's Opus/WebM track as a WAV file (16-bit PCM,
//! 48 kHz, mono) and `mix.wav`, the three summed on the session's timeline, made on request in
//! the recording folder and kept there.
//!
//! WAV and not FLAC: the stems are for editors, which all take WAV; FLAC would roughly halve the
//! files but needs an encoder dependency (the pure-Rust `flacenc`) for files made once and
//! downloaded, so it was left out.
//!
//! Every stem is as long as the session (the longest track) and starts at session time 0: a word
//! at `t` in one track is at `t` in its stem and in the mix. A track cut off by a crash gives
//! the audio it holds and silence after. A job reads each track into memory (bounded by
//! [`StemLimits::max_track_bytes`]), decodes it into its stem on disk, then mixes the stems from
//! disk block by block, so memory stays small however long the session. One job per folder runs
//! at a time (a second caller waits for it, then finds the stems made).
//!
//! Concerns: [`demux`] reads WebM, [`decode`] places decoded audio on the timeline, [`mix`] sums
//! without clipping, [`wav`] writes and reads the files.

mod decode;
mod demux;
mod mix;
mod wav;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::speakers::Speaker;

/// The files a stems job makes, in the order it makes them.
pub const STEM_FILES: [&str; 4] = ["you.wav", "claude.wav", "guest.wav", "mix.wav"];

/// Bytes of WAV per second of audio (16-bit mono at 48 kHz).
const WAV_BYTES_PER_SECOND: u64 = 96_000;

/// How much one job may take on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StemLimits {
    /// The longest session made into stems (4 h: 1.4 GB of WAV per stem).
    pub max_duration: Duration,
    /// The largest track file read (a 4 h track at 40 kbps is about 72 MB).
    pub max_track_bytes: u64,
    /// How long a job may run before it gives up (leaving no stem behind).
    pub time_budget: Duration,
}

impl Default for StemLimits {
    fn default() -> Self {
        Self {
            max_duration: Duration::from_secs(4 * 3600),
            max_track_bytes: 256 * 1024 * 1024,
            time_budget: Duration::from_secs(15 * 60),
        }
    }
}

/// One made (or kept) stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StemFile {
    /// `you.wav`, `claude.wav`, `guest.wav` or `mix.wav`.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What a stems request found or made.
#[derive(Debug, Clone, PartialEq)]
pub struct Stems {
    /// The four files, in [`STEM_FILES`] order.
    pub files: Vec<StemFile>,
    /// Whether this call made them (false: they were already there).
    pub made: bool,
    /// The stems' length in ms (when made by this call).
    pub duration_ms: Option<u64>,
    /// Tracks that ended at a cut (a crash), by file name (when made by this call).
    pub truncated: Vec<String>,
    /// The gain the mix was scaled by to stay below full scale (1: the plain sum).
    pub mix_gain: Option<f64>,
}

/// Why stems could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StemsError {
    /// The folder holds no recording (no `session.yml`).
    #[error("{0} is not a recording folder (no session.yml)")]
    NotARecording(PathBuf),
    /// A track could not be read as the recorder's WebM, or a stem as WAV.
    #[error("cannot read {file}: {message}")]
    Unreadable {
        /// The file.
        file: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A track file is over [`StemLimits::max_track_bytes`].
    #[error("{file} is {bytes} bytes, over the {max_bytes} bytes a stems job reads")]
    TooLarge {
        /// The file.
        file: PathBuf,
        /// Its size.
        bytes: u64,
        /// The limit.
        max_bytes: u64,
    },
    /// The session is longer than [`StemLimits::max_duration`].
    #[error("the session is {ms} ms long, over the {max_ms} ms a stems job makes")]
    TooLong {
        /// Its length.
        ms: u64,
        /// The limit.
        max_ms: u64,
    },
    /// The disk has no room for the stems.
    #[error(
        "the stems need {needed} bytes and the recording disk has {free} free; free some space"
    )]
    NoSpace {
        /// Bytes the four files take.
        needed: u64,
        /// Bytes free.
        free: u64,
    },
    /// The job ran past [`StemLimits::time_budget`].
    #[error("making the stems took longer than allowed; no stem was kept")]
    TimedOut,
    /// libopus failed outside a single packet.
    #[error("opus decoder: {0}")]
    Opus(String),
    /// Reading or writing a file failed.
    #[error("cannot read or write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}

impl StemsError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What `session.yml` says about a recording's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingState {
    /// The episode it recorded.
    pub episode: Option<String>,
    /// Whether the recorder finished it (`endedAt` written). An unfinished one is live, or was
    /// cut off by a crash.
    pub finished: bool,
}

/// Reads `folder/session.yml`'s episode and whether it finished.
pub fn recording_state(folder: &Path) -> Result<RecordingState, StemsError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Session {
        episode: Option<String>,
        ended_at: Option<String>,
    }
    let path = folder.join("session.yml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StemsError::NotARecording(folder.to_path_buf()));
        }
        Err(e) => return Err(StemsError::io(&path, e)),
    };
    let session: Session = serde_yaml_ng::from_str(&text).map_err(|e| StemsError::Unreadable {
        file: path,
        message: e.to_string(),
    })?;
    Ok(RecordingState {
        episode: session.episode,
        finished: session.ended_at.is_some(),
    })
}

/// How recently a track must have been written for its recording to count as still going on:
/// the recorder writes each track every second, silence included, until the session ends.
pub const LIVE_WITHIN: Duration = Duration::from_secs(5);

/// Whether a track in `folder` was written within [`LIVE_WITHIN`]: a recording still going on (or
/// being finished) in some process, whose files are not whole yet.
pub fn tracks_being_written(folder: &Path) -> bool {
    Speaker::ALL.iter().any(|speaker| {
        std::fs::metadata(folder.join(format!("{}.webm", speaker.file_stem())))
            .and_then(|m| m.modified())
            .is_ok_and(|at| at.elapsed().is_ok_and(|age| age < LIVE_WITHIN))
    })
}

/// The stems already made in `folder`, if all four are there.
pub fn kept_stems(folder: &Path) -> Option<Vec<StemFile>> {
    STEM_FILES
        .iter()
        .map(|name| {
            let meta = std::fs::metadata(folder.join(name)).ok()?;
            meta.is_file().then(|| StemFile {
                name: (*name).to_owned(),
                bytes: meta.len(),
            })
        })
        .collect()
}

/// Makes the stems of the recording in `folder`, or returns the kept ones. Blocking: run it off
/// the async runtime ([`make_stems_blocking`] does). Whether the recording is still live is the
/// caller's question: this reads whatever the tracks hold now.
pub fn make_stems(folder: &Path, limits: &StemLimits) -> Result<Stems, StemsError> {
    let lock = folder_lock(folder);
    let _job = lock.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(files) = kept_stems(folder) {
        return Ok(Stems {
            files,
            made: false,
            duration_ms: None,
            truncated: Vec::new(),
            mix_gain: None,
        });
    }
    recording_state(folder)?;
    let result = make(folder, limits);
    if result.is_err() {
        // No half-made set is kept: the next request starts afresh.
        for name in STEM_FILES {
            let _ = std::fs::remove_file(folder.join(name));
            let _ = std::fs::remove_file(wav::partial_path(folder, name));
        }
    }
    result
}

/// [`make_stems`] on the blocking thread pool.
pub async fn make_stems_blocking(folder: PathBuf, limits: StemLimits) -> Result<Stems, StemsError> {
    let joined = tokio::task::spawn_blocking(move || make_stems(&folder, &limits)).await;
    joined.unwrap_or_else(|e| Err(StemsError::Opus(format!("the stems job failed: {e}"))))
}

fn make(folder: &Path, limits: &StemLimits) -> Result<Stems, StemsError> {
    let started = Instant::now();
    let deadline = started + limits.time_budget;
    let mut tracks = Vec::with_capacity(3);
    for speaker in Speaker::ALL {
        let path = folder.join(format!("{}.webm", speaker.file_stem()));
        tracks.push(demux::read_track(&path, limits.max_track_bytes)?);
    }
    // The session's length: the longest track (tracks of a finished session end together).
    let length = tracks.iter().map(decode::track_end).max().unwrap_or(0);
    let length_ms = length * 1000 / demux::RATE;
    let max_ms = u64::try_from(limits.max_duration.as_millis()).unwrap_or(u64::MAX);
    if length_ms > max_ms {
        return Err(StemsError::TooLong {
            ms: length_ms,
            max_ms,
        });
    }
    let needed = (length_ms / 1000 + 1) * WAV_BYTES_PER_SECOND * STEM_FILES.len() as u64;
    let free = crate::recording::free_bytes(folder).map_err(|e| StemsError::io(folder, e))?;
    if needed > free {
        return Err(StemsError::NoSpace { needed, free });
    }
    let mut files = Vec::with_capacity(STEM_FILES.len());
    let mut truncated = Vec::new();
    let mut stem_paths = Vec::with_capacity(3);
    for (speaker, track) in Speaker::ALL.iter().zip(&tracks) {
        let name = format!("{}.wav", speaker.file_stem());
        if track.truncated {
            truncated.push(format!("{}.webm", speaker.file_stem()));
        }
        let mut writer = wav::StemWriter::create(folder, &name)?;
        decode::decode_track(track, length, &mut writer, deadline)?;
        let bytes = writer.finish()?;
        stem_paths.push(folder.join(&name));
        files.push(StemFile { name, bytes });
    }
    drop(tracks);
    let (bytes, gain) = mix::mix_files(folder, &stem_paths, deadline)?;
    files.push(StemFile {
        name: "mix.wav".to_owned(),
        bytes,
    });
    tracing::info!(
        folder = %folder.display(),
        duration_ms = length_ms,
        took_ms = started.elapsed().as_millis() as u64,
        mix_gain = gain,
        truncated = ?truncated,
        "stems made"
    );
    Ok(Stems {
        files,
        made: true,
        duration_ms: Some(length_ms),
        truncated,
        mix_gain: Some(gain),
    })
}

/// The lock of `folder`'s job: one job per folder at a time in this process.
fn folder_lock(folder: &Path) -> Arc<Mutex<()>> {
    static JOBS: LazyLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let mut jobs = JOBS.lock().unwrap_or_else(PoisonError::into_inner);
    // Forget the locks nobody holds or waits for, so the map stays as small as the running jobs.
    jobs.retain(|_, lock| Arc::strong_count(lock) > 1);
    Arc::clone(jobs.entry(folder.to_path_buf()).or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_track_written_seconds_ago_is_being_written_and_an_old_one_is_not() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        assert!(!tracks_being_written(dir.path()), "no tracks at all");
        let track = dir.path().join("claude.webm");
        std::fs::write(&track, b"cluster").unwrap_or_else(|e| panic!("{e}"));
        assert!(tracks_being_written(dir.path()));
        let file = std::fs::File::options()
            .write(true)
            .open(&track)
            .unwrap_or_else(|e| panic!("{e}"));
        let minute_ago = std::time::SystemTime::now() - Duration::from_secs(60);
        file.set_modified(minute_ago)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!tracks_being_written(dir.path()));
    }

    #[test]
    fn a_folder_without_session_yml_is_not_a_recording() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        assert!(matches!(
            make_stems(dir.path(), &StemLimits::default()),
            Err(StemsError::NotARecording(_))
        ));
        assert!(kept_stems(dir.path()).is_none());
    }
}
