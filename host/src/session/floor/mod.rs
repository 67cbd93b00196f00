//! The floor: the conversation loop a studio runs once it has a microphone or autopilot.
//!
//! microphone -> frames -> recorder, VAD, STT ([`ear`]) -> turn policy ([`rules`]) -> AI lines
//! (LLM -> clauses -> TTS, [`speak`]; [`voices`]) -> pacer -> `audio.out` ([`playback`]) ->
//! policy again; [`timings`] measures each line (and [`traced`] exports its trace),
//! [`recording`] keeps the session on disk.
//!
//! The studio actor owns the [`Floor`] and hands it the studio's [`Room`] on each step; the STT
//! call and each AI line run as tasks that report through one note channel ([`note`]), and the
//! pacers are awaited in the actor's own `select!`, so a barge-in stops the audio in the same
//! step that hears the human, without a lock.

mod ear;
mod listen;
mod note;
mod playback;
mod recording;
mod request;
mod rules;
mod speak;
mod spoken;
mod timings;
mod traced;
mod typed;
mod voices;

pub(super) use recording::recording_ready;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::audio::{Pacer, PacerConfig, PacerEvent};
use crate::gateway::protocol::{ErrorCode, ErrorPayload, OrbState, ServerEvent};
use crate::plugins::CallError;
use crate::plugins::wit::{self, FloorEvent, SttRequest};
use crate::recording::{Event, TurnMetrics};
use crate::session::TurnLoopSetup;
use crate::session::room::Room;
use crate::speakers::Speaker;
use ear::Ear;
use listen::{STT_INPUT_QUEUE, listen};
use note::Note;
use recording::Tape;
use rules::Talk;
use timings::millis;
use voices::Voice;

/// How many notes from the floor's tasks may wait for the actor.
const NOTE_QUEUE: usize = 1024;
/// How long an orb shows `error` after its plugin failed.
const ERROR_ORB_FOR: Duration = Duration::from_millis(1500);

/// Milliseconds since the Unix epoch, for the wire's wall-clock stamps.
/// The briefing an episode's studio loads: the one the episode was minted with
/// (`POST /api/episodes` with `briefing`), else the briefing named like the episode. The
/// store's lookup runs off the actor's thread (SQLite is synchronous).
async fn bound_briefing(setup: &TurnLoopSetup, episode_id: &str) -> String {
    let Some(store) = setup.store.clone() else {
        return episode_id.to_owned();
    };
    let id = episode_id.to_owned();
    let bound = tokio::task::spawn_blocking(move || store.bound_briefing(&id)).await;
    match bound {
        Ok(Ok(Some(briefing))) => briefing,
        Ok(Ok(None)) => episode_id.to_owned(),
        Ok(Err(error)) => {
            tracing::warn!(episode = %episode_id, %error, "briefing binding unreadable; the episode's own briefing is used");
            episode_id.to_owned()
        }
        Err(error) => {
            tracing::warn!(episode = %episode_id, %error, "briefing binding lookup failed");
            episode_id.to_owned()
        }
    }
}

/// Most lines a take that goes on after a crash carries over from the takes it continues.
const MOST_CARRIED_LINES: usize = 2000;

