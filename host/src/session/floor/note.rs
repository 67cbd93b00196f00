//! What the floor's tasks (the STT call, the AI lines, the timers) tell the studio actor, through
//! one channel: the tasks own no studio state, so stopping a line only cancels and aborts them.

use std::time::{Duration, Instant};

use crate::observe::timeline::Wait;
use crate::plugins::CallError;
use crate::plugins::wit::Transcript;
use crate::speakers::Speaker;

/// What the studio's tasks tell its actor.
#[derive(Debug)]
pub(in crate::session) enum Note {
    /// The STT plugin sent a transcript; it reached the host at the instant.
    Transcript(Transcript, Instant),
    /// The STT call failed (it is restarted after a backoff).
    SttFailed(CallError),
    /// The LLM sent its first token of a line.
    LlmFirstToken {
        /// Whose line.
        speaker: Speaker,
        /// Which line.
        line: u64,
        /// Request -> first token.
        wait: Wait,
    },
    /// A piece of the LLM's reply.
    LlmToken {
        /// Whose line.
        speaker: Speaker,
        /// Which line.
        line: u64,
        /// The text.
        text: String,
    },
    /// The LLM call ended.
    LlmDone {
        /// Whose line.
        speaker: Speaker,
        /// Which line.
        line: u64,
        /// The whole reply, or why it failed.
        result: Result<String, CallError>,
        /// Request -> end.
        after: Duration,
    },
    /// A clause goes to TTS; its audio follows.
    ClauseStart {
        /// Whose line.
        speaker: Speaker,
        /// Which line.
        line: u64,
        /// The clause.
        text: String,
        /// When the clause splitter finished it.
        ready: Instant,
    },
    /// 48 kHz audio of the current clause.
    Audio {
        /// Whose line.
        speaker: Speaker,
        /// Which line.
        line: u64,
        /// The samples.
        samples: Vec<i16>,
        /// For the first audio of the line: TTS request -> first audio.
        first: Option<Wait>,
    },
    /// TTS finished a clause (or failed on it).
    ClauseEnd {
        /// Whose line.
        speaker: Speaker,
        /// Which line.
        line: u64,
        /// Why TTS failed, if it did.
        error: Option<CallError>,
    },
    /// The line's task produced everything it will.
    Produced {
        /// Whose line.
        speaker: Speaker,
        /// Which line.
        line: u64,
    },
    /// A timer the policy set fired.
    Timer(String),
    /// The gap after the previous AI's line is over: this line may play.
    GapOver {
        /// Whose line.
        speaker: Speaker,
        /// Which line.
        line: u64,
    },
    /// Thinking mode's time is up.
    ThinkingOver {
        /// Who was thinking.
        speaker: Speaker,
        /// Which line.
        line: u64,
    },
    /// An orb shown as `error` goes back to normal.
    OrbRecovers(Speaker),
    /// The recording's lane met a failure (full disk, unwritable folder).
    RecordingTrouble,
}
