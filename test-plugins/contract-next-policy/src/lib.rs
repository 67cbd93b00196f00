//! `contract-next-policy`: a `policy-plugin` built against `wit/v0.2.0` (the contract draft) with
//! wit-bindgen directly. The policy interface is the same in 0.2.0 as in 0.1.0, but the host
//! converts every call to it (the types are another version's), so this plugin echoes what it
//! received into its decisions for the host's tests to compare: a final human line makes claude
//! respond with a cue that spells out the floor state, start a segment, set a timer and remember
//! the memory it got plus one.

wit_bindgen::generate!({
    path: "../../wit/v0.2.0",
    world: "policy-plugin",
});

use exports::studio::plugin::policy::{
    Decision, FloorEvent, FloorState, Guest as Policy, Respond, Segment, TimerRequest,
};
use studio::plugin::types::{Role, Speaker};

/// The plugin; its only state is what it asks the host to remember.
struct ContractNextPolicy;

impl Guest for ContractNextPolicy {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "contract-next-policy".into(),
            version: "1.0.0".into(),
            role: Role::Policy,
            contract: "0.2.0".into(),
            capabilities: Vec::new(),
            summary: "Echoes the floor it is given into its decisions; for the host's tests."
                .into(),
        }
    }
}

impl Policy for ContractNextPolicy {
    fn decide(state: FloorState, event: FloorEvent) -> Vec<Decision> {
        let FloorEvent::HumanSaid(text) = event else {
            return vec![Decision::Wait];
        };
        let thinking = state
            .thinking
            .map(|t| format!("{:?}@{}", t.speaker, t.ends_at_ms))
            .unwrap_or_default();
        let cue = format!(
            "said={text};now={};holder={:?};last={:?};turns={}/{};thinking={thinking};since={:?}",
            state.now_ms,
            state.holder,
            state.last_speaker,
            state.ai_turns_in_a_row,
            state.max_ai_turns,
            state.autopilot_since_ms,
        );
        let memory = state.memory.parse::<u64>().unwrap_or(0) + 1;
        vec![
            Decision::Respond(Respond {
                speaker: Speaker::Claude,
                cue,
            }),
            Decision::Segment(Segment {
                name: "next".into(),
                cue: "from 0.2.0".into(),
                duration_ms: 1_000,
            }),
            Decision::SetTimer(TimerRequest {
                name: "nudge".into(),
                after_ms: 250,
            }),
            Decision::Mute(Speaker::Guest),
            Decision::Remember(memory.to_string()),
        ]
    }
}

// Only on wasm: native linkers reject the component model's export symbol names, and the
// workspace also builds this crate natively.
#[cfg(target_arch = "wasm32")]
export!(ContractNextPolicy);
