//! The runtime's Prometheus metrics, all in one place: plugin calls, their errors by kind, traps,
//! fallbacks, reloads, reload passes and the watcher's batches. Recorded through the `metrics`
//! facade; the host installs the recorder and serves `/metrics` (until it does, these calls cost a
//! lookup and record nothing).
//!
//! Labels stay bounded: `role` is one of the five role slots, `plugin` a name from
//! `plugins.toml`, `kind` and `outcome` come from fixed lists below. No session id, no free text.

use metrics::{counter, describe_counter};

use super::error::CallError;
use super::manifest::RoleSlot;
use super::registry::ReloadEvent;
use super::wit::PluginError;

/// Plugin calls that ended, by role, plugin and outcome (`ok`, `error`, `cancelled`).
pub const PLUGIN_CALLS: &str = "studio_plugin_calls_total";
/// Plugin calls that failed, by role, plugin and error kind.
pub const PLUGIN_ERRORS: &str = "studio_plugin_errors_total";
/// Plugin calls the host stopped: a trap, or the CPU or memory limit (the instance is rebuilt).
pub const PLUGIN_TRAPS: &str = "studio_plugin_traps_total";
/// Calls retried on the next plugin of a `fallback` list, by role and the plugin that failed.
pub const PLUGIN_FALLBACKS: &str = "studio_plugin_fallbacks_total";
/// Reload results per plugin (`plugins.toml` for a refused manifest), by outcome.
pub const PLUGIN_RELOADS: &str = "studio_plugin_reloads_total";
/// Reload passes run (hot reload or on request), whether or not they swapped anything.
pub const PLUGIN_RELOAD_PASSES: &str = "studio_plugin_reload_passes_total";
/// Settled batches of file events the hot reload watcher compared, by outcome.
pub const PLUGIN_WATCH_BATCHES: &str = "studio_plugin_watch_batches_total";

/// Gives every runtime metric its help text; call once after the recorder is installed.
pub fn describe() {
    describe_counter!(
        PLUGIN_CALLS,
        "Plugin calls that ended, by role, plugin and outcome (ok, error, cancelled)."
    );
    describe_counter!(
        PLUGIN_ERRORS,
        "Plugin calls that failed, by role, plugin and kind (config, auth, rate_limited, unavailable, protocol, denied, internal, trap, cpu_limit, memory_limit, deadline, load, grant_revoked)."
    );
    describe_counter!(
        PLUGIN_TRAPS,
        "Plugin calls the host stopped (a trap, the CPU or the memory limit), by role and plugin; the instance is rebuilt."
    );
    describe_counter!(
        PLUGIN_FALLBACKS,
        "Plugin calls retried on the next plugin of the fallback list, by role and the plugin that failed."
    );
    describe_counter!(
        PLUGIN_RELOADS,
        "Plugin reload results (hot reload or on request), by plugin and outcome (swapped, refused)."
    );
    describe_counter!(
        PLUGIN_RELOAD_PASSES,
        "Reload passes run (hot reload or on request); it grows only when plugins.toml or a plugin file's contents change."
    );
    describe_counter!(
        PLUGIN_WATCH_BATCHES,
        "Settled batches of file events about plugins.toml or a plugin file, by outcome: changed (a file's contents changed: a reload) or unchanged (touched or rewritten with the same bytes)."
    );
}

/// A call on `slot` to `plugin` ended with `result` (also one that never reached the plugin).
pub(crate) fn call_ended(slot: RoleSlot, plugin: &str, result: Result<(), &CallError>) {
    let role = slot.name();
    let outcome = match result {
        Ok(_) => "ok",
        Err(CallError::Plugin {
            error: PluginError::Cancelled,
            ..
        }) => "cancelled",
        Err(_) => "error",
    };
    counter!(PLUGIN_CALLS, "role" => role, "plugin" => plugin.to_owned(), "outcome" => outcome)
        .increment(1);
    if let Err(error) = result
        && outcome == "error"
    {
        call_failed(slot, error);
    }
}

/// A call on `slot` failed with `error` (also before it reached the plugin: not loaded).
pub(crate) fn call_failed(slot: RoleSlot, error: &CallError) {
    let role = slot.name();
    let plugin = error.plugin().to_owned();
    if matches!(
        error,
        CallError::Trap { .. } | CallError::CpuLimit { .. } | CallError::MemoryLimit { .. }
    ) {
        counter!(PLUGIN_TRAPS, "role" => role, "plugin" => plugin.clone()).increment(1);
    }
    counter!(PLUGIN_ERRORS, "role" => role, "plugin" => plugin, "kind" => error_kind(error))
        .increment(1);
}

/// A failed call on `slot` to `plugin` moves on to the next plugin of its fallback list.
pub(crate) fn fell_back(slot: RoleSlot, plugin: &str) {
    counter!(PLUGIN_FALLBACKS, "role" => slot.name(), "plugin" => plugin.to_owned()).increment(1);
}

/// A reload pass ran (whatever it found).
pub(crate) fn reload_pass() {
    counter!(PLUGIN_RELOAD_PASSES).increment(1);
}

/// The watcher compared a settled batch of events; `changed`: a file's contents had changed.
pub(crate) fn watch_batch(changed: bool) {
    let outcome = if changed { "changed" } else { "unchanged" };
    counter!(PLUGIN_WATCH_BATCHES, "outcome" => outcome).increment(1);
}

/// A reload swapped a plugin in or was refused.
pub(crate) fn reloaded(event: &ReloadEvent) {
    let outcome = if event.error.is_some() {
        "refused"
    } else {
        "swapped"
    };
    counter!(PLUGIN_RELOADS, "plugin" => event.plugin.clone(), "outcome" => outcome).increment(1);
}

/// The `kind` label of a failed call: a fixed spelling per error, never its message.
fn error_kind(error: &CallError) -> &'static str {
    match error {
        CallError::Plugin { error, .. } => match error {
            PluginError::Config(_) => "config",
            PluginError::Auth(_) => "auth",
            PluginError::RateLimited(_) => "rate_limited",
            PluginError::Unavailable(_) => "unavailable",
            PluginError::Protocol(_) => "protocol",
            PluginError::Cancelled => "cancelled",
            PluginError::Denied(_) => "denied",
            PluginError::Internal(_) => "internal",
        },
        CallError::Denied { .. } => "denied",
        CallError::Trap { .. } => "trap",
        CallError::CpuLimit { .. } => "cpu_limit",
        CallError::MemoryLimit { .. } => "memory_limit",
        CallError::Load { .. } => "load",
        CallError::GrantRevoked { .. } => "grant_revoked",
        CallError::Deadline { .. } => "deadline",
    }
}
