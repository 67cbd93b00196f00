//! [`PluginHost`]: loads the plugins `plugins.toml` names, keeps the current version of each in a
//! registry, and swaps that registry atomically on reload.
//!
//! The registry is one immutable [`Setup`] behind an `RwLock<Arc<..>>`: a call clones the `Arc` (a
//! read lock held for a pointer copy) and works on that snapshot, so a reload never blocks or
//! disturbs a call in flight, and the next call sees the new setup. Reloads are serialized.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use tokio::sync::broadcast;

use super::call::{LlmHandle, PolicyHandle, SttHandle, TtsHandle};
use super::engine::{CacheOutcome, PluginEngine};
use super::error::PluginHostError;
use super::manifest::{Manifest, ManifestError, PluginEntry, PluginKind, RoleSlot};
use super::redact::Redactor;
use super::sandbox::{Grant, SecretStore};
use super::version::{LoadedCode, PluginInfoSummary, PluginVersion, load_code};
use super::watch::PluginWatcher;
use super::wit::Speaker;

/// How to start the plugin host.
#[derive(Debug, Clone, Default)]
pub struct PluginHostOptions {
    /// The `plugins.toml` to load (and watch).
    pub manifest_path: PathBuf,
    /// Overrides `[studio] plugin_dir` (e.g. from the `PLUGIN_DIR` environment variable).
    pub plugin_dir_override: Option<PathBuf>,
    /// The compile cache folder; `None` for `<target>/plugin-cache` next to the built plugins.
    pub cache_dir: Option<PathBuf>,
    /// The key that tags compile cache entries (kept outside the cache folder, mode 0600,
    /// created on first use); `None` for `<cache_dir>.key` beside the folder.
    pub cache_key_file: Option<PathBuf>,
    /// Whether to watch `plugins.toml` and the plugin files and reload on change.
    pub watch: bool,
    /// Roles chosen outside `plugins.toml`, over its `[roles]`: with `USE_REAL_ADAPTERS=true`, the
    /// real adapters the provider settings name. Each must be declared in `plugins.toml`.
    pub role_overrides: BTreeMap<RoleSlot, String>,
    /// Where `${VAR}` in `plugins.toml` and declared secrets are read from (the server passes the
    /// process environment over `.env`); None: the process environment.
    pub environment: Option<Arc<HashMap<String, String>>>,
}

impl PluginHostOptions {
    /// The value of variable `name` in the configured environment.
    fn variable(&self, name: &str) -> Option<String> {
        match &self.environment {
            Some(environment) => environment.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }

    /// Loads `plugins.toml` with `${VAR}` expanded and the role overrides applied.
    fn load_manifest(&self) -> Result<Manifest, ManifestError> {
        let mut manifest = Manifest::load_with_environment(
            &self.manifest_path,
            self.plugin_dir_override.as_deref(),
            &|name| self.variable(name),
        )?;
        manifest.override_roles(&self.role_overrides, &self.manifest_path)?;
        Ok(manifest)
    }

    /// What `manifest` lets plugins read from the environment: the values of every variable
    /// some plugin declares (`secrets`, `secret_files`, `env`), and the names among them that
    /// are not secret (declared only in `env` or `secret_files`), which are not redacted.
    fn declared_environment(&self, manifest: &Manifest) -> DeclaredEnvironment {
        let entries = || manifest.plugins.values();
        let values = entries()
            .flat_map(|e| e.secrets.iter().chain(&e.secret_files).chain(&e.env))
            .filter_map(|name| self.variable(name).map(|value| (name.clone(), value)))
            .collect();
        let secret: BTreeSet<&String> = entries().flat_map(|e| &e.secrets).collect();
        let public = entries()
            .flat_map(|e| e.env.iter().chain(&e.secret_files))
            .filter(|name| !secret.contains(name))
            .cloned()
            .collect();
        (values, public)
    }
}

/// Values of the declared variables, and the names among them that are not secret.
type DeclaredEnvironment = (HashMap<String, String>, BTreeSet<String>);

/// One plugin as `/health` and the settings API show it.
#[derive(Debug, Clone)]
pub struct PluginStatus {
    /// Its name in `plugins.toml`.
    pub name: String,
    /// The roles it serves now (empty when it is only declared or a fallback).
    pub roles: Vec<RoleSlot>,
    /// Its kind, when loaded.
    pub kind: Option<PluginKind>,
    /// Its own version from `describe()`, when loaded.
    pub version: Option<String>,
    /// The contract version from `describe()`, when loaded.
    pub contract: Option<String>,
    /// The sha256 of the loaded .wasm in hex, when loaded.
    pub sha256: Option<String>,
    /// The .wasm file.
    pub path: PathBuf,
    /// When the serving version was loaded.
    pub loaded_at: Option<SystemTime>,
    /// Whether the serving version came from the compile cache.
    pub from_cache: bool,
    /// The last load or reload error; the previous version (if any) keeps serving.
    pub last_error: Option<String>,
    /// Plugins tried after this one.
    pub fallback: Vec<String>,
    /// Everything `describe()` said, when loaded.
    pub info: Option<PluginInfoSummary>,
}

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

/// The plugin runtime of one server: engine, registry, hot reload, secrets.
pub struct PluginHost {
    pub(crate) engine: Arc<PluginEngine>,
    setup: RwLock<Arc<Setup>>,
    secrets: Arc<SecretStore>,
    reloads: broadcast::Sender<ReloadEvent>,
    options: PluginHostOptions,
    reload_lock: tokio::sync::Mutex<()>,
    watcher: Mutex<Option<PluginWatcher>>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("manifest", &self.options.manifest_path)
            .finish_non_exhaustive()
    }
}

