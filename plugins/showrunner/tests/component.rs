//! showrunner as the studio runs it: the built component in the real host runtime.

use studio_plugin_harness::wit::{Decision, FloorEvent, FloorState, Speaker};
use studio_plugin_harness::{Capability, Harness, PluginKind};

fn floor(autopilot: bool, memory: String) -> FloorState {
    FloorState {
        now_ms: 0,
        autopilot,
        holder: None,
        human_speaking: false,
        last_speaker: None,
        ai_turns_in_a_row: 0,
        max_ai_turns: 6,
        thinking: None,
        autopilot_since_ms: Some(0),
        memory,
    }
}

#[test]
fn autopilot_runs_the_show_segment_by_segment_on_timers() {
    let plugin = Harness::new("showrunner")
        .capabilities([Capability::Log])
        .load()
        .expect("showrunner loads");
    assert_eq!(plugin.describe().kind, PluginKind::Policy);
    let mut memory = String::new();
    let mut segments = Vec::new();
    let mut event = FloorEvent::AutopilotChanged(true);
    let mut first_speaker = None;
    // Each call sets the next timer; fire it, as the host would, until the show is over.
    for _ in 0..10 {
        let decisions = plugin
            .decide(floor(true, memory.clone()), event)
            .expect("decides");
        let mut timer = None;
        for decision in decisions {
            match decision {
                Decision::Remember(m) => memory = m,
                Decision::Segment(s) => segments.push(s.name),
                Decision::SetTimer(t) => timer = Some(t.name),
                Decision::Respond(r) if first_speaker.is_none() => first_speaker = Some(r.speaker),
                _ => {}
            }
        }
        let Some(name) = timer else { break };
        event = FloorEvent::Timer(name);
    }
    assert_eq!(
        segments,
        vec![
            "cold-open",
            "guest-stance",
            "cross-exam",
            "steelman-swap",
            "verdict",
            "outro"
        ]
    );
    assert_eq!(first_speaker, Some(Speaker::Claude));
    assert!(memory.contains("phase=done"), "{memory}");
}
