//! Reading the store: the episode listing, one episode with its turns, its transcript, and the
//! briefing an episode was minted with.

use std::path::Path;
use std::time::UNIX_EPOCH;

use rusqlite::{OptionalExtension, Row, params};

use super::writer::to_i64;
use super::{
    Episode, EpisodeDetail, EpisodeFile, EpisodePlugin, EpisodeState, EpisodeStore, StoreError,
    TurnRecord, file_url,
};
use crate::recording::TurnMetrics;
use crate::speakers::Speaker;
use crate::timestamp::iso8601_ms;
use crate::transcript::TranscriptLine;

/// Most episodes one listing returns.
pub const MAX_LIMIT: u32 = 500;

/// Which episodes a listing returns: newest first, at most `limit`, started before `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    /// At most this many (capped at [`MAX_LIMIT`]).
    pub limit: u32,
    /// Only episodes that started before this instant (epoch ms): the `startedAt` of the last
    /// episode of the previous page.
    pub before_ms: Option<u64>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            limit: 50,
            before_ms: None,
        }
    }
}

/// The columns every episode query reads, in [`episode_row`]'s order.
const EPISODE_COLUMNS: &str =
    "e.id, e.session_id, e.folder, e.episode_id, e.title, e.briefing, e.state,
    e.started_at_ms, e.ended_at_ms, e.duration_ms, e.files, e.plugins, e.recording_dir,
    (SELECT COUNT(*) FROM transcript_lines l WHERE l.episode = e.id)";

