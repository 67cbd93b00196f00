//! The conversation in an [`LlmRequest`](crate::LlmRequest), read for the plugin: who said
//! what, unwrapped and unescaped, and back to plain text for providers that take plain text.
//!
//! The studio writes others' lines into `user` messages as markup, several per message:
//!
//! ```text
//! --- user
//! <studio>3 earlier lines left out.</studio>
//! <speaker name="Guest">Buses &amp; bikes win: think &lt;10 minute waits.</speaker>
//! <speaker name="Ana" interrupted="true">Guest, what about deliver</speaker>
//! --- assistant
//! That works for shops, but the night shift—
//! --- user
//! <speaker name="Ana">Claude, is that "fair"?</speaker>
//! ```
//!
//! Chat models are told this format in the system prompt and take the messages as they are (the
//! first-party `anthropic` and `openai-compat` adapters send them unchanged). A plugin that
//! reads the conversation itself (a rule-based bot, a model without that instruction) reads
//! [`lines`]:
//!
//! ```
//! use studio_plugin::transcript::{self, Who};
//! use studio_plugin::{ChatMessage, ChatRole};
//!
//! let messages = [
//!     ChatMessage::new(ChatRole::User, "<speaker name=\"Ana\">Welcome!</speaker>"),
//!     ChatMessage::new(ChatRole::Assistant, "Thanks, Ana."),
//!     ChatMessage::new(
//!         ChatRole::User,
//!         "<speaker name=\"Guest\">Cars &amp; buses.</speaker>\n\
//!          <speaker name=\"Ana\">Claude?</speaker>",
//!     ),
//! ];
//! let lines = transcript::lines(&messages);
//! assert_eq!(lines.len(), 4);
//! assert_eq!(lines[2].who, Who::Named("Guest".into()));
//! assert_eq!(lines[2].text, "Cars & buses.");
//! let last = transcript::last_said(&messages).expect("someone spoke");
//! assert_eq!((last.who, last.text.as_str()), (Who::Named("Ana".into()), "Claude?"));
//! assert_eq!(
//!     transcript::plain_text(&messages, "Claude"),
//!     "Ana: Welcome!\nClaude: Thanks, Ana.\nGuest: Cars & buses.\nAna: Claude?"
//! );
//! ```
//!
//! The whole format (envelopes, escaping, studio notes, names) is described in the SDK's README,
//! section "What an LLM plugin receives"; the host writes it with the same crate
//! (`text::markup`) this module reads it with.

pub use crate::text::markup::{CUT_OFF, Line, Who, escape, unescape};

use crate::text::markup;
use crate::{ChatMessage, ChatRole};

/// Every line of the conversation, in order: `user` messages unwrapped into their envelopes and
/// notes, `assistant` messages as the AI's own lines (one per `\n`, the cut-off mark `—` read as
/// `interrupted`). A `system` message (the studio sends none) is a studio line.
pub fn lines(messages: &[ChatMessage]) -> Vec<Line> {
    messages
        .iter()
        .flat_map(|message| match message.role {
            ChatRole::User => markup::user_lines(&message.content),
            ChatRole::Assistant => markup::own_lines(&message.content),
            ChatRole::System => vec![Line {
                who: Who::Studio,
                text: message.content.trim().to_owned(),
                interrupted: false,
            }],
        })
        .collect()
}

/// The newest line someone else said (the line the AI answers), if any.
pub fn last_said(messages: &[ChatMessage]) -> Option<Line> {
    lines(messages)
        .into_iter()
        .rev()
        .find(|line| matches!(line.who, Who::Named(_)))
}

/// The messages with their markup turned into plain text, roles kept: each `user` message's
/// lines as `NAME: TEXT` and `(Studio: NOTE)`, one per `\n`, unescaped. For a provider that
/// wants plain chat messages and no tags.
pub fn plain_messages(messages: &[ChatMessage]) -> Vec<ChatMessage> {
    messages
        .iter()
        .map(|message| match message.role {
            ChatRole::User => {
                let lines: Vec<String> = markup::user_lines(&message.content)
                    .iter()
                    .map(Line::plain)
                    .collect();
                ChatMessage::new(ChatRole::User, lines.join("\n"))
            }
            _ => message.clone(),
        })
        .collect()
}

