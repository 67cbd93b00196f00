//! The messages a studio actor takes, and why one may not reach it.

#[cfg(test)]
use std::time::Duration;

use crate::session::ClientId;
use tokio::sync::oneshot;

use crate::gateway::protocol::StudioSnapshot;
use crate::session::state::Participant;
use crate::session::{AudioInStats, EndReason};

/// A message to a studio actor.
#[derive(Debug)]
pub enum StudioCommand {
    /// A client said `hello` to this studio.
    Join {
        /// The client.
        client: ClientId,
        /// Its name and audio format.
        participant: Participant,
    },
    /// A client left (disconnected, or said `hello` to another studio).
    Leave {
        /// The client.
        client: ClientId,
    },
    /// A client asked for a `state.snapshot`.
    RequestState {
        /// The client.
        client: ClientId,
    },
    /// A client toggled autopilot.
    SetAutopilot {
        /// The client.
        client: ClientId,
        /// The new value.
        on: bool,
    },
    /// A validated microphone chunk from a client; it travels in the studio's audio lane, not
    /// in the command queue.
    Audio {
        /// The client.
        client: ClientId,
        /// The chunk, in the client's input format.
        chunk: Vec<u8>,
    },
    /// A client typed a line (`text.say`), already checked: the human's final line.
    Say {
        /// The client.
        client: ClientId,
        /// One line of text.
        text: String,
        /// The AI it is addressed to, if the client named one.
        to: Option<crate::speakers::Ai>,
    },
    /// Sends the studio's current state back (for admin views and tests).
    Snapshot(oneshot::Sender<StudioSnapshot>),
    /// Sends back how much microphone audio the studio has taken (for tests and admin views).
    AudioIn(oneshot::Sender<AudioInStats>),
    /// Sends back what the admin view shows of the studio (its clients, orbs, autopilot, clock).
    Status(oneshot::Sender<StudioStatus>),
    /// A client ended the episode (`client.end-session`): the recording is finished and sent
    /// as `recording.ready`, then the studio ends.
    EndSession {
        /// The client.
        client: ClientId,
    },
    /// End the studio.
    End(EndReason),
    /// Makes the actor panic, to prove a failing studio ends alone.
    #[cfg(test)]
    PanicForTest,
    /// Makes the actor stop answering, to prove the watchdog ends a stuck studio alone.
    #[cfg(test)]
    StallForTest(Stall),
}

/// What the admin view shows of a running studio.
#[derive(Debug, Clone)]
pub struct StudioStatus {
    /// Orbs (who speaks, listens or thinks), autopilot and the shared screen.
    pub snapshot: StudioSnapshot,
    /// The names its clients said `hello` with.
    pub clients: Vec<String>,
    /// Whether its floor is open (it listens, answers and records).
    pub recording: bool,
    /// How long its clock has run (from the recording's start once the floor opened).
    pub clock: std::time::Duration,
}

/// How a test makes a studio actor stop answering.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub enum Stall {
    /// Awaits a future that is never ready (a call without a deadline): an abort lands at once.
    Forever,
    /// Blocks its worker thread (a hung system call): an abort lands only when it returns.
    Block(Duration),
}

/// Why a command did not reach a studio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StudioSendError {
    /// Its queue is full; the command was dropped.
    #[error("the studio is not keeping up; the event was dropped")]
    Busy,
    /// The studio has ended.
    #[error("the studio has ended; send hello to join another")]
    Ended,
}

impl StudioCommand {
    /// Whether the audio already in the lane must be taken before this command: a snapshot
    /// reflects the audio sent before it, and a leaving or ending client's last audio counts.
    pub(super) fn follows_audio(&self) -> bool {
        matches!(
            self,
            Self::Snapshot(_)
                | Self::AudioIn(_)
                | Self::Leave { .. }
                | Self::EndSession { .. }
                | Self::End(_)
        )
    }
}
