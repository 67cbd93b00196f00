//! `{{name}}` as the studio runs it: the built component in the studio's plugin runtime (same
//! sandbox, limits and capability checks).

mod common;

use studio_plugin_harness::wit::{Decision, FloorEvent, FloorState, Respond, Speaker};
use studio_plugin_harness::{Capability, Harness, PluginKind};

fn idle_floor(memory: &str) -> FloorState {
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
        memory: memory.into(),
    }
}

#[test]
fn the_named_ai_answers_in_the_real_host() {
    let plugin = Harness::new(common::wasm().to_string_lossy())
        // What `plugin install` grants it: exactly what describe() asks for.
        .capabilities([Capability::Log])
        .load()
        .expect("the host loads the plugin");
    let info = plugin.describe();
    assert_eq!(
        (info.name.as_str(), info.kind),
        ("{{name}}", PluginKind::Policy)
    );
    let decisions = plugin
        .decide(
            idle_floor(""),
            FloorEvent::HumanSaid("Guest, do you agree?".into()),
        )
        .expect("decides");
    assert_eq!(
        decisions,
        vec![
            Decision::Remember("guest".into()),
            Decision::Respond(Respond {
                speaker: Speaker::Guest,
                cue: String::new()
            }),
        ]
    );
}
