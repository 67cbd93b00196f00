//! Reading recordings back: each episode folder under `RECORDING_DIR` as `session.yml` describes
//! it, for `voice-studio episodes`. A session that did not finish (the server was killed) has no
//! `endedAt`; its length is then the last `t` in `events.jsonl`, what was recorded until it stopped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::speakers::Speaker;

/// The most of a `session.yml` read: the recorder writes a few kilobytes.
const MAX_SESSION_YML_BYTES: u64 = 256 * 1024;

/// One recorded session, as its folder holds it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedEpisode {
    /// The folder's name (`<episode>` or `<episode>-N` for a later take).
    pub folder: String,
    /// The folder.
    pub path: PathBuf,
    /// The episode id, from `session.yml`.
    pub episode: Option<String>,
    /// The session id.
    pub session: Option<String>,
    /// When the session started (ISO 8601).
    pub started_at: Option<String>,
    /// When it ended, if it finished.
    pub ended_at: Option<String>,
    /// Its length in ms: from start to end, or to the last logged event when it did not finish.
    pub duration_ms: Option<u64>,
    /// Whether the recorder finished it (`endedAt` written).
    pub finished: bool,
    /// Bytes of all its files.
    pub bytes: u64,
    /// One per speaker, in the order you, claude, guest.
    pub tracks: Vec<RecordedTrack>,
    /// The briefing's title, from `session.yml`.
    pub title: Option<String>,
    /// The briefing's id (its file's stem), when it came from a file.
    pub briefing: Option<String>,
    /// The plugins that served each role.
    pub plugins: Vec<RecordedPlugin>,
    /// Why the folder could not be read as a recording, if so.
    pub problem: Option<String>,
}

/// A plugin that served a role, as `session.yml` records it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedPlugin {
    /// The role (`stt`, `tts`, `claude`, `guest`, `policy`).
    pub role: String,
    /// The plugin's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// SHA-256 of its `.wasm`.
    pub hash: String,
}

/// One speaker's track as `session.yml` records it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedTrack {
    /// `you`, `claude` or `guest`.
    pub speaker: String,
    /// The audio file's name.
    pub audio: String,
    /// The audio's length in ms.
    pub duration_ms: u64,
    /// The audio file's size.
    pub bytes: u64,
    /// Caption cues written.
    pub cues: u64,
    /// Turns the speaker took.
    pub turns: u64,
}

/// The fields of `session.yml` read back; the others are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionFile {
    episode: Option<String>,
    session: Option<String>,
    started_at: Option<String>,
    ended_at: Option<String>,
    duration_ms: Option<u64>,
    #[serde(default)]
    tracks: BTreeMap<String, TrackFile>,
    #[serde(default)]
    turns: BTreeMap<String, u64>,
    #[serde(default)]
    briefing: Option<BriefingFile>,
    #[serde(default)]
    plugins: Vec<RecordedPlugin>,
}

#[derive(Deserialize)]
struct BriefingFile {
    #[serde(default)]
    path: String,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrackFile {
    #[serde(default)]
    audio: String,
    #[serde(default)]
    duration_ms: u64,
    #[serde(default)]
    bytes: u64,
    #[serde(default)]
    cues: u64,
}

/// Every episode folder in `dir`, oldest first (folders without a readable `session.yml` last,
/// with the reason in `problem`). A missing `dir` has no recordings.
pub fn list_recordings(dir: &Path) -> std::io::Result<Vec<RecordedEpisode>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut episodes = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Probe files and other hidden entries are not recordings.
        if name.starts_with('.') || !entry.file_type()?.is_dir() {
            continue;
        }
        episodes.push(read_recording(&entry.path(), name));
    }
    episodes.sort_by(|a, b| {
        (a.started_at.is_none(), &a.started_at, &a.folder).cmp(&(
            b.started_at.is_none(),
            &b.started_at,
            &b.folder,
        ))
    });
    Ok(episodes)
}

