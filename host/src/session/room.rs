//! What a studio's actor and its floor share: the studio's state, its clients, its clock and
//! the settings and budget its lines run under. The actor ([`super::studio`]) and the floor
//! ([`super::floor`]) both work on it; it knows neither of them.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::audience::{Audience, ClientId, Delivery};
use super::limits::AutopilotBudget;
use super::state::StudioState;
use crate::config::RuntimeConfig;
use crate::gateway::protocol::{
    Caption, ErrorCode, ErrorPayload, ModeNormal, ModeThinking, ServerEvent, SharedScreen,
    SharedScreenMode, ThinkingCountdown,
};

/// A studio's shared part: state, clients, clock, settings.
pub(super) struct Room {
    /// The episode id (also the name of its clients' room in the [`Audience`]).
    pub(super) episode_id: Arc<str>,
    /// Which studio of this episode (a reopened episode is a new generation).
    pub(super) generation: u64,
    /// Orbs, captions, autopilot, shared screen, clients, microphone.
    pub(super) state: StudioState,
    audience: Arc<dyn Audience>,
    /// Studio clock origin: every caption and event of this studio is stamped relative to it.
    /// The floor resets it when it opens (the session clock starts with the recording).
    pub(super) started: Instant,
    /// The guest settings of the settings API; read at the start of each line.
    pub(super) runtime_config: watch::Receiver<RuntimeConfig>,
    /// Problems to report to the clients at the next chance (recording and plugin failures).
    pub(super) problems: Vec<String>,
    /// Autopilot lines spent, per minute and per episode; never reset by a toggle.
    pub(super) autopilot_budget: AutopilotBudget,
}

impl Room {
    /// A room with a fresh state whose clock starts now.
    pub(super) fn new(
        episode_id: Arc<str>,
        generation: u64,
        audience: Arc<dyn Audience>,
        runtime_config: watch::Receiver<RuntimeConfig>,
        autopilot_budget: AutopilotBudget,
    ) -> Self {
        Self {
            episode_id,
            generation,
            state: StudioState::new(),
            audience,
            started: Instant::now(),
            runtime_config,
            problems: Vec::new(),
            autopilot_budget,
        }
    }

    /// How the clients are reached.
    pub(super) fn audience(&self) -> &Arc<dyn Audience> {
        &self.audience
    }

    /// Milliseconds on the studio clock.
    pub(super) fn clock_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Sends an event to one client of the studio.
    pub(super) fn send_to(&self, client: ClientId, event: &ServerEvent<'_>) {
        self.audience.send(client, event);
    }

    /// Sends an `error` to one client.
    pub(super) fn send_error(&self, client: ClientId, code: ErrorCode, message: &str) {
        self.send_to(
            client,
            &ServerEvent::Error(&ErrorPayload::new(code, message)),
        );
    }

    /// Sends an event to every client of the studio. The future does not borrow the room, so
    /// it may be awaited while the floor (whose recorder and decoder may be sent between
    /// threads but not shared) is borrowed.
    pub(super) fn broadcast<'a>(&self, event: ServerEvent<'a>) -> Delivery<'a> {
        self.audience.broadcast(&self.episode_id, event)
    }

    /// Shows a caption to every client and keeps it for later snapshots.
    pub(super) async fn show_caption(&mut self, caption: Caption) {
        self.broadcast(ServerEvent::Caption(&caption)).await;
        self.state.push_caption(caption);
    }

    /// Thinking mode begins: `mode.thinking` plus the countdown screen.
    pub(super) async fn start_thinking(&mut self, thinking: ModeThinking) {
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
        self.broadcast(ServerEvent::ModeThinking(&thinking)).await;
        self.broadcast(ServerEvent::SharedScreen(&screen)).await;
    }

    /// Thinking mode ends: `mode.normal` plus the conversation screen.
    pub(super) async fn end_thinking(&mut self, normal: ModeNormal) {
        let screen = SharedScreen::default();
        self.state.set_shared_screen(screen);
        self.broadcast(ServerEvent::ModeNormal(&normal)).await;
        self.broadcast(ServerEvent::SharedScreen(&screen)).await;
    }

    /// Sends the problems found since the last call to every client (they are not urgent enough
    /// to await inside the audio path).
    pub(super) async fn report_problems(&mut self) {
        for message in std::mem::take(&mut self.problems) {
            let code = if message.starts_with("recording")
                || message.starts_with("this session is not recorded")
            {
                ErrorCode::RecordingFailed
            } else if message.starts_with("disk space low") {
                ErrorCode::DiskSpaceLow
            } else {
                ErrorCode::PluginFailed
            };
            self.broadcast(ServerEvent::Error(&ErrorPayload::new(code, message)))
                .await;
        }
    }
}
