//! The LLM request for an AI's next line: a system prompt (persona, briefing, studio rules, the
//! policy's cue) and the shared transcript as alternating `user` / `assistant` messages.
//!
//! Plain types only: the session converts a [`PromptRequest`] into the plugin contract's
//! `llm-request`, so this module does not depend on the plugin bindings.
//! [`ClauseSplitter`] (the plugin SDK's `text` module, shared with plugins) cuts the streamed reply
//! into clauses for TTS.

mod system;
mod transcript;

use crate::briefings::Briefing;
use crate::speakers::{Ai, Speaker};

/// The streamed reply is cut into clauses for TTS by the splitter the plugins share.
pub use studio_plugin::text::ClauseSplitter;
/// What of the streamed reply is spoken: markup the model imitated taken out before the splitter.
pub use studio_plugin::text::spoken::SpokenFilter;
pub use system::THINKING_REQUEST;

/// Reply budget for an ordinary line (1-3 spoken sentences fit with room to spare).
const LINE_MAX_TOKENS: u32 = 300;
/// Reply budget for an answer prepared in thinking mode, which may run longer.
const PREPARED_MAX_TOKENS: u32 = 600;

/// One line of the shared transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Who said it.
    pub speaker: Speaker,
    /// What was said (for an AI cut off by barge-in: only what was played).
    pub text: String,
    /// Whether the speaker was cut off.
    pub interrupted: bool,
}

impl Line {
    /// A line that was said in full.
    pub fn said(speaker: Speaker, text: impl Into<String>) -> Line {
        Line {
            speaker,
            text: text.into(),
            interrupted: false,
        }
    }
}

/// Who wrote a message, as chat LLM APIs see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everyone but the AI being prompted (and the studio's notes).
    User,
    /// The AI being prompted.
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// The text.
    pub content: String,
}

/// Everything an LLM needs for an AI's next line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRequest {
    /// The AI whose line this is.
    pub ai: Ai,
    /// Persona, briefing, studio rules and the current cue.
    pub system: String,
    /// The transcript: starts with `user`, alternates, ends with `user`.
    pub messages: Vec<Message>,
    /// An upper bound on the reply's length in tokens.
    pub max_tokens: u32,
}

/// The names the AIs use for each speaker, and the operator's extra guest instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cast {
    /// The human host's name (the participant name from `hello`).
    pub host: String,
    /// The co-host AI's display name.
    pub claude: String,
    /// The guest AI's display name.
    pub guest: String,
    /// The settings dialog's guest system instructions, added to the guest's prompt.
    pub guest_instructions: Option<String>,
}

impl Default for Cast {
    fn default() -> Cast {
        Cast {
            host: "Host".into(),
            claude: "Claude".into(),
            guest: "Guest".into(),
            guest_instructions: None,
        }
    }
}

impl Cast {
    /// The default cast with the human's participant name (blank or none keeps "Host").
    pub fn with_host(participant_name: Option<&str>) -> Cast {
        let mut cast = Cast::default();
        if let Some(name) = participant_name.map(str::trim).filter(|n| !n.is_empty()) {
            cast.host = name.to_owned();
        }
        cast
    }

    /// The name a speaker goes by in prompts.
    pub fn name(&self, speaker: Speaker) -> &str {
        match speaker {
            Speaker::You => &self.host,
            Speaker::Claude => &self.claude,
            Speaker::Guest => &self.guest,
        }
    }
}

/// What the turn policy asks of this particular line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cue {
    /// The running autopilot segment's cue (showrunner), if any.
    pub segment: Option<String>,
    /// The policy's instruction for this line (`respond.cue` / `think.cue`), if any.
    pub instruction: Option<String>,
    /// Seconds the AI was given in thinking mode, when this is the prepared answer.
    pub prepared_secs: Option<u32>,
}

/// How much transcript goes into a prompt: the opening lines plus the most recent ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryBudget {
    /// Most lines kept in all.
    pub max_lines: usize,
    /// Most characters of line text kept in all (the newest line is kept whatever its length).
    pub max_chars: usize,
    /// Lines from the start that are always kept: the opening usually frames the episode.
    pub keep_first: usize,
}

impl Default for HistoryBudget {
    fn default() -> HistoryBudget {
        HistoryBudget {
            max_lines: 40,
            max_chars: 6000,
            keep_first: 2,
        }
    }
}

/// Builds the request for `ai`'s next line with the default [`HistoryBudget`].
pub fn build(
    ai: Ai,
    briefing: &Briefing,
    cast: &Cast,
    cue: &Cue,
    transcript: &[Line],
) -> PromptRequest {
    build_within(
        ai,
        briefing,
        cast,
        cue,
        transcript,
        &HistoryBudget::default(),
    )
}

/// Builds the request for `ai`'s next line, keeping the transcript within `budget`. Prompts
/// are for the AIs only: the human's lines come from the microphone.
pub fn build_within(
    ai: Ai,
    briefing: &Briefing,
    cast: &Cast,
    cue: &Cue,
    transcript: &[Line],
    budget: &HistoryBudget,
) -> PromptRequest {
    PromptRequest {
        ai,
        system: system::system_prompt(ai, briefing, cast, cue),
        messages: transcript::messages(ai, cast, transcript, budget),
        max_tokens: if cue.prepared_secs.is_some() {
            PREPARED_MAX_TOKENS
        } else {
            LINE_MAX_TOKENS
        },
    }
}

#[cfg(test)]
mod markup_tests;
#[cfg(test)]
mod tests;