impl PluginHost {
    /// Loads `plugins.toml` and every plugin it declares, and starts watching when asked.
    ///
    /// Fails when the manifest is invalid or a plugin that a role (or a role's fallback) needs
    /// cannot be loaded; other declared plugins that fail are reported in [`PluginHost::plugins`].
    pub async fn start(options: PluginHostOptions) -> Result<Arc<PluginHost>, PluginHostError> {
        let manifest = options.load_manifest()?;
        let cache_dir = options.cache_dir.clone().unwrap_or_else(default_cache_dir);
        let engine = Arc::new(PluginEngine::new(
            cache_dir,
            options.cache_key_file.clone(),
        )?);
        let secrets = Arc::new(SecretStore::default());
        super::redact::redact_the_log_with(secrets.redactor());
        let (values, public) = options.declared_environment(&manifest);
        secrets.set_environment(values, public);

        let mut versions = BTreeMap::new();
        let mut errors = BTreeMap::new();
        for entry in manifest.plugins.values() {
            let grant = Arc::new(Grant::new(entry.clone(), secrets.clone()));
            match load_code(&engine, &grant).await {
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
        for slot in RoleSlot::ALL {
            for name in manifest.chain(slot) {
                check_role(&manifest, slot, &name, &versions, &errors)?;
            }
        }
        let (reloads, _) = broadcast::channel(64);
        let host = Arc::new(PluginHost {
            engine,
            setup: RwLock::new(Arc::new(Setup {
                manifest: Arc::new(manifest),
                versions,
                errors,
            })),
            secrets,
            reloads,
            options,
            reload_lock: tokio::sync::Mutex::new(()),
            watcher: Mutex::new(None),
        });
        if host.options.watch {
            let watcher = PluginWatcher::start(&host)?;
            *host.watcher.lock().unwrap_or_else(PoisonError::into_inner) = Some(watcher);
        }
        Ok(host)
    }

    /// Every declared plugin with its serving version and last error.
    pub fn plugins(&self) -> Vec<PluginStatus> {
        let setup = self.snapshot();
        setup
            .manifest
            .plugins
            .values()
            .map(|entry| {
                let roles = RoleSlot::ALL
                    .into_iter()
                    .filter(|slot| setup.manifest.roles.get(slot) == Some(&entry.name))
                    .collect();
                let version = setup.versions.get(&entry.name);
                let code = version.map(|v| &v.code);
                PluginStatus {
                    name: entry.name.clone(),
                    roles,
                    kind: code.map(|c| c.kind()),
                    version: code.map(|c| c.info.version.clone()),
                    contract: code.map(|c| c.info.contract.clone()),
                    sha256: code.map(|c| c.sha256.clone()),
                    path: code.map_or_else(|| entry.path.clone(), |c| c.path.clone()),
                    loaded_at: code.map(|c| c.loaded_at),
                    from_cache: code.is_some_and(|c| c.cache == CacheOutcome::Hit),
                    last_error: setup.errors.get(&entry.name).cloned(),
                    fallback: entry.fallback.clone(),
                    info: code.map(|c| c.info.clone()),
                }
            })
            .collect()
    }

    /// Whether every configured role has a loaded plugin of the right kind.
    pub fn is_ready(&self) -> bool {
        let setup = self.snapshot();
        setup.manifest.roles.iter().all(|(slot, name)| {
            setup
                .versions
                .get(name)
                .is_some_and(|v| v.code.kind() == slot.kind())
        })
    }

    /// Reload results as they happen (hot reload, or [`PluginHost::reload`]).
    pub fn reloads(&self) -> broadcast::Receiver<ReloadEvent> {
        self.reloads.subscribe()
    }

    /// The redactor of every secret value the plugins may be granted (environment and run-time
    /// keys), kept current; the recorder and anything else that writes plugin text use it.
    pub fn redactor(&self) -> Arc<Redactor> {
        self.secrets.redactor().clone()
    }

    /// Sets a secret at run time (API keys from the settings dialog); plugins that declare `name` see it.
    pub fn set_secret(&self, name: &str, value: impl Into<String>) {
        self.secrets.set_runtime(name, value.into());
        tracing::info!(secret = name, "secret set at run time");
    }

    /// The compile cache folder in use.
    pub fn cache_dir(&self) -> &Path {
        self.engine.cache_dir()
    }

    /// A handle for speech-to-text calls.
    pub fn stt(self: &Arc<Self>) -> SttHandle {
        SttHandle::new(self.clone(), RoleSlot::Stt)
    }

    /// A handle for text-to-speech calls.
    pub fn tts(self: &Arc<Self>) -> TtsHandle {
        TtsHandle::new(self.clone(), RoleSlot::Tts)
    }

    /// A handle for the LLM of `speaker` (`claude` or `guest`; `you` has none and its calls fail).
    pub fn llm(self: &Arc<Self>, speaker: Speaker) -> LlmHandle {
        let slot = match speaker {
            Speaker::Claude | Speaker::You => RoleSlot::Claude,
            Speaker::Guest => RoleSlot::Guest,
        };
        let handle = LlmHandle::new(self.clone(), slot);
        if speaker == Speaker::You {
            handle.without_role()
        } else {
            handle
        }
    }

    /// A handle for turn-policy calls.
    pub fn policy(self: &Arc<Self>) -> PolicyHandle {
        PolicyHandle::new(self.clone(), RoleSlot::Policy)
    }

    /// The current registry snapshot.
    pub(crate) fn snapshot(&self) -> Arc<Setup> {
        self.setup
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Paths hot reload watches: the manifest and every plugin file.
    pub(crate) fn watched_paths(&self) -> (PathBuf, Vec<PathBuf>) {
        let setup = self.snapshot();
        let files = setup
            .manifest
            .plugins
            .values()
            .map(|e| e.path.clone())
            .collect();
        (self.options.manifest_path.clone(), files)
    }

    /// Re-reads `plugins.toml` and every plugin file now, swapping in what changed and keeping the
    /// old version of anything broken. Returns the events it also broadcast.
    pub async fn reload(&self) -> Vec<ReloadEvent> {
        let _serial = self.reload_lock.lock().await;
        let old = self.snapshot();
        let events = match self.build_setup(&old).await {
            Ok((setup, events, (values, public))) => {
                // Only an accepted manifest changes anything, and all of it at once: the secrets
                // snapshot, then the registry; then the grants it narrowed are revoked.
                let revoked = revoked_grants(&old, &setup);
                self.secrets.set_environment(values, public);
                *self.setup.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(setup);
                for (grant, why) in revoked {
                    tracing::warn!(
                        plugin = grant.name(),
                        "plugins.toml took {why} away from the plugin; its calls in flight are ended"
                    );
                    grant.revoke();
                }
                events
            }
            Err(error) => {
                tracing::error!(
                    "plugins.toml change refused, the previous setup keeps serving: {error}"
                );
                vec![ReloadEvent {
                    plugin: "plugins.toml".into(),
                    old_version: None,
                    old_sha256: None,
                    new_version: None,
                    new_sha256: None,
                    error: Some(error.to_string()),
                }]
            }
        };
        for event in &events {
            // Nobody listening is fine: the registry is already updated.
            let _ = self.reloads.send(event.clone());
        }
        events
    }

    /// The setup after a reload, from the old one and the files on disk.
    /// Changes nothing itself: the caller applies the environment snapshot it returns only
    /// when the whole setup is accepted.
    async fn build_setup(
        &self,
        old: &Setup,
    ) -> Result<(Setup, Vec<ReloadEvent>, DeclaredEnvironment), PluginHostError> {
        let manifest = self.options.load_manifest()?;
        let environment = self.options.declared_environment(&manifest);
        let mut versions = BTreeMap::new();
        let mut errors = BTreeMap::new();
        let mut events = Vec::new();
        for entry in manifest.plugins.values() {
            let previous = old.versions.get(&entry.name);
            let grant = match previous {
                Some(p) if same_grant(&p.grant.entry, entry) => p.grant.clone(),
                _ => Arc::new(Grant::new(entry.clone(), self.secrets.clone())),
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
            environment,
        ))
    }
}

impl Drop for PluginHost {
    fn drop(&mut self) {
        if let Some(watcher) = self
            .watcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            watcher.stop();
        }
    }
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
    let bytes = tokio::fs::read(&entry.path).await.ok()?;
    let sha = tokio::task::spawn_blocking(move || super::engine::sha256_hex(&bytes))
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
fn revoked_grants(old: &Setup, new: &Setup) -> Vec<(Arc<Grant>, String)> {
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

/// `<target>/plugin-cache`, next to the built plugins.
fn default_cache_dir() -> PathBuf {
    let built = Path::new(super::BUILT_PLUGIN_DIR);
    built.parent().unwrap_or(built).join("plugin-cache")
}
