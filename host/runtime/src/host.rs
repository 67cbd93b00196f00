//! [`PluginHost`], the facade a server keeps: starts the [`Registry`] from `plugins.toml`, hands
//! out call handles, reports status, holds the secrets, and reloads (on request, or when the
//! watcher asks over its channel). Reloads are serialized.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::SystemTime;

use tokio::sync::{broadcast, mpsc, watch};

use super::call::{LlmHandle, PolicyHandle, SttHandle, TtsHandle};
use super::engine::{CacheOutcome, PluginEngine};
use super::error::PluginHostError;
use super::manifest::{Manifest, ManifestError, PluginKind, RoleSlot};
use super::metrics;
use super::redact::Redactor;
use super::registry::{Registry, ReloadEvent, Setup, revoked_grants};
use super::secrets::SecretStore;
use super::version::PluginInfoSummary;
use super::watch::{
    Fingerprints, HotReloadStats, PluginWatcher, ReloadRequest, WatchedPaths, fingerprints,
};

/// Whose LLM a handle serves: implemented by the studio's `speakers::Ai` (claude, guest) and by
/// nothing that could mean the human. A trait so the plugin runtime needs nothing of the studio's
/// vocabulary (the vocabulary depends on the runtime's contract types, not the other way round).
pub trait LlmRole {
    /// The `[roles]` slot of this LLM: `claude` or `guest`.
    fn role_slot(self) -> RoleSlot;
}

/// How to start the plugin host.
#[derive(Debug, Clone, Default)]
pub struct PluginHostOptions {
    /// The `plugins.toml` to load (and watch).
    pub manifest_path: PathBuf,
    /// `plugins.toml`'s text when it is built into the program rather than a file: it is parsed
    /// instead of reading `manifest_path` (which then only names it in messages), and there is
    /// no file to watch.
    pub built_in_manifest: Option<&'static str>,
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
        let environment = |name: &str| self.variable(name);
        let mut manifest = match self.built_in_manifest {
            Some(text) => Manifest::parse_with_environment(
                text,
                &self.manifest_path,
                self.plugin_dir_override.as_deref(),
                &environment,
            )?,
            None => Manifest::load_with_environment(
                &self.manifest_path,
                self.plugin_dir_override.as_deref(),
                &environment,
            )?,
        };
        manifest.override_roles(&self.role_overrides, &self.manifest_path)?;
        Ok(manifest)
    }

    /// The manifest file hot reload watches: none when it is built in.
    fn watched_manifest(&self) -> Option<PathBuf> {
        self.built_in_manifest
            .is_none()
            .then(|| self.manifest_path.clone())
    }

    /// With hot reload on, the fingerprints of the watched files a load is about to read: the
    /// manifest file (`manifest` None) or the plugin files `manifest` names. Taken *before* the
    /// read, so a write racing it leaves a file that differs from them and reloads again, rather
    /// than one the watcher would take as already loaded.
    fn look_before_reading(
        &self,
        manifest: Option<&Manifest>,
        known: &Fingerprints,
    ) -> Fingerprints {
        if !self.watch {
            return Fingerprints::new();
        }
        match manifest {
            None => fingerprints(self.watched_manifest().iter(), known),
            Some(manifest) => fingerprints(Registry::files_of(manifest).iter(), known),
        }
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

/// What [`PluginHost::inspect`] found: the validated manifest (roles, grants, fallbacks) and
/// every plugin it declares.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// `plugins.toml` as accepted, with the role overrides applied.
    pub manifest: Manifest,
    /// Each declared plugin: loaded (version, sha256, `describe()`), or why not.
    pub plugins: Vec<PluginStatus>,
    /// The compile cache folder the plugins were compiled through.
    pub cache_dir: PathBuf,
}

