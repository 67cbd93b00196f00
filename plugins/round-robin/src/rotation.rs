//! The pure rotation rules. `memory` holds `last=<ai>` (who answered the human last) and, after a
//! question to both, `then=<ai>` (who answers second).

use studio_plugin::turns::{self, Addressee};
use studio_plugin::{AiLine, Decision, FloorEvent, FloorState, Speaker};

/// The cue for the first AI when the human asked both.
pub const BOTH_FIRST_CUE: &str =
    "The host asked you both. Answer first, briefly; the other AI answers after you.";
/// The cue for the second AI when the human asked both.
pub const BOTH_SECOND_CUE: &str =
    "The host asked you both and the other AI has answered. Give your own view.";
/// The cue for a prepared answer in thinking mode.
pub const THINKING_CUE: &str = "You were given time to think. Give your considered answer now.";

/// The policy's memory, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// The AI that answered the human last.
    pub last: Option<Speaker>,
    /// The AI that answers next, after a question to both.
    pub then: Option<Speaker>,
}

impl Memory {
    /// Reads `last=claude;then=guest`; unknown parts are ignored.
    pub fn parse(text: &str) -> Self {
        let mut memory = Memory::default();
        for part in text.split(';') {
            let ai = |name: &str| match name.trim() {
                "claude" => Some(Speaker::Claude),
                "guest" => Some(Speaker::Guest),
                _ => None,
            };
            match part.split_once('=') {
                Some(("last", name)) => memory.last = ai(name),
                Some(("then", name)) => memory.then = ai(name),
                _ => {}
            }
        }
        memory
    }

    /// Writes the memory back as text.
    pub fn render(&self) -> String {
        let mut parts = Vec::new();
        if let Some(last) = self.last {
            parts.push(format!("last={}", last.name()));
        }
        if let Some(then) = self.then {
            parts.push(format!("then={}", then.name()));
        }
        parts.join(";")
    }

    /// The AI whose turn it is: the one that did not answer last (claude first).
    pub fn next(&self) -> Speaker {
        match self.last {
            Some(Speaker::Claude) => Speaker::Guest,
            _ => Speaker::Claude,
        }
    }
}

/// Decides what follows `event`.
pub fn decide(state: &FloorState, event: &FloorEvent) -> Vec<Decision> {
    let memory = Memory::parse(&state.memory);
    match event {
        FloorEvent::SessionStarted | FloorEvent::Timer(_) | FloorEvent::AutopilotChanged(false) => {
            vec![Decision::Wait]
        }
        FloorEvent::HumanSpeechStarted => {
            let mut decisions = turns::barge_in(state);
            if memory.then.is_some() {
                decisions.push(Decision::Remember(
                    Memory {
                        then: None,
                        ..memory
                    }
                    .render(),
                ));
            }
            decisions
        }
        FloorEvent::HumanSpeechEnded => turns::unmute_both(),
        FloorEvent::HumanSaid(text) => human_said(memory, text),
        FloorEvent::AiFinished(line) => ai_finished(state, memory, line),
        FloorEvent::AutopilotChanged(true) => {
            if state.holder.is_none() && !state.human_speaking && state.thinking.is_none() {
                vec![Decision::respond(
                    memory.next(),
                    "Autopilot is on: keep the conversation going.",
                )]
            } else {
                vec![Decision::Wait]
            }
        }
    }
}

fn human_said(memory: Memory, text: &str) -> Vec<Decision> {
    if text.trim().is_empty() {
        return vec![Decision::Wait];
    }
    let (first, cue, then) = match turns::addressee(text) {
        Addressee::Claude => (Speaker::Claude, "", None),
        Addressee::Guest => (Speaker::Guest, "", None),
        Addressee::Unnamed => (memory.next(), "", None),
        Addressee::Both => (
            memory.next(),
            BOTH_FIRST_CUE,
            Some(memory.next().other_ai()),
        ),
    };
    let answering = then.unwrap_or(first);
    let remember = Decision::Remember(
        Memory {
            last: Some(answering),
            then,
        }
        .render(),
    );
    if let Some(duration_ms) = turns::human_thinking_request(text) {
        let remember = Decision::Remember(
            Memory {
                last: Some(first),
                then: None,
            }
            .render(),
        );
        return vec![remember, Decision::think(first, duration_ms, THINKING_CUE)];
    }
    vec![remember, Decision::respond(first, cue)]
}

