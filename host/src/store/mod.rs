//! The episode store: every recorded session (an episode's take) in one SQLite file,
//! `studio.db` in `DATA_DIR`, with its transcript and its turn metrics, so past episodes can be
//! listed after a restart (the listing API, the console, `voice-studio episodes`).
//!
//! One file per concern: [`open`](self::open) opens the file and migrates its schema, `writer`
//! is the thread that takes the sessions' writes from a bounded channel (a studio never waits
//! on SQLite), `queries` reads, and `import` runs at start: sessions a killed process left
//! `live` become `interrupted`, and recording folders the store does not know are read in.
//!
//! An episode's id in the API is its recording folder's name (`<episode>` or `<episode>-N` for a
//! later take); a session that was never recorded (no disk space) keeps its session id instead.

mod import;
mod open;
mod queries;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

pub use import::{Recovery, parse_iso8601_ms};
pub use queries::ListQuery;
pub use writer::{EpisodeFeed, SessionStart};

use crate::recording::TurnMetrics;
use crate::speakers::Speaker;

/// The store's file name inside `DATA_DIR`.
pub const DB_FILE: &str = "studio.db";

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation.
    #[error("episode store {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The schema could not be brought up to date.
    #[error("episode store {path}: schema migration failed: {source}")]
    Migration {
        /// The database file.
        path: PathBuf,
        /// What the migration said.
        #[source]
        source: rusqlite_migration::Error,
    },
    /// The folder for the file could not be created.
    #[error("episode store: cannot create {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("episode store: the writer thread could not start: {0}")]
    Thread(std::io::Error),
}

/// Where an episode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EpisodeState {
    /// Its studio is recording it now.
    Live,
    /// Its studio ended it.
    Ended,
    /// The process stopped (crash, kill) while it was live; what was recorded is kept.
    Interrupted,
}

impl EpisodeState {
    /// The spelling in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Ended => "ended",
            Self::Interrupted => "interrupted",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "live" => Self::Live,
            "ended" => Self::Ended,
            _ => Self::Interrupted,
        }
    }
}

/// One file of an episode's recording folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeFile {
    /// File name inside the folder (`you.webm`, `events.jsonl`, ...).
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// Where it downloads: `/recordings/<folder>/<file>` (admin token or a signed link).
    pub url: String,
}

/// A plugin that served a role in the episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpisodePlugin {
    /// `stt`, `tts`, `claude`, `guest` or `policy`.
    pub role: String,
    /// The plugin's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// SHA-256 of its `.wasm`.
    pub hash: String,
}

/// One episode (one recorded session), as the listing shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Episode {
    /// The recording folder's name (`<episode>` or `<episode>-N` for a later take); the session
    /// id when the session was not recorded.
    pub id: String,
    /// The studio's episode id.
    pub episode_id: String,
    /// The briefing's title.
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The briefing's id, when the session knew it.
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub briefing: Option<String>,
    /// Live, ended or interrupted.
    pub state: EpisodeState,
    /// When it started (ISO 8601, UTC).
    #[schema(example = "2026-12-03T10:00:00.000Z")]
    pub started_at: String,
    /// When it ended (absent while live, and for an interrupted session).
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Its length in ms (for a live or interrupted session: as far as it got).
    pub duration_ms: u64,
    /// The recording's files, as the folder holds them now.
    pub files: Vec<EpisodeFile>,
    /// The plugins that served it.
    pub plugins: Vec<EpisodePlugin>,
    /// How many transcript lines it has.
    pub lines: u64,
    /// Each turn's metrics in time order: only in `GET /api/episodes/{id}` (see
    /// [`EpisodeDetail`]), not in the listing.
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turns: Option<Vec<TurnRecord>>,
}

/// One turn's measurements, as `events.jsonl`'s `turn.end` logs them.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnRecord {
    /// Who spoke.
    #[schema(value_type = String, example = "claude")]
    pub speaker: Speaker,
    /// When the turn ended, in ms of session time.
    pub t: u64,
    /// What the turn measured (`durationMs`, `llmFirstTokenMs`, ..., `interrupted`).
    #[schema(value_type = Object)]
    pub metrics: TurnMetrics,
}

/// One episode with its turns.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeDetail {
    /// The episode (its `turns` unset: they are below).
    pub episode: Episode,
    /// Each turn's metrics, in time order.
    pub turns: Vec<TurnRecord>,
}

impl EpisodeDetail {
    /// The episode with its turns in it, as `GET /api/episodes/{id}` answers.
    pub fn into_episode(self) -> Episode {
        Episode {
            turns: Some(self.turns),
            ..self.episode
        }
    }
}

/// The episode store. Clones share one database and one writer thread.
#[derive(Clone)]
pub struct EpisodeStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// One connection: the writer thread takes it per batch, readers per query (SQLite is
    /// synchronous; both hold it for milliseconds, and no studio ever waits on it).
    conn: Arc<Mutex<Connection>>,
    /// Where sessions send their writes.
    writes: writer::WriterHandle,
}

impl EpisodeStore {
    /// Opens (creating if needed) `dir/studio.db`, brings its schema up to date and starts the
    /// writer thread.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
            path: dir.to_path_buf(),
            source,
        })?;
        Self::open_file(&dir.join(DB_FILE))
    }

    /// Opens the database at `path` (see [`EpisodeStore::open`]).
    pub fn open_file(path: &Path) -> Result<Self, StoreError> {
        Self::start(path, open::open(path)?)
    }

    /// A store that lives in memory only, for a server that records nothing (a gateway without
    /// a turn loop) and for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let path = Path::new(":memory:");
        Self::start(path, open::open(path)?)
    }

    fn start(path: &Path, conn: Connection) -> Result<Self, StoreError> {
        let conn = Arc::new(Mutex::new(conn));
        let writes = writer::start(path.to_path_buf(), conn.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                conn,
                writes,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The writes of a new session, fed without waiting (see [`EpisodeFeed`]).
    pub fn session(&self, start: SessionStart) -> EpisodeFeed {
        self.inner.writes.session(start)
    }

    /// Waits until every write queued so far is in the database (tests, shutdown).
    pub fn flush(&self) {
        self.inner.writes.flush();
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.inner.conn)
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.inner.path.clone(),
            source,
        }
    }
}

/// A poisoned lock only means a thread panicked while holding it; SQLite rolled back whatever
/// transaction it had open, so the connection stays usable.
fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `/recordings/<folder>/<file>` path of a file.
/// (folder names are made of letters, digits, `-`, `_` and `.`; see `recording::folder_name`).
fn file_url(folder: &str, name: &str) -> String {
    format!("/recordings/{folder}/{name}")
}

// Routes share the store across threads.
const _: fn() = || {
    fn both<T: Send + Sync>() {}
    both::<EpisodeStore>();
};

#[cfg(test)]
mod tests;