/// The plugin runtime of one server: engine, registry, hot reload, secrets.
pub struct PluginHost {
    registry: Arc<Registry>,
    secrets: Arc<SecretStore>,
    reloads: broadcast::Sender<ReloadEvent>,
    options: PluginHostOptions,
    reload_lock: tokio::sync::Mutex<()>,
    /// What the watcher watches, republished after every reload.
    watched: watch::Sender<WatchedPaths>,
    /// The watcher and the task that serves its reload requests, while hot reload runs.
    watcher: Mutex<Option<(PluginWatcher, tokio::task::JoinHandle<()>)>>,
    /// What hot reload has done: batches compared, changes seen, reload passes run.
    stats: Arc<watch::Sender<HotReloadStats>>,
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
        // What the watched files hold, looked at before they are read (see `look_before_reading`).
        let mut prints = options.look_before_reading(None, &Fingerprints::new());
        let manifest = options.load_manifest()?;
        prints.extend(options.look_before_reading(Some(&manifest), &Fingerprints::new()));
        let cache_dir = options.cache_dir.clone().unwrap_or_else(default_cache_dir);
        let engine = Arc::new(PluginEngine::new(
            cache_dir,
            options.cache_key_file.clone(),
        )?);
        let secrets = Arc::new(SecretStore::default());
        super::redact::redact_the_log_with(secrets.redactor());
        let (values, public) = options.declared_environment(&manifest);
        secrets.set_environment(values, public);

