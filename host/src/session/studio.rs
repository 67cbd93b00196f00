//! The studio actor: one task per studio owns its [`StudioState`]; everything else talks to it
//! through its channel ([`StudioHandle`]), so the state needs no lock and events keep their order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use socketioxide::SocketIo;
use socketioxide::socket::Sid;
use tokio::sync::{mpsc, oneshot, watch};

mod line;
mod turn_loop;
mod turn_task;

use super::limits::{AutopilotBudget, StudioLimits};
use super::state::{MicrophoneVerdict, Participant, StudioState};
use super::watchdog::{Heartbeat, beat_period};
use super::{EndReason, RegistryInner, TurnLoopSetup};
use crate::config::RuntimeConfig;
use crate::gateway::protocol::{
    Caption, ErrorCode, ErrorPayload, ModeNormal, ModeThinking, OrbState, RecordingReady,
    SessionEnd, SharedScreen, SharedScreenMode, Speaker, StudioSnapshot, ThinkingCountdown,
    server_events,
};
use turn_loop::{Floor, FloorStep};

/// How many commands may wait for a studio; audio arrives at 50 chunks a second per microphone,
/// so this is seconds of slack, and a full queue means the studio is stuck, not busy.
pub const STUDIO_QUEUE: usize = 512;
/// How many microphone chunks may wait in a studio's audio lane: ~5 s of 20 ms chunks. The lane
/// is apart from the command queue, so the microphone holder's audio never waits behind other
/// clients' control events; a full lane drops the chunk and counts it.
pub const AUDIO_LANE: usize = 256;
/// The actor takes audio before commands, but at most this many chunks in a row while a command
/// waits, so a stream of audio cannot starve joins, leaves and snapshots.
pub const AUDIO_PER_COMMAND: u32 = 8;
/// A studio tells its clients about dropped microphone chunks at most this often.
const AUDIO_DROP_REPORT_EVERY: Duration = Duration::from_secs(5);