/// What the episode's takes cut off by a crash said, when its latest take was one (see
/// `EpisodeStore::interrupted_transcript`): the new take starts with it, so the AIs know what
/// was said. Off the actor's thread (SQLite is synchronous).
async fn carried_transcript(setup: &TurnLoopSetup, episode_id: &str) -> Vec<crate::prompt::Line> {
    let Some(store) = setup.store.clone() else {
        return Vec::new();
    };
    let id = episode_id.to_owned();
    let found =
        tokio::task::spawn_blocking(move || store.interrupted_transcript(&id, MOST_CARRIED_LINES))
            .await;
    match found {
        Ok(Ok(lines)) => lines
            .into_iter()
            .map(|line| crate::prompt::Line {
                speaker: line.speaker,
                text: line.text,
                interrupted: line.interrupted,
            })
            .collect(),
        Ok(Err(error)) => {
            tracing::warn!(episode = %episode_id, %error, "the interrupted take's transcript is unreadable; this take starts afresh");
            Vec::new()
        }
        Err(error) => {
            tracing::warn!(episode = %episode_id, %error, "the interrupted take's transcript lookup failed");
            Vec::new()
        }
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The plugin role a speaker's failures are reported under.
fn role_of(speaker: Speaker) -> &'static str {
    match speaker {
        Speaker::You => "stt",
        Speaker::Claude => "llm:claude",
        Speaker::Guest => "llm:guest",
    }
}

/// The conversation loop's state, owned by the studio actor.
pub(in crate::session) struct Floor {
    setup: Arc<TurnLoopSetup>,
    notes_tx: mpsc::Sender<Note>,
    notes_rx: mpsc::Receiver<Note>,
    /// The human: microphone, VAD, STT.
    ear: Ear,
    /// The AIs, in voice-slot order.
    voices: [Voice; 2],
    /// The id of the next line.
    next_line: u64,
    /// When the last AI line that played ended (for the hand-off gap).
    last_ai_end: Option<Instant>,
    /// The conversation and the policy.
    talk: Talk,
    /// The recording.
    tape: Tape,
    /// Short timers (hand-off gap, thinking time, orb recovery), aborted when the floor closes.
    helpers: Vec<JoinHandle<()>>,
}

/// What woke the actor on the floor's side.
#[expect(
    clippy::large_enum_variant,
    reason = "a paced frame moves once from the pacer to the actor; boxing it would allocate per frame"
)]
pub(in crate::session) enum FloorStep {
    Note(Note),
    Paced(Speaker, PacerEvent),
    /// The microphone went quiet while the human's utterance was open.
    MicGap,
}

impl Floor {
    /// Sets up the floor of a new studio session: briefing, policy, recorder and the STT call,
    /// on the session clock that starts at `started`. Returns the problems met (a briefing that
    /// could not be read, no recording), for [`Floor::begin`].
    pub(in crate::session) async fn open(
        setup: Arc<TurnLoopSetup>,
        episode_id: &str,
        generation: u64,
        started: Instant,
        min_free_mb: u64,
    ) -> (Floor, Vec<String>) {
        let mut problems = Vec::new();
        let (notes_tx, notes_rx) = mpsc::channel(NOTE_QUEUE);
        let briefing_id = bound_briefing(&setup, episode_id).await;
        let briefing = match setup.briefings.load(&briefing_id).await {
            Ok(b) => b,
            Err(error) => {
                problems.push(format!(
                    "the briefing {briefing_id} of episode {episode_id} could not be read ({error}); the built-in briefing is used"
                ));
                setup.briefings.built_in()
            }
        };
        // Read before this take's own session starts in the store.
        let carried = carried_transcript(&setup, episode_id).await;
        if !carried.is_empty() {
            tracing::info!(episode = %episode_id, lines = carried.len(), "this take goes on from an interrupted one: its transcript is carried over");
        }
        let mut policy = setup.plugins.policy();
        policy.set_session_clock_origin(started);
        let tape = Tape::start(
            &setup,
            episode_id,
            generation,
            &briefing_id,
            &briefing,
            &notes_tx,
            min_free_mb,
            &mut problems,
        );
        let (stt_tx, stt_rx) = mpsc::channel(STT_INPUT_QUEUE);
        let mut stt = setup.plugins.stt();
        stt.set_session_clock_origin(started);
        let request = SttRequest {
            speaker: wit::Speaker::You,
            language: setup.language.clone(),
            key_terms: vec!["Claude".into(), "Guest".into()],
        };
        let stt_task = tokio::spawn(listen(stt, request, stt_rx, notes_tx.clone()));
        let voice = |speaker| Voice {
            speaker,
            pacer: Pacer::new(PacerConfig::default()),
            line: None,
        };
        let floor = Floor {
            setup,
            notes_tx,
            notes_rx,
            ear: Ear::new(stt_tx, stt_task),
            voices: [voice(Speaker::Claude), voice(Speaker::Guest)],
            next_line: 1,
            last_ai_end: None,
            talk: Talk::new(policy, briefing, carried),
            tape,
            helpers: Vec::new(),
        };
        (floor, problems)
    }