/// One folder: `session.yml`, the files' sizes and, for an unfinished session, `events.jsonl`.
pub fn read_recording(path: &Path, folder: String) -> RecordedEpisode {
    let mut episode = RecordedEpisode {
        folder,
        path: path.to_path_buf(),
        episode: None,
        session: None,
        started_at: None,
        ended_at: None,
        duration_ms: None,
        finished: false,
        bytes: folder_bytes(path),
        tracks: Vec::new(),
        title: None,
        briefing: None,
        plugins: Vec::new(),
        problem: None,
    };
    let session = match read_session(&path.join("session.yml")) {
        Ok(session) => session,
        Err(problem) => {
            episode.problem = Some(problem);
            return episode;
        }
    };
    episode.finished = session.ended_at.is_some();
    episode.duration_ms = match session.duration_ms {
        Some(ms) => Some(ms),
        None => last_event_ms(&path.join("events.jsonl")),
    };
    episode.tracks = Speaker::ALL
        .iter()
        .filter_map(|speaker| {
            let stem = speaker.file_stem();
            let track = session.tracks.get(stem)?;
            Some(RecordedTrack {
                speaker: stem.to_owned(),
                audio: track.audio.clone(),
                duration_ms: track.duration_ms,
                bytes: track.bytes,
                cues: track.cues,
                turns: session.turns.get(stem).copied().unwrap_or(0),
            })
        })
        .collect();
    if let Some(briefing) = session.briefing {
        // "built-in" (no file) names no briefing; a file's stem is its briefing id.
        episode.briefing = Some(Path::new(&briefing.path))
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .and_then(|p| p.file_stem())
            .map(|stem| stem.to_string_lossy().into_owned());
        episode.title = briefing.title;
    }
    episode.plugins = session.plugins;
    episode.episode = session.episode;
    episode.session = session.session;
    episode.started_at = session.started_at;
    episode.ended_at = session.ended_at;
    episode
}

fn read_session(path: &Path) -> Result<SessionFile, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| format!("no session.yml ({e})"))?;
    let mut text = String::new();
    file.take(MAX_SESSION_YML_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("session.yml cannot be read ({e})"))?;
    serde_yaml_ng::from_str(&text).map_err(|e| format!("session.yml is not valid ({e})"))
}

/// The session time `t` of the last line of `events.jsonl` that parses.
fn last_event_ms(path: &Path) -> Option<u64> {
    #[derive(Deserialize)]
    struct Line {
        t: u64,
    }
    let file = std::fs::File::open(path).ok()?;
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<Line>(&line).ok())
        .map(|line| line.t)
        .last()
}

/// The sizes of the files in `dir` (a recording has no subfolders).
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unfinished_session_takes_its_length_from_the_event_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path().join("ep-1");
        std::fs::create_dir(&folder).expect("folder");
        std::fs::write(
            folder.join("session.yml"),
            "# voice-studio session record\nepisode: ep-1\nsession: s\nstartedAt: 2026-11-26T09:22:26.123Z\nendedAt: null\ndurationMs: null\ntracks:\n  you:\n    audio: you.webm\n    durationMs: 0\n    bytes: 10\n    captions: you.vtt\n    cues: 0\nturns:\n  you: 1\n",
        )
        .expect("session.yml");
        std::fs::write(
            folder.join("events.jsonl"),
            "{\"t\":5}\n{\"t\":1250}\n{broken\n",
        )
        .expect("events");
        std::fs::create_dir(dir.path().join("not-a-recording")).expect("other");
        let found = list_recordings(dir.path()).expect("list");
        assert_eq!(found.len(), 2);
        let ep = &found[0];
        assert_eq!(ep.episode.as_deref(), Some("ep-1"));
        assert!(!ep.finished);
        assert_eq!(ep.duration_ms, Some(1250));
        assert_eq!(ep.tracks.len(), 1);
        assert_eq!(ep.tracks[0].turns, 1);
        assert!(ep.bytes > 0);
        assert!(found[1].problem.is_some());
        assert!(
            list_recordings(&dir.path().join("missing"))
                .expect("none")
                .is_empty()
        );
    }
}
