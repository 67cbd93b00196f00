//! The briefings folder: `<dir>/<episodeId>.md`, cached, watched and reloaded on change.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::{broadcast, mpsc};

use super::{Briefing, BriefingParseError};

/// How long the folder must stay quiet before changed files are read: editors write a file in
/// several steps (truncate, write, rename), and reading between them would see a broken file.
const SETTLE: Duration = Duration::from_millis(100);

/// How many events a slow subscriber may fall behind by before it misses some.
const EVENT_CAPACITY: usize = 64;

/// Largest accepted briefing file: a briefing goes into every prompt of the episode, so a file
/// far beyond this would crowd the conversation out of the LLM's context (and cost on every line).
pub const MAX_BRIEFING_BYTES: u64 = 64 * 1024;

/// Longest accepted episode id.
const MAX_EPISODE_ID: usize = 128;

/// Why a briefing could not be served.
#[derive(Debug, thiserror::Error)]
pub enum BriefingError {
    /// The file exists but is not a valid briefing.
    #[error("briefing {}: {source}", path.display())]
    Invalid {
        /// The briefing file.
        path: PathBuf,
        /// What is wrong with it, with its line.
        #[source]
        source: BriefingParseError,
    },
    /// The file exists but could not be read.
    #[error("reading briefing {}: {source}", path.display())]
    Read {
        /// The briefing file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_BRIEFING_BYTES`].
    #[error(
        "briefing {} is {bytes} bytes; at most {MAX_BRIEFING_BYTES} fit in a prompt, so shorten it",
        path.display()
    )]
    TooLarge {
        /// The briefing file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// The episode id cannot name a file in the briefings folder.
    #[error(
        "episode id `{0}` cannot name a briefing file: use at most {MAX_EPISODE_ID} letters, \
         digits, `.`, `_` and `-`, starting with a letter or digit"
    )]
    EpisodeId(String),
    /// The folder could not be watched for changes.
    #[error("watching briefings folder {}: {source}", dir.display())]
    Watch {
        /// The briefings folder.
        dir: PathBuf,
        /// The watcher's error.
        #[source]
        source: notify::Error,
    },
    /// The store was opened outside a tokio runtime, so it cannot run its reload task.
    #[error("the briefing store must be opened inside a tokio runtime")]
    NoRuntime,
}

/// What happened to a briefing file while the studio runs.
#[derive(Debug, Clone)]
pub enum BriefingEvent {
    /// The file changed and parses; `load` returns the new version from now on.
    Reloaded {
        /// The episode whose briefing changed.
        episode_id: String,
        /// The new briefing.
        briefing: Arc<Briefing>,
    },
    /// The file changed but is broken; `load` keeps returning the last good version.
    Rejected {
        /// The episode whose briefing is broken.
        episode_id: String,
        /// What is wrong, with the file and line.
        error: Arc<BriefingError>,
    },
    /// The file was deleted; the episode falls back to the built-in briefing.
    Removed {
        /// The episode whose briefing was deleted.
        episode_id: String,
    },
}

/// Serves episode briefings from `BRIEFINGS_DIR` and keeps them current while files change.
///
/// Clones share one cache and one watcher; the watcher stops when the last clone is dropped.
#[derive(Clone)]
pub struct BriefingStore {
    state: Arc<StoreState>,
    /// Held only to keep watching; `None` when the folder does not exist.
    _watcher: Option<Arc<RecommendedWatcher>>,
}

/// What the store and its reload task share.
struct StoreState {
    dir: PathBuf,
    /// Last good briefing per episode id. A std lock: it is held only to clone an `Arc`.
    cache: RwLock<HashMap<String, Arc<Briefing>>>,
    events: broadcast::Sender<BriefingEvent>,
    built_in: Arc<Briefing>,
}

