//! `host-led`: the default turn policy. The human leads: their final transcript goes to claude unless
//! they address the guest (or both) by name; thinking mode on request; barge-in mutes both AIs and
//! stops the one speaking; in autopilot the AIs alternate until `max-ai-turns` lines in a row.

#![deny(missing_docs)]

mod floor;

use studio_plugin::{Decision, FloorEvent, FloorState, PolicyPlugin};

/// The exported policy.
pub struct HostLed;

impl PolicyPlugin for HostLed {
    fn decide(state: FloorState, event: FloorEvent) -> Vec<Decision> {
        floor::decide(&state, &event)
    }
}

studio_plugin::export_policy!(HostLed);
