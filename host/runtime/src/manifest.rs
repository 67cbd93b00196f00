//! `plugins.toml`: which plugin fills which role, and what each plugin may do.
//!
//! The file is parsed once into typed structs and validated as a whole, so a broken edit is refused
//! before anything is swapped. Unknown keys are errors (a typo in `capabilites` must not silently
//! grant nothing). The module reads no environment variables: the caller passes overrides in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::embedded::default_plugin_dir;

mod deadlines;
mod hosts;
mod kinds;
mod process_rules;
mod variables;
pub use deadlines::{
    CallBudget, DEFAULT_CPU_PER_AUDIO_SECOND_MS, DEFAULT_CPU_PER_EVENT_MS, DEFAULT_LLM_LINE_MS,
    DEFAULT_POLICY_MS, DEFAULT_STT_IDLE_MS, DEFAULT_TTS_CLAUSE_MS, Deadlines,
};
pub use hosts::{HostPattern, UrlOrigin};
pub use kinds::{Capability, PluginKind, RoleSlot};
pub use process_rules::{
    ArgMismatch, ArgPattern, ArgWord, ProcessLimits, ProcessRules, forbidden_env,
};
use variables::{declared_lookup, expand_config, expand_variables};

/// Memory a plugin instance may grow to when neither the plugin nor `[studio]` says otherwise.
/// It holds a Python plugin too: `plugins/whisper-py` (CPython inside the component) peaked at
/// 16 MiB on a 29 s utterance and runs in as little as 17 (the `python_plugin` bench).
pub const DEFAULT_MEMORY_LIMIT_MB: u32 = 64;
/// Guest CPU time one call may use when neither the plugin nor `[studio]` says otherwise.
pub const DEFAULT_CPU_LIMIT_MS: u64 = 1000;

/// One `[plugins.NAME]` table, validated, with its path resolved.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// The table's name.
    pub name: String,
    /// The .wasm file, absolute or relative to the process's working folder.
    pub path: PathBuf,
    /// Granted capabilities.
    pub capabilities: BTreeSet<Capability>,
    /// Where `http` and `websocket` may connect.
    pub allowed_hosts: Vec<HostPattern>,
    /// Exact paths `process` may start.
    pub allowed_executables: Vec<PathBuf>,
    /// `[plugins.NAME.process]`: the arguments, environment and limits of those children.
    pub process: ProcessRules,
    /// Names of the secrets (environment variables / runtime keys) this plugin may read.
    pub secrets: Vec<String>,
    /// Secrets whose value is a file path (GOOGLE_APPLICATION_CREDENTIALS): the plugin reads the
    /// file's contents, since it has no file access of its own.
    pub secret_files: Vec<String>,
    /// Variables that are not secret (endpoints, base URLs, model names, paths): the plugin may
    /// read them like secrets and use them in `${VAR}`, and they are not redacted.
    pub env: Vec<String>,
    /// Plugins to try, in order, when this one fails.
    pub fallback: Vec<String>,
    /// Memory cap of one instance.
    pub memory_limit_mb: u32,
    /// Guest CPU time a call may use beyond what it earns (see [`CallBudget`]).
    pub cpu_limit_ms: u64,
    /// Call deadlines and what tops up a streaming call's CPU budget.
    pub budget: CallBudget,
    /// The free `config` table.
    pub config: toml::Table,
}

impl PluginEntry {
    /// Whether `capability` is granted.
    pub fn grants(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    /// One `config` value rendered for `config.get`: strings as they are, numbers and booleans in TOML
    /// notation, arrays and tables as JSON.
    pub fn config_value(&self, key: &str) -> Option<String> {
        self.config.get(key).map(render_config_value)
    }

    /// Every `config` value rendered as `config_value` does, sorted by key.
    pub fn config_entries(&self) -> Vec<(String, String)> {
        // toml::Table is a BTreeMap unless `preserve_order` is on; sort anyway so the contract holds.
        let mut entries: Vec<(String, String)> = self
            .config
            .iter()
            .map(|(k, v)| (k.clone(), render_config_value(v)))
            .collect();
        entries.sort();
        entries
    }
}

fn render_config_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(_)
        | toml::Value::Float(_)
        | toml::Value::Boolean(_)
        | toml::Value::Datetime(_) => value.to_string(),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
        }
    }
}

