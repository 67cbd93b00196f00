//! A line the human typed (`text.say`) instead of speaking it: taken as if spoken. It takes the
//! floor from an AI that is speaking (a barge-in), reaches the policy as speech that started,
//! ended and was said, and becomes the human's final line like a final transcript
//! ([`Floor::human_final`]): caption, transcript, recording, `human-said`.

use std::time::Instant;

use super::Floor;
use super::ear::HumanLine;
use crate::plugins::wit::FloorEvent;
use crate::session::room::Room;
use crate::speakers::Ai;

impl Floor {
    /// The human typed `text` (checked by the gateway: one line, within the limit), for `to` if
    /// the client named an AI.
    pub(in crate::session) async fn hear_typed(
        &mut self,
        room: &mut Room,
        text: String,
        to: Option<Ai>,
    ) {
        let now_ms = room.clock_ms();
        let text = addressed(text, to);
        // As the human's voice would: whoever is speaking stops.
        self.human_barges_in(room).await;
        // The policy hears the line as an utterance that began and ended, unless the human is
        // speaking as well (then the microphone's own start and end reach it).
        if !self.ear.human_speaking {
            self.queue(FloorEvent::HumanSpeechStarted);
            self.queue(FloorEvent::HumanSpeechEnded);
        }
        // The answer's latencies start at the line's arrival: no recognizer, no end of speech.
        self.ear.typed_line(Instant::now());
        let id = format!("you-typed-{}-{}", room.generation, self.ear.typed_lines());
        tracing::info!(episode = %room.episode_id, to = ?to, chars = text.chars().count(), "text.say");
        let line = HumanLine {
            id,
            text,
            start_ms: now_ms,
            end_ms: now_ms,
            confidence: None,
            typed: true,
        };
        self.human_final(room, line).await;
        self.run_policy(room).await;
        room.report_problems().await;
    }
}

/// The line as the human would say it to `to`: starting with the AI's name (how every turn
/// policy hears whom a line is for), unless it already does.
fn addressed(text: String, to: Option<Ai>) -> String {
    let Some(ai) = to else {
        return text;
    };
    let first: String = text
        .chars()
        .skip_while(|c| !c.is_alphanumeric())
        .take_while(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if first == ai.name() {
        return text;
    }
    let name = match ai {
        Ai::Claude => "Claude",
        Ai::Guest => "Guest",
    };
    format!("{name}, {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_for_an_ai_starts_with_its_name_once() {
        assert_eq!(
            addressed("what do you think?".into(), Some(Ai::Guest)),
            "Guest, what do you think?"
        );
        assert_eq!(
            addressed("Claude, go on.".into(), Some(Ai::Claude)),
            "Claude, go on."
        );
        assert_eq!(
            addressed("Claude, go on.".into(), Some(Ai::Guest)),
            "Guest, Claude, go on."
        );
        assert_eq!(addressed("Hello all.".into(), None), "Hello all.");
    }
}
