//! host-led as the studio runs it: the built component in the real host runtime.

use studio_plugin_harness::wit::{Decision, FloorEvent, FloorState, Respond, Speaker, Think};
use studio_plugin_harness::{Capability, Harness, PluginKind, PluginUnderTest};

fn plugin() -> PluginUnderTest {
    Harness::new("host-led")
        .capabilities([Capability::Log])
        .load()
        .expect("host-led loads in the host")
}

fn floor() -> FloorState {
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
        memory: String::new(),
    }
}

#[test]
fn describes_itself_as_a_policy_needing_only_log() {
    let info = plugin().describe();
    assert_eq!(
        (info.name.as_str(), info.kind),
        ("host-led", PluginKind::Policy)
    );
    assert_eq!(info.capabilities, vec![Capability::Log]);
}

#[test]
fn a_line_for_the_guest_goes_to_the_guest() {
    let decisions = plugin()
        .decide(
            floor(),
            FloorEvent::HumanSaid("Guest, do you agree with that?".into()),
        )
        .expect("decides");
    assert_eq!(
        decisions,
        vec![Decision::Respond(Respond {
            speaker: Speaker::Guest,
            cue: String::new()
        })]
    );
}

#[test]
fn both_of_you_queues_the_guest_after_claude_through_memory() {
    let plugin = plugin();
    let first = plugin
        .decide(
            floor(),
            FloorEvent::HumanSaid("Both of you, closing thoughts.".into()),
        )
        .expect("decides");
    let memory = first
        .iter()
        .find_map(|d| match d {
            Decision::Remember(m) => Some(m.clone()),
            _ => None,
        })
        .expect("remembers the queued guest");
    assert!(
        first
            .iter()
            .any(|d| matches!(d, Decision::Respond(r) if r.speaker == Speaker::Claude))
    );
    let claude_done = studio_plugin_harness::wit::AiLine {
        speaker: Speaker::Claude,
        text: "Mine.".into(),
        interrupted: false,
    };
    let second = plugin
        .decide(
            FloorState { memory, ..floor() },
            FloorEvent::AiFinished(claude_done),
        )
        .expect("decides");
    assert!(
        second
            .iter()
            .any(|d| matches!(d, Decision::Respond(r) if r.speaker == Speaker::Guest)),
        "{second:?}"
    );
}

#[test]
fn barge_in_stops_the_speaker_and_mutes_both() {
    let state = FloorState {
        holder: Some(Speaker::Claude),
        ..floor()
    };
    let decisions = plugin()
        .decide(state, FloorEvent::HumanSpeechStarted)
        .expect("decides");
    assert_eq!(
        decisions,
        vec![
            Decision::Stop(Speaker::Claude),
            Decision::Mute(Speaker::Claude),
            Decision::Mute(Speaker::Guest)
        ]
    );
}

#[test]
fn give_me_thirty_seconds_starts_thinking_mode() {
    let decisions = plugin()
        .decide(
            floor(),
            FloorEvent::HumanSaid("Claude, give me 30 seconds on that.".into()),
        )
        .expect("decides");
    assert!(
        matches!(
            decisions.as_slice(),
            [Decision::Think(Think {
                speaker: Speaker::Claude,
                duration_ms: 30_000,
                ..
            })]
        ),
        "{decisions:?}"
    );
}