impl EpisodeStore {
    /// Episodes, newest first.
    pub fn episodes(&self, query: ListQuery) -> Result<Vec<Episode>, StoreError> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {EPISODE_COLUMNS} FROM episodes e
             WHERE ?1 IS NULL OR e.started_at_ms < ?1
             ORDER BY e.started_at_ms DESC, e.id DESC LIMIT ?2"
        );
        let mut statement = conn.prepare_cached(&sql).map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map(
                params![query.before_ms.map(to_i64), query.limit.clamp(1, MAX_LIMIT)],
                |row| episode_row(row).map(|(_, episode)| episode),
            )
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))
    }

    /// One episode by its id (its recording folder's name, or its session id when it was not
    /// recorded) with its turns; `None` when there is none.
    pub fn episode(&self, id: &str) -> Result<Option<EpisodeDetail>, StoreError> {
        let conn = self.conn();
        let found = find(&conn, id).map_err(|e| self.sqlite(e))?;
        let Some((row, episode)) = found else {
            return Ok(None);
        };
        let mut statement = conn
            .prepare_cached(
                "SELECT speaker, t_ms, metrics FROM turns WHERE episode = ?1 ORDER BY t_ms, rowid",
            )
            .map_err(|e| self.sqlite(e))?;
        let turns = statement
            .query_map([row], |r| {
                let speaker: String = r.get(0)?;
                let t: i64 = r.get(1)?;
                let metrics: String = r.get(2)?;
                Ok((speaker, t, metrics))
            })
            .map_err(|e| self.sqlite(e))?
            .filter_map(Result::ok)
            .filter_map(|(speaker, t, metrics)| {
                Some(TurnRecord {
                    speaker: parse_speaker(&speaker)?,
                    t: u64::try_from(t).unwrap_or(0),
                    metrics: serde_json::from_str::<TurnMetrics>(&metrics).unwrap_or_default(),
                })
            })
            .collect();
        Ok(Some(EpisodeDetail { episode, turns }))
    }

    /// The episode's transcript: every final line of every speaker in time order (by start,
    /// then as recorded); `None` when there is no such episode.
    pub fn transcript(&self, id: &str) -> Result<Option<Vec<TranscriptLine>>, StoreError> {
        let conn = self.conn();
        let Some(row) = find_row(&conn, id).map_err(|e| self.sqlite(e))? else {
            return Ok(None);
        };
        lines_of(&conn, row).map(Some).map_err(|e| self.sqlite(e))
    }

    /// What was said in the takes of `episode_id` that were cut off by a crash, when its latest
    /// take was one: that take's lines, preceded by those of the interrupted takes right before
    /// it, in the order they were said; the last `most` of them. Empty when the latest take ended
    /// normally (a new take then starts afresh) or there is none. A take that goes on after a
    /// crash starts with these lines, so the AIs know what was said.
    pub fn interrupted_transcript(
        &self,
        episode_id: &str,
        most: usize,
    ) -> Result<Vec<TranscriptLine>, StoreError> {
        let conn = self.conn();
        let takes = (|| -> rusqlite::Result<Vec<(i64, String)>> {
            let mut statement = conn.prepare_cached(
                "SELECT id, state FROM episodes WHERE episode_id = ?1
                 ORDER BY started_at_ms DESC, id DESC",
            )?;
            statement
                .query_map([episode_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })()
        .map_err(|e| self.sqlite(e))?;
        let interrupted: Vec<i64> = takes
            .into_iter()
            .take_while(|(_, state)| EpisodeState::parse(state) == EpisodeState::Interrupted)
            .map(|(row, _)| row)
            .collect();
        let mut lines = Vec::new();
        for row in interrupted.into_iter().rev() {
            lines.extend(lines_of(&conn, row).map_err(|e| self.sqlite(e))?);
        }
        let skip = lines.len().saturating_sub(most);
        lines.drain(..skip);
        Ok(lines)
    }

    /// Binds a minted episode id to a briefing: the studio of `episode_id` loads `briefing`.
    pub fn bind_briefing(&self, episode_id: &str, briefing: &str) -> Result<(), StoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.conn()
            .execute(
                "INSERT INTO briefing_bindings (episode_id, briefing, bound_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (episode_id) DO UPDATE SET briefing = excluded.briefing, bound_at_ms = excluded.bound_at_ms",
                params![episode_id, briefing, to_i64(now)],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// The briefing `episode_id` was bound to when it was minted, if any.
    pub fn bound_briefing(&self, episode_id: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row(
                "SELECT briefing FROM briefing_bindings WHERE episode_id = ?1",
                [episode_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite(e))
    }
}

/// The episode with API id `id` (its folder, else its session id) and its row.
fn find(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<(i64, Episode)>> {
    let sql = format!(
        "SELECT {EPISODE_COLUMNS} FROM episodes e
         WHERE e.folder = ?1 OR (e.folder IS NULL AND e.session_id = ?1) LIMIT 1"
    );
    conn.prepare_cached(&sql)?
        .query_row([id], episode_row)
        .optional()
}

fn find_row(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT id FROM episodes WHERE folder = ?1 OR (folder IS NULL AND session_id = ?1) LIMIT 1",
    )?
    .query_row([id], |r| r.get(0))
    .optional()
}

/// One row of [`EPISODE_COLUMNS`] as an episode; its files are read from its folder when the
/// folder is there (files made later, such as stems, show up), else as stored.
fn episode_row(row: &Row<'_>) -> rusqlite::Result<(i64, Episode)> {
    let id: i64 = row.get(0)?;
    let session_id: String = row.get(1)?;
    let folder: Option<String> = row.get(2)?;
    let state: String = row.get(6)?;
    let started: i64 = row.get(7)?;
    let ended: Option<i64> = row.get(8)?;
    let duration: i64 = row.get(9)?;
    let stored_files: String = row.get(10)?;
    let plugins: String = row.get(11)?;
    let recording_dir: Option<String> = row.get(12)?;
    let lines: i64 = row.get(13)?;
    let files = match (&folder, &recording_dir) {
        (Some(folder), Some(dir)) if Path::new(dir).join(folder).is_dir() => {
            super::import::folder_files(&Path::new(dir).join(folder))
        }
        _ => serde_json::from_str(&stored_files).unwrap_or_default(),
    };
    let files = match &folder {
        Some(folder) => files
            .into_iter()
            .map(|f: super::import::StoredFile| EpisodeFile {
                url: file_url(folder, &f.name),
                name: f.name,
                bytes: f.bytes,
            })
            .collect(),
        None => Vec::new(),
    };
    let episode = Episode {
        id: folder.unwrap_or(session_id),
        episode_id: row.get(3)?,
        title: row.get(4)?,
        briefing: row.get(5)?,
        state: EpisodeState::parse(&state),
        started_at: iso(started),
        ended_at: ended.map(iso),
        duration_ms: live_duration(&state, started, duration),
        files,
        plugins: serde_json::from_str::<Vec<EpisodePlugin>>(&plugins).unwrap_or_default(),
        lines: u64::try_from(lines).unwrap_or(0),
        turns: None,
    };
    Ok((id, episode))
}

/// A live episode has lasted until now; any other as long as it was recorded.
fn live_duration(state: &str, started_at_ms: i64, stored_ms: i64) -> u64 {
    let stored = u64::try_from(stored_ms).unwrap_or(0);
    if EpisodeState::parse(state) != EpisodeState::Live {
        return stored;
    }
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    now.saturating_sub(u64::try_from(started_at_ms).unwrap_or(0))
        .max(stored)
}

fn iso(epoch_ms: i64) -> String {
    iso8601_ms(u64::try_from(epoch_ms).unwrap_or(0))
}

/// A speaker as the store spells it (its file stem).
pub(super) fn parse_speaker(text: &str) -> Option<Speaker> {
    Speaker::ALL.into_iter().find(|s| s.file_stem() == text)
}

/// The final lines of the episode in row `row`, in time order (by start, then as recorded).
fn lines_of(conn: &rusqlite::Connection, row: i64) -> rusqlite::Result<Vec<TranscriptLine>> {
    let mut statement = conn.prepare_cached(
        "SELECT speaker, start_ms, end_ms, text, interrupted FROM transcript_lines
         WHERE episode = ?1 ORDER BY start_ms, rowid",
    )?;
    let lines = statement
        .query_map([row], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })?
        .filter_map(Result::ok)
        .filter_map(|(speaker, start, end, text, interrupted)| {
            Some(TranscriptLine {
                speaker: parse_speaker(&speaker)?,
                start_ms: u64::try_from(start).unwrap_or(0),
                end_ms: u64::try_from(end).unwrap_or(0),
                text,
                interrupted,
            })
        })
        .collect();
    Ok(lines)
}
