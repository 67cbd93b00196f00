//! At start: sessions a previous process left `live` (it was killed) become `interrupted`, with
//! their files and how far they got; recording folders the store does not know (recorded before
//! the store existed) are read in from `session.yml`, the captions and `events.jsonl`.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read as _};
use std::path::Path;

use rusqlite::{Transaction, params};
use serde::{Deserialize, Serialize};

use super::queries::parse_speaker;
use super::writer::to_i64;
use super::{EpisodePlugin, EpisodeStore, StoreError};
use crate::recording::{RecordedEpisode, TurnMetrics, list_recordings};
use crate::speakers::Speaker;

/// Most bytes of a caption file or `events.jsonl` read at import (a long show's log is a few MiB).
const MAX_IMPORT_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// What [`EpisodeStore::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Sessions found `live` and marked `interrupted`.
    pub interrupted: usize,
    /// Recording folders read in.
    pub imported: usize,
    /// Folders that could not be read in, with why.
    pub problems: Vec<String>,
}

/// A file as the store keeps it (its URL is made when it is listed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StoredFile {
    pub name: String,
    pub bytes: u64,
}

impl EpisodeStore {
    /// Runs once at start, before any studio opens: marks what a killed process left `live` as
    /// `interrupted`, and imports the folders of `recording_dir` the store does not hold.
    pub fn recover(&self, recording_dir: &Path) -> Result<Recovery, StoreError> {
        self.bring_up_to_date(recording_dir, true)
    }

    /// Imports the folders of `recording_dir` the store does not hold, and only that: safe while
    /// a server runs on the same file (its live sessions stay live), for `voice-studio episodes`.
    pub fn import_recordings(&self, recording_dir: &Path) -> Result<Recovery, StoreError> {
        self.bring_up_to_date(recording_dir, false)
    }

    fn bring_up_to_date(
        &self,
        recording_dir: &Path,
        interrupt: bool,
    ) -> Result<Recovery, StoreError> {
        self.flush();
        let mut recovery = Recovery::default();
        let recordings = match list_recordings(recording_dir) {
            Ok(recordings) => recordings,
            Err(error) => {
                recovery.problems.push(format!(
                    "{}: cannot list recordings ({error})",
                    recording_dir.display()
                ));
                Vec::new()
            }
        };
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        if interrupt {
            recovery.interrupted =
                interrupt_live(&tx, recording_dir, &recordings).map_err(|e| self.sqlite(e))?;
        }
        let (sessions, folders) = known(&tx).map_err(|e| self.sqlite(e))?;
        for recording in &recordings {
            if folders.contains(&recording.folder)
                || recording
                    .session
                    .as_ref()
                    .is_some_and(|s| sessions.contains(s))
            {
                continue;
            }
            if let Some(problem) = &recording.problem {
                recovery
                    .problems
                    .push(format!("{}: {problem}", recording.folder));
                continue;
            }
            import(&tx, recording_dir, recording).map_err(|e| self.sqlite(e))?;
            recovery.imported += 1;
        }
        tx.commit().map_err(|e| self.sqlite(e))?;
        Ok(recovery)
    }
}

/// Every session id and folder the store holds.
fn known(tx: &Transaction<'_>) -> rusqlite::Result<(HashSet<String>, HashSet<String>)> {
    let mut sessions = HashSet::new();
    let mut folders = HashSet::new();
    let mut statement = tx.prepare("SELECT session_id, folder FROM episodes")?;
    let rows = statement.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    for row in rows {
        let (session, folder) = row?;
        sessions.insert(session);
        folders.extend(folder);
    }
    Ok((sessions, folders))
}

/// A row left live: id, session id, episode id, folder, recording folder.
type LiveRow = (i64, String, String, Option<String>, Option<String>);

