//! What the gateway needs from the plugin runtime: the loaded plugins for `/health`, readiness
//! for `/ready`, and a way to hand keys from the settings API to the plugins. A trait keeps the
//! routes independent of how the runtime is built (and testable against any implementation).

use std::collections::BTreeMap;

use serde::Serialize;

/// One loaded plugin as `/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginSummary {
    /// Its name in plugins.toml.
    pub name: String,
    /// The role it fills (`stt`, `tts`, `claude`, `guest`, `policy`, or a fallback).
    pub role: String,
    /// The version it reports in `describe()`.
    pub version: String,
    /// SHA-256 of the loaded .wasm, hex.
    pub sha256: String,
    /// The last load or reload error, if the newest file could not be used.
    pub last_error: Option<String>,
}

/// The plugin runtime as the gateway sees it.
pub trait PluginsView: Send + Sync + 'static {
    /// The plugins currently serving.
    fn plugins(&self) -> Vec<PluginSummary>;
    /// Whether every role has a loaded plugin.
    fn is_ready(&self) -> bool;
    /// Makes `value` the secret `name` (an environment variable name such as
    /// `ANTHROPIC_API_KEY`) for the plugins that declare it; the next call uses it.
    fn set_secret(&self, name: &str, value: &str);
    /// Each called plugin's calls, errors, traps and last error, by plugin name.
    fn health(&self) -> BTreeMap<String, crate::plugins::PluginHealth> {
        BTreeMap::new()
    }
}

impl PluginsView for crate::plugins::PluginHost {
    fn plugins(&self) -> Vec<PluginSummary> {
        crate::plugins::PluginHost::plugins(self)
            .into_iter()
            .map(|status| PluginSummary {
                role: if status.roles.is_empty() {
                    // Declared in plugins.toml but serving no role (e.g. only a fallback).
                    "standby".to_owned()
                } else {
                    status
                        .roles
                        .iter()
                        .map(|r| r.name())
                        .collect::<Vec<_>>()
                        .join(",")
                },
                name: status.name,
                version: status.version.unwrap_or_default(),
                sha256: status.sha256.unwrap_or_default(),
                last_error: status.last_error,
            })
            .collect()
    }

    fn is_ready(&self) -> bool {
        crate::plugins::PluginHost::is_ready(self)
    }

    fn set_secret(&self, name: &str, value: &str) {
        crate::plugins::PluginHost::set_secret(self, name, value);
    }

    fn health(&self) -> BTreeMap<String, crate::plugins::PluginHealth> {
        crate::plugins::PluginHost::health(self)
    }
}
