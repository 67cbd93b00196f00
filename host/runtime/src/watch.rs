//! Hot reload: watches `plugins.toml` and the folders of the plugin files, and once changes settle
//! and a watched file's *contents* differ from what was last loaded, sends a [`ReloadRequest`]
//! over a channel; the facade serves it. The watcher never calls the host: it learns what to watch,
//! and what each file held when the host read it, from a `watch` channel the host republishes
//! after every reload.
//!
//! Folders are watched rather than files, because an atomic replace (write elsewhere, rename over)
//! gives the path a new inode that a file watch would miss. Events are debounced (~100 ms of quiet)
//! so a multi-step write is read once, after it is complete; a half-written file that still slips
//! through fails to compile, keeps the old version, and the final write triggers another reload.
//!
//! Reading a file is not a change: access events (open, read, close) are dropped, since a reload's
//! own reads of `plugins.toml` and the plugins would otherwise ask for the next reload, forever.
//! Every other event only makes the watcher compare fingerprints (size, modification time, and
//! the sha256 when those moved), so `touch`, a `chmod` or an editor saving the same bytes reloads
//! nothing either.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use notify::{EventKind, RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};

use super::error::PluginHostError;
use super::metrics;

/// How long the watched files must be quiet before a reload.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(100);

/// Asks for a reload: `plugins.toml` or a plugin file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReloadRequest;

/// What hot reload has done since the host started; [`super::PluginHost::hot_reload`] shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HotReloadStats {
    /// Settled batches of file events about watched files that the watcher compared.
    pub settled: u64,
    /// Of those, the batches in which a watched file's contents had changed (each asked for a
    /// reload; a request already waiting covers the next one).
    pub changed: u64,
    /// Reload passes the host ran: asked for by the watcher or by [`super::PluginHost::reload`].
    pub reloads: u64,
}

/// What a file held, as far as hot reload cares: its size and modification time (a cheap first
/// look) and the sha256 of its bytes (what decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    sha256: [u8; 32],
}

impl Fingerprint {
    /// The fingerprint of `path` now, or None when it cannot be read (missing). When `known` has
    /// the same size and modification time the file is not read again.
    pub(crate) fn of(path: &Path, known: Option<&Fingerprint>) -> Option<Fingerprint> {
        let meta = std::fs::metadata(path).ok()?;
        let modified = meta.modified().ok();
        if let Some(known) = known
            && known.len == meta.len()
            && known.modified == modified
            && modified.is_some()
        {
            return Some(known.clone());
        }
        let mut file = std::fs::File::open(path).ok()?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut len = 0u64;
        loop {
            let read = file.read(&mut buffer).ok()?;
            if read == 0 {
                break;
            }
            len += read as u64;
            hasher.update(&buffer[..read]);
        }
        Some(Fingerprint {
            len,
            modified,
            sha256: hasher.finalize().into(),
        })
    }

    /// Whether two looks at a file saw the same bytes (a missing file is its own state).
    fn same_content(a: Option<&Fingerprint>, b: Option<&Fingerprint>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => a.len == b.len && a.sha256 == b.sha256,
            (None, None) => true,
            _ => false,
        }
    }
}

/// The fingerprint of each watched file (None: missing), by path.
pub(crate) type Fingerprints = BTreeMap<PathBuf, Option<Fingerprint>>;

/// The fingerprints of `paths` now, reusing `known` ones whose size and time did not move.
pub(crate) fn fingerprints<'a>(
    paths: impl IntoIterator<Item = &'a PathBuf>,
    known: &Fingerprints,
) -> Fingerprints {
    paths
        .into_iter()
        .map(|path| {
            let known = known.get(path).and_then(Option::as_ref);
            (path.clone(), Fingerprint::of(path, known))
        })
        .collect()
}

/// What hot reload watches: the manifest (none when it is built into the program) and every
/// plugin file it configures now (embedded plugins are not files), with what each held when the
/// host read it (taken just before reading, so a later write always differs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WatchedPaths {
    pub(crate) manifest: Option<PathBuf>,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) fingerprints: Fingerprints,
}

impl WatchedPaths {
    /// Whether there is anything to watch at all (a built-in manifest of embedded plugins: no).
    pub(crate) fn is_empty(&self) -> bool {
        self.manifest.is_none() && self.files.is_empty()
    }

    /// Every watched file.
    fn all(&self) -> impl Iterator<Item = &PathBuf> {
        self.manifest.iter().chain(&self.files)
    }

    /// Whether a changed path is the manifest or one of the plugin files.
    fn concern(&self, path: &Path) -> bool {
        self.all().any(|f| same_file_path(path, f))
    }
}

/// Whether an event can mean new contents: anything but an access (open, read, close). A close
/// after writing also comes as a modification, so nothing is lost by dropping every access.
fn may_change_contents(kind: &EventKind) -> bool {
    !matches!(kind, EventKind::Access(_))
}