    /// The floor is in place: its opening problems are logged and queued for the clients, and
    /// the policy hears that the session started.
    pub(in crate::session) async fn begin(&mut self, room: &mut Room, problems: Vec<String>) {
        for problem in problems {
            tracing::warn!(episode = %room.episode_id, "{problem}");
            self.record(
                room,
                &Event::Error {
                    error: problem.clone(),
                    service: Some("recording".into()),
                    context: None,
                },
            );
            room.problems.push(problem);
        }
        self.queue(FloorEvent::SessionStarted);
        self.run_policy(room).await;
    }

    /// Waits for the next thing the floor must handle: a note from a task, a paced frame, or a
    /// quiet microphone. Cancel-safe (channel receive and `Pacer::next` both are).
    pub(in crate::session) async fn next_step(&mut self) -> FloorStep {
        let gap_deadline = self.ear.mic_gap_deadline();
        let [claude, guest] = &mut self.voices;
        tokio::select! {
            Some(note) = self.notes_rx.recv() => FloorStep::Note(note),
            event = claude.pacer.next() => FloorStep::Paced(Speaker::Claude, event),
            event = guest.pacer.next() => FloorStep::Paced(Speaker::Guest, event),
            () = async {
                match gap_deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            } => FloorStep::MicGap,
        }
    }

    /// Handles what woke the actor on the floor's side, then asks the policy.
    pub(in crate::session) async fn on_step(&mut self, room: &mut Room, step: FloorStep) {
        match step {
            FloorStep::Note(note) => self.on_note(room, note).await,
            FloorStep::MicGap => self.fill_mic_gap(room).await,
            FloorStep::Paced(speaker, PacerEvent::Frame(frame)) => {
                self.play_frame(room, speaker, frame).await;
            }
            FloorStep::Paced(speaker, PacerEvent::Finished { played_ms }) => {
                self.pacer_finished(room, speaker, played_ms).await;
            }
        }
        self.run_policy(room).await;
        room.report_problems().await;
    }

    async fn on_note(&mut self, room: &mut Room, note: Note) {
        match note {
            Note::RecordingTrouble => self.check_recording(room),
            Note::Transcript(transcript, at) => self.on_transcript(room, transcript, at).await,
            Note::SttFailed(error) => {
                self.plugin_failed(room, "stt", Some(Speaker::You), &error)
                    .await;
            }
            Note::LlmFirstToken {
                speaker,
                line,
                wait,
            } => {
                if let Some(l) = self.line_mut(speaker, line) {
                    l.timings.llm_first_token = Some(wait.elapsed());
                    l.timings.timeline.llm = Some(wait);
                }
            }
            Note::LlmToken {
                speaker,
                line,
                text,
            } => {
                if self.line_mut(speaker, line).is_some() {
                    self.record(room, &Event::LlmChunk { speaker, text });
                }
            }
            Note::LlmDone {
                speaker,
                line,
                result,
                after,
            } => {
                if self.line_mut(speaker, line).is_none() {
                    return;
                }
                match result {
                    Ok(text) => self.record(
                        room,
                        &Event::LlmComplete {
                            speaker,
                            latency: millis(after),
                            text: Some(text),
                        },
                    ),
                    Err(error) => {
                        self.plugin_failed(room, role_of(speaker), Some(speaker), &error)
                            .await;
                    }
                }
            }
            Note::ClauseStart {
                speaker,
                line,
                text,
                ready,
            } => {
                if let Some(l) = self.line_mut(speaker, line) {
                    l.timings.timeline.first_clause.get_or_insert(ready);
                    l.spoken.begin_clause(text.clone());
                    self.record(room, &Event::TtsStart { speaker, text });
                }
            }
            Note::Audio {
                speaker,
                line,
                samples,
                first,
            } => self.line_audio(room, speaker, line, &samples, first),
            Note::ClauseEnd {
                speaker,
                line,
                error,
            } => {
                let Some(l) = self.line_mut(speaker, line) else {
                    return;
                };
                l.spoken.close_clause();
                self.record(room, &Event::TtsComplete { speaker });
                if let Some(error) = error {
                    self.plugin_failed(room, "tts", Some(speaker), &error).await;
                }
            }
            Note::Produced { speaker, line } => self.line_produced(room, speaker, line).await,
            Note::Timer(name) => {
                self.talk.timers.remove(&name);
                self.queue(FloorEvent::Timer(name));
            }
            Note::ThinkingOver { speaker, line } => self.thinking_over(room, speaker, line).await,
            Note::GapOver { speaker, line } => self.release_held(room, speaker, line).await,
            Note::OrbRecovers(speaker) => {
                if room.state.orb(speaker) == OrbState::Error {
                    self.set_orb(room, speaker, OrbState::Idle).await;
                }
            }
        }
    }

