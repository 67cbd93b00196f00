//! `round-robin`: a turn policy where the AIs take turns answering the human (claude, guest,
//! claude, ...). A name still picks the AI ("Guest, ..."), and the rotation continues from whoever
//! answered. Thinking mode, barge-in and autopilot work as in `host-led`.

#![deny(missing_docs)]

mod rotation;

use studio_plugin::{Decision, FloorEvent, FloorState, PolicyPlugin};

/// The exported policy.
pub struct RoundRobin;

impl PolicyPlugin for RoundRobin {
    fn decide(state: FloorState, event: FloorEvent) -> Vec<Decision> {
        rotation::decide(&state, &event)
    }
}

studio_plugin::export_policy!(RoundRobin);
