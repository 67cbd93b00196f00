//! The pure routing rules. `memory` holds one pending follow-up: `then:guest` after a question to
//! both AIs (claude answers first, then the guest).

use studio_plugin::turns::{self, Addressee};
use studio_plugin::{AiLine, Decision, FloorEvent, FloorState, Speaker};

/// What `memory` holds while the guest waits to answer a question put to both AIs.
pub const GUEST_FOLLOWS: &str = "then:guest";
/// The cue for the first AI when the human asked both.
pub const BOTH_FIRST_CUE: &str =
    "The host asked you both. Answer first, briefly; the other AI answers after you.";
/// The cue for the second AI when the human asked both.
pub const BOTH_SECOND_CUE: &str =
    "The host asked you both and the other AI has answered. Give your own view.";
/// The cue for a prepared answer in thinking mode.
pub const THINKING_CUE: &str = "You were given time to think. Give your considered answer now.";

/// Decides what follows `event`.
pub fn decide(state: &FloorState, event: &FloorEvent) -> Vec<Decision> {
    match event {
        FloorEvent::SessionStarted | FloorEvent::Timer(_) => vec![Decision::Wait],
        FloorEvent::HumanSpeechStarted => {
            let mut decisions = turns::barge_in(state);
            if !state.memory.is_empty() {
                // The human took over: a queued follow-up would answer a stale question.
                decisions.push(Decision::Remember(String::new()));
            }
            decisions
        }
        FloorEvent::HumanSpeechEnded => turns::unmute_both(),
        FloorEvent::HumanSaid(text) => human_said(state, text),
        FloorEvent::AiFinished(line) => ai_finished(state, line),
        FloorEvent::AutopilotChanged(true) => {
            if state.holder.is_none() && !state.human_speaking && state.thinking.is_none() {
                vec![Decision::respond(
                    Speaker::Claude,
                    "Autopilot is on: keep the conversation with the guest going.",
                )]
            } else {
                vec![Decision::Wait]
            }
        }
        FloorEvent::AutopilotChanged(false) => vec![Decision::Wait],
    }
}

/// Routes the human's final transcript: thinking request, then addressing by name.
pub fn human_said(state: &FloorState, text: &str) -> Vec<Decision> {
    if text.trim().is_empty() {
        return vec![Decision::Wait];
    }
    let addressee = turns::addressee(text);
    let mut decisions = Vec::new();
    if !state.memory.is_empty() {
        decisions.push(Decision::Remember(String::new()));
    }
    if let Some(duration_ms) = turns::human_thinking_request(text) {
        let speaker = match addressee {
            Addressee::Guest => Speaker::Guest,
            _ => Speaker::Claude,
        };
        decisions.push(Decision::think(speaker, duration_ms, THINKING_CUE));
        return decisions;
    }
    match addressee {
        Addressee::Claude | Addressee::Unnamed => {
            decisions.push(Decision::respond(Speaker::Claude, ""))
        }
        Addressee::Guest => decisions.push(Decision::respond(Speaker::Guest, "")),
        Addressee::Both => {
            decisions.retain(|d| !matches!(d, Decision::Remember(_)));
            decisions.push(Decision::Remember(GUEST_FOLLOWS.to_owned()));
            decisions.push(Decision::respond(Speaker::Claude, BOTH_FIRST_CUE));
        }
    }
    decisions
}

/// What follows an AI's line: its own thinking request, a queued follow-up, or autopilot.
pub fn ai_finished(state: &FloorState, line: &AiLine) -> Vec<Decision> {
    if line.interrupted || state.human_speaking {
        return vec![Decision::Wait];
    }
    if let Some(duration_ms) = turns::ai_thinking_request(&line.text) {
        return vec![Decision::think(line.speaker, duration_ms, THINKING_CUE)];
    }
    if state.memory == GUEST_FOLLOWS && line.speaker == Speaker::Claude {
        return vec![
            Decision::Remember(String::new()),
            Decision::respond(Speaker::Guest, BOTH_SECOND_CUE),
        ];
    }
    if state.autopilot
        && state.ai_turns_in_a_row < state.max_ai_turns
        && line.speaker != Speaker::You
    {
        return vec![Decision::respond(line.speaker.other_ai(), "")];
    }
    vec![Decision::Wait]
}

#[cfg(test)]
mod tests {
    use super::*;
    use studio_plugin::Thinking;

    fn said(state: &FloorState, text: &str) -> Vec<Decision> {
        decide(state, &FloorEvent::HumanSaid(text.to_owned()))
    }

    fn finished(state: &FloorState, speaker: Speaker, text: &str) -> Vec<Decision> {
        decide(
            state,
            &FloorEvent::AiFinished(AiLine::finished(speaker, text)),
        )
    }

    /// Applies `remember` decisions the way the host does.
    fn remembered(mut state: FloorState, decisions: &[Decision]) -> FloorState {
        for decision in decisions {
            if let Decision::Remember(memory) = decision {
                state.memory = memory.clone();
            }
        }
        state
    }

    #[test]
    fn unnamed_human_line_goes_to_claude() {
        assert_eq!(
            said(&FloorState::idle(0), "What's the plan for today?"),
            vec![Decision::respond(Speaker::Claude, "")]
        );
    }

    #[test]
    fn addressing_the_guest_by_name_makes_the_guest_answer() {
        assert_eq!(
            said(&FloorState::idle(0), "Guest, do you agree with that?"),
            vec![Decision::respond(Speaker::Guest, "")]
        );
        assert_eq!(
            said(&FloorState::idle(0), "Claude, your take?"),
            vec![Decision::respond(Speaker::Claude, "")]
        );
    }

