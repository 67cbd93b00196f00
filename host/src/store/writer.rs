//! The store's writer thread: sessions queue their writes on a bounded channel and never wait;
//! the thread applies them in batches, one transaction each.
//!
//! SQLite is synchronous and a commit touches the disk, so no studio may call it: the actor
//! runs the audio path. Nor does a studio wake the thread: it takes its queue on a beat
//! ([`BEAT`]), and only a flush wakes it early. A wake-up per transcript line cost the studio's
//! step that made it 1.5-4 ms now and then at 300 studios on a 2-core VM, the whole tail of the
//! host's time from a final transcript to the policy (docs/BENCHMARKS.md, "Host-added latency").
//!
//! A full channel (the disk far behind) drops the write, counts it in
//! `studio_store_writes_dropped_total` and logs it; the recording's own files still hold
//! everything, and the next start's import reads what the store missed only for folders it
//! does not know at all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{EpisodePlugin, StoreError, lock};
use crate::recording::TurnMetrics;
use crate::speakers::Speaker;
use crate::transcript::TranscriptLine;

/// Writes queued at most (a session writes a few per turn; this is minutes of a stalled disk).
pub const WRITE_QUEUE: usize = 4096;
/// Writes applied in one transaction at most.
const BATCH: usize = 256;
/// How often the thread takes what was queued: writes reach the database this much later at most.
const BEAT: Duration = Duration::from_millis(100);
/// How often the thread looks for the recording folder of a session that has none yet.
const FOLDER_RETRY: Duration = Duration::from_millis(200);

/// What a session tells the store when it starts.
#[derive(Debug, Clone)]
pub struct SessionStart {
    /// The session's unique id (also in its `session.yml`).
    pub session_id: String,
    /// The studio's episode id.
    pub episode_id: String,
    /// `RECORDING_DIR`, where the session's folder is made; `None` when it is not recorded.
    pub recording_dir: Option<PathBuf>,
    /// Wall-clock epoch ms of session time 0.
    pub started_at_ms: u64,
    /// The briefing's title.
    pub title: Option<String>,
    /// The briefing's id.
    pub briefing: Option<String>,
    /// The plugins serving each role.
    pub plugins: Vec<EpisodePlugin>,
}

enum Write {
    Start(SessionStart),
    Line {
        session: Arc<str>,
        line: TranscriptLine,
    },
    Turn {
        session: Arc<str>,
        speaker: Speaker,
        t_ms: u64,
        metrics: TurnMetrics,
    },
    End {
        session: Arc<str>,
        end_ms: u64,
    },
    Flush(mpsc::Sender<()>),
}

/// The sending side, held by the store.
pub(super) struct WriterHandle {
    tx: SyncSender<Write>,
    thread: Thread,
}

impl WriterHandle {
    pub(super) fn session(&self, start: SessionStart) -> EpisodeFeed {
        let mut feed = EpisodeFeed {
            tx: self.tx.clone(),
            session: Arc::from(start.session_id.as_str()),
            dropped: 0,
        };
        feed.send(Write::Start(start));
        feed
    }

    pub(super) fn flush(&self) {
        let (done_tx, done_rx) = mpsc::channel();
        // Waiting is the point here: callers are tests and shutdown, never a studio.
        if self.tx.send(Write::Flush(done_tx)).is_ok() {
            self.thread.unpark();
            let _ = done_rx.recv();
        }
    }
}

/// One session's writes to the store. Every call returns at once: a full queue drops the write
/// (counted and logged), it never blocks the studio.
pub struct EpisodeFeed {
    tx: SyncSender<Write>,
    session: Arc<str>,
    dropped: u64,
}

impl EpisodeFeed {
    /// A final transcript line.
    pub fn line(&mut self, line: TranscriptLine) {
        let session = self.session.clone();
        self.send(Write::Line { session, line });
    }

    /// A turn ended with these metrics (`turn.end` of `events.jsonl`) at session time `t_ms`.
    pub fn turn(&mut self, speaker: Speaker, t_ms: u64, metrics: &TurnMetrics) {
        let session = self.session.clone();
        self.send(Write::Turn {
            session,
            speaker,
            t_ms,
            metrics: metrics.clone(),
        });
    }

