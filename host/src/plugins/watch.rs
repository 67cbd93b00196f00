//! Hot reload: watches `plugins.toml` and the folders of the plugin files, and reloads the registry
//! once changes settle.
//!
//! Folders are watched rather than files, because an atomic replace (write elsewhere, rename over)
//! gives the path a new inode that a file watch would miss. Events are debounced (~100 ms of quiet)
//! so a multi-step write is read once, after it is complete; a half-written file that still slips
//! through fails to compile, keeps the old version, and the final write triggers another reload.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::error::PluginHostError;
use super::host::PluginHost;

/// How long the watched files must be quiet before a reload.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(100);

/// The running watcher; dropping or stopping it ends hot reload.
pub(crate) struct PluginWatcher {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl PluginWatcher {
    /// Starts watching for `host` (which it holds weakly, so the host can be dropped).
    pub(crate) fn start(host: &Arc<PluginHost>) -> Result<PluginWatcher, PluginHostError> {
        let (manifest, files) = host.watched_paths();
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
                path: manifest.clone(),
                message: e.to_string(),
            })?;

        let mut folders = BTreeSet::new();
        folders.insert(parent_of(&manifest));
        for file in &files {
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

        let weak: Weak<PluginHost> = Arc::downgrade(host);
        let task = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut relevant = is_relevant(&weak, &first);
                // Debounce: wait for a quiet window, noting whether any event concerned us.
                loop {
                    match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                        Ok(Some(path)) => relevant |= is_relevant(&weak, &path),
                        Ok(None) => return,
                        Err(_) => break,
                    }
                }
                if !relevant {
                    continue;
                }
                let Some(host) = weak.upgrade() else { return };
                let events = host.reload().await;
                tracing::debug!(changes = events.len(), "hot reload pass finished");
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

/// Whether a changed path is the manifest or one of the plugin files now configured.
fn is_relevant(host: &Weak<PluginHost>, path: &Path) -> bool {
    let Some(host) = host.upgrade() else {
        return false;
    };
    let (manifest, files) = host.watched_paths();
    same_file_path(path, &manifest) || files.iter().any(|f| same_file_path(path, f))
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
