//! round-robin as the studio runs it: the built component in the real host runtime.

use studio_plugin_harness::wit::{Decision, FloorEvent, FloorState, Speaker};
use studio_plugin_harness::{Capability, Harness, PluginKind};

fn floor(memory: String) -> FloorState {
    FloorState {
        now_ms: 1_000,
        autopilot: false,
        holder: None,
        human_speaking: false,
        last_speaker: None,
        ai_turns_in_a_row: 0,
        max_ai_turns: 6,
        thinking: None,
        autopilot_since_ms: None,
        memory,
    }
}

#[test]
fn the_ais_take_turns_answering_across_calls() {
    let plugin = Harness::new("round-robin")
        .capabilities([Capability::Log])
        .load()
        .expect("round-robin loads");
    assert_eq!(plugin.describe().kind, PluginKind::Policy);
    let mut memory = String::new();
    let mut answered = Vec::new();
    for line in ["First question?", "Second?", "Third?"] {
        let decisions = plugin
            .decide(floor(memory.clone()), FloorEvent::HumanSaid(line.into()))
            .expect("decides");
        for decision in &decisions {
            match decision {
                // The host hands back what the policy asked it to remember.
                Decision::Remember(m) => memory = m.clone(),
                Decision::Respond(r) => answered.push(r.speaker),
                _ => {}
            }
        }
    }
    assert_eq!(
        answered,
        vec![Speaker::Claude, Speaker::Guest, Speaker::Claude]
    );
}