fn ai_finished(state: &FloorState, memory: Memory, line: &AiLine) -> Vec<Decision> {
    if line.interrupted || state.human_speaking {
        return vec![Decision::Wait];
    }
    if let Some(duration_ms) = turns::ai_thinking_request(&line.text) {
        return vec![Decision::think(line.speaker, duration_ms, THINKING_CUE)];
    }
    if let Some(then) = memory.then.filter(|then| *then != line.speaker) {
        return vec![
            Decision::Remember(
                Memory {
                    then: None,
                    ..memory
                }
                .render(),
            ),
            Decision::respond(then, BOTH_SECOND_CUE),
        ];
    }
    if state.autopilot
        && state.ai_turns_in_a_row < state.max_ai_turns
        && line.speaker != Speaker::You
    {
        let next = line.speaker.other_ai();
        return vec![
            Decision::Remember(
                Memory {
                    last: Some(next),
                    then: None,
                }
                .render(),
            ),
            Decision::respond(next, ""),
        ];
    }
    vec![Decision::Wait]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `event` and applies its `remember` decisions, as the host does.
    fn step(state: &mut FloorState, event: FloorEvent) -> Vec<Decision> {
        let decisions = decide(state, &event);
        for decision in &decisions {
            if let Decision::Remember(memory) = decision {
                state.memory = memory.clone();
            }
        }
        decisions
    }

    fn responder(decisions: &[Decision]) -> Option<Speaker> {
        decisions.iter().find_map(|d| match d {
            Decision::Respond(r) => Some(r.speaker),
            _ => None,
        })
    }

    #[test]
    fn unnamed_questions_alternate_claude_guest_claude() {
        let mut state = FloorState::idle(0);
        let mut order = Vec::new();
        for question in ["First?", "Second?", "Third?", "Fourth?"] {
            order.push(responder(&step(
                &mut state,
                FloorEvent::HumanSaid(question.into()),
            )));
        }
        assert_eq!(
            order,
            vec![
                Some(Speaker::Claude),
                Some(Speaker::Guest),
                Some(Speaker::Claude),
                Some(Speaker::Guest)
            ]
        );
    }

    #[test]
    fn a_name_picks_the_ai_and_the_rotation_continues_after_it() {
        let mut state = FloorState::idle(0);
        assert_eq!(
            responder(&step(
                &mut state,
                FloorEvent::HumanSaid("Guest, you first.".into())
            )),
            Some(Speaker::Guest)
        );
        assert_eq!(
            responder(&step(&mut state, FloorEvent::HumanSaid("And now?".into()))),
            Some(Speaker::Claude)
        );
    }

    #[test]
    fn both_means_the_next_in_turn_then_the_other() {
        let mut state = FloorState::idle(0);
        step(&mut state, FloorEvent::HumanSaid("Hello?".into())); // claude answered
        let first = step(
            &mut state,
            FloorEvent::HumanSaid("Both of you, what now?".into()),
        );
        assert_eq!(responder(&first), Some(Speaker::Guest));
        let second = step(
            &mut state,
            FloorEvent::AiFinished(AiLine::finished(Speaker::Guest, "My view.")),
        );
        assert_eq!(
            second.last(),
            Some(&Decision::respond(Speaker::Claude, BOTH_SECOND_CUE))
        );
        assert_eq!(
            step(
                &mut state,
                FloorEvent::AiFinished(AiLine::finished(Speaker::Claude, "Mine."))
            ),
            vec![Decision::Wait]
        );
        // Claude answered last, so the guest is next.
        assert_eq!(
            responder(&step(&mut state, FloorEvent::HumanSaid("Next?".into()))),
            Some(Speaker::Guest)
        );
    }

    #[test]
    fn autopilot_alternates_until_the_cap() {
        let mut state = FloorState::idle(0);
        state.autopilot = true;
        state.max_ai_turns = 2;
        state.ai_turns_in_a_row = 1;
        assert_eq!(
            responder(&step(
                &mut state,
                FloorEvent::AiFinished(AiLine::finished(Speaker::Claude, "a"))
            )),
            Some(Speaker::Guest)
        );
        state.ai_turns_in_a_row = 2;
        assert_eq!(
            step(
                &mut state,
                FloorEvent::AiFinished(AiLine::finished(Speaker::Guest, "b"))
            ),
            vec![Decision::Wait]
        );
    }

    #[test]
    fn thinking_requests_and_barge_in_work_as_in_host_led() {
        let mut state = FloorState::idle(0);
        let decisions = step(
            &mut state,
            FloorEvent::HumanSaid("Take a moment and think about it.".into()),
        );
        assert_eq!(
            decisions.last(),
            Some(&Decision::think(Speaker::Claude, 30_000, THINKING_CUE))
        );
        state.holder = Some(Speaker::Claude);
        let barge = step(&mut state, FloorEvent::HumanSpeechStarted);
        assert_eq!(barge[0], Decision::Stop(Speaker::Claude));
        let asked = step(
            &mut state,
            FloorEvent::AiFinished(AiLine::finished(
                Speaker::Guest,
                "Can I think for 20 seconds?",
            )),
        );
        assert_eq!(
            asked,
            vec![Decision::think(Speaker::Guest, 20_000, THINKING_CUE)]
        );
    }

    #[test]
    fn memory_round_trips() {
        let memory = Memory {
            last: Some(Speaker::Guest),
            then: Some(Speaker::Claude),
        };
        assert_eq!(Memory::parse(&memory.render()), memory);
        assert_eq!(Memory::parse("garbage"), Memory::default());
    }
}
