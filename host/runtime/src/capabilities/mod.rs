//! Host capabilities: the imports a plugin may call, each checked against what `plugins.toml`
//! grants that plugin. A refused call returns `plugin-error::denied` naming the plugin and what it
//! lacked, and is logged (without secret values). `log` and `clock` return no result, so without
//! their capability the message is dropped and the clock reads 0, with one warning per instance.

pub(crate) mod net;
pub(crate) mod process;
pub(crate) mod streams;
mod view;
pub(crate) mod websocket;

pub(crate) use view::{HasPluginView, InstanceCtx, PluginData, PluginView};

use std::time::{SystemTime, UNIX_EPOCH};

use super::bindings::{clock, config, log, types};
use super::manifest::Capability;
use super::plugin_log::Level;
use types::PluginError;

/// The `denied` error for a capability (and target) the plugin was not granted.
pub(crate) fn denied(state: &InstanceCtx, what: &str) -> PluginError {
    // `what` may be a URL or arguments the plugin chose, with a key in them.
    let what = state.grant.secrets.redactor().redact(what);
    if state.grant.is_revoked() {
        tracing::info!(
            plugin = state.plugin(),
            refused = %what,
            "plugin asked for something under a grant a plugins.toml reload revoked"
        );
        return PluginError::Denied(format!(
            "{}'s grant was revoked by a plugins.toml reload (it asked for {what}); the next call uses the new grant",
            state.plugin()
        ));
    }
    tracing::warn!(
        plugin = state.plugin(),
        refused = %what,
        "plugin asked for something plugins.toml does not grant"
    );
    PluginError::Denied(format!(
        "{} is not granted {what} in plugins.toml",
        state.plugin()
    ))
}

impl types::Host for PluginView<'_> {}

impl log::Host for PluginView<'_> {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        if !self.check(Capability::Log) {
            return Ok(());
        }
        let level = match level {
            log::Level::Trace => Level::Trace,
            log::Level::Debug => Level::Debug,
            log::Level::Info => Level::Info,
            log::Level::Warn => Level::Warn,
            log::Level::Error => Level::Error,
        };
        // Redacted, rate-limited and cut like stdout: see `plugin_log`.
        self.log.line(level, "log", &message);
        Ok(())
    }
}

impl clock::Host for PluginView<'_> {
    async fn session_ms(&mut self) -> wasmtime::Result<u64> {
        if !self.check(Capability::Clock) {
            return Ok(0);
        }
        Ok(self.clock_origin.map_or(0, |origin| {
            u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
        }))
    }

    async fn wall_ms(&mut self) -> wasmtime::Result<u64> {
        if !self.check(Capability::Clock) {
            return Ok(0);
        }
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Ok(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }
}

impl config::Host for PluginView<'_> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, PluginError>> {
        if !self.check(Capability::Config) {
            return Ok(Err(denied(self, "config")));
        }
        Ok(Ok(self.grant.entry.config_value(&key)))
    }

    async fn entries(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, PluginError>> {
        if !self.check(Capability::Config) {
            return Ok(Err(denied(self, "config")));
        }
        Ok(Ok(self.grant.entry.config_entries()))
    }

    async fn secret(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<Option<String>, PluginError>> {
        if !self.check(Capability::Config) {
            return Ok(Err(denied(self, "config")));
        }
        let entry = &self.grant.entry;
        let is_file = entry.secret_files.contains(&name);
        // `env` variables (endpoints, models) are read the same way; they are just not secret.
        if !is_file && !entry.secrets.contains(&name) && !entry.env.contains(&name) {
            // Only the name is logged, never a value.
            return Ok(Err(denied(self, &format!("secret {name}"))));
        }
        let value = self
            .grant
            .secrets
            .get(&name)
            .filter(|v| !v.trim().is_empty());
        match value {
            Some(path) if is_file => {
                let contents = read_secret_file(&name, path.trim()).await;
                if let Ok(contents) = &contents {
                    // The redactor learns the key inside before the plugin holds it.
                    self.grant.secrets.note_file_contents(&name, contents);
                }
                Ok(contents.map(Some))
            }
            value => Ok(Ok(value)),
        }
    }
}

/// Largest secret file handed to a plugin (a service-account JSON is about 2 KiB).
const MAX_SECRET_FILE_BYTES: u64 = 256 << 10;

/// The contents of the file a `secret_files` variable names. The path may be shown; the contents
/// never are.
async fn read_secret_file(name: &str, path: &str) -> Result<String, PluginError> {
    let unreadable = |why: String| {
        PluginError::Config(format!(
            "{name} names `{path}`, which cannot be read: {why}"
        ))
    };
    let metadata = tokio::fs::metadata(path)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    if metadata.len() > MAX_SECRET_FILE_BYTES {
        return Err(unreadable(format!(
            "it is over {} KiB",
            MAX_SECRET_FILE_BYTES >> 10
        )));
    }
    tokio::fs::read_to_string(path)
        .await
        .map_err(|e| unreadable(e.to_string()))
}
