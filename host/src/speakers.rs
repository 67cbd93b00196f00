//! The studio's cast: who may speak ([`Speaker`]: the human `you`, the AIs `claude` and `guest`),
//! which of them are AIs ([`Ai`]), and every way the rest of the server spells them: names, file
//! stems, array slots, the plugin contract's type and the wire's.
//!
//! This is the one place those mappings are written. The wire (`gateway::protocol`) carries
//! [`Speaker`] itself (serialized as `"you"`, `"claude"`, `"guest"`), and the plugin contract's
//! `speaker` converts with `From`. Everything that only makes sense for an AI (an LLM, a voice, a
//! prompt) takes an [`Ai`], so asking for "the LLM of `you`" does not compile.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::plugins::{LlmRole, RoleSlot, wit};

/// Who is speaking: the protocol's `SpeakerId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    /// The human host.
    You,
    /// The AI co-host.
    Claude,
    /// The AI guest.
    Guest,
}

impl Speaker {
    /// All three speakers, in the frontend's order (and the order of [`Speaker::slot`]).
    pub const ALL: [Speaker; 3] = [Speaker::You, Speaker::Claude, Speaker::Guest];

    /// The speaker's name, as the wire, the plugin contract and the logs spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Speaker::You => "you",
            Speaker::Claude => "claude",
            Speaker::Guest => "guest",
        }
    }

    /// The stem of the speaker's recorded files (`you.webm`, `you.vtt`): its name.
    pub const fn file_stem(self) -> &'static str {
        self.name()
    }

    /// The speaker's index in per-speaker arrays (`[T; 3]`), in [`Speaker::ALL`] order.
    pub const fn slot(self) -> usize {
        match self {
            Speaker::You => 0,
            Speaker::Claude => 1,
            Speaker::Guest => 2,
        }
    }

    /// The AI this speaker is, or `None` for the human.
    pub const fn ai(self) -> Option<Ai> {
        match self {
            Speaker::You => None,
            Speaker::Claude => Some(Ai::Claude),
            Speaker::Guest => Some(Ai::Guest),
        }
    }
}

impl fmt::Display for Speaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One of the studio's two AIs: the speakers that have an LLM, a voice and a prompt.
///
/// Only an AI has an LLM, so the plugin host's `llm` takes an `Ai`:
///
/// ```
/// # fn f(host: std::sync::Arc<voice_studio::plugins::PluginHost>) {
/// let claude = host.llm(voice_studio::speakers::Ai::Claude);
/// # }
/// ```
///
/// and asking for the human's does not compile:
///
/// ```compile_fail
/// # fn f(host: std::sync::Arc<voice_studio::plugins::PluginHost>) {
/// host.llm(voice_studio::speakers::Speaker::You);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ai {
    /// The AI co-host.
    Claude,
    /// The AI guest.
    Guest,
}

impl Ai {
    /// Both AIs, in the order of [`Ai::slot`].
    pub const ALL: [Ai; 2] = [Ai::Claude, Ai::Guest];

    /// The AI as a speaker.
    pub const fn speaker(self) -> Speaker {
        match self {
            Ai::Claude => Speaker::Claude,
            Ai::Guest => Speaker::Guest,
        }
    }

    /// The AI's name (its speaker's name).
    pub const fn name(self) -> &'static str {
        self.speaker().name()
    }

    /// The AI's index in per-AI arrays (`[T; 2]`), in [`Ai::ALL`] order.
    pub const fn slot(self) -> usize {
        match self {
            Ai::Claude => 0,
            Ai::Guest => 1,
        }
    }

    /// The other AI.
    pub const fn other(self) -> Ai {
        match self {
            Ai::Claude => Ai::Guest,
            Ai::Guest => Ai::Claude,
        }
    }
}

impl fmt::Display for Ai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Ai> for Speaker {
    fn from(ai: Ai) -> Speaker {
        ai.speaker()
    }
}

/// A speaker that is not an AI was given where an AI is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not an AI")]
pub struct NotAnAi(pub Speaker);

impl TryFrom<Speaker> for Ai {
    type Error = NotAnAi;

    fn try_from(speaker: Speaker) -> Result<Ai, NotAnAi> {
        speaker.ai().ok_or(NotAnAi(speaker))
    }
}

impl PartialEq<Ai> for Speaker {
    fn eq(&self, ai: &Ai) -> bool {
        *self == ai.speaker()
    }
}

impl PartialEq<Speaker> for Ai {
    fn eq(&self, speaker: &Speaker) -> bool {
        self.speaker() == *speaker
    }
}

impl From<Speaker> for wit::Speaker {
    fn from(speaker: Speaker) -> wit::Speaker {
        match speaker {
            Speaker::You => wit::Speaker::You,
            Speaker::Claude => wit::Speaker::Claude,
            Speaker::Guest => wit::Speaker::Guest,
        }
    }
}

impl From<wit::Speaker> for Speaker {
    fn from(speaker: wit::Speaker) -> Speaker {
        match speaker {
            wit::Speaker::You => Speaker::You,
            wit::Speaker::Claude => Speaker::Claude,
            wit::Speaker::Guest => Speaker::Guest,
        }
    }
}

impl LlmRole for Ai {
    fn role_slot(self) -> RoleSlot {
        match self {
            Ai::Claude => RoleSlot::Claude,
            Ai::Guest => RoleSlot::Guest,
        }
    }
}

impl From<Ai> for wit::Speaker {
    fn from(ai: Ai) -> wit::Speaker {
        ai.speaker().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_the_names_and_file_stems() {
        for speaker in Speaker::ALL {
            let json = serde_json::to_value(speaker).ok();
            assert_eq!(json.as_ref().and_then(|v| v.as_str()), Some(speaker.name()));
            assert_eq!(speaker.file_stem(), speaker.name());
            assert_eq!(speaker.to_string(), speaker.name());
            let back: Option<Speaker> =
                serde_json::from_value(serde_json::json!(speaker.name())).ok();
            assert_eq!(back, Some(speaker));
        }
        for ai in Ai::ALL {
            let json = serde_json::to_value(ai).ok();
            assert_eq!(json.as_ref().and_then(|v| v.as_str()), Some(ai.name()));
        }
    }

    #[test]
    fn slots_follow_the_all_orders() {
        for (slot, speaker) in Speaker::ALL.into_iter().enumerate() {
            assert_eq!(speaker.slot(), slot);
        }
        for (slot, ai) in Ai::ALL.into_iter().enumerate() {
            assert_eq!(ai.slot(), slot);
        }
    }

    #[test]
    fn only_the_ais_are_ais() {
        assert_eq!(Ai::try_from(Speaker::You), Err(NotAnAi(Speaker::You)));
        for ai in Ai::ALL {
            assert_eq!(Ai::try_from(ai.speaker()), Ok(ai));
            assert_eq!(Speaker::from(ai), ai);
            assert_eq!(ai.other().other(), ai);
            assert_ne!(ai.other(), ai);
        }
    }

    #[test]
    fn the_plugin_contract_round_trips() {
        for speaker in Speaker::ALL {
            let contract = wit::Speaker::from(speaker);
            assert_eq!(Speaker::from(contract), speaker);
        }
        assert_eq!(wit::Speaker::from(Ai::Guest), wit::Speaker::Guest);
    }
}
