//! The per-session recorder: owns `RECORDING_DIR/<episodeId>/` and every file in it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::RecordingError;
use super::events::{Event, EventLog};
use super::manifest::{BriefingRecord, Manifest, PluginRecord, TrackFacts, sync_folder};
use super::track::{OpusSettings, Track};
use super::vtt::CaptionFile;
use super::writer::WriterOptions;
use crate::plugins::Redactor;
use crate::speakers::Speaker;

/// Longest folder name taken from an episode id; longer ids are cut (names stay portable).
const MAX_FOLDER_NAME: usize = 100;

/// What a recording needs to know when it starts.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// `RECORDING_DIR`: the episode folder is created inside it.
    pub recording_dir: PathBuf,
    /// The episode being recorded (names the folder).
    pub episode_id: String,
    /// This session's id (in every event line and in `session.yml`).
    pub session_id: String,
    /// The human host's name from `hello`, if given.
    pub participant: Option<String>,
    /// Wall-clock epoch ms of session time 0.
    pub started_at_epoch_ms: u64,
    /// The effective configuration logged with `session.start` (never secrets).
    pub session_config: serde_json::Value,
    /// Opus settings of the three tracks.
    pub opus: OpusSettings,
    /// How a [`RecordingWriter`](super::RecordingWriter) runs this recording: sync schedule,
    /// queue room, finish deadline.
    pub writer: WriterOptions,
    /// The plugin host's secret redactor: `events.jsonl` lines pass it (plugin errors may carry
    /// a key a provider echoed). None: lines are written as they are.
    pub redactor: Option<Arc<Redactor>>,
}

impl RecorderConfig {
    /// A config for a session starting now, with default Opus settings and an empty config.
    pub fn new(recording_dir: &Path, episode_id: &str, session_id: &str) -> Self {
        let started_at_epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self {
            recording_dir: recording_dir.to_path_buf(),
            episode_id: episode_id.to_owned(),
            session_id: session_id.to_owned(),
            participant: None,
            started_at_epoch_ms,
            session_config: serde_json::Value::Object(serde_json::Map::new()),
            opus: OpusSettings::default(),
            writer: WriterOptions::default(),
            redactor: None,
        }
    }
}

/// One file of a finished recording, for `recording.ready` and the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFile {
    /// File name inside the episode folder (`you.webm`, `events.jsonl`, ...).
    pub name: String,
    /// Full path.
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// Audio length in ms, for the tracks.
    pub duration_ms: Option<u64>,
}

/// What `Recorder::finish` produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    /// The episode folder (with its `-2`, `-3` suffix when the episode was recorded before).
    pub folder: PathBuf,
    /// Every file written, tracks first.
    pub files: Vec<RecordedFile>,
}

/// Records one session: three tracks, three caption files, `events.jsonl` and `session.yml`.
///
/// All times are session-clock ms. Every file is valid on disk while recording goes on, so a
/// crash loses at most the last second of audio and nothing already captioned or logged. The
/// session calls `advance_to(now)` on its frame tick so silent tracks stay current on disk too.
/// After a write error (full disk) the file concerned stops at its last valid point and later
/// calls for it return `RecordingError::Stopped`; the other files go on.
pub struct Recorder {
    folder: PathBuf,
    tracks: [Track; 3],
    captions: [CaptionFile; 3],
    events: EventLog,
    manifest: Manifest,
}

impl Recorder {
    /// Creates a fresh episode folder (never reusing one) and starts every file in it; logs
    /// `session.start`.
    pub fn create(config: RecorderConfig) -> Result<Self, RecordingError> {
        let folder = create_episode_folder(&config.recording_dir, &config.episode_id)?;
        let track = |speaker: Speaker| {
            Track::create(
                &folder.join(format!("{}.webm", speaker.file_stem())),
                speaker.file_stem(),
                config.opus,
            )
        };
        let tracks = [
            track(Speaker::You)?,
            track(Speaker::Claude)?,
            track(Speaker::Guest)?,
        ];
        let captions_of = |speaker: Speaker| {
            CaptionFile::create(
                &folder.join(format!("{}.vtt", speaker.file_stem())),
                speaker.file_stem(),
            )
        };
        let captions = [
            captions_of(Speaker::You)?,
            captions_of(Speaker::Claude)?,
            captions_of(Speaker::Guest)?,
        ];
        let mut events = EventLog::create(
            &folder.join("events.jsonl"),
            &config.session_id,
            config.started_at_epoch_ms,
        )?;
        events.set_redactor(config.redactor.clone());
        let manifest = Manifest {
            episode_id: config.episode_id.clone(),
            session_id: config.session_id.clone(),
            folder: folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            participant: config.participant.clone(),
            started_at_ms: config.started_at_epoch_ms,
            ended_at_ms: None,
            plugins: Vec::new(),
            briefing: None,
            tracks: [TrackFacts::default(); 3],
        };
        manifest.write(&folder.join("session.yml"))?;
        // The new folder's entry and the files in it survive a power loss from here on.
        sync_folder(&folder)
            .and_then(|()| sync_folder(&config.recording_dir))
            .map_err(|e| RecordingError::write(&folder, e))?;
        events.write(
            0,
            &Event::SessionStart {
                episode_id: config.episode_id,
                config: config.session_config,
            },
        )?;
        tracing::info!(folder = %folder.display(), "recording started");
        Ok(Self {
            folder,
            tracks,
            captions,
            events,
            manifest,
        })
    }

