//! Errors of the plugin runtime: starting the host, and one call into a plugin.

use std::path::PathBuf;

use super::bindings::types::PluginError;
use super::manifest::{Deadlines, ManifestError, PluginKind};
use super::redact::Redactor;

/// Why the plugin host could not start (or a reload was refused).
#[derive(Debug, thiserror::Error)]
pub enum PluginHostError {
    /// `plugins.toml` is missing, unreadable or invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A plugin a role needs could not be loaded.
    #[error("plugin {plugin} ({}) could not be loaded: {message}", path.display())]
    Load {
        /// The plugin's name in `plugins.toml`.
        plugin: String,
        /// Its .wasm file.
        path: PathBuf,
        /// What went wrong and what to do.
        message: String,
    },
    /// The wasmtime engine or the compile cache could not be set up.
    #[error("cannot set up the plugin engine: {0}")]
    Engine(String),
    /// The file watcher for hot reload could not start.
    #[error("cannot watch {} for plugin changes: {message}", path.display())]
    Watch {
        /// The path that could not be watched.
        path: PathBuf,
        /// The watcher's error.
        message: String,
    },
}

/// Why one call into a plugin failed. Every case names the plugin.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin returned an error value (a provider problem, a bad setting...).
    #[error("plugin {plugin} failed: {}", describe_plugin_error(error))]
    Plugin {
        /// The plugin's name.
        plugin: String,
        /// What it returned.
        error: PluginError,
    },
    /// The plugin was refused a capability, host, executable or secret.
    #[error("plugin {plugin} was denied: {message}")]
    Denied {
        /// The plugin's name.
        plugin: String,
        /// The host's refusal, e.g. `fault-injector is not granted http in plugins.toml`.
        message: String,
    },
    /// The plugin trapped (a panic, `unreachable`, an out-of-bounds access).
    #[error("plugin {plugin} trapped: {message}")]
    Trap {
        /// The plugin's name.
        plugin: String,
        /// The trap as wasmtime reports it.
        message: String,
    },
    /// The call used more guest CPU time than the plugin's `cpu_limit_ms`.
    #[error(
        "plugin {plugin} was stopped: it overdrew its guest CPU budget (cpu_limit_ms = {limit_ms}, topped up only by the audio or text it serves)"
    )]
    CpuLimit {
        /// The plugin's name.
        plugin: String,
        /// The limit it hit.
        limit_ms: u64,
    },
    /// The plugin tried to grow its memory past `memory_limit_mb`.
    #[error("plugin {plugin} was stopped: it needed more than its memory limit of {limit_mb} MiB")]
    MemoryLimit {
        /// The plugin's name.
        plugin: String,
        /// The limit it hit.
        limit_mb: u32,
    },
    /// No plugin could be instantiated for the role.
    #[error("plugin {plugin} is not available: {message}")]
    Load {
        /// The plugin's name (or the role when none is configured).
        plugin: String,
        /// Why.
        message: String,
    },
    /// A `plugins.toml` reload took away something the call was using (a capability, a host, a
    /// secret); the call was ended and the next one runs on the new grant.
    #[error(
        "plugin {plugin}'s grant was revoked by a plugins.toml reload; the call was ended and the next call uses the new grant"
    )]
    GrantRevoked {
        /// The plugin's name.
        plugin: String,
    },
    /// The call ran past its wall-clock deadline (`[studio.deadlines]`); it was cancelled and the
    /// plugin's instance thrown away.
    #[error("{}", describe_deadline(plugin, *kind, *limit_ms))]
    Deadline {
        /// The plugin's name.
        plugin: String,
        /// The kind of call, which picks the deadline.
        kind: PluginKind,
        /// The deadline it passed.
        limit_ms: u64,
    },
}

impl CallError {
    /// The plugin the call went to.
    pub fn plugin(&self) -> &str {
        match self {
            CallError::Plugin { plugin, .. }
            | CallError::Denied { plugin, .. }
            | CallError::Trap { plugin, .. }
            | CallError::CpuLimit { plugin, .. }
            | CallError::MemoryLimit { plugin, .. }
            | CallError::Load { plugin, .. }
            | CallError::GrantRevoked { plugin }
            | CallError::Deadline { plugin, .. } => plugin,
        }
    }

    /// The error with every secret value `redactor` knows cut out of its messages (a provider
    /// echoing a key in its error body, a plugin panicking with one).
    pub fn redacted(mut self, redactor: &Redactor) -> CallError {
        match &mut self {
            CallError::Plugin { error, .. } => match error {
                PluginError::Config(m)
                | PluginError::Auth(m)
                | PluginError::Unavailable(m)
                | PluginError::Protocol(m)
                | PluginError::Denied(m)
                | PluginError::Internal(m) => redactor.redact_string(m),
                PluginError::RateLimited(r) => redactor.redact_string(&mut r.message),
                PluginError::Cancelled => {}
            },
            CallError::Denied { message, .. }
            | CallError::Trap { message, .. }
            | CallError::Load { message, .. } => redactor.redact_string(message),
            CallError::CpuLimit { .. }
            | CallError::MemoryLimit { .. }
            | CallError::GrantRevoked { .. }
            | CallError::Deadline { .. } => {}
        }
        self
    }

    /// Whether the plugin itself was stopped by the host (trap, limit or deadline), so its
    /// instance was thrown away.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            CallError::Trap { .. }
                | CallError::CpuLimit { .. }
                | CallError::MemoryLimit { .. }
                | CallError::Deadline { .. }
        )
    }
}

/// What a passed deadline means for a call of `kind`, and where to change it.
fn describe_deadline(plugin: &str, kind: PluginKind, limit_ms: u64) -> String {
    let what = match kind {
        PluginKind::Policy => "did not decide within",
        PluginKind::Tts => "did not finish speaking a clause within",
        PluginKind::Llm => "did not finish a line within",
        PluginKind::Stt => "neither read audio nor sent a transcript for",
    };
    format!(
        "{plugin} {what} {limit_ms} ms ({kind} deadline {} in plugins.toml [studio.deadlines])",
        Deadlines::key(kind)
    )
}

/// A one-line description of a plugin's error value.
pub fn describe_plugin_error(error: &PluginError) -> String {
    match error {
        PluginError::Config(m) => format!("configuration: {m}"),
        PluginError::Auth(m) => format!("authentication refused: {m}"),
        PluginError::RateLimited(r) => match r.retry_after_ms {
            Some(ms) => format!("rate limited (retry after {ms} ms): {}", r.message),
            None => format!("rate limited: {}", r.message),
        },
        PluginError::Unavailable(m) => format!("unavailable: {m}"),
        PluginError::Protocol(m) => format!("protocol error: {m}"),
        PluginError::Cancelled => "cancelled".to_string(),
        PluginError::Denied(m) => format!("denied: {m}"),
        PluginError::Internal(m) => format!("internal error: {m}"),
    }
}