/// The whole conversation as one plain text, a line each: `NAME: TEXT`, the AI's own lines
/// under `my_name`, studio notes as `(Studio: NOTE)`. For a completion-style model or a prompt
/// template.
pub fn plain_text(messages: &[ChatMessage], my_name: &str) -> String {
    let lines: Vec<String> = lines(messages)
        .iter()
        .map(|line| match line.who {
            Who::Me => format!("{my_name}: {}", line.plain()),
            _ => line.plain(),
        })
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request's messages exactly as the host built them (its test `prompt::markup_tests`
    /// checks that it still builds this): Claude's view, the human called Ana, six lines kept.
    const FIXTURE: &str = include_str!("../tests/fixtures/claude-messages.txt");

    fn fixture() -> Vec<ChatMessage> {
        let mut messages: Vec<ChatMessage> = Vec::new();
        for line in FIXTURE.lines() {
            match line.strip_prefix("--- ") {
                Some("user") => messages.push(ChatMessage::new(ChatRole::User, "")),
                Some("assistant") => messages.push(ChatMessage::new(ChatRole::Assistant, "")),
                _ => {
                    let last = messages.last_mut().expect("a role line first");
                    if !last.content.is_empty() {
                        last.content.push('\n');
                    }
                    last.content.push_str(line);
                }
            }
        }
        messages
    }

    #[test]
    fn the_hosts_messages_read_as_the_lines_that_were_said() {
        let messages = fixture();
        assert_eq!(messages.len(), 5);
        let lines = lines(&messages);
        let heard: Vec<(Who, &str, bool)> = lines
            .iter()
            .map(|l| (l.who.clone(), l.text.as_str(), l.interrupted))
            .collect();
        let ana = || Who::Named("Ana".into());
        assert_eq!(
            heard,
            [
                (
                    ana(),
                    "Welcome to Open Roads. Today: should cities ban private cars downtown?",
                    false
                ),
                (
                    Who::Me,
                    "Thanks, Ana. I want to know who pays for a ban.",
                    false
                ),
                (Who::Studio, "3 earlier lines left out.", false),
                (
                    Who::Named("Guest".into()),
                    "Buses & bikes win if the road space goes to them: think <10 minute waits.",
                    false
                ),
                (ana(), "Guest, what about deliver", true),
                (Who::Me, "That works for shops, but the night shift", true),
                (ana(), "Claude, is that \"fair\"?", false),
            ]
        );
        let last = last_said(&messages).expect("Ana spoke last");
        assert_eq!(last.text, "Claude, is that \"fair\"?");
    }

    #[test]
    fn the_hosts_messages_become_plain_text() {
        let messages = fixture();
        let plain = plain_messages(&messages);
        assert_eq!(plain.len(), messages.len());
        assert_eq!(plain[1], messages[1], "the AI's own lines stay as they are");
        assert_eq!(
            plain[2].content,
            "(Studio: 3 earlier lines left out.)\n\
             Guest: Buses & bikes win if the road space goes to them: think <10 minute waits.\n\
             Ana: Guest, what about deliver—"
        );
        assert_eq!(
            plain_text(&messages, "Claude"),
            "Ana: Welcome to Open Roads. Today: should cities ban private cars downtown?\n\
             Claude: Thanks, Ana. I want to know who pays for a ban.\n\
             (Studio: 3 earlier lines left out.)\n\
             Guest: Buses & bikes win if the road space goes to them: think <10 minute waits.\n\
             Ana: Guest, what about deliver—\n\
             Claude: That works for shops, but the night shift—\n\
             Ana: Claude, is that \"fair\"?"
        );
    }

    #[test]
    fn an_opening_note_alone_has_nobody_to_answer() {
        let messages = [ChatMessage::new(
            ChatRole::User,
            "<studio>The recording has started. You speak first.</studio>",
        )];
        assert_eq!(last_said(&messages), None);
        assert_eq!(
            lines(&messages)[0].text,
            "The recording has started. You speak first."
        );
        assert!(lines(&[]).is_empty());
    }
}
