//! Opening `studio.db`: WAL, a busy timeout, foreign keys, and the schema migrations.
//!
//! Migrations run on `PRAGMA user_version` (`rusqlite_migration`): each entry of `MIGRATIONS` runs
//! once, in order, in a transaction; a file written by a newer server (a higher version than this
//! one knows) is refused rather than guessed at. Add a migration at the end; never edit one that
//! shipped.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use super::StoreError;

/// How long a statement waits for a lock another connection holds (another process reading
/// the file, `voice-studio episodes`), instead of failing at once.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, one step per entry.
const MIGRATIONS: &[M<'static>] = &[M::up(
    "CREATE TABLE episodes (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL UNIQUE,
        folder TEXT UNIQUE,
        episode_id TEXT NOT NULL,
        title TEXT,
        briefing TEXT,
        state TEXT NOT NULL CHECK (state IN ('live', 'ended', 'interrupted')),
        started_at_ms INTEGER NOT NULL,
        ended_at_ms INTEGER,
        duration_ms INTEGER NOT NULL DEFAULT 0,
        files TEXT NOT NULL DEFAULT '[]',
        plugins TEXT NOT NULL DEFAULT '[]',
        recording_dir TEXT
    );
    CREATE INDEX episodes_started ON episodes (started_at_ms DESC, id DESC);
    CREATE INDEX episodes_state ON episodes (state);
    CREATE TABLE transcript_lines (
        episode INTEGER NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
        speaker TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        text TEXT NOT NULL,
        interrupted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX transcript_lines_episode ON transcript_lines (episode, start_ms);
    CREATE TABLE turns (
        episode INTEGER NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
        speaker TEXT NOT NULL,
        t_ms INTEGER NOT NULL,
        metrics TEXT NOT NULL
    );
    CREATE INDEX turns_episode ON turns (episode, t_ms);
    CREATE TABLE briefing_bindings (
        episode_id TEXT PRIMARY KEY,
        briefing TEXT NOT NULL,
        bound_at_ms INTEGER NOT NULL
    );",
)];

/// The schema's migrations (also for tests that check them).
pub(super) fn migrations() -> Migrations<'static> {
    Migrations::from_slice(MIGRATIONS)
}

/// The schema version this server writes.
#[cfg(test)]
pub(super) fn schema_version() -> usize {
    MIGRATIONS.len()
}

/// Opens `path` (creating it), sets it up and migrates it.
pub(super) fn open(path: &Path) -> Result<Connection, StoreError> {
    let sqlite = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let mut conn = Connection::open(path).map_err(sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    // WAL: readers never wait for the writer, and a commit is one append (with NORMAL sync it
    // survives a killed process; a power cut may lose the last commits, never the file).
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sqlite)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sqlite)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(sqlite)?;
    migrations()
        .to_latest(&mut conn)
        .map_err(|source| StoreError::Migration {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(conn)
}