/// Marks every `live` row `interrupted`: its folder found if it was not yet, its length the
/// furthest of what the store and the folder's event log hold, its files as they are on disk.
fn interrupt_live(
    tx: &Transaction<'_>,
    recording_dir: &Path,
    recordings: &[RecordedEpisode],
) -> rusqlite::Result<usize> {
    let mut statement = tx.prepare(
        "SELECT id, session_id, episode_id, folder, recording_dir FROM episodes WHERE state = 'live'",
    )?;
    let live: Vec<LiveRow> = statement
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    for (row, session, episode_id, folder, dir) in &live {
        let dir = dir
            .as_deref()
            .map_or_else(|| recording_dir.to_path_buf(), Into::into);
        let folder = folder
            .clone()
            .or_else(|| find_session_folder(&dir, episode_id, session));
        let recorded = folder
            .as_ref()
            .and_then(|f| recordings.iter().find(|r| &r.folder == f));
        let files = folder
            .as_ref()
            .map(|f| folder_files(&dir.join(f)))
            .unwrap_or_default();
        tx.execute(
            "UPDATE episodes SET state = 'interrupted', folder = COALESCE(folder, ?2), files = ?3,
                duration_ms = MAX(duration_ms, ?4) WHERE id = ?1",
            params![
                row,
                folder,
                serde_json::to_string(&files).unwrap_or_else(|_| "[]".into()),
                to_i64(recorded.and_then(|r| r.duration_ms).unwrap_or(0)),
            ],
        )?;
        tracing::warn!(session = %session, folder = ?folder, "episode left live by a previous process: marked interrupted");
    }
    Ok(live.len())
}

/// One recording folder the store did not know, as a row with its transcript and turns.
fn import(
    tx: &Transaction<'_>,
    recording_dir: &Path,
    recording: &RecordedEpisode,
) -> rusqlite::Result<()> {
    let started_at_ms = recording
        .started_at
        .as_deref()
        .and_then(parse_iso8601_ms)
        .unwrap_or(0);
    let ended_at_ms = recording.ended_at.as_deref().and_then(parse_iso8601_ms);
    let plugins: Vec<EpisodePlugin> = recording
        .plugins
        .iter()
        .map(|p| EpisodePlugin {
            role: p.role.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            hash: p.hash.clone(),
        })
        .collect();
    let path = recording_dir.join(&recording.folder);
    tx.execute(
        "INSERT INTO episodes (session_id, folder, episode_id, title, briefing, state, started_at_ms,
            ended_at_ms, duration_ms, files, plugins, recording_dir)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            recording
                .session
                .clone()
                .unwrap_or_else(|| format!("import:{}", recording.folder)),
            recording.folder,
            recording
                .episode
                .clone()
                .unwrap_or_else(|| recording.folder.clone()),
            recording.title,
            recording.briefing,
            if recording.finished {
                "ended"
            } else {
                "interrupted"
            },
            to_i64(started_at_ms),
            ended_at_ms.map(to_i64),
            to_i64(recording.duration_ms.unwrap_or(0)),
            serde_json::to_string(&folder_files(&path)).unwrap_or_else(|_| "[]".into()),
            serde_json::to_string(&plugins).unwrap_or_else(|_| "[]".into()),
            recording_dir.display().to_string(),
        ],
    )?;
    let row = tx.last_insert_rowid();
    let turns = read_turns(&path.join("events.jsonl"));
    let mut lines = Vec::new();
    for speaker in Speaker::ALL {
        let file = path.join(format!("{}.vtt", speaker.file_stem()));
        for (start_ms, end_ms, text) in read_cues(&file) {
            // A line cut by barge-in ends where its turn ended, cut.
            let interrupted = turns.iter().any(|(s, t, m)| {
                *s == speaker && m.interrupted && t.abs_diff(end_ms) <= CUT_MATCH_MS
            });
            lines.push((speaker, start_ms, end_ms, text, interrupted));
        }
    }
    lines.sort_by_key(|line| line.1);
    for (speaker, start_ms, end_ms, text, interrupted) in lines {
        tx.execute(
            "INSERT INTO transcript_lines (episode, speaker, start_ms, end_ms, text, interrupted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                row,
                speaker.file_stem(),
                to_i64(start_ms),
                to_i64(end_ms),
                text,
                interrupted
            ],
        )?;
    }
    for (speaker, t, metrics) in turns {
        tx.execute(
            "INSERT INTO turns (episode, speaker, t_ms, metrics) VALUES (?1, ?2, ?3, ?4)",
            params![
                row,
                speaker.file_stem(),
                to_i64(t),
                serde_json::to_string(&metrics).unwrap_or_else(|_| "{}".into())
            ],
        )?;
    }
    Ok(())
}

/// How far apart a caption's end and its `turn.end` may be to count as the same line (the
/// studio writes both in one step; the recorder's clock may move by a frame between them).
const CUT_MATCH_MS: u64 = 40;

