//! Who speaks when: the floor events go to the turn policy plugin in order, and its decisions
//! are carried out under the host's own rules (the human's speech wins, one line per AI, one
//! AI at a time outside thinking mode, the autopilot cap and budget).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::Floor;
use super::note::Note;
use super::request::{LineAsk, line_request};
use crate::briefings::Briefing;
use crate::gateway::protocol::{ErrorCode, ErrorPayload, OrbState, ServerEvent};
use crate::observe::timeline::Wait;
use crate::plugins::PolicyHandle;
use crate::plugins::wit::{Decision, FloorEvent, FloorState, Thinking};
use crate::prompt::Line;
use crate::recording::Event;
use crate::session::AutopilotRefusal;
use crate::session::room::Room;
use crate::speakers::Speaker;

/// The conversation as the policy and the prompts see it.
pub(super) struct Talk {
    pub(super) policy: PolicyHandle,
    pub(super) briefing: Arc<Briefing>,
    /// What was said so far, for the prompts.
    pub(super) transcript: Vec<Line>,
    pub(super) last_speaker: Option<Speaker>,
    /// AI lines since the human last spoke (the policy's `ai-turns-in-a-row`).
    pub(super) ai_turns_in_a_row: u32,
    pub(super) autopilot_since_ms: Option<u64>,
    /// The policy's memory, given back to it with every event.
    pub(super) memory: String,
    /// The current segment's cue, for the prompts.
    pub(super) segment_cue: Option<String>,
    /// Who is thinking, until when (session ms).
    pub(super) thinking: Option<(Speaker, u64)>,
    /// The policy's timers by name.
    pub(super) timers: HashMap<String, JoinHandle<()>>,
    /// Floor events waiting for the policy.
    pub(super) pending: VecDeque<FloorEvent>,
    /// The policy call whose decisions are being carried out (for the timeline of a line it
    /// starts).
    pub(super) deciding: Option<Wait>,
}

impl Talk {
    /// A conversation that starts with `carried` (what an interrupted take said; usually
    /// nothing).
    pub(super) fn new(policy: PolicyHandle, briefing: Arc<Briefing>, carried: Vec<Line>) -> Self {
        Self {
            policy,
            briefing,
            transcript: carried,
            last_speaker: None,
            ai_turns_in_a_row: 0,
            autopilot_since_ms: None,
            memory: String::new(),
            segment_cue: None,
            thinking: None,
            timers: HashMap::new(),
            pending: VecDeque::new(),
            deciding: None,
        }
    }
}

impl Floor {
    fn floor_state(&self, now_ms: u64, autopilot: bool) -> FloorState {
        FloorState {
            now_ms,
            autopilot,
            holder: self.holder().map(Into::into),
            human_speaking: self.ear.human_speaking,
            last_speaker: self.talk.last_speaker.map(Into::into),
            ai_turns_in_a_row: self.talk.ai_turns_in_a_row,
            max_ai_turns: self.setup.autopilot_max_turns,
            thinking: self.talk.thinking.map(|(speaker, ends_at_ms)| Thinking {
                speaker: speaker.into(),
                ends_at_ms,
            }),
            autopilot_since_ms: self.talk.autopilot_since_ms,
            memory: self.talk.memory.clone(),
        }
    }

    /// Queues a floor event for the policy (asked in [`Floor::run_policy`]).
    pub(super) fn queue(&mut self, event: FloorEvent) {
        self.talk.pending.push_back(event);
    }