    /// Sends `note` after `after`.
    fn spawn_after(&mut self, after: Duration, note: Note) -> JoinHandle<()> {
        let notes = self.notes_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = notes.send(note).await;
        })
    }

    /// Sends `note` after `after`, from a helper aborted when the floor closes.
    fn keep_helper(&mut self, after: Duration, note: Note) {
        let helper = self.spawn_after(after, note);
        self.helpers.retain(|h| !h.is_finished());
        self.helpers.push(helper);
    }

    /// Changes a speaker's orb: clients see it, the recording logs it.
    async fn set_orb(&mut self, room: &mut Room, speaker: Speaker, state: OrbState) {
        let old = room.state.orb(speaker);
        if room.state.set_orb(speaker, state) {
            room.broadcast(ServerEvent::OrbState(speaker, state)).await;
            let name = |s: OrbState| {
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            self.record(
                room,
                &Event::OrbStateChange {
                    speaker,
                    old_state: name(old),
                    new_state: name(state),
                },
            );
        }
    }

    /// A plugin call failed: the clients hear which role and plugin, the orb shows `error`
    /// briefly, and the session goes on.
    async fn plugin_failed(
        &mut self,
        room: &mut Room,
        role: &str,
        orb: Option<Speaker>,
        error: &CallError,
    ) {
        tracing::warn!(episode = %room.episode_id, role, plugin = error.plugin(), %error, "plugin call failed");
        let message = format!("{role} plugin `{}` failed: {error}", error.plugin());
        self.record(
            room,
            &Event::Error {
                error: message.clone(),
                service: Some(role.to_owned()),
                context: Some(serde_json::json!({"plugin": error.plugin()})),
            },
        );
        room.broadcast(ServerEvent::Error(&ErrorPayload::new(
            ErrorCode::PluginFailed,
            message,
        )))
        .await;
        if let Some(speaker) = orb {
            self.set_orb(room, speaker, OrbState::Error).await;
            self.keep_helper(ERROR_ORB_FOR, Note::OrbRecovers(speaker));
        }
    }

    /// Stops every task of the floor (session end); a line cut by the end keeps, in the
    /// recording, what was heard of it.
    fn close(&mut self, end_ms: u64) {
        self.ear.stt_tx = None;
        for voice in &mut self.voices {
            let stop = voice.pacer.stop();
            let Some(line) = voice.line.take() else {
                continue;
            };
            for cancel in &line.cancels {
                cancel.cancel();
            }
            line.task.abort();
            let text = line.spoken.heard_after(stop.played_ms);
            let start_ms = line.caption_start_ms.unwrap_or(end_ms).min(end_ms);
            let metrics = TurnMetrics {
                duration_ms: Some(stop.played_ms),
                interrupted: true,
                ..TurnMetrics::default()
            };
            if let Some(feed) = self.tape.feed.as_mut() {
                if !text.is_empty() {
                    feed.line(crate::transcript::TranscriptLine {
                        speaker: voice.speaker,
                        start_ms,
                        end_ms,
                        text: text.clone(),
                        interrupted: true,
                    });
                }
                feed.turn(voice.speaker, end_ms, &metrics);
            }
            let Some(recorder) = self.tape.recorder.as_mut() else {
                continue;
            };
            let written = if text.is_empty() {
                Ok(())
            } else {
                recorder.caption(voice.speaker, start_ms, end_ms, &text)
            }
            .and_then(|()| {
                recorder.event(
                    end_ms,
                    &Event::TurnEnd {
                        speaker: voice.speaker,
                        metrics,
                    },
                )
            });
            if let Err(error) = written {
                tracing::warn!(%error, "the last line could not be recorded");
            }
        }
        for (_, timer) in self.talk.timers.drain() {
            timer.abort();
        }
        for helper in self.helpers.drain(..) {
            helper.abort();
        }
    }
}