        let registry = Arc::new(Registry::load(engine, manifest, &secrets).await?);
        let (reloads, _) = broadcast::channel(64);
        let watched = WatchedPaths {
            manifest: options.watched_manifest(),
            files: registry.plugin_files(),
            fingerprints: prints,
        };
        // A built-in manifest of embedded plugins has nothing that could change.
        let watch = options.watch && !watched.is_empty();
        let host = Arc::new(PluginHost {
            registry,
            secrets,
            reloads,
            options,
            reload_lock: tokio::sync::Mutex::new(()),
            watched: watch::Sender::new(watched),
            watcher: Mutex::new(None),
            stats: Arc::new(watch::Sender::new(HotReloadStats::default())),
        });
        if watch {
            let (requests, served) = mpsc::channel(1);
            let watcher =
                PluginWatcher::start(host.watched.subscribe(), requests, host.stats.clone())?;
            let server = tokio::spawn(serve_reload_requests(Arc::downgrade(&host), served));
            *host.watcher.lock().unwrap_or_else(PoisonError::into_inner) = Some((watcher, server));
        }
        Ok(host)
    }

    /// Loads `plugins.toml` and every plugin it declares (each one's `describe()` is called) and
    /// reports them all, without serving anything: no watcher, no role check to stop at. A
    /// plugin a role needs that failed is in its status's `last_error`, like any other; only a
    /// manifest that cannot be used, or an engine that cannot start, is an error.
    pub async fn inspect(options: PluginHostOptions) -> Result<Inspection, PluginHostError> {
        let manifest = options.load_manifest()?;
        let cache_dir = options.cache_dir.clone().unwrap_or_else(default_cache_dir);
        let engine = Arc::new(PluginEngine::new(
            cache_dir.clone(),
            options.cache_key_file.clone(),
        )?);
        let secrets = Arc::new(SecretStore::default());
        let registry = Registry::inspect(engine, manifest, &secrets).await;
        let setup = registry.snapshot();
        Ok(Inspection {
            plugins: statuses(&setup),
            manifest: Manifest::clone(&setup.manifest),
            cache_dir,
        })
    }

    /// Every declared plugin with its serving version and last error.
    pub fn plugins(&self) -> Vec<PluginStatus> {
        statuses(&self.snapshot())
    }

    /// Each called plugin's health since the start: calls, errors, traps and the last error.
    pub fn health(&self) -> std::collections::BTreeMap<String, super::health::PluginHealth> {
        self.registry.health.snapshot()
    }

    /// The plugin `plugins.toml` names for `slot` now (what a fallback stands in for).
    pub fn role_plugin(&self, slot: RoleSlot) -> Option<String> {
        self.snapshot().manifest.roles.get(&slot).cloned()
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

    /// What hot reload has done so far, kept current: event batches the watcher compared, those
    /// in which a watched file's contents had changed, and reload passes run.
    pub fn hot_reload(&self) -> watch::Receiver<HotReloadStats> {
        self.stats.subscribe()
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
        self.registry.engine.cache_dir()
    }

    /// A handle for speech-to-text calls.
    pub fn stt(self: &Arc<Self>) -> SttHandle {
        SttHandle::new(self.registry.clone(), RoleSlot::Stt)
    }

    /// A handle for text-to-speech calls.
    pub fn tts(self: &Arc<Self>) -> TtsHandle {
        TtsHandle::new(self.registry.clone(), RoleSlot::Tts)
    }

    /// A handle for the LLM of `ai`. Only the studio's AIs implement [`LlmRole`] (the host's
    /// `speakers::Ai`, whose docs show that asking for the human's LLM does not compile).
    pub fn llm(self: &Arc<Self>, ai: impl LlmRole) -> LlmHandle {
        LlmHandle::new(self.registry.clone(), ai.role_slot())
    }

    /// A handle for turn-policy calls.
    pub fn policy(self: &Arc<Self>) -> PolicyHandle {
        PolicyHandle::new(self.registry.clone(), RoleSlot::Policy)
    }

    /// The current registry snapshot.
    pub(crate) fn snapshot(&self) -> Arc<Setup> {
        self.registry.snapshot()
    }

    /// The engine the plugins run on (`conformance` reads a component's imports with it).
    pub(crate) fn engine(&self) -> &Arc<PluginEngine> {
        &self.registry.engine
    }

    /// Re-reads `plugins.toml` and every plugin file now, swapping in what changed and keeping the
    /// old version of anything broken. Returns the events it also broadcast.
    pub async fn reload(&self) -> Vec<ReloadEvent> {
        let _serial = self.reload_lock.lock().await;
        let old = self.snapshot();
        let known = self.watched.borrow().fingerprints.clone();
        let mut prints = self.options.look_before_reading(None, &known);
        let rebuilt = match self.options.load_manifest() {
            Ok(manifest) => {
                prints.extend(self.options.look_before_reading(Some(&manifest), &known));
                let environment = self.options.declared_environment(&manifest);
                self.registry
                    .rebuild(&old, manifest, &self.secrets)
                    .await
                    .map(|(setup, events)| (setup, events, environment))
            }
            Err(error) => Err(error.into()),
        };
        let events = match rebuilt {
            Ok((setup, events, (values, public))) => {
                // Only an accepted manifest changes anything, and all of it at once: the secrets
                // snapshot, then the registry; then the grants it narrowed are revoked.
                let revoked = revoked_grants(&old, &setup);
                self.secrets.set_environment(values, public);
                self.registry.replace(setup);
                self.watched.send_replace(WatchedPaths {
                    manifest: self.options.watched_manifest(),
                    files: self.registry.plugin_files(),
                    fingerprints: prints,
                });
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
        self.stats.send_modify(|s| s.reloads += 1);
        metrics::reload_pass();
        for event in &events {
            metrics::reloaded(event);
            // Nobody listening is fine: the registry is already updated.
            let _ = self.reloads.send(event.clone());
        }
        events
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
            watcher.0.stop();
            watcher.1.abort();
        }
    }
}

/// Every plugin `setup` declares, with its loaded version or why it failed.
fn statuses(setup: &Setup) -> Vec<PluginStatus> {
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

/// Reloads each time the watcher asks, while the host lives. The channel holds one request: a
/// change seen while a request waits is covered by the reload that request starts.
async fn serve_reload_requests(
    host: Weak<PluginHost>,
    mut requests: mpsc::Receiver<ReloadRequest>,
) {
    while requests.recv().await.is_some() {
        let Some(host) = host.upgrade() else { return };
        let events = host.reload().await;
        tracing::debug!(changes = events.len(), "hot reload pass finished");
    }
}

/// `<target>/plugin-cache`, next to the built plugins.
fn default_cache_dir() -> PathBuf {
    let built = Path::new(super::BUILT_PLUGIN_DIR);
    built.parent().unwrap_or(built).join("plugin-cache")
}