    #[test]
    fn asking_both_makes_claude_answer_then_the_guest() {
        let state = FloorState::idle(0);
        let first = said(&state, "Both of you, give me your closing thoughts.");
        assert_eq!(
            first,
            vec![
                Decision::Remember(GUEST_FOLLOWS.to_owned()),
                Decision::respond(Speaker::Claude, BOTH_FIRST_CUE)
            ]
        );
        let state = remembered(state, &first);
        let second = finished(&state, Speaker::Claude, "My closing thought is brief.");
        assert_eq!(
            second,
            vec![
                Decision::Remember(String::new()),
                Decision::respond(Speaker::Guest, BOTH_SECOND_CUE)
            ]
        );
        let state = remembered(state, &second);
        assert_eq!(
            finished(&state, Speaker::Guest, "And mine."),
            vec![Decision::Wait]
        );
    }

    #[test]
    fn human_interrupting_drops_the_queued_guest_answer() {
        let mut state = FloorState::idle(0);
        state.memory = GUEST_FOLLOWS.to_owned();
        state.holder = Some(Speaker::Claude);
        let decisions = decide(&state, &FloorEvent::HumanSpeechStarted);
        assert!(decisions.contains(&Decision::Stop(Speaker::Claude)));
        assert!(decisions.contains(&Decision::Remember(String::new())));
    }

    #[test]
    fn human_speech_mutes_both_and_stops_the_speaker_then_unmutes() {
        let mut state = FloorState::idle(0);
        state.holder = Some(Speaker::Claude);
        assert_eq!(
            decide(&state, &FloorEvent::HumanSpeechStarted),
            vec![
                Decision::Stop(Speaker::Claude),
                Decision::Mute(Speaker::Claude),
                Decision::Mute(Speaker::Guest)
            ]
        );
        assert_eq!(
            decide(&state, &FloorEvent::HumanSpeechEnded),
            vec![
                Decision::Unmute(Speaker::Claude),
                Decision::Unmute(Speaker::Guest)
            ]
        );
    }

    #[test]
    fn take_a_moment_puts_the_addressed_ai_in_thinking_mode() {
        assert_eq!(
            said(
                &FloorState::idle(0),
                "Guest, take a moment and think about it."
            ),
            vec![Decision::think(Speaker::Guest, 30_000, THINKING_CUE)]
        );
        assert_eq!(
            said(
                &FloorState::idle(0),
                "Give me 45 seconds on this, both of you."
            ),
            vec![Decision::think(Speaker::Claude, 45_000, THINKING_CUE)]
        );
    }

    #[test]
    fn an_ai_asking_to_think_gets_thinking_mode() {
        assert_eq!(
            finished(
                &FloorState::idle(0),
                Speaker::Guest,
                "Hard question. Can I think for a minute?"
            ),
            vec![Decision::think(Speaker::Guest, 60_000, THINKING_CUE)]
        );
    }

    #[test]
    fn without_autopilot_an_ai_line_waits_for_the_human() {
        assert_eq!(
            finished(&FloorState::idle(0), Speaker::Claude, "Here is my answer."),
            vec![Decision::Wait]
        );
    }

    #[test]
    fn autopilot_alternates_until_the_cap() {
        let mut state = FloorState::idle(0);
        state.autopilot = true;
        state.max_ai_turns = 4;
        state.ai_turns_in_a_row = 1;
        assert_eq!(
            finished(&state, Speaker::Claude, "Over to you."),
            vec![Decision::respond(Speaker::Guest, "")]
        );
        state.ai_turns_in_a_row = 3;
        assert_eq!(
            finished(&state, Speaker::Guest, "Back to you."),
            vec![Decision::respond(Speaker::Claude, "")]
        );
        state.ai_turns_in_a_row = 4;
        assert_eq!(
            finished(&state, Speaker::Claude, "Enough."),
            vec![Decision::Wait]
        );
    }

    #[test]
    fn autopilot_switched_on_while_idle_lets_claude_start() {
        let decisions = decide(&FloorState::idle(0), &FloorEvent::AutopilotChanged(true));
        assert!(
            matches!(decisions.as_slice(), [Decision::Respond(r)] if r.speaker == Speaker::Claude)
        );
        let mut busy = FloorState::idle(0);
        busy.holder = Some(Speaker::Guest);
        assert_eq!(
            decide(&busy, &FloorEvent::AutopilotChanged(true)),
            vec![Decision::Wait]
        );
        let mut thinking = FloorState::idle(0);
        thinking.thinking = Some(Thinking {
            speaker: Speaker::Claude,
            ends_at_ms: 30_000,
        });
        assert_eq!(
            decide(&thinking, &FloorEvent::AutopilotChanged(true)),
            vec![Decision::Wait]
        );
    }

    #[test]
    fn interrupted_lines_and_empty_transcripts_wait() {
        let state = FloorState::idle(0);
        let cut = AiLine {
            speaker: Speaker::Claude,
            text: "I was say".into(),
            interrupted: true,
        };
        assert_eq!(
            decide(&state, &FloorEvent::AiFinished(cut)),
            vec![Decision::Wait]
        );
        assert_eq!(said(&state, "   "), vec![Decision::Wait]);
    }

    #[test]
    fn same_input_gives_same_output() {
        let state = FloorState::idle(5);
        let event = FloorEvent::HumanSaid("Both of you, quickly.".into());
        assert_eq!(decide(&state, &event), decide(&state, &event));
    }
}