    /// The session ended at session time `end_ms`.
    pub fn end(mut self, end_ms: u64) {
        let session = self.session.clone();
        self.send(Write::End { session, end_ms });
    }

    /// Writes dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn send(&mut self, write: Write) {
        match self.tx.try_send(write) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped += 1;
                crate::metrics::store_write_dropped();
                tracing::warn!(session = %self.session, dropped = self.dropped, "episode store behind: a write was dropped (the recording's files still hold it)");
            }
            Err(TrySendError::Disconnected(_)) => {
                self.dropped += 1;
                crate::metrics::store_write_dropped();
                tracing::warn!(session = %self.session, "episode store writer gone: a write was dropped");
            }
        }
    }
}

/// Starts the writer thread on the shared connection.
pub(super) fn start(
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
) -> Result<WriterHandle, StoreError> {
    let (tx, rx) = mpsc::sync_channel(WRITE_QUEUE);
    let thread = std::thread::Builder::new()
        .name("episode-store".into())
        .spawn(move || {
            crate::scheduling::yield_to_live_audio();
            run(&path, &conn, &rx);
        })
        .map_err(StoreError::Thread)?
        .thread()
        .clone();
    Ok(WriterHandle { tx, thread })
}

/// What the thread remembers of a live session.
struct Live {
    row: i64,
    episode_id: String,
    recording_dir: Option<PathBuf>,
    started_at_ms: u64,
    folder: Option<String>,
}

fn run(path: &Path, conn: &Mutex<Connection>, rx: &Receiver<Write>) {
    let mut sessions: HashMap<Arc<str>, Live> = HashMap::new();
    let mut last_folder_look = Instant::now();
    // Ends when every sender (the store and all feeds) is gone and the queue is empty.
    let mut open = true;
    while open {
        let mut batch: Vec<Write> = Vec::new();
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(write) => batch.push(write),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        let full = batch.len() == BATCH;
        // A session's folder is made by its recorder lane beside this one: while one is
        // not found yet, look again every FOLDER_RETRY even without writes.
        let unresolved = sessions
            .values()
            .any(|live| live.folder.is_none() && live.recording_dir.is_some());
        let look = unresolved && last_folder_look.elapsed() >= FOLDER_RETRY;
        if batch.is_empty() && !look {
            if open {
                std::thread::park_timeout(BEAT);
            }
            continue;
        }
        if unresolved {
            last_folder_look = Instant::now();
        }
        let mut flushes = Vec::new();
        let mut conn = lock(conn);
        let applied = conn.transaction().and_then(|tx| {
            for write in batch {
                match write {
                    Write::Flush(done) => flushes.push(done),
                    write => apply(&tx, &mut sessions, write)?,
                }
            }
            for (session, live) in &mut sessions {
                if live.folder.is_none() {
                    resolve_folder(&tx, session, live)?;
                }
            }
            tx.commit()
        });
        drop(conn);
        if let Err(error) = applied {
            crate::metrics::store_write_dropped();
            tracing::error!(db = %path.display(), %error, "episode store: a batch of writes failed");
        }
        for done in flushes {
            let _ = done.send(());
        }
        if open && !full {
            std::thread::park_timeout(BEAT);
        }
    }
}