    /// The episode folder this session writes.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Records a 20 ms frame of `speaker` that started at session time `at_ms`.
    pub fn push_frame(
        &mut self,
        speaker: Speaker,
        at_ms: u64,
        frame: &[i16],
    ) -> Result<(), RecordingError> {
        self.tracks[speaker.slot()].push_frame(at_ms, frame)
    }

    /// Makes everything written so far survive a power loss (`fdatasync` on every file); the
    /// recorder lane calls it on a schedule, never the studio.
    ///
    /// Every file is synced even when one fails; the first error is returned.
    pub fn sync_data(&mut self) -> Result<(), RecordingError> {
        let results = self
            .tracks
            .iter_mut()
            .map(Track::sync_data)
            .chain(self.captions.iter_mut().map(CaptionFile::sync_data))
            .chain(std::iter::once_with(|| self.events.sync_data()));
        let mut first_error = None;
        for result in results {
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Audio of the longest track so far, in ms: where an abandoned recording is ended.
    pub fn duration_ms(&self) -> u64 {
        self.tracks
            .iter()
            .map(Track::duration_ms)
            .max()
            .unwrap_or(0)
    }

    /// Fills every track with silence up to session time `at_ms`.
    pub fn advance_to(&mut self, at_ms: u64) -> Result<(), RecordingError> {
        let mut first_error = None;
        for track in &mut self.tracks {
            if let Err(error) = track.advance_to(at_ms) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Appends a caption of `speaker` shown from `start_ms` to `end_ms` (session time).
    pub fn caption(
        &mut self,
        speaker: Speaker,
        start_ms: u64,
        end_ms: u64,
        text: &str,
    ) -> Result<(), RecordingError> {
        self.captions[speaker.slot()].append(start_ms, end_ms, text)
    }

    /// Logs `event` at session time `t_ms`; `turn.start` also counts a turn for `session.yml`.
    pub fn event(&mut self, t_ms: u64, event: &Event) -> Result<(), RecordingError> {
        if let Event::TurnStart { speaker } = event {
            self.manifest.tracks[speaker.slot()].turns += 1;
        }
        self.events.write(t_ms, event)
    }

    /// Records which plugin served each role (rewrites `session.yml` at once).
    pub fn set_plugins(&mut self, plugins: Vec<PluginRecord>) -> Result<(), RecordingError> {
        self.manifest.plugins = plugins;
        self.manifest.write(&self.folder.join("session.yml"))
    }

    /// Records the briefing the AIs were given (rewrites `session.yml` at once).
    pub fn set_briefing(&mut self, briefing: BriefingRecord) -> Result<(), RecordingError> {
        self.manifest.briefing = Some(briefing);
        self.manifest.write(&self.folder.join("session.yml"))
    }

    /// Ends the session at `end_ms`: pads every track to the same length, logs `session.end`,
    /// finalizes the tracks (Cues, exact Duration) and writes the final `session.yml`.
    ///
    /// Every file is finalized even when one fails; the first error is returned.
    pub fn finish(mut self, end_ms: u64) -> Result<RecordingSummary, RecordingError> {
        let mut first_error: Option<RecordingError> = None;
        // All tracks end on the same frame: the session end or the longest track, if later.
        let end = self
            .tracks
            .iter()
            .map(Track::duration_ms)
            .fold(end_ms, u64::max);
        if let Err(error) = self.advance_to(end) {
            first_error.get_or_insert(error);
        }
        if let Err(error) = self.events.write(end, &Event::SessionEnd { duration: end }) {
            first_error.get_or_insert(error);
        }
        let mut files = Vec::with_capacity(8);
        for (speaker, track) in Speaker::ALL.into_iter().zip(self.tracks) {
            let path = track.path().to_path_buf();
            match track.finish() {
                Ok(summary) => {
                    let facts = &mut self.manifest.tracks[speaker.slot()];
                    facts.duration_ms = summary.duration_ms;
                    facts.bytes = summary.bytes;
                    files.push(recorded(&path, summary.bytes, Some(summary.duration_ms)));
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        for (speaker, captions) in Speaker::ALL.into_iter().zip(&mut self.captions) {
            if let Err(error) = captions.sync_data() {
                first_error.get_or_insert(error);
            }
            self.manifest.tracks[speaker.slot()].cues = captions.cue_count();
            if let Ok(bytes) = file_size(captions.path()) {
                files.push(recorded(captions.path(), bytes, None));
            }
        }
        if let Err(error) = self.events.sync_data() {
            first_error.get_or_insert(error);
        }
        self.manifest.ended_at_ms = Some(self.manifest.started_at_ms + end);
        let manifest_path = self.folder.join("session.yml");
        if let Err(error) = self.manifest.write(&manifest_path) {
            first_error.get_or_insert(error);
        }
        for path in [self.events.path(), manifest_path.as_path()] {
            if let Ok(bytes) = file_size(path) {
                files.push(recorded(path, bytes, None));
            }
        }
        if let Some(error) = first_error {
            return Err(error);
        }
        tracing::info!(folder = %self.folder.display(), duration_ms = end, "recording finished");
        Ok(RecordingSummary {
            folder: self.folder,
            files,
        })
    }
}

// The session actor owns its Recorder inside a tokio task, so it must stay Send.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Recorder>();
};

fn recorded(path: &Path, bytes: u64, duration_ms: Option<u64>) -> RecordedFile {
    RecordedFile {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.to_path_buf(),
        bytes,
        duration_ms,
    }
}

fn file_size(path: &Path) -> io::Result<u64> {
    fs::metadata(path).map(|m| m.len())
}

/// The folder name for an episode id: anything but letters, digits, `-`, `_` and `.` becomes
/// `_`, so an id from a client can never reach outside `RECORDING_DIR`.
pub fn folder_name(episode_id: &str) -> Result<String, RecordingError> {
    let name: String = episode_id
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_FOLDER_NAME)
        .collect();
    if name.is_empty() || name.chars().all(|c| c == '.') {
        return Err(RecordingError::InvalidEpisodeId(episode_id.to_owned()));
    }
    Ok(name)
}

/// Where the names of takes recorded on other hosts are reserved: a hidden folder of
/// `RECORDING_DIR` (listings skip names that start with a dot) holding one empty file per name.
const RESERVED_FOLDERS: &str = ".reserved";

/// Reserves the folder name `name` in `recording_dir`: no take recorded here will use it. A host
/// of a cluster calls it for each take of an episode the bucket holds before it opens the next
/// one, so takes recorded on different hosts never share a name (and a bucket key).
pub fn reserve_folder(recording_dir: &Path, name: &str) -> io::Result<()> {
    let dir = recording_dir.join(RESERVED_FOLDERS);
    fs::create_dir_all(&dir)?;
    fs::write(dir.join(folder_name(name).map_err(io::Error::other)?), b"")
}

/// Creates `recording_dir/<episode>` or, when taken (or reserved), `<episode>-2`, `<episode>-3`,
/// ...: `create_dir` fails on an existing folder, so two sessions can never share one.
fn create_episode_folder(
    recording_dir: &Path,
    episode_id: &str,
) -> Result<PathBuf, RecordingError> {
    let base = folder_name(episode_id)?;
    fs::create_dir_all(recording_dir).map_err(|source| RecordingError::CreateFolder {
        path: recording_dir.to_path_buf(),
        source,
    })?;
    for n in 1u32.. {
        let name = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        // A name another host of a cluster recorded under is reserved (see `reserve_folder`).
        if recording_dir.join(RESERVED_FOLDERS).join(&name).exists() {
            continue;
        }
        let path = recording_dir.join(name);
        match fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(RecordingError::CreateFolder { path, source }),
        }
    }
    Err(RecordingError::InvalidEpisodeId(episode_id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_reserved_for_a_take_recorded_elsewhere_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Another host recorded `show` and `show-2`; this host has neither folder.
        reserve_folder(dir.path(), "show").expect("reserve");
        reserve_folder(dir.path(), "show-2").expect("reserve");
        let made = create_episode_folder(dir.path(), "show").expect("create");
        assert_eq!(made, dir.path().join("show-3"));
        // The reservations are not recordings: listings skip the hidden folder.
        let listed = crate::recording::list_recordings(dir.path()).expect("list");
        assert!(listed.iter().all(|r| r.folder != ".reserved"), "{listed:?}");
        // Other episodes are not affected.
        let other = create_episode_folder(dir.path(), "other").expect("create");
        assert_eq!(other, dir.path().join("other"));
    }

    #[test]
    fn episode_ids_cannot_climb_out_of_the_recording_dir() {
        assert_eq!(folder_name("../../etc").ok().as_deref(), Some(".._.._etc"));
        assert_eq!(folder_name("ep 1/2").ok().as_deref(), Some("ep_1_2"));
        assert!(matches!(
            folder_name(".."),
            Err(RecordingError::InvalidEpisodeId(_))
        ));
        assert!(matches!(
            folder_name("  "),
            Err(RecordingError::InvalidEpisodeId(_))
        ));
    }
}