impl BriefingStore {
    /// Opens the folder and starts watching it (a folder that does not exist is not watched:
    /// every episode then gets the built-in briefing). Must be called inside a tokio runtime.
    pub fn open(dir: impl Into<PathBuf>) -> Result<BriefingStore, BriefingError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| BriefingError::NoRuntime)?;
        let dir = dir.into();
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let state = Arc::new(StoreState {
            dir: dir.clone(),
            cache: RwLock::new(HashMap::new()),
            events,
            built_in: Arc::new(Briefing::built_in()),
        });
        if !dir.is_dir() {
            tracing::warn!(dir = %dir.display(), "briefings folder not found; every episode gets the built-in briefing");
            return Ok(BriefingStore {
                state,
                _watcher: None,
            });
        }
        let (changed_tx, changed_rx) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
                match result {
                    // Reads and opens change nothing; skipping them keeps our own reads from
                    // waking the task again.
                    Ok(event) if matches!(event.kind, EventKind::Access(_)) => {}
                    Ok(event) => {
                        for path in event.paths {
                            // A closed receiver means the store is gone; nothing to do.
                            let _ = changed_tx.send(path);
                        }
                    }
                    Err(error) => tracing::warn!(%error, "briefings folder watcher"),
                }
            })
            .map_err(|source| BriefingError::Watch {
                dir: dir.clone(),
                source,
            })?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|source| BriefingError::Watch {
                dir: dir.clone(),
                source,
            })?;
        runtime.spawn(reload_changes(Arc::clone(&state), changed_rx));
        Ok(BriefingStore {
            state,
            _watcher: Some(Arc::new(watcher)),
        })
    }

    /// The briefing for an episode: its file when there is one, the built-in briefing otherwise.
    /// A broken file is an error the first time; once a good version was loaded, later broken
    /// edits keep that version (and are reported as [`BriefingEvent::Rejected`]).
    pub async fn load(&self, episode_id: &str) -> Result<Arc<Briefing>, BriefingError> {
        check_episode_id(episode_id)?;
        if let Some(briefing) = self.state.cached(episode_id) {
            return Ok(briefing);
        }
        let briefing = match self.state.read(episode_id).await? {
            Some(briefing) => Arc::new(briefing),
            None => Arc::clone(&self.state.built_in),
        };
        // A reload that raced with this read wins: it read the file later.
        let mut cache = self
            .state
            .cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(Arc::clone(
            cache.entry(episode_id.to_owned()).or_insert(briefing),
        ))
    }

    /// Reloads, rejections and removals from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<BriefingEvent> {
        self.state.events.subscribe()
    }

    /// The file an episode's briefing is read from (it may not exist).
    pub fn path_of(&self, episode_id: &str) -> PathBuf {
        self.state.path_of(episode_id)
    }

    /// The folder this store serves.
    pub fn dir(&self) -> &Path {
        &self.state.dir
    }

    /// Serves `text` as the briefing of `episode_id` when the folder does not exist (a program
    /// started away from its checkout offers its example briefing this way). Read-only: there is
    /// no file to edit or watch; `voice-studio init` writes an editable copy. Returns whether it
    /// is offered (not when the folder exists: its files are the briefings then).
    pub fn offer_when_missing(
        &self,
        episode_id: &str,
        text: &str,
    ) -> Result<bool, BriefingParseError> {
        if self._watcher.is_some() || self.state.dir.is_dir() {
            return Ok(false);
        }
        let briefing = Arc::new(Briefing::parse(text)?);
        self.state
            .cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(episode_id.to_owned(), briefing);
        Ok(true)
    }

    /// The briefing used for episodes without a file.
    pub fn built_in(&self) -> Arc<Briefing> {
        Arc::clone(&self.state.built_in)
    }
}

impl StoreState {
    fn path_of(&self, episode_id: &str) -> PathBuf {
        self.dir.join(format!("{episode_id}.md"))
    }

    fn cached(&self, episode_id: &str) -> Option<Arc<Briefing>> {
        self.cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(episode_id)
            .cloned()
    }

    /// Reads and parses an episode's file; `None` when there is no file.
    async fn read(&self, episode_id: &str) -> Result<Option<Briefing>, BriefingError> {
        let path = self.path_of(episode_id);
        // Checked before reading, so a huge file is never pulled into memory.
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.len() > MAX_BRIEFING_BYTES => {
                return Err(BriefingError::TooLarge {
                    path,
                    bytes: meta.len(),
                });
            }
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(BriefingError::Read { path, source }),
        }
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(BriefingError::Read { path, source }),
        };
        Briefing::parse(&text)
            .map(Some)
            .map_err(|source| BriefingError::Invalid { path, source })
    }

    /// Brings one episode's cache entry in line with its file after a change, and reports it.
    async fn reload(&self, episode_id: &str) {
        let event = match self.read(episode_id).await {
            Ok(Some(briefing)) => {
                let briefing = Arc::new(briefing);
                self.cache
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(episode_id.to_owned(), Arc::clone(&briefing));
                tracing::info!(episode_id, "briefing reloaded");
                BriefingEvent::Reloaded {
                    episode_id: episode_id.to_owned(),
                    briefing,
                }
            }
            Ok(None) => {
                self.cache
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .remove(episode_id);
                tracing::info!(
                    episode_id,
                    "briefing removed; the built-in briefing applies"
                );
                BriefingEvent::Removed {
                    episode_id: episode_id.to_owned(),
                }
            }
            Err(error) => {
                tracing::warn!(episode_id, %error, "briefing edit rejected; keeping the last good version");
                BriefingEvent::Rejected {
                    episode_id: episode_id.to_owned(),
                    error: Arc::new(error),
                }
            }
        };
        // No subscribers is normal (no studio open); the cache is already up to date.
        let _ = self.events.send(event);
    }
}

