//! Each plugin's health as an admin view shows it: calls that ended, errors, traps and the last
//! error with its time, counted per plugin runtime. The Prometheus counters (`metrics`) are
//! process-wide and keep no message, so an operator page could not say *what* went wrong.
//!
//! Counted beside the metrics, at the same points (`call::seat`); the book holds one entry per
//! plugin name of `plugins.toml`, so it stays as small as the manifest.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use super::bindings::types::PluginError;
use super::error::CallError;

/// Longest last-error message kept (characters); a plugin's message may be long.
const MAX_ERROR_CHARS: usize = 500;

/// What one plugin's calls came to since the runtime started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginHealth {
    /// Calls that ended (ok, failed or cancelled), also those that never reached the plugin.
    pub calls: u64,
    /// Calls that failed (cancelled ones are not failures).
    pub errors: u64,
    /// Failed calls the host stopped: a trap, the CPU or the memory limit.
    pub traps: u64,
    /// Calls cancelled by the session (a barge-in, a stopped line).
    pub cancelled: u64,
    /// The last failure's message (redacted like every call error), at most 500 characters.
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<SystemTime>,
}

/// The health of every plugin a runtime called, by plugin name.
#[derive(Debug, Default)]
pub(crate) struct HealthBook {
    by_plugin: Mutex<BTreeMap<String, PluginHealth>>,
}

impl HealthBook {
    /// Counts a call to `plugin` that ended with `result`.
    pub(crate) fn call_ended(&self, plugin: &str, result: Result<(), &CallError>) {
        let mut book = self
            .by_plugin
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let health = match book.get_mut(plugin) {
            Some(health) => health,
            None => book.entry(plugin.to_owned()).or_default(),
        };
        health.calls += 1;
        let Err(error) = result else { return };
        if matches!(
            error,
            CallError::Plugin {
                error: PluginError::Cancelled,
                ..
            }
        ) {
            health.cancelled += 1;
            return;
        }
        health.errors += 1;
        if matches!(
            error,
            CallError::Trap { .. } | CallError::CpuLimit { .. } | CallError::MemoryLimit { .. }
        ) {
            health.traps += 1;
        }
        health.last_error = Some(error.to_string().chars().take(MAX_ERROR_CHARS).collect());
        health.last_error_at = Some(SystemTime::now());
    }

    /// Every plugin's health so far.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, PluginHealth> {
        self.by_plugin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_errors_traps_and_cancellations_are_counted_apart() {
        let book = HealthBook::default();
        book.call_ended("p", Ok(()));
        book.call_ended(
            "p",
            Err(&CallError::Trap {
                plugin: "p".into(),
                message: "unreachable".into(),
            }),
        );
        book.call_ended(
            "p",
            Err(&CallError::Plugin {
                plugin: "p".into(),
                error: PluginError::Cancelled,
            }),
        );
        book.call_ended(
            "p",
            Err(&CallError::Plugin {
                plugin: "p".into(),
                error: PluginError::Auth("bad key".into()),
            }),
        );
        let health = book.snapshot().remove("p").expect("counted");
        assert_eq!(
            (health.calls, health.errors, health.traps, health.cancelled),
            (4, 2, 1, 1)
        );
        assert!(
            health
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("bad key")),
            "{health:?}"
        );
        assert!(health.last_error_at.is_some());
        assert!(!book.snapshot().contains_key("other"));
    }
}