    /// Asks the policy about every queued floor event, in order, and carries out its decisions
    /// (which may queue more events, e.g. a stopped line's `ai-finished`).
    pub(super) async fn run_policy(&mut self, room: &mut Room) {
        loop {
            let now_ms = room.clock_ms();
            let autopilot = room.state.autopilot();
            let Some(event) = self.talk.pending.pop_front() else {
                return;
            };
            let state = self.floor_state(now_ms, autopilot);
            let after_ai = matches!(event, FloorEvent::AiFinished(_));
            let human_said = matches!(event, FloorEvent::HumanSaid(_));
            let asked = Instant::now();
            let decisions = match self.talk.policy.decide(state, event).await {
                Ok(decisions) => decisions,
                Err(error) => {
                    self.plugin_failed(room, "policy", None, &error).await;
                    continue;
                }
            };
            self.talk.deciding = Some(Wait::since(asked));
            for decision in decisions {
                self.carry_out(room, decision, after_ai, human_said).await;
            }
        }
    }

    async fn carry_out(
        &mut self,
        room: &mut Room,
        decision: Decision,
        after_ai: bool,
        human_said: bool,
    ) {
        match decision {
            Decision::Respond(respond) => {
                let speaker = Speaker::from(respond.speaker);
                if human_said {
                    self.record_route(room, "address", speaker, &respond.cue, None);
                }
                self.start_line(room, speaker, &respond.cue, None, after_ai, human_said)
                    .await;
            }
            Decision::Think(think) => {
                let speaker = Speaker::from(think.speaker);
                self.record_route(
                    room,
                    "thinking",
                    speaker,
                    &think.cue,
                    Some(u64::from(think.duration_ms)),
                );
                self.start_line(
                    room,
                    speaker,
                    &think.cue,
                    Some(think.duration_ms),
                    false,
                    human_said,
                )
                .await;
            }
            Decision::Mute(speaker) => {
                let speaker = Speaker::from(speaker);
                let speaking = self.voice(speaker).is_some_and(|v| v.line.is_some());
                if speaker != Speaker::You && !speaking {
                    self.set_orb(room, speaker, OrbState::Muted).await;
                }
            }
            Decision::Unmute(speaker) => {
                let speaker = Speaker::from(speaker);
                if room.state.orb(speaker) == OrbState::Muted {
                    self.set_orb(room, speaker, OrbState::Idle).await;
                }
            }
            Decision::Stop(speaker) => {
                let speaker = Speaker::from(speaker);
                let held = self
                    .voice(speaker)
                    .and_then(|v| v.line.as_ref())
                    .is_some_and(|l| !l.thinking);
                if held {
                    self.stop_line(room, speaker, "stop").await;
                }
            }
            Decision::Wait => {}
            Decision::SetTimer(timer) => {
                let handle = self.spawn_after(
                    Duration::from_millis(u64::from(timer.after_ms)),
                    Note::Timer(timer.name.clone()),
                );
                if let Some(old) = self.talk.timers.insert(timer.name, handle) {
                    old.abort();
                }
            }
            Decision::CancelTimer(name) => {
                if let Some(timer) = self.talk.timers.remove(&name) {
                    timer.abort();
                }
            }
            Decision::Segment(segment) => {
                tracing::info!(episode = %room.episode_id, segment = %segment.name, "segment begins");
                self.talk.segment_cue =
                    (!segment.cue.trim().is_empty()).then(|| segment.cue.clone());
                self.record(
                    room,
                    &Event::Segment {
                        name: segment.name,
                        duration_ms: Some(u64::from(segment.duration_ms)),
                    },
                );
            }
            Decision::Remember(memory) => self.talk.memory = memory,
        }
    }

    fn record_route(
        &mut self,
        room: &mut Room,
        action: &str,
        speaker: Speaker,
        cue: &str,
        duration_ms: Option<u64>,
    ) {
        tracing::info!(episode = %room.episode_id, action, speaker = ?speaker, "command.route");
        self.record(
            room,
            &Event::CommandRoute {
                action: action.to_owned(),
                targets: vec![speaker],
                remainder: cue.to_owned(),
                confidence: 1.0,
                duration_ms,
            },
        );
    }