/// Collects changed paths until the folder has been quiet for [`SETTLE`], then reloads each
/// changed briefing once. Ends when the watcher (and so the store) is dropped.
async fn reload_changes(state: Arc<StoreState>, mut changed: mpsc::UnboundedReceiver<PathBuf>) {
    while let Some(first) = changed.recv().await {
        let mut episodes = BTreeSet::new();
        episodes.extend(episode_of(&first));
        loop {
            match tokio::time::timeout(SETTLE, changed.recv()).await {
                Ok(Some(path)) => episodes.extend(episode_of(&path)),
                Ok(None) => return,
                Err(_settled) => break,
            }
        }
        for episode_id in episodes {
            state.reload(&episode_id).await;
        }
    }
}

/// The episode a path in the folder is the briefing of (`<id>.md`), if it is one.
fn episode_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let id = name.strip_suffix(".md")?;
    check_episode_id(id).ok()?;
    Some(id.to_owned())
}

/// Accepts ids that name a file directly inside the folder and nothing else (no `/`, no `..`,
/// no hidden files such as editors' swap files).
pub(super) fn check_episode_id(id: &str) -> Result<(), BriefingError> {
    let valid = id.len() <= MAX_EPISODE_ID
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(BriefingError::EpisodeId(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speakers::Ai;

    const EXAMPLE: &str = include_str!("../../../briefings/cars-in-city-centres.md");

    /// Waits for the next event for `episode_id`; the long limit only keeps a broken watcher from
    /// hanging the test run.
    async fn next_event(
        events: &mut broadcast::Receiver<BriefingEvent>,
        episode_id: &str,
    ) -> BriefingEvent {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(20), events.recv())
                .await
                .expect("no briefing event within 20 s")
                .expect("event channel closed");
            let id = match &event {
                BriefingEvent::Reloaded { episode_id, .. }
                | BriefingEvent::Rejected { episode_id, .. }
                | BriefingEvent::Removed { episode_id } => episode_id,
            };
            if id == episode_id {
                return event;
            }
        }
    }

    #[tokio::test]
    async fn episode_file_is_served_by_its_id() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cars.md"), EXAMPLE).unwrap();
        let store = BriefingStore::open(dir.path()).unwrap();
        let briefing = store.load("cars").await.unwrap();
        assert_eq!(briefing.target_duration_secs, Some(600));
        assert!(briefing.position(Ai::Guest).is_some());
        assert_eq!(store.path_of("cars"), dir.path().join("cars.md"));
    }

    #[tokio::test]
    async fn episode_without_a_file_gets_the_built_in_briefing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BriefingStore::open(dir.path()).unwrap();
        let briefing = store.load("live-2026-11-26").await.unwrap();
        assert_eq!(*briefing, Briefing::built_in());
        assert_eq!(briefing.title.as_deref(), Some("Open studio"));
    }

    #[tokio::test]
    async fn missing_folder_serves_the_built_in_briefing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BriefingStore::open(dir.path().join("nowhere")).unwrap();
        assert_eq!(*store.load("ep1").await.unwrap(), Briefing::built_in());
    }

    #[tokio::test]
    async fn a_missing_folder_offers_the_example_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = BriefingStore::open(dir.path().join("nowhere")).unwrap();
        let text = crate::config::built_in::EXAMPLE_BRIEFING;
        assert!(store.offer_when_missing("example", text).unwrap());
        assert_eq!(
            *store.load("example").await.unwrap(),
            Briefing::parse(text).unwrap()
        );
        assert_eq!(*store.load("other").await.unwrap(), Briefing::built_in());
        let present = BriefingStore::open(dir.path()).unwrap();
        assert!(!present.offer_when_missing("example", text).unwrap());
    }

    #[tokio::test]
    async fn ids_that_leave_the_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("inner")).unwrap();
        std::fs::write(dir.path().join("secret.md"), EXAMPLE).unwrap();
        let store = BriefingStore::open(dir.path().join("inner")).unwrap();
        for id in ["../secret", "", ".hidden", "a/b", "a\\b", &"x".repeat(129)] {
            assert!(
                matches!(store.load(id).await, Err(BriefingError::EpisodeId(_))),
                "{id}"
            );
        }
    }

    #[tokio::test]
    async fn broken_file_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ep.md");
        std::fs::write(&path, "---\ntopic: Tea\ntargetDuration: soon\n---\n").unwrap();
        let store = BriefingStore::open(dir.path()).unwrap();
        let error = store.load("ep").await.unwrap_err();
        let text = error.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("line 3: `targetDuration`"), "{text}");
    }

    #[tokio::test]
    async fn oversized_briefing_is_refused_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("---\ntopic: Tea\n---\n");
        text.push_str(&"All about tea. ".repeat(5000));
        std::fs::write(dir.path().join("ep.md"), &text).unwrap();
        let store = BriefingStore::open(dir.path()).unwrap();
        match store.load("ep").await {
            Err(BriefingError::TooLarge { bytes, .. }) => assert_eq!(bytes, text.len() as u64),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn edited_briefing_is_reloaded_and_announced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ep.md");
        std::fs::write(&path, "---\ntopic: Tea or coffee\n---\n").unwrap();
        let store = BriefingStore::open(dir.path()).unwrap();
        assert_eq!(store.load("ep").await.unwrap().topic, "Tea or coffee");
        let mut events = store.subscribe();

        std::fs::write(&path, "---\ntopic: Tea or cocoa\n---\n").unwrap();
        match next_event(&mut events, "ep").await {
            BriefingEvent::Reloaded { briefing, .. } => assert_eq!(briefing.topic, "Tea or cocoa"),
            other => panic!("expected a reload, got {other:?}"),
        }
        assert_eq!(store.load("ep").await.unwrap().topic, "Tea or cocoa");
    }

    #[tokio::test]
    async fn broken_edit_keeps_the_last_good_version_and_reports_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ep.md");
        std::fs::write(&path, EXAMPLE).unwrap();
        let store = BriefingStore::open(dir.path()).unwrap();
        let good = store.load("ep").await.unwrap();
        let mut events = store.subscribe();

        std::fs::write(&path, "---\ntopic: Cars\nmustCover: one\n---\n").unwrap();
        match next_event(&mut events, "ep").await {
            BriefingEvent::Rejected { error, .. } => {
                assert!(error.to_string().contains("line 3: `mustCover`"), "{error}")
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert_eq!(store.load("ep").await.unwrap(), good);

        // Fixing the file brings it back.
        std::fs::write(&path, "---\ntopic: Cars\nmustCover: [one]\n---\n").unwrap();
        assert!(matches!(
            next_event(&mut events, "ep").await,
            BriefingEvent::Reloaded { .. }
        ));
        assert_eq!(store.load("ep").await.unwrap().must_cover, ["one"]);
    }

    #[tokio::test]
    async fn briefing_created_while_running_replaces_the_built_in_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = BriefingStore::open(dir.path()).unwrap();
        assert_eq!(*store.load("ep").await.unwrap(), Briefing::built_in());
        let mut events = store.subscribe();

        // Written the way editors save: a temporary file renamed over the target.
        let temp = dir.path().join(".ep.md.swp");
        std::fs::write(&temp, EXAMPLE).unwrap();
        std::fs::rename(&temp, dir.path().join("ep.md")).unwrap();
        assert!(matches!(
            next_event(&mut events, "ep").await,
            BriefingEvent::Reloaded { .. }
        ));
        assert_eq!(
            store.load("ep").await.unwrap().target_duration_secs,
            Some(600)
        );
    }

    #[tokio::test]
    async fn deleted_briefing_falls_back_to_the_built_in_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ep.md");
        std::fs::write(&path, EXAMPLE).unwrap();
        let store = BriefingStore::open(dir.path()).unwrap();
        assert_ne!(*store.load("ep").await.unwrap(), Briefing::built_in());
        let mut events = store.subscribe();

        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            next_event(&mut events, "ep").await,
            BriefingEvent::Removed { .. }
        ));
        assert_eq!(*store.load("ep").await.unwrap(), Briefing::built_in());
    }
}
