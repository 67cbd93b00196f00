//! The studio actor: one task per studio owns its [`Room`] (state, clients, clock) and, once
//! someone speaks or autopilot is on, its [`Floor`]; everything else talks to it through its
//! channel ([`StudioHandle`]), so the state needs no lock and events keep their order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

mod command;
mod handle;

#[cfg(test)]
pub use command::Stall;
pub use command::{StudioCommand, StudioSendError, StudioStatus};
pub(super) use handle::Inbox;
pub use handle::StudioHandle;

use super::audience::{Audience, ClientId};
use super::floor::{Floor, FloorStep, recording_ready};
use super::limits::{AutopilotBudget, StudioLimits};
use super::room::Room;
use super::state::MicrophoneVerdict;
use super::watchdog::{Heartbeat, beat_period};
use super::{EndReason, RegistryInner, TurnLoopSetup};
use crate::config::RuntimeConfig;
use crate::gateway::protocol::{ErrorCode, RecordingReady, ServerEvent, SessionEnd};
use handle::AudioChunk;

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

/// The actor's side: the room it shares with its floor, the floor once opened, and what it
/// needs to live among the other studios.
pub(super) struct Studio {
    /// State, clients, clock, settings.
    room: Room,
    registry: Arc<RegistryInner>,
    grace: Duration,
    /// What the floor works with; `None`: the studio keeps state but nobody answers.
    turn_loop: Option<Arc<TurnLoopSetup>>,
    /// The conversation loop, once opened.
    floor: Option<Floor>,
    /// Beaten each time the loop turns; the watchdog ends the studio when it stops.
    heartbeat: Arc<Heartbeat>,
    /// What this studio may spend.
    limits: StudioLimits,
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
        audience: Arc<dyn Audience>,
        registry: Arc<RegistryInner>,
        grace: Duration,
        runtime_config: watch::Receiver<RuntimeConfig>,
        turn_loop: Option<Arc<TurnLoopSetup>>,
    ) -> (Self, StudioHandle, Inbox) {
        let heartbeat = Arc::new(Heartbeat::default());
        let audio_dropped = Arc::new(AtomicU64::new(0));
        let episode_id: Arc<str> = Arc::from(episode_id);
        let (handle, inbox) = handle::channels(
            episode_id.clone(),
            generation,
            audio_dropped.clone(),
            heartbeat.clone(),
        );
        let limits = registry.limits();
        let room = Room::new(
            episode_id,
            generation,
            audience,
            runtime_config,
            AutopilotBudget::new(&limits),
        );
        let studio = Self {
            room,
            registry,
            grace,
            turn_loop,
            floor: None,
            heartbeat,
            limits,
            audio_dropped,
            audio_drops_told: 0,
            audio_drops_told_at: None,
        };
        (studio, handle, inbox)
    }

    /// The actor loop: handle commands in order until the studio ends; end it when it has been
    /// empty for the grace period (a page reload rejoins within it and finds the same state).
    ///
    /// Audio has its own lane and is taken first, at most [`AUDIO_PER_COMMAND`] chunks in a row
    /// while a command waits. The floor (recorder, STT call) opens on the first accepted audio
    /// or when autopilot is switched on, not on `hello`: a hello alone costs no disk and no call.
    pub(super) async fn run(mut self, mut inbox: Inbox) {
        tracing::info!(episode = %self.room.episode_id, "studio opened");
        let _live = crate::metrics::studio_opened();
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
                tracing::warn!(episode = %self.room.episode_id, "a studio ended as stuck woke up; it stops");
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
                        if let Some(floor) = self.floor.as_mut() {
                            floor.on_step(&mut self.room, step).await;
                        }
                        continue;
                    }
                    () = sleep_until_or_forever(deadline) => {
                        // Retire only if nobody is about to join: the registry sends joins under
                        // its lock and we check the queue under the same lock.
                        if self.registry.retire_if_idle(&self.room.episode_id, self.room.generation, inbox.commands()) {
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
                    if self.room.state.participant(client).is_none()
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
            empty_since = match (self.room.state.is_empty(), empty_since) {
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
                if self.room.state.participant(client).is_some() {
                    tracing::info!(episode = %self.room.episode_id, %client, "client ended the session");
                    return Some(EndReason::Ended);
                }
                self.room.send_error(
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
        client: ClientId,
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
    fn report_dropped_audio(&mut self, client: ClientId) {
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
        tracing::warn!(episode = %self.room.episode_id, %client, lost, total = dropped, "microphone chunks dropped: the audio lane was full");
        self.room.send_error(
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
                tracing::info!(episode = %self.room.episode_id, %client, name = %participant.name, "client joined studio");
                self.room.state.join(client, participant);
                self.room.send_to(
                    client,
                    &ServerEvent::StateSnapshot(&self.room.state.snapshot()),
                );
                // A client that arrives after an episode was recorded still learns where it is.
                if let Some(ready) = self.registry.recording_of(&self.room.episode_id) {
                    self.room
                        .send_to(client, &ServerEvent::RecordingReady(&ready));
                }
            }
            StudioCommand::Leave { client } => {
                if self.room.state.leave(client) {
                    tracing::info!(episode = %self.room.episode_id, %client, remaining = self.room.state.participant_count(), "client left studio");
                }
            }
            StudioCommand::RequestState { client } => {
                self.room.send_to(
                    client,
                    &ServerEvent::StateSnapshot(&self.room.state.snapshot()),
                );
            }
            StudioCommand::SetAutopilot { client, on } => {
                if self.room.state.participant(client).is_none() {
                    self.room.send_error(
                        client,
                        ErrorCode::NotInStudio,
                        "send hello before toggling autopilot",
                    );
                    return;
                }
                let changed = self.room.state.set_autopilot(on);
                tracing::info!(episode = %self.room.episode_id, %client, autopilot = on, "autopilot toggled");
                // Every client of the studio redraws from the snapshot; the ack tells the
                // frontend's status line what happened.
                let ack = if on {
                    "autopilot enabled"
                } else {
                    "autopilot disabled"
                };
                self.room.broadcast(ServerEvent::Ack(ack)).await;
                self.room
                    .broadcast(ServerEvent::StateSnapshot(&self.room.state.snapshot()))
                    .await;
                if changed {
                    // Autopilot speaks without a microphone: it opens the floor too.
                    if on && self.floor.is_none() {
                        self.open_floor().await;
                    }
                    if let Some(floor) = self.floor.as_mut() {
                        floor.autopilot_changed(&mut self.room, on).await;
                    }
                }
            }
            StudioCommand::Audio { client, chunk } => {
                match self.room.state.claim_microphone(client, Instant::now()) {
                    MicrophoneVerdict::Accept => {
                        // The first accepted audio opens the recording and the STT call.
                        if self.floor.is_none() {
                            self.open_floor().await;
                        }
                        self.on_microphone_audio(client, chunk).await;
                    }
                    MicrophoneVerdict::Busy { notify } => {
                        if notify {
                            self.room.send_error(
                                client,
                                ErrorCode::MicrophoneBusy,
                                "another client holds this studio's microphone; its audio is used until it stops sending for 2 s",
                            );
                        }
                    }
                    MicrophoneVerdict::NotInStudio => self.room.send_error(
                        client,
                        ErrorCode::NotInStudio,
                        "send hello before sending audio",
                    ),
                }
            }
            StudioCommand::Say { client, text, to } => {
                if self.room.state.participant(client).is_none() {
                    self.room.send_error(
                        client,
                        ErrorCode::NotInStudio,
                        "send hello before text.say",
                    );
                    return;
                }
                // A typed line opens the floor like the first spoken one.
                if self.floor.is_none() {
                    self.open_floor().await;
                }
                if let Some(floor) = self.floor.as_mut() {
                    floor.hear_typed(&mut self.room, text, to).await;
                }
            }
            StudioCommand::Snapshot(reply) => {
                // The asker may have given up waiting; nothing to do then.
                let _ = reply.send(self.room.state.snapshot());
            }
            StudioCommand::AudioIn(reply) => {
                let _ = reply.send(self.room.state.audio_in());
            }
            StudioCommand::Status(reply) => {
                let state = &self.room.state;
                let mut clients: Vec<String> = state
                    .clients()
                    .filter_map(|c| state.participant(c).map(|p| p.name.clone()))
                    .collect();
                clients.sort();
                let _ = reply.send(StudioStatus {
                    snapshot: state.snapshot(),
                    clients,
                    recording: self.floor.is_some(),
                    clock: self.room.started.elapsed(),
                });
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

    /// The floor's inlet. Every accepted microphone chunk of this studio arrives here, in order,
    /// already validated (binary, whole samples for PCM, at most 1 s) and in the format the
    /// client declared in `hello.inputFormat`; the floor's ear takes it from here. Without a
    /// turn loop the audio is counted and goes nowhere: no AI response is invented.
    async fn on_microphone_audio(&mut self, client: ClientId, chunk: Vec<u8>) {
        self.room.state.count_audio_in(chunk.len());
        let stats = self.room.state.audio_in();
        if stats.chunks == 1 {
            let guest = self.room.runtime_config.borrow().guest_provider;
            tracing::info!(
                episode = %self.room.episode_id,
                %client,
                clock_ms = self.room.clock_ms(),
                guest_provider = guest.as_str(),
                "first microphone audio"
            );
        }
        if let Some(floor) = self.floor.as_mut() {
            floor.hear(&mut self.room, client, &chunk).await;
        }
    }

    /// Opens the floor when the studio has a turn loop; the session clock (recording, captions,
    /// the policy's clock) starts with it.
    async fn open_floor(&mut self) {
        let Some(setup) = self.turn_loop.clone() else {
            return;
        };
        self.room.started = Instant::now();
        let (floor, problems) = Floor::open(
            setup,
            &self.room.episode_id,
            self.room.generation,
            self.room.started,
            self.limits.recording_min_free_mb,
        )
        .await;
        // In place before it begins, so a studio dropped meanwhile still finishes the recording.
        let floor = self.floor.insert(floor);
        if let Some(bucket) = self.registry.bucket() {
            floor.copy_live_to(bucket);
        }
        floor.begin(&mut self.room, problems).await;
    }

    /// Ends the floor: stops every task and finishes the recording. Returns `recording.ready`.
    ///
    /// The recorder lane finishes the files; the actor waits for it at most the writer's
    /// `finish_within` (a hung disk), then ends anyway with the recording reported failed.
    async fn close_floor(&mut self) -> Option<RecordingReady> {
        let floor = self.floor.as_mut()?;
        let finishing = floor.hand_off(&mut self.room)?;
        match finishing.wait().await {
            Ok(summary) => {
                let ready = recording_ready(
                    &self.room.episode_id,
                    &summary,
                    &self.registry.download_links(),
                );
                tracing::info!(episode = %self.room.episode_id, folder = ?ready.folder, files = ready.files.len(), "recording ready");
                Some(ready)
            }
            Err(error) => {
                tracing::error!(episode = %self.room.episode_id, %error, "recording could not be finished");
                floor.finish_failed(&mut self.room, &error);
                None
            }
        }
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
            self.room
                .broadcast(ServerEvent::RecordingReady(&ready))
                .await;
        }
        self.room.report_problems().await;
        let payload = SessionEnd {
            episode_id: self.room.episode_id.to_string(),
            reason: reason.as_str().to_owned(),
        };
        self.room.broadcast(ServerEvent::SessionEnd(&payload)).await;
        self.room.audience().close(&self.room.episode_id).await;
        let stats = self.room.state.audio_in();
        tracing::info!(
            episode = %self.room.episode_id,
            reason = reason.as_str(),
            clock_ms = self.room.clock_ms(),
            audio_chunks = stats.chunks,
            audio_bytes = stats.bytes,
            "studio ended"
        );
        crate::memory::studio_ended();
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
        // The recording's lane finishes the files (even if nobody awaits it); a task
        // awaits it, without blocking this drop, to tell the clients where the recording is.
        let Some(finishing) = self
            .floor
            .as_mut()
            .and_then(|floor| floor.hand_off(&mut self.room))
        else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let episode = self.room.episode_id.clone();
        let registry = self.registry.clone();
        let audience = self.room.audience().clone();
        let clients: Vec<ClientId> = self.room.state.clients().collect();
        runtime.spawn(async move {
            let summary = match finishing.wait().await {
                Ok(summary) => summary,
                Err(error) => {
                    tracing::error!(%episode, %error, "the recording of an aborted studio could not be finished");
                    return;
                }
            };
            let ready = recording_ready(&episode, &summary, &registry.download_links());
            tracing::info!(%episode, "recording finished after the studio was aborted");
            registry.keep_recording(&ready);
            for client in clients {
                audience.send(client, &ServerEvent::RecordingReady(&ready));
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