    /// Gives `speaker` the floor if the host's rules allow it: builds the prompt and starts the
    /// line. In thinking mode (`think_ms`) the line is prepared in silence and plays when the
    /// time is up. A line in autopilot that does not answer the human (`human_said`) is spent
    /// from the studio's autopilot budget.
    async fn start_line(
        &mut self,
        room: &mut Room,
        speaker: Speaker,
        cue: &str,
        think_ms: Option<u32>,
        after_ai: bool,
        human_said: bool,
    ) {
        let autopilot = room.state.autopilot();
        let Some(ai) = speaker.ai() else {
            return;
        };
        let slot = ai.slot();
        // The human's speech always takes the floor from the AIs' conversation. (An answer to
        // the human is not held back: the recognizer may call the utterance final a moment
        // before the host's VAD hears its end.)
        if self.ear.human_speaking && after_ai {
            tracing::info!(?speaker, "respond ignored: the human is speaking");
            return;
        }
        if self.voices[slot].line.is_some() {
            tracing::info!(
                ?speaker,
                "respond ignored: that AI already has a line in progress"
            );
            return;
        }
        if let Some(other) = self.holder()
            && think_ms.is_none()
            && self.talk.thinking.is_none_or(|(s, _)| s != other)
        {
            tracing::info!(
                ?speaker,
                ?other,
                "respond ignored: another AI holds the floor"
            );
            return;
        }
        if after_ai && autopilot && self.talk.ai_turns_in_a_row >= self.setup.autopilot_max_turns {
            tracing::info!(
                ?speaker,
                cap = self.setup.autopilot_max_turns,
                "autopilot cap reached; waiting for the human"
            );
            return;
        }
        if autopilot
            && !human_said
            && let Err(refusal) = room.autopilot_budget.take(Instant::now())
        {
            self.autopilot_refused(room, speaker, refusal).await;
            return;
        }
        let host_name = room
            .state
            .microphone()
            .and_then(|m| room.state.participant(m.client))
            .map(|p| p.name.clone());
        let settings = room.runtime_config.borrow().clone();
        let ask = LineAsk {
            ai,
            cue,
            segment_cue: self.talk.segment_cue.as_deref(),
            think_ms,
            host_name: host_name.as_deref(),
            briefing: &self.talk.briefing,
            transcript: &self.talk.transcript,
            settings: &settings,
        };
        let request = line_request(&ask);
        self.launch_line(room, speaker, request, think_ms, after_ai)
            .await;
    }

    /// Autopilot was switched: the policy hears it.
    pub(in crate::session) async fn autopilot_changed(&mut self, room: &mut Room, on: bool) {
        let now_ms = room.clock_ms();
        self.talk.autopilot_since_ms = on.then_some(now_ms);
        if on {
            self.talk.ai_turns_in_a_row = 0;
        }
        self.record(room, &Event::AutopilotToggle { enabled: on });
        self.queue(FloorEvent::AutopilotChanged(on));
        self.run_policy(room).await;
        room.report_problems().await;
    }

    /// An autopilot line was refused by the studio's budget: the clients and the event log
    /// hear it once per limit reached; the AIs still answer the human.
    async fn autopilot_refused(
        &mut self,
        room: &mut Room,
        speaker: Speaker,
        refusal: AutopilotRefusal,
    ) {
        if !refusal.tell {
            tracing::debug!(episode = %room.episode_id, ?speaker, limit = ?refusal.limit, "autopilot line refused");
            return;
        }
        let message = refusal.limit.message();
        tracing::info!(episode = %room.episode_id, ?speaker, limit = ?refusal.limit, spent = room.autopilot_budget.spent(), "autopilot limit reached; autopilot lines refused");
        self.record(
            room,
            &Event::Error {
                error: message.clone(),
                service: Some("autopilot".into()),
                context: Some(serde_json::json!({"code": "autopilot-limit"})),
            },
        );
        room.broadcast(ServerEvent::Error(&ErrorPayload::new(
            ErrorCode::AutopilotLimit,
            message,
        )))
        .await;
    }
}
