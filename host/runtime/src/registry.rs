//! The plugin registry: one immutable [`Setup`] (the accepted `plugins.toml` and the loaded
//! version of each plugin it declares) behind an `RwLock<Arc<..>>`, and how a setup is built at
//! start and on reload.
//!
//! A call clones the `Arc` (a read lock held for a pointer copy) and works on that snapshot, so a
//! reload never blocks or disturbs a call in flight, and the next call sees the new setup. The
//! registry knows nothing of the facade ([`super::PluginHost`]) that owns it, nor of the handles
//! that read it: both depend on it, not the other way round.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use super::embedded::is_embedded;
use super::engine::{CacheOutcome, PluginEngine, sha256_hex};
use super::error::PluginHostError;
use super::grant::Grant;
use super::health::HealthBook;
use super::manifest::{Manifest, PluginEntry, RoleSlot};
use super::secrets::SecretStore;
use super::version::{LoadedCode, PluginVersion, load_code};

/// What a reload did to one plugin (or to `plugins.toml` as a whole, `plugin == "plugins.toml"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadEvent {
    /// The plugin, or `plugins.toml` for a refused manifest.
    pub plugin: String,
    /// The version serving before, when there was one.
    pub old_version: Option<String>,
    /// Its sha256.
    pub old_sha256: Option<String>,
    /// The version serving now, when the reload swapped one in.
    pub new_version: Option<String>,
    /// Its sha256.
    pub new_sha256: Option<String>,
    /// Why the reload was refused; the old version keeps serving.
    pub error: Option<String>,
}

/// The registry's content: one consistent snapshot of the manifest and the loaded plugins.
pub(crate) struct Setup {
    pub(crate) manifest: Arc<Manifest>,
    pub(crate) versions: BTreeMap<String, Arc<PluginVersion>>,
    pub(crate) errors: BTreeMap<String, String>,
}

/// The engine and the current setup, shared by the facade and every call handle.
pub(crate) struct Registry {
    pub(crate) engine: Arc<PluginEngine>,
    setup: RwLock<Arc<Setup>>,
    /// Each plugin's calls, errors and last error, for the admin view (kept across reloads).
    pub(crate) health: HealthBook,
}

impl Registry {
    /// Loads every plugin `manifest` declares. Fails when a plugin that a role (or a role's
    /// fallback) needs cannot be loaded; other failures are kept in the setup's `errors`.
    pub(crate) async fn load(
        engine: Arc<PluginEngine>,
        manifest: Manifest,
        secrets: &Arc<SecretStore>,
    ) -> Result<Registry, PluginHostError> {
        let (versions, errors) = load_all(&engine, &manifest, secrets).await;
        for slot in RoleSlot::ALL {
            for name in manifest.chain(slot) {
                check_role(&manifest, slot, &name, &versions, &errors)?;
            }
        }
        Ok(Registry::of(engine, manifest, versions, errors))
    }

    /// A registry of whatever loaded, without the role checks [`Registry::load`] fails on: what
    /// an operator's `check` reports, every failure at once.
    pub(crate) async fn inspect(
        engine: Arc<PluginEngine>,
        manifest: Manifest,
        secrets: &Arc<SecretStore>,
    ) -> Registry {
        let (versions, errors) = load_all(&engine, &manifest, secrets).await;
        Registry::of(engine, manifest, versions, errors)
    }

    fn of(
        engine: Arc<PluginEngine>,
        manifest: Manifest,
        versions: BTreeMap<String, Arc<PluginVersion>>,
        errors: BTreeMap<String, String>,
    ) -> Registry {
        Registry {
            engine,
            setup: RwLock::new(Arc::new(Setup {
                manifest: Arc::new(manifest),
                versions,
                errors,
            })),
            health: HealthBook::default(),
        }
    }