/// A message to a studio actor.
#[derive(Debug)]
pub enum StudioCommand {
    /// A client said `hello` to this studio.
    Join {
        /// The client.
        client: Sid,
        /// Its name and audio format.
        participant: Participant,
    },
    /// A client left (disconnected, or said `hello` to another studio).
    Leave {
        /// The client.
        client: Sid,
    },
    /// A client asked for a `state.snapshot`.
    RequestState {
        /// The client.
        client: Sid,
    },
    /// A client toggled autopilot.
    SetAutopilot {
        /// The client.
        client: Sid,
        /// The new value.
        on: bool,
    },
    /// A validated microphone chunk from a client; it travels in the studio's audio lane, not
    /// in the command queue.
    Audio {
        /// The client.
        client: Sid,
        /// The chunk, in the client's input format.
        chunk: Vec<u8>,
    },
    /// The turn loop changed a speaker's orb.
    SetOrb {
        /// Whose orb.
        speaker: Speaker,
        /// Its new state.
        state: OrbState,
    },
    /// The turn loop produced a caption.
    PushCaption(Caption),
    /// The turn loop changed the shared screen.
    SetSharedScreen(SharedScreen),
    /// The turn loop put a speaker in thinking mode: `mode.thinking` plus the countdown screen.
    StartThinking(ModeThinking),
    /// Thinking mode ended: `mode.normal` plus the conversation screen.
    EndThinking(ModeNormal),
    /// The episode's recording is complete.
    RecordingReady(RecordingReady),
    /// Sends the studio's current state back (for the turn loop, admin views and tests).
    Snapshot(oneshot::Sender<StudioSnapshot>),
    /// Sends back how much microphone audio the studio has taken (for tests and admin views).
    AudioIn(oneshot::Sender<super::AudioInStats>),
    /// A client ended the episode (`client.end-session`): the recording is finished and sent
    /// as `recording.ready`, then the studio ends.
    EndSession {
        /// The client.
        client: Sid,
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
    fn follows_audio(&self) -> bool {
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

/// A microphone chunk in a studio's audio lane.
#[derive(Debug)]
pub(super) struct AudioChunk {
    client: Sid,
    chunk: Vec<u8>,
}

/// The actor's two inlets: the command queue and the audio lane.
pub(super) struct Inbox {
    commands: mpsc::Receiver<StudioCommand>,
    audio: mpsc::Receiver<AudioChunk>,
}

impl Inbox {
    /// The command queue (the registry checks it is empty before retiring an idle studio).
    pub(super) fn commands(&self) -> &mpsc::Receiver<StudioCommand> {
        &self.commands
    }
}

/// A cheap, cloneable address of a running studio.
#[derive(Debug, Clone)]
pub struct StudioHandle {
    episode_id: Arc<str>,
    generation: u64,
    tx: mpsc::Sender<StudioCommand>,
    /// The microphone's own lane (see [`AUDIO_LANE`]).
    audio: mpsc::Sender<AudioChunk>,
    /// Chunks dropped because the lane was full; the actor reports them.
    audio_dropped: Arc<AtomicU64>,
    /// Ended by the watchdog: refuse at once, even while the stuck actor still holds its queue.
    life: Arc<Heartbeat>,
}

impl StudioHandle {
    /// The studio's episode id (also its Socket.IO room).
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
    pub async fn audio_in(&self) -> Result<super::AudioInStats, StudioSendError> {
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

    /// Whether the studio is still running.
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed() && !self.life.is_ended()
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// The studio's sign of life, for the watchdog.
    pub(super) fn heartbeat(&self) -> Arc<Heartbeat> {
        self.life.clone()
    }
}

/// The actor's side: the state plus what it needs to reach clients.
pub(super) struct Studio {
    episode_id: Arc<str>,
    generation: u64,
    state: StudioState,
    io: SocketIo,
    registry: Arc<RegistryInner>,
    grace: Duration,
    /// The guest settings of the settings API; the turn loop reads them at the start of each turn.
    runtime_config: watch::Receiver<RuntimeConfig>,
    /// Studio clock origin: every caption and event of this studio is stamped relative to it.
    started: Instant,
    /// What the turn loop works with; `None`: the studio keeps state but nobody answers.
    turn_loop: Option<Arc<TurnLoopSetup>>,
    /// The turn loop's state, once opened.
    floor: Option<Floor>,
    /// Problems to report to the clients at the next chance (recording failures).
    pending_problems: Vec<String>,
    /// Beaten each time the loop turns; the watchdog ends the studio when it stops.
    heartbeat: Arc<Heartbeat>,
    /// What this studio may spend.
    limits: StudioLimits,
    /// Autopilot lines spent, per minute and per episode; never reset by a toggle.
    autopilot_budget: AutopilotBudget,
    /// Microphone chunks the handles dropped (lane full), and how many of them were reported.
    audio_dropped: Arc<AtomicU64>,
    audio_drops_told: u64,
    audio_drops_told_at: Option<Instant>,
}

impl Studio {
    /// Creates the actor and its handle; the caller spawns [`Studio::run`].
    pub(super) fn new(
        episode_id: &str,
        generation: u64,
        io: SocketIo,
        registry: Arc<RegistryInner>,
        grace: Duration,
        runtime_config: watch::Receiver<RuntimeConfig>,
        turn_loop: Option<Arc<TurnLoopSetup>>,
    ) -> (Self, StudioHandle, Inbox) {
        let heartbeat = Arc::new(Heartbeat::default());
        let (tx, commands) = mpsc::channel(STUDIO_QUEUE);
        let (audio_tx, audio) = mpsc::channel(AUDIO_LANE);
        let audio_dropped = Arc::new(AtomicU64::new(0));
        let episode_id: Arc<str> = Arc::from(episode_id);
        let handle = StudioHandle {
            episode_id: episode_id.clone(),
            generation,
            tx,
            audio: audio_tx,
            audio_dropped: audio_dropped.clone(),
            life: heartbeat.clone(),
        };
        let limits = registry.limits();
        let studio = Self {
            episode_id,
            generation,
            state: StudioState::new(),
            io,
            registry,
            grace,
            runtime_config,
            started: Instant::now(),
            turn_loop,
            floor: None,
            pending_problems: Vec::new(),
            heartbeat,
            limits,
            autopilot_budget: AutopilotBudget::new(&limits),
            audio_dropped,
            audio_drops_told: 0,
            audio_drops_told_at: None,
        };
        (studio, handle, Inbox { commands, audio })
    }

    /// The actor loop: handle commands in order until the studio ends; end it when it has been
    /// empty for the grace period (a page reload rejoins within it and finds the same state).
    ///
    /// Audio has its own lane and is taken first, at most [`AUDIO_PER_COMMAND`] chunks in a row
    /// while a command waits. The floor (recorder, STT call) opens on the first accepted audio
    /// or when autopilot is switched on, not on `hello`: a hello alone costs no disk and no call.
    pub(super) async fn run(mut self, mut inbox: Inbox) {
        tracing::info!(episode = %self.episode_id, "studio opened");
        self.heartbeat.beat();
        let mut empty_since = Some(tokio::time::Instant::now());
        // Keeps an idle studio turning, so silence from it means stuck, not quiet.
        let mut pulse = tokio::time::interval(beat_period(self.registry.watchdog_timeout()));
        pulse.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut audio_streak = 0u32;
        let mut audio_open = true;
        let reason = loop {
            self.heartbeat.beat();
            if self.heartbeat.is_ended() {
                // The watchdog ended this studio while it was stuck and told its clients; the
                // drop finishes the recording.
                tracing::warn!(episode = %self.episode_id, "a studio ended as stuck woke up; it stops");
                return;
            }
            let deadline = empty_since.map(|t| t + self.grace);
            // After a run of audio, a waiting command goes first.
            let waiting = if audio_streak >= AUDIO_PER_COMMAND {
                inbox.commands.try_recv().ok()
            } else {
                None
            };
            let next = match waiting {
                Some(command) => Next::Command(Some(command)),
                None => tokio::select! {
                    // The microphone first, then commands: a client's audio (and so a barge-in)
                    // is never starved by other clients' events nor by the floor's own steps.
                    biased;
                    chunk = inbox.audio.recv(), if audio_open => Next::Audio(chunk),
                    command = inbox.commands.recv() => Next::Command(command),
                    step = next_floor_step(&mut self.floor) => {
                        self.on_floor_step(step).await;
                        continue;
                    }
                    () = sleep_until_or_forever(deadline) => {
                        // Retire only if nobody is about to join: the registry sends joins under
                        // its lock and we check the queue under the same lock.
                        if self.registry.retire_if_idle(&self.episode_id, self.generation, inbox.commands()) {
                            break EndReason::Idle;
                        }
                        empty_since = None;
                        continue;
                    }
                    _ = pulse.tick() => continue,
                },
            };
            match next {
                Next::Audio(None) => {
                    audio_open = false;
                    continue;
                }
                Next::Audio(Some(AudioChunk { client, chunk })) => {
                    audio_streak = audio_streak.saturating_add(1);
                    if self.state.participant(client).is_none()
                        && let Some(reason) =
                            self.take_commands_until_join(client, &mut inbox).await
                    {
                        break reason;
                    }
                    self.report_dropped_audio(client);
                    self.handle(StudioCommand::Audio { client, chunk }).await;
                }
                Next::Command(None) => break EndReason::Shutdown,
                Next::Command(Some(command)) => {
                    audio_streak = 0;
                    if command.follows_audio() {
                        self.take_queued_audio(&mut inbox.audio).await;
                    }
                    if let Some(reason) = self.on_command(command).await {
                        break reason;
                    }
                }
            }
            empty_since = match (self.state.is_empty(), empty_since) {
                (true, None) => Some(tokio::time::Instant::now()),
                (true, since) => since,
                (false, _) => None,
            };
        };
        self.end(reason, &mut inbox).await;
    }

    /// Handles one command; returns why the studio ends, if it does.
    async fn on_command(&mut self, command: StudioCommand) -> Option<EndReason> {
        match command {
            StudioCommand::End(reason) => Some(reason),
            StudioCommand::EndSession { client } => {
                if self.state.participant(client).is_some() {
                    tracing::info!(episode = %self.episode_id, %client, "client ended the session");
                    return Some(EndReason::Ended);
                }
                self.emit_error(
                    client,
                    ErrorCode::NotInStudio,
                    "send hello before client.end-session",
                );
                None
            }
            command => {
                self.handle(command).await;
                None
            }
        }
    }

    /// Audio came from a client the studio does not know yet: its `hello` was queued before the
    /// audio was sent, so the commands queued now are handled up to that client's join.
    async fn take_commands_until_join(
        &mut self,
        client: Sid,
        inbox: &mut Inbox,
    ) -> Option<EndReason> {
        for _ in 0..inbox.commands.len() {
            let Ok(command) = inbox.commands.try_recv() else {
                break;
            };
            let joins = matches!(&command, StudioCommand::Join { client: c, .. } if *c == client);
            if let Some(reason) = self.on_command(command).await {
                return Some(reason);
            }
            if joins {
                break;
            }
        }
        None
    }

    /// Takes the audio already in the lane (at most its length now).
    async fn take_queued_audio(&mut self, audio: &mut mpsc::Receiver<AudioChunk>) {
        for _ in 0..audio.len() {
            let Ok(AudioChunk { client, chunk }) = audio.try_recv() else {
                break;
            };
            self.handle(StudioCommand::Audio { client, chunk }).await;
        }
    }

    /// Tells the client whose audio arrives that chunks were dropped (lane full), at most every
    /// [`AUDIO_DROP_REPORT_EVERY`].
    fn report_dropped_audio(&mut self, client: Sid) {
        let dropped = self.audio_dropped.load(Ordering::Relaxed);
        if dropped <= self.audio_drops_told
            || self
                .audio_drops_told_at
                .is_some_and(|at| at.elapsed() < AUDIO_DROP_REPORT_EVERY)
        {
            return;
        }
        let lost = dropped - self.audio_drops_told;
        self.audio_drops_told = dropped;
        self.audio_drops_told_at = Some(Instant::now());
        tracing::warn!(episode = %self.episode_id, %client, lost, total = dropped, "microphone chunks dropped: the audio lane was full");
        self.emit_error(
            client,
            ErrorCode::StudioBusy,
            &format!("{lost} microphone chunks were dropped: the studio fell behind"),
        );
    }

    async fn handle(&mut self, command: StudioCommand) {
        match command {
            StudioCommand::Join {
                client,
                participant,
            } => {
                tracing::info!(episode = %self.episode_id, %client, name = %participant.name, "client joined studio");
                self.state.join(client, participant);
                self.emit_to(
                    client,
                    server_events::STATE_SNAPSHOT,
                    &self.state.snapshot(),
                );
                // A client that arrives after an episode was recorded still learns where it is.
                if let Some(ready) = self.registry.recording_of(&self.episode_id) {
                    self.emit_to(client, server_events::RECORDING_READY, &ready);
                }
            }
            StudioCommand::Leave { client } => {
                if self.state.leave(client) {
                    tracing::info!(episode = %self.episode_id, %client, remaining = self.state.participant_count(), "client left studio");
                }
            }
            StudioCommand::RequestState { client } => {
                self.emit_to(
                    client,
                    server_events::STATE_SNAPSHOT,
                    &self.state.snapshot(),
                );
            }
            StudioCommand::SetAutopilot { client, on } => {
                if self.state.participant(client).is_none() {
                    self.emit_error(
                        client,
                        ErrorCode::NotInStudio,
                        "send hello before toggling autopilot",
                    );
                    return;
                }
                let changed = self.state.set_autopilot(on);
                tracing::info!(episode = %self.episode_id, %client, autopilot = on, "autopilot toggled");
                // Every client of the studio redraws from the snapshot; the ack tells the
                // frontend's status line what happened (as the original backend did).
                let ack = if on {
                    "autopilot enabled"
                } else {
                    "autopilot disabled"
                };
                self.broadcast(server_events::ACK, &ack).await;
                self.broadcast(server_events::STATE_SNAPSHOT, &self.state.snapshot())
                    .await;
                if changed {
                    // Autopilot speaks without a microphone: it opens the floor too.
                    if on && self.floor.is_none() {
                        self.open_floor().await;
                    }
                    self.autopilot_changed(on).await;
                }
            }
            StudioCommand::Audio { client, chunk } => {
                match self.state.claim_microphone(client, Instant::now()) {
                    MicrophoneVerdict::Accept => {
                        // The first accepted audio opens the recording and the STT call.
                        if self.floor.is_none() {
                            self.open_floor().await;
                        }
                        self.on_microphone_audio(client, chunk).await;
                    }
                    MicrophoneVerdict::Busy { notify } => {
                        if notify {
                            self.emit_error(
                                client,
                                ErrorCode::MicrophoneBusy,
                                "another client holds this studio's microphone; its audio is used until it stops sending for 2 s",
                            );
                        }
                    }
                    MicrophoneVerdict::NotInStudio => self.emit_error(
                        client,
                        ErrorCode::NotInStudio,
                        "send hello before sending audio",
                    ),
                }
            }
            StudioCommand::SetOrb { speaker, state } => {
                if self.state.set_orb(speaker, state) {
                    self.broadcast(server_events::ORB_STATE, &(speaker, state))
                        .await;
                }
            }
            StudioCommand::PushCaption(caption) => {
                self.broadcast(server_events::CAPTION, &caption).await;
                self.state.push_caption(caption);
            }
            StudioCommand::SetSharedScreen(screen) => {
                if self.state.set_shared_screen(screen) {
                    self.broadcast(server_events::SHARED_SCREEN, &screen).await;
                }
            }
            StudioCommand::StartThinking(thinking) => self.start_thinking(thinking).await,
            StudioCommand::EndThinking(normal) => self.end_thinking(normal).await,
            StudioCommand::RecordingReady(ready) => {
                self.broadcast(server_events::RECORDING_READY, &ready).await;
            }
            StudioCommand::Snapshot(reply) => {
                // The asker may have given up waiting; nothing to do then.
                let _ = reply.send(self.state.snapshot());
            }
            StudioCommand::AudioIn(reply) => {
                let _ = reply.send(self.state.audio_in());
            }
            StudioCommand::End(_) | StudioCommand::EndSession { .. } => {}
            #[cfg(test)]
            StudioCommand::PanicForTest => panic!("studio panic requested by a test"),
            #[cfg(test)]
            StudioCommand::StallForTest(Stall::Forever) => std::future::pending::<()>().await,
            #[cfg(test)]
            StudioCommand::StallForTest(Stall::Block(time)) => std::thread::sleep(time),
        }
    }

    /// Thinking mode begins: `mode.thinking` plus the countdown screen.
    async fn start_thinking(&mut self, thinking: ModeThinking) {
        let screen = SharedScreen {
            mode: SharedScreenMode::Thinking,
            thinking: Some(ThinkingCountdown {
                speaker: thinking.speaker,
                duration_ms: thinking.duration_ms,
                started_at: thinking.started_at,
                ends_at: thinking.started_at.saturating_add(thinking.duration_ms),
            }),
        };
        self.state.set_shared_screen(screen);
        self.broadcast(server_events::MODE_THINKING, &thinking)
            .await;
        self.broadcast(server_events::SHARED_SCREEN, &screen).await;
    }

    /// Thinking mode ends: `mode.normal` plus the conversation screen.
    async fn end_thinking(&mut self, normal: ModeNormal) {
        let screen = SharedScreen::default();
        self.state.set_shared_screen(screen);
        self.broadcast(server_events::MODE_NORMAL, &normal).await;
        self.broadcast(server_events::SHARED_SCREEN, &screen).await;
    }

    /// The turn loop's inlet. Every accepted microphone chunk of this studio arrives here, in
    /// order, already validated (binary, whole samples for PCM, at most 1 s) and in the format the
    /// client declared in `hello.inputFormat`; the turn loop (see `turn_loop`) takes it from here.
    /// Without a turn loop the audio is counted and goes nowhere: no AI response is invented.
    async fn on_microphone_audio(&mut self, client: Sid, chunk: Vec<u8>) {
        self.state.count_audio_in(chunk.len());
        let stats = self.state.audio_in();
        if stats.chunks == 1 {
            let guest = self.runtime_config.borrow().guest_provider;
            tracing::info!(
                episode = %self.episode_id,
                %client,
                clock_ms = self.clock_ms(),
                guest_provider = guest.as_str(),
                "first microphone audio"
            );
        }
        self.hear(client, &chunk).await;
    }

    /// Milliseconds on the studio clock.
    fn clock_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn end(mut self, reason: EndReason, inbox: &mut Inbox) {
        // Stop taking commands; anything still queued came from clients that must re-hello.
        inbox.commands.close();
        inbox.audio.close();
        while inbox.commands.try_recv().is_ok() {}
        while inbox.audio.try_recv().is_ok() {}
        let ready = self.close_floor().await;
        // Closed: the drop has nothing left to finish.
        self.floor = None;
        if let Some(ready) = ready {
            self.registry.keep_recording(&ready);
            self.broadcast(server_events::RECORDING_READY, &ready).await;
        }
        self.report_problems().await;
        let payload = SessionEnd {
            episode_id: self.episode_id.to_string(),
            reason: reason.as_str().to_owned(),
        };
        self.broadcast(server_events::SESSION_END, &payload).await;
        let room = self.episode_id.to_string();
        if let Some(ns) = super::studio_namespace(&self.io)
            && let Err(e) = ns.to(room.clone()).leave(room).await
        {
            tracing::warn!(episode = %self.episode_id, error = %e, "could not empty the studio's room");
        }
        let stats = self.state.audio_in();
        tracing::info!(
            episode = %self.episode_id,
            reason = reason.as_str(),
            clock_ms = self.clock_ms(),
            audio_chunks = stats.chunks,
            audio_bytes = stats.bytes,
            "studio ended"
        );
    }

    fn emit_to<T: serde::Serialize + ?Sized>(&self, client: Sid, event: &str, data: &T) {
        if let Some(socket) = super::studio_namespace(&self.io).and_then(|ns| ns.get_socket(client))
            && let Err(e) = socket.emit(event, data)
        {
            tracing::debug!(%client, event, error = %e, "could not send to client");
        }
    }

    fn emit_error(&self, client: Sid, code: ErrorCode, message: &str) {
        self.emit_to(
            client,
            server_events::ERROR,
            &ErrorPayload::new(code, message),
        );
    }

    /// Sends an event to every client of the studio. The future does not borrow the studio,
    /// whose recorder and decoder may be sent between threads but not shared.
    fn broadcast<'a, T: serde::Serialize + ?Sized + Sync>(
        &self,
        event: &'a str,
        data: &'a T,
    ) -> impl std::future::Future<Output = ()> + Send + 'a {
        let room = super::studio_namespace(&self.io).map(|ns| ns.to(self.episode_id.to_string()));
        let episode = self.episode_id.clone();
        async move {
            let Some(room) = room else {
                return;
            };
            if let Err(e) = room.emit(event, data).await {
                tracing::debug!(episode = %episode, event, error = %e, "broadcast failed");
            }
        }
    }
}

impl Drop for Studio {
    /// A studio that did not end through [`Studio::end`] (the watchdog aborted it, or the runtime
    /// is going away) still finishes its recording and tells its clients where it is.
    fn drop(&mut self) {
        // During a panic the recorder may be what failed; a second panic would abort the process.
        if self.floor.is_none() || std::thread::panicking() {
            return;
        }
        // The recording's writer thread finishes the files (even if nobody awaits it); a task
        // awaits it, without blocking this drop, to tell the clients where the recording is.
        let Some(finishing) = self.hand_off_floor() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let episode = self.episode_id.clone();
        let registry = self.registry.clone();
        let io = self.io.clone();
        let clients: Vec<Sid> = self.state.clients().collect();
        runtime.spawn(async move {
            let summary = match finishing.wait().await {
                Ok(summary) => summary,
                Err(error) => {
                    tracing::error!(%episode, %error, "the recording of an aborted studio could not be finished");
                    return;
                }
            };
            let ready = turn_loop::recording_ready(&episode, &summary, &registry.download_links());
            tracing::info!(%episode, "recording finished after the studio was aborted");
            registry.keep_recording(&ready);
            for client in clients {
                if let Some(socket) =
                    super::studio_namespace(&io).and_then(|ns| ns.get_socket(client))
                {
                    let _ = socket.emit(server_events::RECORDING_READY, &ready);
                }
            }
        });
    }
}

/// What the actor took from its inbox.
enum Next {
    Audio(Option<AudioChunk>),
    Command(Option<StudioCommand>),
}

/// The floor's next step, or never when the studio runs no turn loop.
async fn next_floor_step(floor: &mut Option<Floor>) -> FloorStep {
    match floor {
        Some(floor) => floor.next_step().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_or_forever(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
