//! A studio's two inlets: the handle everyone else holds (commands, and microphone audio in
//! its own lane) and the actor's receiving side.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::session::ClientId;
use tokio::sync::{mpsc, oneshot};

use super::command::{StudioCommand, StudioSendError};
use crate::gateway::protocol::StudioSnapshot;
use crate::session::AudioInStats;
use crate::session::watchdog::Heartbeat;

/// A microphone chunk in a studio's audio lane.
#[derive(Debug)]
pub(super) struct AudioChunk {
    pub(super) client: ClientId,
    pub(super) chunk: Vec<u8>,
}

/// The actor's two inlets: the command queue and the audio lane.
pub(in crate::session) struct Inbox {
    pub(super) commands: mpsc::Receiver<StudioCommand>,
    pub(super) audio: mpsc::Receiver<AudioChunk>,
}

impl Inbox {
    /// The command queue (the registry checks it is empty before retiring an idle studio).
    pub(in crate::session) fn commands(&self) -> &mpsc::Receiver<StudioCommand> {
        &self.commands
    }
}

/// A new studio's handle and inbox; `audio_dropped` counts the chunks the handle drops (lane
/// full), `life` is the studio's heartbeat.
pub(super) fn channels(
    episode_id: Arc<str>,
    generation: u64,
    audio_dropped: Arc<AtomicU64>,
    life: Arc<Heartbeat>,
) -> (StudioHandle, Inbox) {
    let (tx, commands) = mpsc::channel(super::STUDIO_QUEUE);
    let (audio_tx, audio) = mpsc::channel(super::AUDIO_LANE);
    let handle = StudioHandle {
        episode_id,
        generation,
        tx,
        audio: audio_tx,
        audio_dropped,
        life,
    };
    (handle, Inbox { commands, audio })
}

/// A cheap, cloneable address of a running studio.
#[derive(Debug, Clone)]
pub struct StudioHandle {
    episode_id: Arc<str>,
    generation: u64,
    tx: mpsc::Sender<StudioCommand>,
    /// The microphone's own lane (see [`super::AUDIO_LANE`]).
    audio: mpsc::Sender<AudioChunk>,
    /// Chunks dropped because the lane was full; the actor reports them.
    audio_dropped: Arc<AtomicU64>,
    /// Ended by the watchdog: refuse at once, even while the stuck actor still holds its queue.
    life: Arc<Heartbeat>,
}

impl StudioHandle {
    /// The studio's episode id (also the name of its clients' room).
    pub fn episode_id(&self) -> &str {
        &self.episode_id
    }

    /// Queues a command without waiting, so socket handlers never block and keep their order.
    /// Audio goes to the studio's audio lane; a chunk that finds the lane full is dropped and
    /// counted (the studio tells its clients), which is not an error for the sender.
    pub fn send(&self, command: StudioCommand) -> Result<(), StudioSendError> {
        if self.life.is_ended() {
            return Err(StudioSendError::Ended);
        }
        if let StudioCommand::Audio { client, chunk } = command {
            return match self.audio.try_send(AudioChunk { client, chunk }) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    crate::metrics::mic_chunk_dropped();
                    if self.audio_dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                        tracing::warn!(episode = %self.episode_id, %client, "audio lane full; microphone chunks are dropped");
                    }
                    Ok(())
                }
                Err(mpsc::error::TrySendError::Closed(_)) => Err(StudioSendError::Ended),
            };
        }
        self.tx.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StudioSendError::Busy,
            mpsc::error::TrySendError::Closed(_) => StudioSendError::Ended,
        })
    }

    /// Queues a command, waiting for room in the queue; for commands that must not be lost
    /// (a client leaving), sent from async code off the receive loop.
    pub async fn deliver(&self, command: StudioCommand) -> Result<(), StudioSendError> {
        if self.life.is_ended() {
            return Err(StudioSendError::Ended);
        }
        if let StudioCommand::Audio { client, chunk } = command {
            return self
                .audio
                .send(AudioChunk { client, chunk })
                .await
                .map_err(|_| StudioSendError::Ended);
        }
        self.tx
            .send(command)
            .await
            .map_err(|_| StudioSendError::Ended)
    }

    /// How much microphone audio the studio has taken, after everything queued before.
    pub async fn audio_in(&self) -> Result<AudioInStats, StudioSendError> {
        let (tx, rx) = oneshot::channel();
        self.deliver(StudioCommand::AudioIn(tx)).await?;
        rx.await.map_err(|_| StudioSendError::Ended)
    }

    /// Microphone chunks dropped because the studio's audio lane was full.
    pub fn audio_dropped(&self) -> u64 {
        self.audio_dropped.load(Ordering::Relaxed)
    }

    /// The studio's current state, in its order of events (after everything queued before).
    pub async fn snapshot(&self) -> Result<StudioSnapshot, StudioSendError> {
        let (tx, rx) = oneshot::channel();
        self.deliver(StudioCommand::Snapshot(tx)).await?;
        rx.await.map_err(|_| StudioSendError::Ended)
    }

    /// What the admin view shows of the studio, after everything queued before.
    pub async fn status(&self) -> Result<super::command::StudioStatus, StudioSendError> {
        let (tx, rx) = oneshot::channel();
        self.deliver(StudioCommand::Status(tx)).await?;
        rx.await.map_err(|_| StudioSendError::Ended)
    }

    /// Whether the studio is still running.
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed() && !self.life.is_ended()
    }

    pub(in crate::session) fn generation(&self) -> u64 {
        self.generation
    }

    /// The studio's sign of life, for the watchdog.
    pub(in crate::session) fn heartbeat(&self) -> Arc<Heartbeat> {
        self.life.clone()
    }
}
