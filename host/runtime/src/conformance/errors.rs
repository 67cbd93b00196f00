//! Error mapping: a call that fails must come back as one of the contract's `plugin-error` cases
//! (which the host can fall back on, retry or show), never as a trap. It is judged on the calls
//! the other checks made; when none of them failed there is nothing to judge, and the report says
//! so rather than inventing a failure.

use super::CallRecord;
use super::report::Check;
use crate::error::{CallError, describe_plugin_error};
use crate::wit::PluginError;

/// The `error mapping` check.
pub(crate) fn check(records: &[CallRecord]) -> Check {
    let mut mapped = Vec::new();
    for record in records {
        match &record.outcome {
            Err(CallError::Trap { message, .. }) => {
                return Check::fail(
                    "error mapping",
                    format!(
                        "{} trapped instead of returning a plugin-error: {message}",
                        record.what
                    ),
                );
            }
            // The cancellation checks ask for this one.
            Err(CallError::Plugin {
                error: PluginError::Cancelled,
                ..
            }) => {}
            Err(CallError::Plugin { error, .. }) => {
                mapped.push(format!("{}: {}", record.what, describe_plugin_error(error)))
            }
            Err(CallError::Denied { message, .. }) => {
                mapped.push(format!("{}: denied ({message})", record.what))
            }
            _ => {}
        }
    }
    if mapped.is_empty() {
        Check::skipped(
            "error mapping",
            "not exercised: no call failed; point the plugin at a failing provider with --config \
             (for example a base URL on a closed port) to see its errors mapped",
        )
    } else {
        Check::pass(
            "error mapping",
            format!("failures came back as plugin-error: {}", mapped.join("; ")),
        )
    }
}