fn apply(
    tx: &Transaction<'_>,
    sessions: &mut HashMap<Arc<str>, Live>,
    write: Write,
) -> rusqlite::Result<()> {
    match write {
        Write::Start(start) => {
            let plugins = serde_json::to_string(&start.plugins).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "INSERT INTO episodes (session_id, episode_id, title, briefing, state, started_at_ms, plugins, recording_dir)
                 VALUES (?1, ?2, ?3, ?4, 'live', ?5, ?6, ?7)
                 ON CONFLICT (session_id) DO NOTHING",
                params![
                    start.session_id,
                    start.episode_id,
                    start.title,
                    start.briefing,
                    to_i64(start.started_at_ms),
                    plugins,
                    start.recording_dir.as_ref().map(|d| d.display().to_string()),
                ],
            )?;
            let row: i64 = tx.query_row(
                "SELECT id FROM episodes WHERE session_id = ?1",
                [&start.session_id],
                |r| r.get(0),
            )?;
            let mut live = Live {
                row,
                episode_id: start.episode_id,
                recording_dir: start.recording_dir,
                started_at_ms: start.started_at_ms,
                folder: None,
            };
            resolve_folder(tx, &start.session_id, &mut live)?;
            sessions.insert(Arc::from(start.session_id.as_str()), live);
        }
        Write::Line { session, line } => {
            let Some(live) = known(tx, sessions, &session)? else {
                return Ok(());
            };
            tx.execute(
                "INSERT INTO transcript_lines (episode, speaker, start_ms, end_ms, text, interrupted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    live.row,
                    line.speaker.file_stem(),
                    to_i64(line.start_ms),
                    to_i64(line.end_ms),
                    line.text,
                    line.interrupted,
                ],
            )?;
            tx.execute(
                "UPDATE episodes SET duration_ms = MAX(duration_ms, ?2) WHERE id = ?1",
                params![live.row, to_i64(line.end_ms)],
            )?;
        }
        Write::Turn {
            session,
            speaker,
            t_ms,
            metrics,
        } => {
            let Some(live) = known(tx, sessions, &session)? else {
                return Ok(());
            };
            let metrics = serde_json::to_string(&metrics).unwrap_or_else(|_| "{}".into());
            tx.execute(
                "INSERT INTO turns (episode, speaker, t_ms, metrics) VALUES (?1, ?2, ?3, ?4)",
                params![live.row, speaker.file_stem(), to_i64(t_ms), metrics],
            )?;
            tx.execute(
                "UPDATE episodes SET duration_ms = MAX(duration_ms, ?2) WHERE id = ?1",
                params![live.row, to_i64(t_ms)],
            )?;
        }
        Write::End { session, end_ms } => {
            if known(tx, sessions, &session)?.is_none() {
                return Ok(());
            }
            let Some(live) = sessions.remove(&session) else {
                return Ok(());
            };
            let files = live
                .folder
                .as_ref()
                .zip(live.recording_dir.as_ref())
                .map(|(folder, dir)| super::import::folder_files(&dir.join(folder)))
                .unwrap_or_default();
            tx.execute(
                "UPDATE episodes SET state = 'ended', ended_at_ms = ?2, duration_ms = ?3, files = ?4
                 WHERE id = ?1 AND state = 'live'",
                params![
                    live.row,
                    to_i64(live.started_at_ms.saturating_add(end_ms)),
                    to_i64(end_ms),
                    serde_json::to_string(&files).unwrap_or_else(|_| "[]".into()),
                ],
            )?;
        }
        Write::Flush(_) => {}
    }
    Ok(())
}

/// The live session `session`, its folder looked up again while it is still unknown (the
/// recording's thread makes the folder beside this one).
fn known<'a>(
    tx: &Transaction<'_>,
    sessions: &'a mut HashMap<Arc<str>, Live>,
    session: &Arc<str>,
) -> rusqlite::Result<Option<&'a mut Live>> {
    let Some(live) = sessions.get_mut(session) else {
        return Ok(None);
    };
    if live.folder.is_none() {
        resolve_folder(tx, session, live)?;
    }
    Ok(Some(live))
}

/// Finds the session's recording folder (`<episode>`, `<episode>-2`, ...: the one whose
/// `session.yml` names this session) and stores it.
fn resolve_folder(tx: &Transaction<'_>, session: &str, live: &mut Live) -> rusqlite::Result<()> {
    let Some(dir) = &live.recording_dir else {
        return Ok(());
    };
    let Some(folder) = super::import::find_session_folder(dir, &live.episode_id, session) else {
        return Ok(());
    };
    let taken: Option<i64> = tx
        .query_row(
            "SELECT id FROM episodes WHERE folder = ?1",
            [&folder],
            |r| r.get(0),
        )
        .optional()?;
    if taken.is_some_and(|row| row != live.row) {
        // Imported before this session could claim it: never two rows for one folder.
        return Ok(());
    }
    tx.execute(
        "UPDATE episodes SET folder = ?2 WHERE id = ?1",
        params![live.row, folder],
    )?;
    live.folder = Some(folder);
    Ok(())
}

/// SQLite integers are signed; session times and epoch ms are far below `i64::MAX`.
pub(super) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