/// `turn.end` events of an `events.jsonl`: speaker, session time, metrics.
fn read_turns(path: &Path) -> Vec<(Speaker, u64, TurnMetrics)> {
    #[derive(Deserialize)]
    struct Line {
        #[serde(rename = "type")]
        kind: String,
        t: u64,
        #[serde(default)]
        speaker: Option<String>,
        #[serde(default)]
        metrics: Option<TurnMetrics>,
    }
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    BufReader::new(file.take(MAX_IMPORT_FILE_BYTES))
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<Line>(&line).ok())
        .filter(|line| line.kind == "turn.end")
        .filter_map(|line| {
            Some((
                parse_speaker(line.speaker.as_deref()?)?,
                line.t,
                line.metrics.unwrap_or_default(),
            ))
        })
        .collect()
}

/// The cues of a WebVTT file the recorder wrote: start and end in ms, and the text (its lines
/// joined by a space, `&amp;`, `&lt;` and `&gt;` read back).
pub(super) fn read_cues(path: &Path) -> Vec<(u64, u64, String)> {
    let mut text = String::new();
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    if file
        .take(MAX_IMPORT_FILE_BYTES)
        .read_to_string(&mut text)
        .is_err()
    {
        return Vec::new();
    }
    let mut cues = Vec::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines();
        let Some(timing) = lines.by_ref().find(|l| l.contains("-->")) else {
            continue;
        };
        let mut ends = timing.split("-->").map(str::trim);
        let (Some(start), Some(end)) = (
            ends.next().and_then(parse_vtt_time),
            ends.next()
                .and_then(|e| e.split_whitespace().next())
                .and_then(parse_vtt_time),
        ) else {
            continue;
        };
        let said: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
        if said.is_empty() {
            continue;
        }
        let said = said
            .join(" ")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        cues.push((start, end, said));
    }
    cues
}

/// `HH:MM:SS.mmm` (or `MM:SS.mmm`) in ms.
fn parse_vtt_time(text: &str) -> Option<u64> {
    let (clock, millis) = text.split_once('.')?;
    let mut seconds = 0u64;
    for part in clock.split(':') {
        seconds = seconds.checked_mul(60)?.checked_add(part.parse().ok()?)?;
    }
    seconds.checked_mul(1000)?.checked_add(millis.parse().ok()?)
}

/// Epoch ms of an ISO 8601 UTC time as the recorder writes it (`2026-11-26T09:22:26.123Z`).
pub fn parse_iso8601_ms(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.split('-');
    let year: i64 = date.next()?.parse().ok()?;
    let month: i64 = date.next()?.parse().ok()?;
    let day: i64 = date.next()?.parse().ok()?;
    let (clock, millis) = time.split_once('.').unwrap_or((time, "0"));
    let mut clock = clock.split(':');
    let hours: i64 = clock.next()?.parse().ok()?;
    let minutes: i64 = clock.next()?.parse().ok()?;
    let seconds: i64 = clock.next()?.parse().ok()?;
    let millis: i64 = millis.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), proleptic Gregorian.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = ((days * 24 + hours) * 60 + minutes) * 60 + seconds;
    u64::try_from(ms * 1000 + millis).ok()
}

/// The recording folder of `session` under `dir`: `<episode>`, `<episode>-2`, ... (the
/// recorder's own naming), the one whose `session.yml` names the session.
pub(super) fn find_session_folder(dir: &Path, episode_id: &str, session: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Session {
        session: Option<String>,
    }
    let base = crate::recording::folder_name(episode_id).ok()?;
    for n in 1u32.. {
        let name = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let path = dir.join(&name);
        if !path.is_dir() {
            return None;
        }
        let Ok(file) = std::fs::File::open(path.join("session.yml")) else {
            continue;
        };
        let mut text = String::new();
        if file.take(256 * 1024).read_to_string(&mut text).is_err() {
            continue;
        }
        if serde_yaml_ng::from_str::<Session>(&text)
            .ok()
            .and_then(|s| s.session)
            .is_some_and(|s| s == session)
        {
            return Some(name);
        }
    }
    None
}

/// The files of a recording folder, by name.
pub(super) fn folder_files(dir: &Path) -> Vec<StoredFile> {
    let mut files: Vec<StoredFile> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let meta = e.metadata().ok()?;
                    let name = e.file_name().to_string_lossy().into_owned();
                    // Half-written files (a stem being made) start with a dot.
                    (meta.is_file() && !name.starts_with('.')).then_some(StoredFile {
                        name,
                        bytes: meta.len(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}