/// The running watcher; dropping or stopping it ends hot reload.
pub(crate) struct PluginWatcher {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl PluginWatcher {
    /// Starts watching the folders of `paths` (as they are now), sending a request to `reload`
    /// once a watched file's contents changed, and counting what it saw in `stats`. Stops when
    /// `reload` or `paths` is closed.
    pub(crate) fn start(
        mut paths: watch::Receiver<WatchedPaths>,
        reload: mpsc::Sender<ReloadRequest>,
        stats: Arc<watch::Sender<HotReloadStats>>,
    ) -> Result<PluginWatcher, PluginHostError> {
        let watched = paths.borrow_and_update().clone();
        let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
                Ok(event) if may_change_contents(&event.kind) => {
                    for path in event.paths {
                        // The receiver is gone only when the host is shutting down.
                        let _ = tx.send(path);
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("plugin file watcher error: {e}"),
            })
            .map_err(|e| PluginHostError::Watch {
                path: watched.manifest.clone().unwrap_or_default(),
                message: e.to_string(),
            })?;

        let folders: BTreeSet<PathBuf> = watched.all().map(|f| parent_of(f)).collect();
        for folder in &folders {
            watcher
                .watch(folder, RecursiveMode::NonRecursive)
                .map_err(|e| PluginHostError::Watch {
                    path: folder.clone(),
                    message: e.to_string(),
                })?;
        }
        tracing::info!(folders = ?folders, "watching plugins for changes");

        let task = tokio::spawn(async move {
            // What each watched file held when last loaded (or when a reload was last asked for).
            let mut known = watched.fingerprints;
            while let Some(first) = rx.recv().await {
                let mut relevant = paths.borrow().concern(&first);
                // Debounce: wait for a quiet window, noting whether any event concerned us.
                loop {
                    match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                        Ok(Some(path)) => relevant |= paths.borrow().concern(&path),
                        Ok(None) => return,
                        Err(_) => break,
                    }
                }
                if !relevant {
                    continue;
                }
                // A reload since the last look: what the host read is the new baseline.
                match paths.has_changed() {
                    Ok(true) => known = paths.borrow_and_update().fingerprints.clone(),
                    Ok(false) => {}
                    Err(_) => return, // The host is gone.
                }
                let current = paths.borrow().clone();
                let look = tokio::task::spawn_blocking(move || {
                    let now = fingerprints(current.all(), &known);
                    let changed: Vec<PathBuf> = now
                        .iter()
                        .filter(|(path, print)| {
                            let before = known.get(*path).and_then(Option::as_ref);
                            !Fingerprint::same_content(before, print.as_ref())
                        })
                        .map(|(path, _)| path.clone())
                        .collect();
                    (now, changed)
                })
                .await;
                let Ok((now, changed)) = look else { return };
                known = now;
                stats.send_modify(|s| {
                    s.settled += 1;
                    s.changed += u64::from(!changed.is_empty());
                });
                metrics::watch_batch(!changed.is_empty());
                if changed.is_empty() {
                    tracing::debug!("plugin files were touched but their contents did not change");
                    continue;
                }
                tracing::debug!(files = ?changed, "plugin files changed; reloading");
                match reload.try_send(ReloadRequest) {
                    // Full: a request is waiting, and the reload it starts reads these changes.
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
        });
        Ok(PluginWatcher {
            _watcher: watcher,
            task,
        })
    }

    /// Stops watching.
    pub(crate) fn stop(self) {
        self.task.abort();
    }
}

fn same_file_path(a: &Path, b: &Path) -> bool {
    a == b || (a.file_name() == b.file_name() && canonical_parent(a) == canonical_parent(b))
}

fn canonical_parent(path: &Path) -> Option<PathBuf> {
    // `plugins.toml` alone (relative, as PLUGINS_TOML's default is) has an empty parent: `.`,
    // which is also how the watcher's events name it (`./plugins.toml`).
    std::fs::canonicalize(parent_of(path)).ok()
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(manifest: &Path, plugin: &Path) -> WatchedPaths {
        let files = vec![plugin.to_path_buf()];
        let fingerprints = fingerprints([&manifest.to_path_buf(), &files[0]], &Fingerprints::new());
        WatchedPaths {
            manifest: Some(manifest.to_path_buf()),
            files,
            fingerprints,
        }
    }

    /// The watcher needs no host: a change to a watched file arrives as a request on the channel,
    /// and a change to an unrelated file in the same folder, reading the watched files, or
    /// touching them without changing their bytes does not.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_a_content_change_of_a_watched_file_becomes_a_reload_request() {
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = dir.path().join("plugins.toml");
        let plugin = dir.path().join("p.wasm");
        std::fs::write(&manifest, "").expect("manifest");
        std::fs::write(&plugin, "old code").expect("plugin");
        let (_paths, paths) = watch::channel(watched(&manifest, &plugin));
        let stats = Arc::new(watch::Sender::new(HotReloadStats::default()));
        let mut seen = stats.subscribe();
        let (reload, mut requests) = mpsc::channel(1);
        let watcher = PluginWatcher::start(paths, reload, stats.clone()).expect("watcher");

        std::fs::write(dir.path().join("notes.txt"), "unrelated").expect("unrelated");
        for _ in 0..20 {
            std::fs::read(&manifest).expect("read manifest");
            std::fs::read(&plugin).expect("read plugin");
        }
        // Touch: a new modification time, the same bytes.
        std::fs::File::options()
            .write(true)
            .open(&plugin)
            .and_then(|f| f.set_modified(SystemTime::now() + Duration::from_secs(5)))
            .expect("touch");
        // The touch settles as one compared batch (a bound against a hang, not a timing check).
        tokio::time::timeout(Duration::from_secs(30), seen.wait_for(|s| s.settled >= 1))
            .await
            .expect("the touch is looked at")
            .expect("stats");
        assert_eq!(stats.borrow().changed, 0, "{:?}", *stats.borrow());
        assert!(
            requests.try_recv().is_err(),
            "reads or a touch asked for a reload"
        );

        std::fs::write(&plugin, "new code").expect("change");
        let asked = tokio::time::timeout(Duration::from_secs(30), requests.recv()).await;
        assert_eq!(asked.ok().flatten(), Some(ReloadRequest));
        assert_eq!(stats.borrow().changed, 1);
        watcher.stop();
    }
}