    /// The current setup.
    pub(crate) fn snapshot(&self) -> Arc<Setup> {
        self.setup
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Swaps in `setup`; calls in flight keep the snapshot they hold.
    pub(crate) fn replace(&self, setup: Setup) {
        *self.setup.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(setup);
    }

    /// The plugin files of the current setup (what hot reload watches beside `plugins.toml`).
    pub(crate) fn plugin_files(&self) -> Vec<PathBuf> {
        Registry::files_of(&self.snapshot().manifest)
    }

    /// The plugin files `manifest` names (embedded plugins are not files).
    pub(crate) fn files_of(manifest: &Manifest) -> Vec<PathBuf> {
        manifest
            .plugins
            .values()
            .map(|e| e.path.clone())
            // Embedded plugins cannot change while the program runs.
            .filter(|path| !is_embedded(path))
            .collect()
    }

    /// The setup after a reload, from the old one and the files on disk.
    /// Changes nothing itself: the caller swaps it in only when the whole setup is accepted.
    pub(crate) async fn rebuild(
        &self,
        old: &Setup,
        manifest: Manifest,
        secrets: &Arc<SecretStore>,
    ) -> Result<(Setup, Vec<ReloadEvent>), PluginHostError> {
        let mut versions = BTreeMap::new();
        let mut errors = BTreeMap::new();
        let mut events = Vec::new();
        for entry in manifest.plugins.values() {
            let previous = old.versions.get(&entry.name);
            let grant = match previous {
                Some(p) if same_grant(&p.grant.entry, entry) => p.grant.clone(),
                _ => Arc::new(Grant::new(entry.clone(), secrets.clone())),
            };
            let code = match reuse_if_unchanged(previous, entry).await {
                Some(code) => Ok(code),
                None => load_code(&self.engine, &grant).await.map(Arc::new),
            };
            let code = code.and_then(|code| match previous {
                Some(p) if p.code.kind() != code.kind() => Err(format!(
                    "the new file is a {} plugin but {} was a {} plugin; keeping the old version",
                    code.kind(),
                    entry.name,
                    p.code.kind()
                )),
                _ => Ok(code),
            });
            match code {
                Ok(code) => {
                    let changed = previous.is_none_or(|p| p.code.sha256 != code.sha256);
                    if changed {
                        tracing::info!(plugin = %entry.name, version = %code.info.version, sha256 = %code.sha256, "plugin swapped in");
                        events.push(ReloadEvent {
                            plugin: entry.name.clone(),
                            old_version: previous.map(|p| p.code.info.version.clone()),
                            old_sha256: previous.map(|p| p.code.sha256.clone()),
                            new_version: Some(code.info.version.clone()),
                            new_sha256: Some(code.sha256.clone()),
                            error: None,
                        });
                    }
                    let version = match previous {
                        Some(p) if Arc::ptr_eq(&p.code, &code) && Arc::ptr_eq(&p.grant, &grant) => {
                            p.clone()
                        }
                        _ => Arc::new(PluginVersion { code, grant }),
                    };
                    versions.insert(entry.name.clone(), version);
                }
                Err(message) => {
                    tracing::error!(plugin = %entry.name, "plugin reload failed, the previous version keeps serving: {message}");
                    if let Some(p) = previous {
                        // The old code, under the new grant: a broken file must not keep a
                        // grant that plugins.toml narrowed alive.
                        let version = if Arc::ptr_eq(&p.grant, &grant) {
                            p.clone()
                        } else {
                            Arc::new(PluginVersion {
                                code: p.code.clone(),
                                grant: grant.clone(),
                            })
                        };
                        versions.insert(entry.name.clone(), version);
                    }
                    let already_reported = old.errors.get(&entry.name) == Some(&message);
                    if !already_reported {
                        events.push(ReloadEvent {
                            plugin: entry.name.clone(),
                            old_version: previous.map(|p| p.code.info.version.clone()),
                            old_sha256: previous.map(|p| p.code.sha256.clone()),
                            new_version: None,
                            new_sha256: None,
                            error: Some(message.clone()),
                        });
                    }
                    errors.insert(entry.name.clone(), message);
                }
            }
        }
        for slot in RoleSlot::ALL {
            if let Some(name) = manifest.roles.get(&slot) {
                check_role(&manifest, slot, name, &versions, &errors)?;
            }
        }
        Ok((
            Setup {
                manifest: Arc::new(manifest),
                versions,
                errors,
            },
            events,
        ))
    }
}

/// Loads every plugin `manifest` declares: the loaded versions, and why the others failed.
async fn load_all(
    engine: &Arc<PluginEngine>,
    manifest: &Manifest,
    secrets: &Arc<SecretStore>,
) -> (
    BTreeMap<String, Arc<PluginVersion>>,
    BTreeMap<String, String>,
) {
    let mut versions = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for entry in manifest.plugins.values() {
        let grant = Arc::new(Grant::new(entry.clone(), secrets.clone()));
        match load_code(engine, &grant).await {
            Ok(code) => {
                tracing::info!(plugin = %entry.name, version = %code.info.version, kind = %code.kind(), sha256 = %code.sha256, cached = code.cache == CacheOutcome::Hit, "plugin loaded");
                versions.insert(
                    entry.name.clone(),
                    Arc::new(PluginVersion {
                        code: Arc::new(code),
                        grant,
                    }),
                );
            }
            Err(message) => {
                tracing::warn!(plugin = %entry.name, "plugin could not be loaded: {message}");
                errors.insert(entry.name.clone(), message);
            }
        }
    }
    (versions, errors)
}

/// The code of `previous` when its file still has the same content, without recompiling.
async fn reuse_if_unchanged(
    previous: Option<&Arc<PluginVersion>>,
    entry: &PluginEntry,
) -> Option<Arc<LoadedCode>> {
    let previous = previous?;
    if previous.code.path != entry.path {
        return None;
    }
    if is_embedded(&entry.path) {
        // Built into the program: the same path is the same bytes.
        return Some(previous.code.clone());
    }
    let bytes = tokio::fs::read(&entry.path).await.ok()?;
    let sha = tokio::task::spawn_blocking(move || sha256_hex(&bytes))
        .await
        .ok()?;
    (sha == previous.code.sha256).then(|| previous.code.clone())
}

/// Whether two entries grant the same (so instances of the old grant may keep serving).
fn same_grant(a: &PluginEntry, b: &PluginEntry) -> bool {
    a.path == b.path
        && a.capabilities == b.capabilities
        && a.allowed_hosts == b.allowed_hosts
        && a.allowed_executables == b.allowed_executables
        && a.secrets == b.secrets
        && a.secret_files == b.secret_files
        && a.env == b.env
        && a.fallback == b.fallback
        && a.memory_limit_mb == b.memory_limit_mb
        && a.cpu_limit_ms == b.cpu_limit_ms
        && a.config == b.config
}

/// The grants of `old` that `new` replaced with narrower ones (or dropped), with what was taken
/// away. A grant that only widened, or whose config or limits changed, is not revoked: calls in
/// flight finish on it.
pub(crate) fn revoked_grants(old: &Setup, new: &Setup) -> Vec<(Arc<Grant>, String)> {
    let mut revoked = Vec::new();
    for (name, previous) in &old.versions {
        let next = new.versions.get(name);
        if next.is_some_and(|n| Arc::ptr_eq(&n.grant, &previous.grant)) {
            continue;
        }
        let why = match new.manifest.plugins.get(name) {
            None => Some("its whole table".to_string()),
            Some(entry) => narrowed(&previous.grant.entry, entry),
        };
        if let Some(why) = why {
            revoked.push((previous.grant.clone(), why));
        }
    }
    revoked
}

/// What `new` grants less than `old`, if anything (named for the log).
fn narrowed(old: &PluginEntry, new: &PluginEntry) -> Option<String> {
    fn lost<T: PartialEq + std::fmt::Display>(old: &[T], new: &[T]) -> Vec<String> {
        old.iter()
            .filter(|item| !new.contains(item))
            .map(ToString::to_string)
            .collect()
    }
    let capabilities: Vec<String> = old
        .capabilities
        .difference(&new.capabilities)
        .map(ToString::to_string)
        .collect();
    let executables: Vec<PathBuf> = old
        .allowed_executables
        .iter()
        .filter(|exe| !new.allowed_executables.contains(exe))
        .cloned()
        .collect();
    let parts = [
        ("capabilities", capabilities),
        (
            "allowed_hosts",
            lost(&old.allowed_hosts, &new.allowed_hosts),
        ),
        (
            "allowed_executables",
            executables
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        ),
        ("secrets", lost(&old.secrets, &new.secrets)),
        ("secret_files", lost(&old.secret_files, &new.secret_files)),
        ("env", lost(&old.env, &new.env)),
    ];
    let taken: Vec<String> = parts
        .into_iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(what, items)| format!("{what} {}", items.join(", ")))
        .collect();
    (!taken.is_empty()).then(|| taken.join("; "))
}

/// Fails when `name` (serving `slot`) is not loaded or is the wrong kind of plugin.
fn check_role(
    manifest: &Manifest,
    slot: RoleSlot,
    name: &str,
    versions: &BTreeMap<String, Arc<PluginVersion>>,
    errors: &BTreeMap<String, String>,
) -> Result<(), PluginHostError> {
    let path = manifest
        .plugins
        .get(name)
        .map(|e| e.path.clone())
        .unwrap_or_default();
    match versions.get(name) {
        None => Err(PluginHostError::Load {
            plugin: name.to_string(),
            path,
            message: errors
                .get(name)
                .cloned()
                .unwrap_or_else(|| "not loaded".into()),
        }),
        Some(v) if v.code.kind() != slot.kind() => Err(PluginHostError::Load {
            plugin: name.to_string(),
            path,
            message: format!(
                "[roles] {slot} needs a {} plugin, but {name} is a {} plugin (describe() says role {}); pick another plugin for {slot}",
                slot.kind(),
                v.code.kind(),
                v.code.info.kind
            ),
        }),
        Some(_) => Ok(()),
    }
}