/// The whole of `plugins.toml`, validated.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The folder relative plugin paths were resolved against.
    pub plugin_dir: PathBuf,
    /// Which plugin each role uses.
    pub roles: BTreeMap<RoleSlot, String>,
    /// Every declared plugin, by name.
    pub plugins: BTreeMap<String, PluginEntry>,
}

/// Why `plugins.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The manifest file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys or wrong types.
    #[error("{path} is not a valid plugins.toml: {message}")]
    Parse {
        /// The manifest file.
        path: PathBuf,
        /// What the parser said, with the line.
        message: String,
    },
    /// The file parses but does not add up (unknown plugin, bad capability use...).
    #[error("{path}: {message}")]
    Invalid {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    studio: RawStudio,
    #[serde(default)]
    roles: RawRoles,
    #[serde(default)]
    plugins: BTreeMap<String, RawPlugin>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudio {
    #[serde(default)]
    plugin_dir: String,
    memory_limit_mb: Option<u32>,
    cpu_limit_ms: Option<u64>,
    cpu_per_audio_second_ms: Option<u64>,
    cpu_per_event_ms: Option<u64>,
    #[serde(default)]
    deadlines: deadlines::RawDeadlines,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    stt: Option<String>,
    tts: Option<String>,
    claude: Option<String>,
    guest: Option<String>,
    policy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    path: String,
    #[serde(default)]
    capabilities: Vec<Capability>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    allowed_executables: Vec<String>,
    process: Option<process_rules::RawProcess>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    secret_files: Vec<String>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    fallback: Vec<String>,
    memory_limit_mb: Option<u32>,
    cpu_limit_ms: Option<u64>,
    cpu_per_audio_second_ms: Option<u64>,
    cpu_per_event_ms: Option<u64>,
    #[serde(default)]
    deadlines: deadlines::RawDeadlines,
    #[serde(default)]
    config: toml::Table,
}

impl Manifest {
    /// Reads and validates `path`. `plugin_dir_override` (e.g. from `PLUGIN_DIR`) beats `[studio] plugin_dir`.
    pub fn load(
        path: &Path,
        plugin_dir_override: Option<&Path>,
    ) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Manifest::parse(&text, path, plugin_dir_override)
    }

    /// Reads and validates `path`, expanding `${VAR}` in allow-lists from `environment`.
    pub fn load_with_environment(
        path: &Path,
        plugin_dir_override: Option<&Path>,
        environment: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Manifest::parse_with_environment(&text, path, plugin_dir_override, environment)
    }

    /// Validates manifest `text`; `path` names it in errors and anchors a relative `plugin_dir`.
    /// `${VAR}` in allow-lists is read from the process environment.
    pub fn parse(
        text: &str,
        path: &Path,
        plugin_dir_override: Option<&Path>,
    ) -> Result<Manifest, ManifestError> {
        Manifest::parse_with_environment(text, path, plugin_dir_override, &|name| {
            std::env::var(name).ok()
        })
    }

    /// [`Manifest::parse`] with `${VAR}` / `${VAR:-default}` in `allowed_hosts` and
    /// `allowed_executables` read from `environment`.
    pub fn parse_with_environment(
        text: &str,
        path: &Path,
        plugin_dir_override: Option<&Path>,
        environment: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Manifest, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let invalid = |message: String| ManifestError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let plugin_dir = match plugin_dir_override {
            Some(dir) => dir.to_path_buf(),
            None if raw.studio.plugin_dir.is_empty() => default_plugin_dir().to_path_buf(),
            None => base.join(&raw.studio.plugin_dir),
        };
        let default_memory = raw
            .studio
            .memory_limit_mb
            .unwrap_or(DEFAULT_MEMORY_LIMIT_MB);
        let default_cpu = raw.studio.cpu_limit_ms.unwrap_or(DEFAULT_CPU_LIMIT_MS);
        let studio_budget = CallBudget::over(
            CallBudget::default(),
            &raw.studio.deadlines,
            raw.studio.cpu_per_audio_second_ms,
            raw.studio.cpu_per_event_ms,
            "[studio]",
        )
        .map_err(&invalid)?;

        let mut plugins = BTreeMap::new();
        for (name, raw_plugin) in raw.plugins {
            let budget = CallBudget::over(
                studio_budget,
                &raw_plugin.deadlines,
                raw_plugin.cpu_per_audio_second_ms,
                raw_plugin.cpu_per_event_ms,
                &format!("[plugins.{name}]"),
            )
            .map_err(&invalid)?;
            let mut entry = validate_plugin(
                &name,
                raw_plugin,
                &plugin_dir,
                (default_memory, default_cpu),
                environment,
            )
            .map_err(&invalid)?;
            entry.budget = budget;
            plugins.insert(name, entry);
        }
        for entry in plugins.values() {
            for other in &entry.fallback {
                if !plugins.contains_key(other) {
                    return Err(invalid(format!(
                        "[plugins.{}] fallback names `{other}`, which has no [plugins.{other}] table",
                        entry.name
                    )));
                }
                if other == &entry.name {
                    return Err(invalid(format!(
                        "[plugins.{}] lists itself as its own fallback",
                        entry.name
                    )));
                }
            }
        }

        let mut roles = BTreeMap::new();
        let raw_roles = [
            (RoleSlot::Stt, raw.roles.stt),
            (RoleSlot::Tts, raw.roles.tts),
            (RoleSlot::Claude, raw.roles.claude),
            (RoleSlot::Guest, raw.roles.guest),
            (RoleSlot::Policy, raw.roles.policy),
        ];
        for (slot, name) in raw_roles {
            let Some(name) = name.filter(|n| !n.is_empty()) else {
                continue;
            };
            if !plugins.contains_key(&name) {
                return Err(invalid(format!(
                    "[roles] {slot} = \"{name}\", but there is no [plugins.{name}] table; add one or pick one of: {}",
                    plugins.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            roles.insert(slot, name);
        }
        Ok(Manifest {
            plugin_dir,
            roles,
            plugins,
        })
    }

    /// Puts the named plugins in their roles (over `[roles]`): with `USE_REAL_ADAPTERS=true` the
    /// provider settings pick the real adapters. Each must have a `[plugins.NAME]` table.
    pub fn override_roles(
        &mut self,
        overrides: &BTreeMap<RoleSlot, String>,
        path: &Path,
    ) -> Result<(), ManifestError> {
        for (slot, name) in overrides {
            if !self.plugins.contains_key(name) {
                return Err(ManifestError::Invalid {
                    path: path.to_path_buf(),
                    message: format!(
                        "USE_REAL_ADAPTERS=true puts `{name}` in the {slot} role, but there is no [plugins.{name}] table; add it (see the README) or set USE_REAL_ADAPTERS=false"
                    ),
                });
            }
            self.roles.insert(*slot, name.clone());
        }
        Ok(())
    }

    /// The plugins a role may use, in order: its plugin, then that plugin's fallbacks.
    pub fn chain(&self, slot: RoleSlot) -> Vec<String> {
        let Some(first) = self.roles.get(&slot) else {
            return Vec::new();
        };
        let mut chain = vec![first.clone()];
        if let Some(entry) = self.plugins.get(first) {
            for name in &entry.fallback {
                if !chain.contains(name) {
                    chain.push(name.clone());
                }
            }
        }
        chain
    }
}

/// `scheme://authority` of a URL (a variable such as WHISPER_ENDPOINT holds a whole URL; an
/// allowed host is only its origin).
fn origin_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            &url[..scheme.len() + 3 + authority_end]
        }
        None => url,
    }
}

/// An executable named by a variable without a folder (PIPER_PATH=piper), found on PATH.
pub(crate) fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn validate_plugin(
    name: &str,
    raw: RawPlugin,
    plugin_dir: &Path,
    (default_memory, default_cpu): (u32, u64),
    environment: &dyn Fn(&str) -> Option<String>,
) -> Result<PluginEntry, String> {
    if raw.path.is_empty() {
        return Err(format!(
            "[plugins.{name}] path is empty; give the .wasm file's name"
        ));
    }
    let path = Path::new(&raw.path);
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        plugin_dir.join(path)
    };
    if let Some(both) = raw.env.iter().find(|n| raw.secrets.contains(n)) {
        return Err(format!(
            "[plugins.{name}] lists `{both}` in both `secrets` and `env`; a key belongs in `secrets` only"
        ));
    }
    let lookup = declared_lookup(&raw, environment);
    let capabilities: BTreeSet<Capability> = raw.capabilities.iter().copied().collect();
    let mut allowed_hosts = Vec::new();
    for pattern in &raw.allowed_hosts {
        let from_variable = pattern.contains("${");
        let expanded = expand_variables(pattern, &lookup)
            .map_err(|e| format!("[plugins.{name}] allowed_hosts: {e}"))?;
        if from_variable && expanded.is_empty() {
            // An optional endpoint that is not configured (e.g. LOCAL_LLAMA_ENDPOINT unset).
            continue;
        }
        let pattern = if from_variable {
            origin_of(&expanded)
        } else {
            &expanded
        };
        allowed_hosts.push(
            HostPattern::parse(pattern)
                .map_err(|e| format!("[plugins.{name}] allowed_hosts: {e}"))?,
        );
    }
    let net =
        capabilities.contains(&Capability::Http) || capabilities.contains(&Capability::Websocket);
    if !allowed_hosts.is_empty() && !net {
        return Err(format!(
            "[plugins.{name}] has allowed_hosts but neither the `http` nor the `websocket` capability; add one or remove allowed_hosts"
        ));
    }
    let mut allowed_executables = Vec::new();
    for exe in &raw.allowed_executables {
        let from_variable = exe.contains("${");
        let expanded = expand_variables(exe, &lookup)
            .map_err(|e| format!("[plugins.{name}] allowed_executables: {e}"))?;
        let original = exe;
        let exe = PathBuf::from(&expanded);
        if from_variable && !exe.is_absolute() {
            // PIPER_PATH=piper: the program on PATH, resolved now so the grant is an exact path.
            // Not installed: the plugin is simply not granted it, and says so when it runs.
            match find_on_path(&expanded).filter(|_| !expanded.is_empty()) {
                Some(found) => allowed_executables.push(found),
                None => tracing::info!(
                    plugin = name,
                    "allowed_executables: `{original}` expands to `{expanded}`, which is not on PATH; the plugin cannot run it"
                ),
            }
            continue;
        }
        if !exe.is_absolute() {
            return Err(format!(
                "[plugins.{name}] allowed_executables: `{}` must be an absolute path",
                exe.display()
            ));
        }
        allowed_executables.push(exe);
    }
    if !allowed_executables.is_empty() && !capabilities.contains(&Capability::Process) {
        return Err(format!(
            "[plugins.{name}] has allowed_executables but not the `process` capability; add it or remove the list"
        ));
    }
    let process = match raw.process {
        Some(_) if !capabilities.contains(&Capability::Process) => {
            return Err(format!(
                "[plugins.{name}.process] is set but [plugins.{name}] lacks the `process` capability; add it or remove the table"
            ));
        }
        Some(table) => {
            process_rules::validate(name, table, &|text| expand_variables(text, &lookup))?
        }
        None => ProcessRules::default(),
    };
    if (!raw.secrets.is_empty() || !raw.secret_files.is_empty())
        && !capabilities.contains(&Capability::Config)
    {
        return Err(format!(
            "[plugins.{name}] declares secrets but not the `config` capability it reads them with; add `config`"
        ));
    }
    let memory_limit_mb = raw.memory_limit_mb.unwrap_or(default_memory);
    if memory_limit_mb == 0 {
        return Err(format!(
            "[plugins.{name}] memory_limit_mb must be at least 1"
        ));
    }
    let cpu_limit_ms = raw.cpu_limit_ms.unwrap_or(default_cpu);
    if cpu_limit_ms == 0 {
        return Err(format!("[plugins.{name}] cpu_limit_ms must be at least 1"));
    }
    Ok(PluginEntry {
        name: name.to_string(),
        path,
        capabilities,
        allowed_hosts,
        allowed_executables,
        process,
        secrets: raw.secrets,
        secret_files: raw.secret_files,
        env: raw.env,
        fallback: raw.fallback,
        memory_limit_mb,
        cpu_limit_ms,
        budget: CallBudget::default(),
        config: expand_config(raw.config, &lookup)
            .map_err(|e| format!("[plugins.{name}] config.{e}"))?,
    })
}

#[cfg(test)]
mod tests;
