//! `{{name}}`: a turn-taking policy for voice-studio. The AI the human names answers ("Guest, ...");
//! an unnamed line goes to the AI that did not answer last; the human's voice stops whoever is
//! speaking (barge-in); in autopilot the AIs alternate until `max-ai-turns` lines in a row.
//! Change `decide` to change who speaks when. A policy is pure and deterministic: no I/O, and no
//! state between calls except what it returns in `Decision::Remember` (back as `state.memory`).

use studio_plugin::turns::{self, Addressee};
use studio_plugin::{Decision, FloorEvent, FloorState, PolicyPlugin, Speaker};

/// The exported plugin.
pub struct Plugin;

impl PolicyPlugin for Plugin {
    // `describe()` has a default: role `policy`, contract 0.1.0, capability `log` (the only one a
    // policy can have), and name, version and summary from Cargo.toml.

    fn decide(state: FloorState, event: FloorEvent) -> Vec<Decision> {
        decide(&state, &event)
    }
}

studio_plugin::export_policy!(Plugin);

/// What happens after `event`. A plain function, so it is unit tested natively.
pub fn decide(state: &FloorState, event: &FloorEvent) -> Vec<Decision> {
    // `memory` holds the AI that answered the human last ("claude" or "guest").
    let last = match state.memory.as_str() {
        "guest" => Speaker::Guest,
        _ => Speaker::Claude,
    };
    match event {
        FloorEvent::HumanSpeechStarted => turns::barge_in(state),
        FloorEvent::HumanSpeechEnded => turns::unmute_both(),
        FloorEvent::HumanSaid(text) if !text.trim().is_empty() => {
            let speaker = match turns::addressee(text) {
                Addressee::Claude => Speaker::Claude,
                Addressee::Guest => Speaker::Guest,
                Addressee::Both | Addressee::Unnamed => last.other_ai(),
            };
            vec![
                Decision::Remember(speaker.name().to_owned()),
                Decision::respond(speaker, ""),
            ]
        }
        // Autopilot: the AIs talk among themselves until the cap (the human speaking resets it).
        FloorEvent::AiFinished(line)
            if state.autopilot
                && !line.interrupted
                && !state.human_speaking
                && state.ai_turns_in_a_row < state.max_ai_turns =>
        {
            vec![Decision::respond(line.speaker.other_ai(), "")]
        }
        FloorEvent::AutopilotChanged(true) if state.holder.is_none() && !state.human_speaking => {
            vec![Decision::respond(
                Speaker::Claude,
                "Autopilot is on: keep the conversation going.",
            )]
        }
        _ => vec![Decision::Wait],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use studio_plugin::AiLine;

    #[test]
    fn the_named_ai_answers_and_is_remembered() {
        let decisions = decide(
            &FloorState::idle(0),
            &FloorEvent::HumanSaid("Guest, what now?".into()),
        );
        assert_eq!(
            decisions,
            vec![
                Decision::Remember("guest".into()),
                Decision::respond(Speaker::Guest, "")
            ]
        );
    }

    #[test]
    fn an_unnamed_line_goes_to_the_other_ai() {
        let mut state = FloorState::idle(0);
        state.memory = "claude".into();
        let decisions = decide(&state, &FloorEvent::HumanSaid("What now?".into()));
        assert_eq!(decisions[1], Decision::respond(Speaker::Guest, ""));
    }

    #[test]
    fn autopilot_alternates_until_the_cap() {
        let mut state = FloorState::idle(0);
        state.autopilot = true;
        let line = FloorEvent::AiFinished(AiLine::finished(Speaker::Claude, "Over to you."));
        assert_eq!(
            decide(&state, &line),
            vec![Decision::respond(Speaker::Guest, "")]
        );
        state.ai_turns_in_a_row = state.max_ai_turns;
        assert_eq!(decide(&state, &line), vec![Decision::Wait]);
    }
}
