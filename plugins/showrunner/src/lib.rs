//! `showrunner`: a turn policy that runs autopilot as a produced show. claude hosts the guest
//! through six segments (cold open 15 s, guest stance 60 s, cross-exam 2-4 min, steelman swap
//! 90 s, verdict 45 s, outro 15 s), each with its own cue for the speaking AI, paced by timers the
//! host keeps. Outside autopilot it follows the human like `host-led`.

#![deny(missing_docs)]

mod show;

use studio_plugin::{Decision, FloorEvent, FloorState, PolicyPlugin};

/// The exported policy.
pub struct Showrunner;

impl PolicyPlugin for Showrunner {
    fn decide(state: FloorState, event: FloorEvent) -> Vec<Decision> {
        show::decide(&state, &event)
    }
}

studio_plugin::export_policy!(Showrunner);
