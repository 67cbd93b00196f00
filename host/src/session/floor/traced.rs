//! The trace of an ended AI line: its timeline and the plugins that served it, handed to the
//! exporter ([`crate::observe::traces`]); nothing is gathered when traces are off.

use std::time::Instant;

use super::Floor;
use super::voices::LineInProgress;
use crate::observe::traces::{self, LinePlugins, LineTrace, ServedBy};
use crate::plugins::{LlmRole, PluginHost, RoleSlot};
use crate::session::room::Room;
use crate::speakers::Ai;

impl Floor {
    /// Exports the trace of `ai`'s `line`, which just ended.
    pub(super) fn trace_line(&self, room: &Room, ai: Ai, line: &LineInProgress, interrupted: bool) {
        if !traces::enabled() {
            return;
        }
        let plugins = serving(&self.setup.plugins, ai);
        let mut timeline = line.timings.timeline;
        timeline.ended.get_or_insert_with(Instant::now);
        traces::export_line(&LineTrace {
            speaker: ai.name(),
            episode_id: &room.episode_id,
            session: room.generation,
            line: line.id,
            interrupted,
            timeline: &timeline,
            plugins: &plugins,
        });
    }
}

/// The plugins serving the roles of `ai`'s line now, with their `describe()` versions.
fn serving(host: &PluginHost, ai: Ai) -> LinePlugins {
    let statuses = host.plugins();
    let find = |slot: RoleSlot| {
        statuses
            .iter()
            .find(|s| s.roles.contains(&slot))
            .map(|s| ServedBy {
                name: s.name.clone(),
                version: s.version.clone().unwrap_or_default(),
            })
    };
    LinePlugins {
        stt: find(RoleSlot::Stt),
        policy: find(RoleSlot::Policy),
        llm: find(ai.role_slot()),
        tts: find(RoleSlot::Tts),
    }
}
