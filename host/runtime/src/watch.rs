//! Hot reload: watches `plugins.toml` and the folders of the plugin files, and once changes settle
//! sends a [`ReloadRequest`] over a channel; the facade serves it. The watcher never calls the host:
//! it learns what to watch from a `watch` channel the host republishes after every reload.
//!
//! Folders are watched rather than files, because an atomic replace (write elsewhere, rename over)
//! gives the path a new inode that a file watch would miss. Events are debounced (~100 ms of quiet)
//! so a multi-step write is read once, after it is complete; a half-written file that still slips
//! through fails to compile, keeps the old version, and the final write triggers another reload.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};

use super::error::PluginHostError;

/// How long the watched files must be quiet before a reload.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(100);

/// Asks for a reload: `plugins.toml` or a plugin file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReloadRequest;

/// What hot reload watches: the manifest (none when it is built into the program) and every
/// plugin file it configures now (embedded plugins are not files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WatchedPaths {
    pub(crate) manifest: Option<PathBuf>,
    pub(crate) files: Vec<PathBuf>,
}

impl WatchedPaths {
    /// Whether there is anything to watch at all (a built-in manifest of embedded plugins: no).
    pub(crate) fn is_empty(&self) -> bool {
        self.manifest.is_none() && self.files.is_empty()
    }

    /// Whether a changed path is the manifest or one of the plugin files.
    fn concern(&self, path: &Path) -> bool {
        self.manifest
            .iter()
            .chain(&self.files)
            .any(|f| same_file_path(path, f))
    }
}

/// The running watcher; dropping or stopping it ends hot reload.
pub(crate) struct PluginWatcher {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl PluginWatcher {
    /// Starts watching the folders of `paths` (as they are now), sending a request to `reload`
    /// once relevant changes settle. Stops when `reload` or `paths` is closed.
    pub(crate) fn start(
        paths: watch::Receiver<WatchedPaths>,
        reload: mpsc::Sender<ReloadRequest>,
    ) -> Result<PluginWatcher, PluginHostError> {
        let WatchedPaths { manifest, files } = paths.borrow().clone();
        let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
                Ok(event) => {
                    for path in event.paths {
                        // The receiver is gone only when the host is shutting down.
                        let _ = tx.send(path);
                    }
                }
                Err(e) => tracing::warn!("plugin file watcher error: {e}"),
            })
            .map_err(|e| PluginHostError::Watch {
                path: manifest.clone().unwrap_or_default(),
                message: e.to_string(),
            })?;

        let mut folders = BTreeSet::new();
        for file in manifest.iter().chain(&files) {
            folders.insert(parent_of(file));
        }
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
            while let Some(first) = rx.recv().await {
                if paths.has_changed().is_err() {
                    return; // The host is gone.
                }
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
    path.parent().and_then(|p| std::fs::canonicalize(p).ok())
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

    /// The watcher needs no host: a change to a watched file arrives as a request on the channel,
    /// and a change to an unrelated file in the same folder does not.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_watched_change_becomes_one_reload_request() {
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = dir.path().join("plugins.toml");
        let plugin = dir.path().join("p.wasm");
        std::fs::write(&manifest, "").expect("manifest");
        std::fs::write(&plugin, "").expect("plugin");
        let (_paths, watched) = watch::channel(WatchedPaths {
            manifest: Some(manifest),
            files: vec![plugin.clone()],
        });
        let (reload, mut requests) = mpsc::channel(1);
        let watcher = PluginWatcher::start(watched, reload).expect("watcher");

        std::fs::write(dir.path().join("notes.txt"), "unrelated").expect("unrelated");
        let quiet = tokio::time::timeout(DEBOUNCE * 5, requests.recv()).await;
        assert!(quiet.is_err(), "an unrelated file asked for a reload");

        std::fs::write(&plugin, "new code").expect("change");
        let asked = tokio::time::timeout(Duration::from_secs(10), requests.recv()).await;
        assert_eq!(asked.ok().flatten(), Some(ReloadRequest));
        watcher.stop();
    }
}
