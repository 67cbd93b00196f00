//! The three speakers of a studio, as the recorder names their files.

use serde::{Deserialize, Serialize};

/// Who speaks: the human host or one of the two AIs (`SpeakerId` of the frontend protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    /// The human host at the microphone.
    You,
    /// The AI co-host.
    Claude,
    /// The AI guest.
    Guest,
}

impl Speaker {
    /// All speakers, in the order their files are listed.
    pub const ALL: [Speaker; 3] = [Speaker::You, Speaker::Claude, Speaker::Guest];

    /// The protocol name, also the stem of the speaker's files (`you.webm`, `you.vtt`).
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::You => "you",
            Speaker::Claude => "claude",
            Speaker::Guest => "guest",
        }
    }

    /// Index into per-speaker arrays, in `ALL` order.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
