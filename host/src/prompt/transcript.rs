//! The shared transcript as chat messages, from one AI's point of view.
//!
//! The envelopes and notes are written by `studio_plugin::text::markup`, which plugins read them with.

use studio_plugin::text::markup;

use super::{Cast, HistoryBudget, Line, Message, Role};
use crate::speakers::Ai;

/// Opens the conversation when the AI speaks first: chat APIs need a `user` message first.
const OPENING_NOTE: &str = "The recording has started. You speak first.";
/// Precedes a transcript that starts with the AI's own line, for the same reason.
const STARTED_NOTE: &str = "The recording has started.";
/// Ends a transcript whose last line is the AI's own: a trailing `assistant` message would be
/// taken as the start of the reply and continued.
const AGAIN_NOTE: &str = "It is your turn again.";

/// `transcript` as messages for `ai`: its own lines as `assistant`, everyone else's as
/// `user` in speaker envelopes, trimmed to `budget`, starting and ending with `user`, alternating.
pub(super) fn messages(
    ai: Ai,
    cast: &Cast,
    transcript: &[Line],
    budget: &HistoryBudget,
) -> Vec<Message> {
    let lines: Vec<&Line> = transcript
        .iter()
        .filter(|l| !l.text.trim().is_empty())
        .collect();
    let (head, omitted, tail) = trim(&lines, budget);
    let mut messages: Vec<Message> = Vec::with_capacity(head.len() + tail.len() + 3);
    for line in head {
        push(&mut messages, message(ai, cast, line));
    }
    if omitted > 0 {
        let s = if omitted == 1 { "" } else { "s" };
        push(
            &mut messages,
            note(&format!("{omitted} earlier line{s} left out.")),
        );
    }
    for line in tail {
        push(&mut messages, message(ai, cast, line));
    }
    match messages.first() {
        None => messages.push(note(OPENING_NOTE)),
        Some(first) if first.role == Role::Assistant => messages.insert(0, note(STARTED_NOTE)),
        Some(_) => {}
    }
    if messages.last().is_some_and(|m| m.role == Role::Assistant) {
        messages.push(note(AGAIN_NOTE));
    }
    messages
}

fn note(text: &str) -> Message {
    Message {
        role: Role::User,
        content: markup::studio_note(text),
    }
}

/// Appends a message, merging it into the previous one when both have the same role: Anthropic's
/// API requires `user` and `assistant` to alternate.
fn push(messages: &mut Vec<Message>, message: Message) {
    match messages.last_mut() {
        Some(last) if last.role == message.role => {
            last.content.push('\n');
            last.content.push_str(&message.content);
        }
        _ => messages.push(message),
    }
}

fn message(ai: Ai, cast: &Cast, line: &Line) -> Message {
    let text = line.text.trim();
    if line.speaker == ai {
        // The AI's own words stay plain so it does not learn to write envelopes; a dash marks
        // where it was cut off.
        let content = if line.interrupted {
            format!("{text}{}", markup::CUT_OFF)
        } else {
            text.to_owned()
        };
        return Message {
            role: Role::Assistant,
            content,
        };
    }
    Message {
        role: Role::User,
        // Escaped, so a transcript's words never close or open an envelope.
        content: markup::speaker_envelope(cast.name(line.speaker), text, line.interrupted),
    }
}

/// Splits the lines into the kept opening, the number left out, and the kept recent lines.
fn trim<'a>(
    lines: &'a [&'a Line],
    budget: &HistoryBudget,
) -> (&'a [&'a Line], usize, &'a [&'a Line]) {
    let chars = |l: &&Line| l.text.trim().chars().count();
    let total: usize = lines.iter().map(chars).sum();
    if lines.len() <= budget.max_lines && total <= budget.max_chars {
        return (lines, 0, &[]);
    }
    let head_len = budget
        .keep_first
        .min(lines.len())
        .min(budget.max_lines.saturating_sub(1));
    let head = &lines[..head_len];
    let mut room_chars = budget
        .max_chars
        .saturating_sub(head.iter().map(chars).sum());
    let room_lines = budget.max_lines.saturating_sub(head_len).max(1);
    let mut start = lines.len();
    while start > head_len && lines.len() - start < room_lines {
        let len = chars(&lines[start - 1]);
        // The newest line always goes in: without it there is nothing to answer.
        if len > room_chars && start != lines.len() {
            break;
        }
        room_chars = room_chars.saturating_sub(len);
        start -= 1;
    }
    (head, start - head_len, &lines[start..])
}
