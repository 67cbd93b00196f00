//! The turn loop, run inside the studio actor: microphone -> frames -> recorder, VAD, STT ->
//! turn policy -> AI lines (LLM -> clauses -> TTS -> pacer -> `audio.out`) -> policy again.
//!
//! The actor owns all of it ([`Floor`]); the STT call and each AI line run as tasks that report
//! through one note channel, and the pacers are awaited in the actor's own `select!`, so a
//! barge-in stops the audio in the same step that hears the human, without a lock.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use socketioxide::socket::Sid;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Studio;
use super::line::SpokenLine;
use super::turn_task::{LineJob, Note, STT_INPUT_QUEUE, listen, speak_line};
use crate::audio::{
    FRAME_MS, FRAME_SAMPLES, Frame, InputDecoder, InputEncoding, PacedFrame, Pacer, PacerConfig,
    PacerEvent, Vad, VadConfig, VadEvent,
};
use crate::briefings::Briefing;
use crate::gateway::download_links::DownloadLinks;
use crate::gateway::protocol::{
    AudioEncoding, AudioOut, AudioStop, Caption, ErrorCode, ErrorPayload, ModeNormal, ModeThinking,
    OrbState, RecordedFileInfo, RecordingReady, Speaker, TurnEnd, server_events,
};
use crate::plugins::wit::{
    self, AiLine, ChatMessage, ChatRole, Decision, FloorEvent, FloorState, LlmRequest, SttRequest,
    Thinking, TranscriptKind,
};
use crate::plugins::{CallCancel, CallError, PolicyHandle, SttInput};
use crate::prompt::{self, Cast, Cue, Line, Role};
use crate::recording::{
    BriefingRecord, Event, FinishingRecording, PluginRecord, RecorderConfig, RecordingError,
    RecordingSummary, RecordingWriter, TurnMetrics,
};
use crate::session::TurnLoopSetup;

/// How many notes from the studio's tasks may wait for the actor.
const NOTE_QUEUE: usize = 1024;
/// How long an orb shows `error` after its plugin failed.
const ERROR_ORB_FOR: Duration = Duration::from_millis(1500);
/// The wire format of `audio.out` payloads.
const AUDIO_OUT_FORMAT: &str = "pcm_s16le;rate=48000;channels=1";
/// A microphone that paused longer than this restarts at the current session time, so the `you`
/// track stays aligned with the clock after a client stalls.
const MIC_RESYNC_MS: u64 = 200;
/// Silent tracks are filled up to about now this often, so they stay current on disk.
const RECORDING_ADVANCE_EVERY_MS: u64 = 1_000;
/// A microphone that goes quiet this long while the human's utterance is still open (muted,
/// tab closed, network stall) is heard as silence from then on, so the VAD and the recognizer
/// close the utterance instead of leaving a partial caption and the floor with the human forever.
const MIC_GAP: Duration = Duration::from_millis(200);
/// At most this much silence is filled in for one gap; a recognizer that has not finished by then
/// will not finish on more silence.
const MIC_GAP_FILL_MAX_MS: u64 = 3_000;
/// The studio's two AIs, in their `voices` order.
const AIS: [Speaker; 2] = [Speaker::Claude, Speaker::Guest];

/// The protocol's speaker as the plugin contract spells it.
pub(super) fn to_wit(speaker: Speaker) -> wit::Speaker {
    match speaker {
        Speaker::You => wit::Speaker::You,
        Speaker::Claude => wit::Speaker::Claude,
        Speaker::Guest => wit::Speaker::Guest,
    }
}

/// The plugin contract's speaker as the protocol spells it.
fn from_wit(speaker: wit::Speaker) -> Speaker {
    match speaker {
        wit::Speaker::You => Speaker::You,
        wit::Speaker::Claude => Speaker::Claude,
        wit::Speaker::Guest => Speaker::Guest,
    }
}

fn voice_slot(speaker: Speaker) -> Option<usize> {
    match speaker {
        Speaker::Claude => Some(0),
        Speaker::Guest => Some(1),
        Speaker::You => None,
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One AI line in progress.
struct Turn {
    id: u64,
    task: JoinHandle<()>,
    cancels: [CallCancel; 2],
    line: SpokenLine,
    /// Audio kept back until the line may play (thinking mode's countdown, or the gap after
    /// the previous AI's line, during which the line is already being written and spoken).
    held: Option<Vec<i16>>,
    /// Prepared in thinking mode: the human's speech does not cancel the preparation.
    thinking: bool,
    /// The task has produced everything.
    produced: bool,
    /// Samples released to clients.
    released: u64,
    clauses_shown: usize,
    caption_id: String,
    caption_start_ms: Option<u64>,
    asked_at: Instant,
    llm_first_token: Option<Duration>,
    tts_first_audio: Option<Duration>,
    first_frame_at: Option<Instant>,
    /// Session time the first frame was sent.
    first_frame_ms: Option<u64>,
    /// A reply to the human's line (voice to voice is measured), not an AI answering an AI.
    answers_human: bool,
    voice_to_voice: Option<Duration>,
    handoff_gap: Option<Duration>,
    stt_final: Option<Duration>,
}

/// An AI's voice: its pacer and its line in progress.
struct Voice {
    speaker: Speaker,
    pacer: Pacer,
    turn: Option<Turn>,
}

/// The turn loop's state, owned by the studio actor.
pub(super) struct Floor {
    setup: Arc<TurnLoopSetup>,
    notes_tx: mpsc::Sender<Note>,
    notes_rx: mpsc::Receiver<Note>,
    policy: PolicyHandle,
    briefing: Arc<Briefing>,
    decoder: Option<InputDecoder>,
    frames: Vec<Frame>,
    vad: Vad,
    /// Session time of the next microphone frame.
    mic_next_ms: u64,
    /// When the last microphone audio arrived (or silence was filled in for a gap).
    mic_heard_at: Option<tokio::time::Instant>,
    /// Silence filled in since real microphone audio last arrived (ms).
    mic_gap_filled_ms: u64,
    /// A partial `you` transcript is showing and its final has not come yet.
    partial_open: bool,
    recorded_until_ms: u64,
    stt_tx: Option<mpsc::Sender<SttInput>>,
    stt_task: Option<JoinHandle<()>>,
    human_speaking: bool,
    speech_onset_ms: u64,
    /// Where the human's last utterance really ended on the session clock (the VAD's offset,
    /// known only after its hangover, which may be after the recognizer's final and even after
    /// the AI's first frame).
    speech_offset_ms: Option<u64>,
    /// When the last final transcript arrived, on the session clock.
    final_heard_ms: Option<u64>,
    last_stt_final: Option<Duration>,
    utterance: u64,
    transcript: Vec<Line>,
    voices: [Voice; 2],
    next_turn: u64,
    last_speaker: Option<Speaker>,
    ai_turns_in_a_row: u32,
    autopilot_since_ms: Option<u64>,
    memory: String,
    segment_cue: Option<String>,
    thinking: Option<(Speaker, u64)>,
    timers: HashMap<String, JoinHandle<()>>,
    helpers: Vec<JoinHandle<()>>,
    pending: VecDeque<FloorEvent>,
    last_ai_end: Option<Instant>,
    /// The recording's writer thread, fed without waiting (the actor never touches the disk).
    recorder: Option<RecordingWriter>,
    recording_failed: bool,
}

/// What woke the actor on the floor's side.
#[expect(
    clippy::large_enum_variant,
    reason = "a paced frame moves once from the pacer to the actor; boxing it would allocate per frame"
)]
pub(super) enum FloorStep {
    Note(Note),
    Paced(Speaker, PacerEvent),
    /// The microphone went quiet while the human's utterance was open.
    MicGap,
}

impl Floor {
    /// Sets up the floor of a new studio session: recorder, briefing, policy, and the STT call.
    pub(super) async fn open(
        setup: Arc<TurnLoopSetup>,
        episode_id: &str,
        generation: u64,
        started: Instant,
        min_free_mb: u64,
    ) -> (Floor, Vec<String>) {
        let mut problems = Vec::new();
        let (notes_tx, notes_rx) = mpsc::channel(NOTE_QUEUE);
        let briefing = match setup.briefings.load(episode_id).await {
            Ok(b) => b,
            Err(error) => {
                problems.push(format!(
                    "the briefing of episode {episode_id} could not be read ({error}); the built-in briefing is used"
                ));
                setup.briefings.built_in()
            }
        };
        let mut policy = setup.plugins.policy();
        policy.set_session_clock_origin(started);

        let (recorder, recording_failed) =
            if let Some(message) = disk_space_low(&setup.recording_dir, min_free_mb) {
                problems.push(message);
                (None, false)
            } else {
                start_recorder(
                    &setup,
                    episode_id,
                    generation,
                    &briefing,
                    &notes_tx,
                    &mut problems,
                )
            };

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
            turn: None,
        };
        let floor = Floor {
            setup,
            notes_tx,
            notes_rx,
            policy,
            briefing,
            decoder: None,
            frames: Vec::with_capacity(8),
            vad: Vad::new(VadConfig::default()),
            mic_next_ms: 0,
            mic_heard_at: None,
            mic_gap_filled_ms: 0,
            partial_open: false,
            recorded_until_ms: 0,
            stt_tx: Some(stt_tx),
            stt_task: Some(stt_task),
            human_speaking: false,
            speech_onset_ms: 0,
            speech_offset_ms: None,
            final_heard_ms: None,
            last_stt_final: None,
            utterance: 0,
            transcript: Vec::new(),
            voices: [voice(Speaker::Claude), voice(Speaker::Guest)],
            next_turn: 1,
            last_speaker: None,
            ai_turns_in_a_row: 0,
            autopilot_since_ms: None,
            memory: String::new(),
            segment_cue: None,
            thinking: None,
            timers: HashMap::new(),
            helpers: Vec::new(),
            pending: VecDeque::new(),
            last_ai_end: None,
            recorder,
            recording_failed,
        };
        (floor, problems)
    }

    /// Waits for the next thing the floor must handle: a note from a task or a paced frame.
    /// Cancel-safe (channel receive and `Pacer::next` both are).
    pub(super) async fn next_step(&mut self) -> FloorStep {
        let gap_deadline = self.mic_gap_deadline();
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

    /// When silence must be filled in for a quiet microphone: only while an utterance is open
    /// (the VAD hears speech or a partial transcript waits for its final), and not without end.
    fn mic_gap_deadline(&self) -> Option<tokio::time::Instant> {
        let open = self.human_speaking || self.partial_open;
        if !open || self.mic_gap_filled_ms >= MIC_GAP_FILL_MAX_MS {
            return None;
        }
        self.mic_heard_at.map(|at| at + MIC_GAP)
    }

    fn voice(&mut self, speaker: Speaker) -> Option<&mut Voice> {
        voice_slot(speaker).map(|i| &mut self.voices[i])
    }

    fn holder(&self) -> Option<Speaker> {
        self.voices
            .iter()
            .find(|v| v.turn.is_some())
            .map(|v| v.speaker)
    }

    fn floor_state(&self, now_ms: u64, autopilot: bool) -> FloorState {
        FloorState {
            now_ms,
            autopilot,
            holder: self.holder().map(to_wit),
            human_speaking: self.human_speaking,
            last_speaker: self.last_speaker.map(to_wit),
            ai_turns_in_a_row: self.ai_turns_in_a_row,
            max_ai_turns: self.setup.autopilot_max_turns,
            thinking: self.thinking.map(|(speaker, ends_at_ms)| Thinking {
                speaker: to_wit(speaker),
                ends_at_ms,
            }),
            autopilot_since_ms: self.autopilot_since_ms,
            memory: self.memory.clone(),
        }
    }

    fn spawn_after(&mut self, after: Duration, note: Note) -> JoinHandle<()> {
        let notes = self.notes_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = notes.send(note).await;
        })
    }

    /// Stops every task of the floor (session end); a line cut by the end keeps, in the
    /// recording, what was heard of it.
    fn close(&mut self, end_ms: u64) {
        self.stt_tx = None;
        for voice in &mut self.voices {
            let stop = voice.pacer.stop();
            if let Some(turn) = voice.turn.take() {
                for cancel in &turn.cancels {
                    cancel.cancel();
                }
                turn.task.abort();
                let text = turn.line.heard_after(stop.played_ms);
                if let Some(recorder) = self.recorder.as_mut() {
                    let start_ms = turn.caption_start_ms.unwrap_or(end_ms).min(end_ms);
                    let metrics = TurnMetrics {
                        duration_ms: Some(stop.played_ms),
                        interrupted: true,
                        ..TurnMetrics::default()
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
            }
        }
        for (_, timer) in self.timers.drain() {
            timer.abort();
        }
        for helper in self.helpers.drain(..) {
            helper.abort();
        }
    }
}

/// Starts the recording of a new session: its writer thread creates the folder and files.
/// Returns the writer and whether it already failed (reported in `problems`).
fn start_recorder(
    setup: &TurnLoopSetup,
    episode_id: &str,
    generation: u64,
    briefing: &Briefing,
    notes_tx: &mpsc::Sender<Note>,
    problems: &mut Vec<String>,
) -> (Option<RecordingWriter>, bool) {
    let session_id = format!("{episode_id}-{}-{generation}", epoch_ms());
    let mut config = RecorderConfig::new(&setup.recording_dir, episode_id, &session_id);
    let plugins = plugin_records(setup);
    config.session_config = serde_json::json!({
        "roles": plugins.iter().map(|p| serde_json::json!({"role": p.role, "plugin": p.name, "version": p.version})).collect::<Vec<_>>(),
        "autopilotMaxTurns": setup.autopilot_max_turns,
        "turnGapMs": millis(setup.turn_gap),
        "language": setup.language,
    });
    config.writer = setup.recorder.clone();
    // Plugin errors in `events.jsonl` may carry a key a provider echoed: cut it out.
    config.redactor = Some(setup.plugins.redactor());
    let mut recording_failed = false;
    // The writer thread creates the folder and its files; a failure there (or any later
    // one) wakes the actor with a note, and `check` reports it once.
    let wake = notes_tx.clone();
    let mut recorder = RecordingWriter::start(config, move || {
        let _ = wake.try_send(Note::RecordingTrouble);
    });
    let briefing_path = setup.briefings.path_of(episode_id);
    let record = BriefingRecord {
        path: if briefing_path.is_file() {
            briefing_path.display().to_string()
        } else {
            "built-in".to_owned()
        },
        title: briefing.title.clone(),
    };
    if let Err(error) = recorder
        .set_plugins(plugins)
        .and_then(|()| recorder.set_briefing(record))
    {
        problems.push(format!("recording: {error}"));
        recording_failed = true;
    }
    (Some(recorder), recording_failed)
}

/// The problem to report when the recording disk has less than `min_free_mb` MiB free (the
/// session then goes on unrecorded); `None` when there is room or the space cannot be read (the
/// recorder then reports its own failure, if any).
fn disk_space_low(dir: &std::path::Path, min_free_mb: u64) -> Option<String> {
    const MIB: u64 = 1024 * 1024;
    let free = match crate::recording::free_bytes(dir) {
        Ok(free) => free,
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "free space of the recording disk unknown; recording anyway");
            return None;
        }
    };
    if free >= min_free_mb.saturating_mul(MIB) {
        return None;
    }
    let free_mb = free / MIB;
    tracing::warn!(dir = %dir.display(), free_mb, min_free_mb, "recording disk low on space; the session is not recorded");
    Some(format!(
        "disk space low: {free_mb} MiB free on the recording disk, below RECORDING_MIN_FREE_MB={min_free_mb}; this session is not recorded (free space, or lower RECORDING_MIN_FREE_MB)"
    ))
}

fn plugin_records(setup: &TurnLoopSetup) -> Vec<PluginRecord> {
    let mut records = Vec::new();
    for status in setup.plugins.plugins() {
        for role in &status.roles {
            records.push(PluginRecord {
                role: role.name().to_owned(),
                name: status.name.clone(),
                version: status.version.clone().unwrap_or_default(),
                hash: status.sha256.clone().unwrap_or_default(),
            });
        }
    }
    records
}

fn audio_format(format: crate::gateway::protocol::InputFormat) -> crate::audio::InputFormat {
    crate::audio::InputFormat {
        encoding: match format.encoding {
            AudioEncoding::PcmS16le => InputEncoding::PcmS16le,
            AudioEncoding::Opus => InputEncoding::Opus,
        },
        sample_rate: format.sample_rate,
        channels: u16::from(format.channels),
    }
}

fn role_of(speaker: Speaker) -> &'static str {
    match speaker {
        Speaker::You => "stt",
        Speaker::Claude => "llm:claude",
        Speaker::Guest => "llm:guest",
    }
}

impl Studio {
    /// Opens the floor when the studio has a turn loop, and tells the policy the session began.
    pub(super) async fn open_floor(&mut self) {
        let Some(setup) = self.turn_loop.clone() else {
            return;
        };
        // The session clock (recording, captions, the policy's clock) starts with the floor.
        self.started = Instant::now();
        let (floor, problems) = Floor::open(
            setup,
            &self.episode_id,
            self.generation,
            self.started,
            self.limits.recording_min_free_mb,
        )
        .await;
        self.floor = Some(floor);
        for problem in problems {
            tracing::warn!(episode = %self.episode_id, "{problem}");
            self.record_event(&Event::Error {
                error: problem.clone(),
                service: Some("recording".into()),
                context: None,
            });
            self.pending_problems.push(problem);
        }
        self.queue_event(FloorEvent::SessionStarted);
        self.run_policy().await;
    }

    /// Writes an event to the recording, reporting the first failure to the clients.
    pub(super) fn record_event(&mut self, event: &Event) {
        let t = self.clock_ms();
        let Some(floor) = self.floor.as_mut() else {
            return;
        };
        let Some(recorder) = floor.recorder.as_mut() else {
            return;
        };
        if let Err(error) = recorder.event(t, event) {
            self.recording_error(error);
        }
    }

    /// Reports, once, a failure the recording's writer thread met.
    fn check_recording(&mut self) {
        let Some(recorder) = self.floor.as_mut().and_then(|f| f.recorder.as_mut()) else {
            return;
        };
        if let Err(error) = recorder.check() {
            self.recording_error(error);
        }
    }

    fn recording_error(&mut self, error: RecordingError) {
        let Some(floor) = self.floor.as_mut() else {
            return;
        };
        if floor.recording_failed {
            return;
        }
        floor.recording_failed = true;
        tracing::error!(episode = %self.episode_id, %error, "recording failed; the studio goes on unrecorded");
        let message = format!(
            "recording failed: {error}. The studio goes on; fix RECORDING_DIR (space, permissions) for the next session"
        );
        // Logged in the recording too: if the disk comes back, its events.jsonl says where
        // frames are missing (captions and events keep room in the writer's queue).
        self.record_event(&Event::Error {
            error: message.clone(),
            service: Some("recording".into()),
            context: None,
        });
        self.pending_problems.push(message);
    }

    /// Sends the problems found since the last call to every client (they are not urgent enough
    /// to await inside the audio path).
    pub(super) async fn report_problems(&mut self) {
        for message in std::mem::take(&mut self.pending_problems) {
            let code = if message.starts_with("recording")
                || message.starts_with("this session is not recorded")
            {
                ErrorCode::RecordingFailed
            } else if message.starts_with("disk space low") {
                ErrorCode::DiskSpaceLow
            } else {
                ErrorCode::PluginFailed
            };
            self.broadcast(server_events::ERROR, &ErrorPayload::new(code, message))
                .await;
        }
    }

    async fn set_orb_state(&mut self, speaker: Speaker, state: OrbState) {
        let old = self.state.orb(speaker);
        if self.state.set_orb(speaker, state) {
            self.broadcast(server_events::ORB_STATE, &(speaker, state))
                .await;
            let name = |s: OrbState| {
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            self.record_event(&Event::OrbStateChange {
                speaker,
                old_state: name(old),
                new_state: name(state),
            });
        }
    }

    async fn show_caption(&mut self, caption: Caption) {
        self.broadcast(server_events::CAPTION, &caption).await;
        self.state.push_caption(caption);
    }

    /// A plugin call failed: the clients hear which role and plugin, the orb shows `error`
    /// briefly, and the session goes on.
    async fn plugin_failed(&mut self, role: &str, orb: Option<Speaker>, error: &CallError) {
        tracing::warn!(episode = %self.episode_id, role, plugin = error.plugin(), %error, "plugin call failed");
        let message = format!("{role} plugin `{}` failed: {error}", error.plugin());
        self.record_event(&Event::Error {
            error: message.clone(),
            service: Some(role.to_owned()),
            context: Some(serde_json::json!({"plugin": error.plugin()})),
        });
        self.broadcast(
            server_events::ERROR,
            &ErrorPayload::new(ErrorCode::PluginFailed, message),
        )
        .await;
        if let Some(speaker) = orb {
            self.set_orb_state(speaker, OrbState::Error).await;
            if let Some(floor) = self.floor.as_mut() {
                let helper = floor.spawn_after(ERROR_ORB_FOR, Note::OrbRecovers(speaker));
                floor.helpers.retain(|h| !h.is_finished());
                floor.helpers.push(helper);
            }
        }
    }

    /// Microphone audio of the human: frames on the session clock into the recording, the VAD
    /// and the STT call; speech start and end drive barge-in and the policy.
    pub(super) async fn hear(&mut self, client: Sid, chunk: &[u8]) {
        let now_ms = self.clock_ms();
        let Some(format) = self.state.participant(client).map(|p| p.input_format) else {
            return;
        };
        let format = audio_format(format);
        let Some(floor) = self.floor.as_mut() else {
            return;
        };
        if floor.decoder.as_ref().is_none_or(|d| d.format() != format) {
            match InputDecoder::new(format) {
                Ok(decoder) => floor.decoder = Some(decoder),
                Err(error) => {
                    let message = format!("microphone audio cannot be decoded: {error}");
                    self.emit_error(client, ErrorCode::AudioUndecodable, &message);
                    return;
                }
            }
        }
        let Some(decoder) = floor.decoder.as_mut() else {
            return;
        };
        let frames = &mut floor.frames;
        frames.clear();
        if let Err(error) = decoder.push(chunk, |frame| frames.push(frame.clone())) {
            let message = format!("an audio.chunk could not be decoded: {error}");
            self.emit_error(client, ErrorCode::AudioUndecodable, &message);
            return;
        }
        floor.mic_heard_at = Some(tokio::time::Instant::now());
        floor.mic_gap_filled_ms = 0;
        self.take_mic_frames(now_ms).await;
    }

    /// The microphone went quiet with the utterance open: hear silence from where its audio
    /// stopped up to now, through the same path as real audio (recording, STT, VAD).
    pub(super) async fn fill_mic_gap(&mut self) {
        let now_ms = self.clock_ms();
        let Some(floor) = self.floor.as_mut() else {
            return;
        };
        let missing_ms = now_ms
            .saturating_sub(floor.mic_next_ms)
            .min(MIC_GAP_FILL_MAX_MS - floor.mic_gap_filled_ms.min(MIC_GAP_FILL_MAX_MS));
        let count = usize::try_from(missing_ms / FRAME_MS).unwrap_or(0).max(1);
        floor.frames.clear();
        floor.frames.resize(count, Frame::silent());
        floor.mic_gap_filled_ms += FRAME_MS * count as u64;
        floor.mic_heard_at = Some(tokio::time::Instant::now());
        tracing::debug!(
            filled_ms = FRAME_MS * count as u64,
            "microphone quiet mid-utterance: heard as silence"
        );
        self.take_mic_frames(now_ms).await;
    }

    /// Puts the decoded microphone frames in `floor.frames` on the session clock: into the `you`
    /// track, the STT call and the VAD; speech start and end drive barge-in and the policy.
    async fn take_mic_frames(&mut self, now_ms: u64) {
        let Some(floor) = self.floor.as_mut() else {
            return;
        };
        let mut vad_events = Vec::new();
        let mut record_error = None;
        if floor.mic_next_ms + MIC_RESYNC_MS < now_ms {
            floor.mic_next_ms = now_ms.saturating_sub(FRAME_MS * floor.frames.len() as u64);
        }
        for frame in &floor.frames {
            let at_ms = floor.mic_next_ms;
            floor.mic_next_ms += FRAME_MS;
            if let Some(recorder) = floor.recorder.as_mut()
                && let Err(error) = recorder.push_frame(Speaker::You, at_ms, frame.samples())
            {
                record_error.get_or_insert(error);
            }
            if let Some(tx) = &floor.stt_tx
                && tx
                    .try_send(SttInput::Audio(frame.samples().to_vec()))
                    .is_err()
            {
                tracing::debug!("STT input full; frame dropped");
            }
            if let Some(event) = floor.vad.push(frame, at_ms + FRAME_MS) {
                vad_events.push(event);
            }
        }
        if now_ms >= floor.recorded_until_ms + RECORDING_ADVANCE_EVERY_MS {
            // Keep the silent AI tracks current on disk, a little behind now so a frame that is
            // about to play is not overtaken.
            floor.recorded_until_ms = now_ms;
            if let Some(recorder) = floor.recorder.as_mut()
                && let Err(error) = recorder.advance_to(now_ms.saturating_sub(500))
            {
                record_error.get_or_insert(error);
            }
        }
        if let Some(error) = record_error {
            self.recording_error(error);
        }
        for event in vad_events {
            match event {
                VadEvent::SpeechStart { onset_ms, .. } => self.human_started(onset_ms).await,
                VadEvent::SpeechEnd { offset_ms, .. } => self.human_stopped(offset_ms).await,
            }
        }
        self.run_policy().await;
        self.report_problems().await;
    }

    async fn human_started(&mut self, onset_ms: u64) {
        let Some(floor) = self.floor.as_mut() else {
            return;
        };
        floor.human_speaking = true;
        floor.speech_onset_ms = onset_ms;
        floor.speech_offset_ms = None;
        floor.final_heard_ms = None;
        if let Some(tx) = &floor.stt_tx {
            let _ = tx.try_send(SttInput::SpeechStarted);
        }
        // Barge-in first, in this same step: the pacer must not release another frame.
        let speaking: Vec<Speaker> = floor
            .voices
            .iter()
            .filter(|v| v.turn.as_ref().is_some_and(|t| !t.thinking))
            .map(|v| v.speaker)
            .collect();
        for speaker in &speaking {
            self.stop_line(*speaker, "barge-in").await;
        }
        if !speaking.is_empty() {
            self.record_event(&Event::BargeIn {
                interrupter: Speaker::You,
                interrupted: speaking,
            });
        }
        self.record_event(&Event::VadSpeechStart {
            speaker: Speaker::You,
            confidence: None,
        });
        self.set_orb_state(Speaker::You, OrbState::Listening).await;
        self.queue_event(FloorEvent::HumanSpeechStarted);
    }

    async fn human_stopped(&mut self, offset_ms: u64) {
        let Some(floor) = self.floor.as_mut() else {
            return;
        };
        floor.human_speaking = false;
        floor.speech_offset_ms = Some(offset_ms);
        // The recognizer and even the reply may have been faster than the VAD's hangover: their
        // latencies are measured from the real end of speech now that it is known.
        let stt_final = floor
            .final_heard_ms
            .map(|heard| Duration::from_millis(heard.saturating_sub(offset_ms)));
        if floor.final_heard_ms.is_some() {
            floor.last_stt_final = stt_final;
        }
        for voice in &mut floor.voices {
            if let Some(turn) = voice.turn.as_mut().filter(|t| t.answers_human) {
                if turn.stt_final.is_none() {
                    turn.stt_final = stt_final;
                }
                if let Some(first) = turn.first_frame_ms.filter(|first| *first >= offset_ms)
                    && turn.voice_to_voice.is_none()
                {
                    turn.voice_to_voice = Some(Duration::from_millis(first - offset_ms));
                }
            }
        }
        if let Some(tx) = &floor.stt_tx {
            let _ = tx.try_send(SttInput::SpeechEnded);
        }
        self.record_event(&Event::VadSpeechEnd {
            speaker: Speaker::You,
            confidence: None,
        });
        self.set_orb_state(Speaker::You, OrbState::Idle).await;
        self.queue_event(FloorEvent::HumanSpeechEnded);
    }

    fn queue_event(&mut self, event: FloorEvent) {
        if let Some(floor) = self.floor.as_mut() {
            floor.pending.push_back(event);
        }
    }

    /// Asks the policy about every queued floor event, in order, and carries out its decisions
    /// (which may queue more events, e.g. a stopped line's `ai-finished`).
    pub(super) async fn run_policy(&mut self) {
        loop {
            let now_ms = self.clock_ms();
            let autopilot = self.state.autopilot();
            let Some(floor) = self.floor.as_mut() else {
                return;
            };
            let Some(event) = floor.pending.pop_front() else {
                return;
            };
            let state = floor.floor_state(now_ms, autopilot);
            let after_ai = matches!(event, FloorEvent::AiFinished(_));
            let human_said = matches!(event, FloorEvent::HumanSaid(_));
            let decisions = match floor.policy.decide(state, event).await {
                Ok(decisions) => decisions,
                Err(error) => {
                    self.plugin_failed("policy", None, &error).await;
                    continue;
                }
            };
            for decision in decisions {
                self.carry_out(decision, after_ai, human_said).await;
            }
        }
    }

    async fn carry_out(&mut self, decision: Decision, after_ai: bool, human_said: bool) {
        match decision {
            Decision::Respond(respond) => {
                let speaker = from_wit(respond.speaker);
                if human_said {
                    self.record_route("address", speaker, &respond.cue, None);
                }
                self.start_line(speaker, respond.cue, None, after_ai, human_said)
                    .await;
            }
            Decision::Think(think) => {
                let speaker = from_wit(think.speaker);
                self.record_route(
                    "thinking",
                    speaker,
                    &think.cue,
                    Some(u64::from(think.duration_ms)),
                );
                self.start_line(
                    speaker,
                    think.cue,
                    Some(think.duration_ms),
                    false,
                    human_said,
                )
                .await;
            }
            Decision::Mute(speaker) => {
                let speaker = from_wit(speaker);
                let speaking = self
                    .floor
                    .as_mut()
                    .and_then(|f| f.voice(speaker))
                    .is_some_and(|v| v.turn.is_some());
                if speaker != Speaker::You && !speaking {
                    self.set_orb_state(speaker, OrbState::Muted).await;
                }
            }
            Decision::Unmute(speaker) => {
                let speaker = from_wit(speaker);
                if self.state.orb(speaker) == OrbState::Muted {
                    self.set_orb_state(speaker, OrbState::Idle).await;
                }
            }
            Decision::Stop(speaker) => {
                let speaker = from_wit(speaker);
                let held = self
                    .floor
                    .as_mut()
                    .and_then(|f| f.voice(speaker))
                    .and_then(|v| v.turn.as_ref())
                    .is_some_and(|t| !t.thinking);
                if held {
                    self.stop_line(speaker, "stop").await;
                }
            }
            Decision::Wait => {}
            Decision::SetTimer(timer) => {
                if let Some(floor) = self.floor.as_mut() {
                    let handle = floor.spawn_after(
                        Duration::from_millis(u64::from(timer.after_ms)),
                        Note::Timer(timer.name.clone()),
                    );
                    if let Some(old) = floor.timers.insert(timer.name, handle) {
                        old.abort();
                    }
                }
            }
            Decision::CancelTimer(name) => {
                if let Some(timer) = self.floor.as_mut().and_then(|f| f.timers.remove(&name)) {
                    timer.abort();
                }
            }
            Decision::Segment(segment) => {
                tracing::info!(episode = %self.episode_id, segment = %segment.name, "segment begins");
                if let Some(floor) = self.floor.as_mut() {
                    floor.segment_cue =
                        (!segment.cue.trim().is_empty()).then(|| segment.cue.clone());
                }
                self.record_event(&Event::Segment {
                    name: segment.name,
                    duration_ms: Some(u64::from(segment.duration_ms)),
                });
            }
            Decision::Remember(memory) => {
                if let Some(floor) = self.floor.as_mut() {
                    floor.memory = memory;
                }
            }
        }
    }

    fn record_route(
        &mut self,
        action: &str,
        speaker: Speaker,
        cue: &str,
        duration_ms: Option<u64>,
    ) {
        tracing::info!(episode = %self.episode_id, action, speaker = ?speaker, "command.route");
        self.record_event(&Event::CommandRoute {
            action: action.to_owned(),
            targets: vec![speaker],
            remainder: cue.to_owned(),
            confidence: 1.0,
            duration_ms,
        });
    }

    /// Gives `speaker` the floor: builds the prompt and starts the line's task. In thinking mode
    /// (`think_ms`) the line is prepared in silence and plays when the time is up. A line in
    /// autopilot that does not answer the human (`human_said`) is spent from the studio's
    /// autopilot budget.
    async fn start_line(
        &mut self,
        speaker: Speaker,
        cue: String,
        think_ms: Option<u32>,
        after_ai: bool,
        human_said: bool,
    ) {
        let now_ms = self.clock_ms();
        let autopilot = self.state.autopilot();
        let host_name = self
            .state
            .microphone()
            .and_then(|m| self.state.participant(m.client))
            .map(|p| p.name.clone());
        let runtime = self.runtime_config.borrow().clone();
        let Some(floor) = self.floor.as_mut() else {
            return;
        };
        let Some(slot) = voice_slot(speaker) else {
            return;
        };
        // The human's speech always takes the floor from the AIs' conversation. (An answer to
        // the human is not held back: the recognizer may call the utterance final a moment
        // before the host's VAD hears its end.)
        if floor.human_speaking && after_ai {
            tracing::info!(?speaker, "respond ignored: the human is speaking");
            return;
        }
        if floor.voices[slot].turn.is_some() {
            tracing::info!(
                ?speaker,
                "respond ignored: that AI already has a line in progress"
            );
            return;
        }
        if let Some(other) = floor.holder()
            && think_ms.is_none()
            && floor.thinking.is_none_or(|(s, _)| s != other)
        {
            tracing::info!(
                ?speaker,
                ?other,
                "respond ignored: another AI holds the floor"
            );
            return;
        }
        if after_ai && autopilot && floor.ai_turns_in_a_row >= floor.setup.autopilot_max_turns {
            tracing::info!(
                ?speaker,
                cap = floor.setup.autopilot_max_turns,
                "autopilot cap reached; waiting for the human"
            );
            return;
        }
        if autopilot
            && !human_said
            && let Err(refusal) = self.autopilot_budget.take(Instant::now())
        {
            self.autopilot_refused(speaker, refusal).await;
            return;
        }
        let mut cast = Cast::with_host(host_name.as_deref());
        cast.guest_instructions = runtime.guest_system_instructions.clone();
        let prompt_cue = Cue {
            segment: floor.segment_cue.clone(),
            instruction: (!cue.trim().is_empty()).then(|| cue.clone()),
            prepared_secs: think_ms.map(|ms| ms.div_ceil(1000)),
        };
        let prompt = match prompt::build(
            speaker,
            &floor.briefing,
            &cast,
            &prompt_cue,
            &floor.transcript,
        ) {
            Ok(prompt) => prompt,
            Err(error) => {
                tracing::warn!(%error, "no prompt");
                return;
            }
        };
        let (model, voice) = match speaker {
            Speaker::Guest => (
                runtime.guest_model.clone().unwrap_or_default(),
                runtime
                    .guest_voice
                    .as_ref()
                    .and_then(|v| v.google_voice.clone().or_else(|| v.coqui_speaker.clone()))
                    .unwrap_or_default(),
            ),
            _ => (String::new(), String::new()),
        };
        let request = LlmRequest {
            speaker: to_wit(speaker),
            model: model.clone(),
            system: prompt.system,
            messages: prompt
                .messages
                .into_iter()
                .map(|m| ChatMessage {
                    role: match m.role {
                        Role::User => ChatRole::User,
                        Role::Assistant => ChatRole::Assistant,
                    },
                    content: m.content,
                })
                .collect(),
            max_tokens: prompt.max_tokens,
            temperature: None,
        };
        let mut llm = floor.setup.plugins.llm(to_wit(speaker));
        llm.set_session_clock_origin(self.started);
        let mut tts = floor.setup.plugins.tts();
        tts.set_session_clock_origin(self.started);
        let cancels = [llm.canceller(), tts.canceller()];
        let id = floor.next_turn;
        floor.next_turn += 1;
        let gap = if after_ai {
            floor.setup.turn_gap
        } else {
            Duration::ZERO
        };
        let job = LineJob {
            speaker,
            turn: id,
            llm,
            tts,
            request,
            voice,
            language: floor.setup.language.clone(),
        };
        let task = tokio::spawn(speak_line(job, floor.notes_tx.clone()));
        if !gap.is_zero() && think_ms.is_none() {
            let helper = floor.spawn_after(gap, Note::GapOver { speaker, turn: id });
            floor.helpers.retain(|h| !h.is_finished());
            floor.helpers.push(helper);
        }
        let stt_final = floor.last_stt_final.take();
        floor.voices[slot].turn = Some(Turn {
            id,
            task,
            cancels,
            line: SpokenLine::default(),
            held: (think_ms.is_some() || !gap.is_zero()).then(Vec::new),
            thinking: think_ms.is_some(),
            produced: false,
            released: 0,
            clauses_shown: 0,
            caption_id: format!("{}-{}-{id}", speaker_name(speaker), self.generation),
            caption_start_ms: None,
            asked_at: Instant::now(),
            llm_first_token: None,
            tts_first_audio: None,
            first_frame_at: None,
            first_frame_ms: None,
            answers_human: !after_ai && think_ms.is_none(),
            voice_to_voice: None,
            handoff_gap: None,
            stt_final,
        });
        self.record_event(&Event::TurnStart { speaker });
        self.record_event(&Event::LlmStart {
            speaker,
            model: (!model.is_empty()).then_some(model),
        });
        self.set_orb_state(speaker, OrbState::Thinking).await;
        if let Some(duration_ms) = think_ms {
            let ends_at_ms = now_ms + u64::from(duration_ms);
            if let Some(floor) = self.floor.as_mut() {
                floor.thinking = Some((speaker, ends_at_ms));
                let helper = floor.spawn_after(
                    Duration::from_millis(u64::from(duration_ms)),
                    Note::ThinkingOver { speaker, turn: id },
                );
                floor.helpers.retain(|h| !h.is_finished());
                floor.helpers.push(helper);
            }
            self.start_thinking(ModeThinking {
                speaker,
                duration_ms: u64::from(duration_ms),
                started_at: epoch_ms(),
            })
            .await;
            self.record_event(&Event::ModeThinking {
                speaker,
                duration: u64::from(duration_ms),
            });
            for other in AIS.into_iter().filter(|s| *s != speaker) {
                self.set_orb_state(other, OrbState::Muted).await;
            }
        }
    }

    /// An autopilot line was refused by the studio's budget: the clients and the event log hear
    /// it once per limit reached; the AIs still answer the human.
    async fn autopilot_refused(
        &mut self,
        speaker: Speaker,
        refusal: crate::session::AutopilotRefusal,
    ) {
        if !refusal.tell {
            tracing::debug!(episode = %self.episode_id, ?speaker, limit = ?refusal.limit, "autopilot line refused");
            return;
        }
        let message = refusal.limit.message();
        tracing::info!(episode = %self.episode_id, ?speaker, limit = ?refusal.limit, spent = self.autopilot_budget.spent(), "autopilot limit reached; autopilot lines refused");
        self.record_event(&Event::Error {
            error: message.clone(),
            service: Some("autopilot".into()),
            context: Some(serde_json::json!({"code": "autopilot-limit"})),
        });
        self.broadcast(
            server_events::ERROR,
            &ErrorPayload::new(ErrorCode::AutopilotLimit, message),
        )
        .await;
    }

    /// Cuts an AI's line now: its pacer drops what is queued (no further frame leaves), its
    /// calls are cancelled and its task aborted; clients are told to drop queued audio.
    async fn stop_line(&mut self, speaker: Speaker, reason: &str) {
        let Some(voice) = self.floor.as_mut().and_then(|f| f.voice(speaker)) else {
            return;
        };
        let stop = voice.pacer.stop();
        if voice.turn.is_none() {
            return;
        }
        self.broadcast(
            server_events::AUDIO_STOP,
            &AudioStop {
                speaker,
                reason: reason.to_owned(),
                played_ms: stop.played_ms,
            },
        )
        .await;
        self.end_line(speaker, true, stop.played_ms).await;
    }

    /// Ends an AI's line (finished or cut): the caption and transcript keep what was heard,
    /// metrics are logged, and the policy hears `ai-finished`.
    async fn end_line(&mut self, speaker: Speaker, interrupted: bool, played_ms: u64) {
        let now_ms = self.clock_ms();
        let Some(floor) = self.floor.as_mut() else {
            return;
        };
        let human_speaking = floor.human_speaking;
        let Some(voice) = floor.voice(speaker) else {
            return;
        };
        let Some(turn) = voice.turn.take() else {
            return;
        };
        for cancel in &turn.cancels {
            cancel.cancel();
        }
        turn.task.abort();
        let text = if interrupted {
            turn.line.heard_after(played_ms)
        } else {
            turn.line.full_text()
        };
        if floor.thinking.is_some_and(|(s, _)| s == speaker) {
            floor.thinking = None;
        }
        floor.last_speaker = Some(speaker);
        if !text.is_empty() {
            floor.ai_turns_in_a_row += 1;
            floor.transcript.push(Line {
                speaker,
                text: text.clone(),
                interrupted,
            });
        }
        if turn.first_frame_at.is_some() {
            floor.last_ai_end = Some(Instant::now());
        }
        let start_ms = turn.caption_start_ms.unwrap_or(now_ms);
        if !text.is_empty() {
            if let Some(recorder) = floor.recorder.as_mut()
                && let Err(error) = recorder.caption(speaker, start_ms, now_ms.max(start_ms), &text)
            {
                self.recording_error(error);
            }
            self.show_caption(Caption {
                id: turn.caption_id.clone(),
                speaker,
                text: text.clone(),
                timestamp: epoch_ms(),
                is_final: Some(true),
                start_ms: Some(start_ms),
                end_ms: Some(now_ms.max(start_ms)),
            })
            .await;
        }
        let first_audio = turn
            .first_frame_at
            .map(|t| t.saturating_duration_since(turn.asked_at));
        let metrics = TurnMetrics {
            duration_ms: Some(played_ms),
            stt_final_ms: turn.stt_final.map(millis),
            llm_first_token_ms: turn.llm_first_token.map(millis),
            tts_first_audio_ms: turn.tts_first_audio.map(millis),
            first_audio_ms: first_audio.map(millis),
            voice_to_voice_ms: turn.voice_to_voice.map(millis),
            handoff_gap_ms: turn.handoff_gap.map(millis),
            interrupted,
        };
        let report = TurnEnd {
            speaker,
            text: text.clone(),
            interrupted,
            played_ms,
            stt_final_ms: metrics.stt_final_ms,
            llm_first_token_ms: metrics.llm_first_token_ms,
            tts_first_audio_ms: metrics.tts_first_audio_ms,
            voice_to_voice_ms: metrics.voice_to_voice_ms,
            handoff_gap_ms: metrics.handoff_gap_ms,
        };
        tracing::info!(
            episode = %self.episode_id,
            ?speaker,
            interrupted,
            played_ms,
            stt_final_ms = ?report.stt_final_ms,
            llm_first_token_ms = ?report.llm_first_token_ms,
            tts_first_audio_ms = ?report.tts_first_audio_ms,
            voice_to_voice_ms = ?report.voice_to_voice_ms,
            handoff_gap_ms = ?report.handoff_gap_ms,
            "turn.end"
        );
        self.record_event(&Event::TurnEnd { speaker, metrics });
        self.broadcast(server_events::TURN_END, &report).await;
        let was_thinking = self
            .state
            .snapshot()
            .shared_screen
            .thinking
            .is_some_and(|t| t.speaker == speaker);
        if was_thinking {
            self.end_thinking(ModeNormal {
                speaker,
                ended_at: epoch_ms(),
            })
            .await;
        }
        let rest = if human_speaking {
            OrbState::Muted
        } else {
            OrbState::Idle
        };
        // An orb showing a plugin failure keeps it for its moment; it recovers on its own.
        if self.state.orb(speaker) != OrbState::Error {
            self.set_orb_state(speaker, rest).await;
        }
        self.queue_event(FloorEvent::AiFinished(AiLine {
            speaker: to_wit(speaker),
            text,
            interrupted,
        }));
    }

    /// Handles what woke the actor on the floor's side.
    pub(super) async fn on_floor_step(&mut self, step: FloorStep) {
        match step {
            FloorStep::Note(note) => self.on_note(note).await,
            FloorStep::MicGap => self.fill_mic_gap().await,
            FloorStep::Paced(speaker, PacerEvent::Frame(frame)) => {
                self.play_frame(speaker, frame).await;
            }
            FloorStep::Paced(speaker, PacerEvent::Finished { played_ms }) => {
                let produced = self
                    .floor
                    .as_mut()
                    .and_then(|f| f.voice(speaker))
                    .and_then(|v| v.turn.as_ref())
                    .is_some_and(|t| t.produced);
                if produced {
                    self.end_line(speaker, false, played_ms).await;
                }
            }
        }
        self.run_policy().await;
        self.report_problems().await;
    }

    async fn play_frame(&mut self, speaker: Speaker, paced: PacedFrame) {
        let due_ms = u64::try_from(
            paced
                .due
                .into_std()
                .saturating_duration_since(self.started)
                .as_millis(),
        )
        .unwrap_or(u64::MAX);
        let now_ms = self.clock_ms();
        let Some(floor) = self.floor.as_mut() else {
            return;
        };
        let speech_offset_ms = floor.speech_offset_ms;
        let last_ai_end = floor.last_ai_end;
        let mut record_error = None;
        if let Some(recorder) = floor.recorder.as_mut()
            && let Err(error) = recorder.push_frame(speaker, due_ms, paced.frame.samples())
        {
            record_error = Some(error);
        }
        let Some(voice) = floor.voice(speaker) else {
            return;
        };
        let Some(turn) = voice.turn.as_mut() else {
            return;
        };
        let first = turn.first_frame_at.is_none();
        if first {
            let now = Instant::now();
            turn.first_frame_at = Some(now);
            turn.first_frame_ms = Some(now_ms);
            turn.caption_start_ms = Some(due_ms.max(now_ms));
            // Voice to voice only for an answer to the human (completed by `human_stopped` when
            // the VAD places the end of speech later); hand-off gap for an AI after an AI.
            if turn.answers_human {
                if let Some(offset) = speech_offset_ms.filter(|offset| *offset <= now_ms) {
                    turn.voice_to_voice = Some(Duration::from_millis(now_ms - offset));
                }
            } else if let Some(ended) = last_ai_end {
                turn.handoff_gap = Some(now.saturating_duration_since(ended));
            }
        }
        turn.released += FRAME_SAMPLES as u64;
        let shown = turn.line.clauses_started(turn.released);
        let caption = (shown > turn.clauses_shown).then(|| {
            turn.clauses_shown = shown;
            Caption {
                id: turn.caption_id.clone(),
                speaker,
                text: turn.line.text_of_first(shown),
                timestamp: epoch_ms(),
                is_final: Some(false),
                start_ms: turn.caption_start_ms,
                end_ms: None,
            }
        });
        let mut payload = vec![0u8; FRAME_SAMPLES * 2];
        for (bytes, sample) in payload.chunks_exact_mut(2).zip(paced.frame.samples()) {
            bytes.copy_from_slice(&sample.to_le_bytes());
        }
        self.broadcast(
            server_events::AUDIO_OUT,
            &AudioOut {
                speaker,
                seq: paced.seq,
                format: AUDIO_OUT_FORMAT.to_owned(),
                payload,
            },
        )
        .await;
        if first {
            self.set_orb_state(speaker, OrbState::Speaking).await;
        }
        if let Some(caption) = caption {
            self.show_caption(caption).await;
        }
        if let Some(error) = record_error {
            self.recording_error(error);
        }
    }

    async fn on_note(&mut self, note: Note) {
        match note {
            Note::RecordingTrouble => self.check_recording(),
            Note::Transcript(transcript) => self.on_transcript(transcript).await,
            Note::SttFailed(error) => {
                self.plugin_failed("stt", Some(Speaker::You), &error).await;
            }
            Note::LlmFirstToken {
                speaker,
                turn,
                after,
            } => {
                if let Some(t) = self.turn_mut(speaker, turn) {
                    t.llm_first_token = Some(after);
                }
            }
            Note::LlmToken {
                speaker,
                turn,
                text,
            } => {
                if self.turn_mut(speaker, turn).is_some() {
                    self.record_event(&Event::LlmChunk { speaker, text });
                }
            }
            Note::LlmDone {
                speaker,
                turn,
                result,
                after,
            } => {
                if self.turn_mut(speaker, turn).is_none() {
                    return;
                }
                match result {
                    Ok(text) => self.record_event(&Event::LlmComplete {
                        speaker,
                        latency: millis(after),
                        text: Some(text),
                    }),
                    Err(error) => {
                        self.plugin_failed(role_of(speaker), Some(speaker), &error)
                            .await;
                    }
                }
            }
            Note::ClauseStart {
                speaker,
                turn,
                text,
            } => {
                if let Some(t) = self.turn_mut(speaker, turn) {
                    t.line.begin_clause(text.clone());
                    self.record_event(&Event::TtsStart { speaker, text });
                }
            }
            Note::Audio {
                speaker,
                turn,
                samples,
                first_after,
            } => {
                let Some(voice) = self.floor.as_mut().and_then(|f| f.voice(speaker)) else {
                    return;
                };
                let Some(t) = voice.turn.as_mut().filter(|t| t.id == turn) else {
                    return;
                };
                if first_after.is_some() {
                    t.tts_first_audio = first_after;
                }
                t.line.add_audio(samples.len());
                match t.held.as_mut() {
                    // Held audio goes to the pacer whole later: the same bound applies here.
                    Some(held) => {
                        let room = crate::audio::MAX_QUEUED_SAMPLES.saturating_sub(held.len());
                        if samples.len() > room {
                            tracing::warn!(
                                ?speaker,
                                "held-back AI speech is full; audio beyond is dropped"
                            );
                        }
                        held.extend_from_slice(&samples[..samples.len().min(room)]);
                    }
                    None => voice.pacer.push(&samples),
                }
                if first_after.is_some() {
                    self.record_event(&Event::TtsChunk {
                        speaker,
                        audio_size: (samples.len() * 2) as u64,
                    });
                }
            }
            Note::ClauseEnd {
                speaker,
                turn,
                error,
            } => {
                let Some(t) = self.turn_mut(speaker, turn) else {
                    return;
                };
                t.line.close_clause();
                self.record_event(&Event::TtsComplete { speaker });
                if let Some(error) = error {
                    self.plugin_failed("tts", Some(speaker), &error).await;
                }
            }
            Note::Produced { speaker, turn } => {
                let Some(voice) = self.floor.as_mut().and_then(|f| f.voice(speaker)) else {
                    return;
                };
                let Some(t) = voice.turn.as_mut().filter(|t| t.id == turn) else {
                    return;
                };
                t.produced = true;
                if t.held.is_none() {
                    voice.pacer.finish();
                    if voice.pacer.is_idle() {
                        // Nothing to play (the LLM or TTS failed, or the reply was empty).
                        self.end_line(speaker, false, 0).await;
                    }
                }
            }
            Note::Timer(name) => {
                if let Some(floor) = self.floor.as_mut() {
                    floor.timers.remove(&name);
                }
                self.queue_event(FloorEvent::Timer(name));
            }
            Note::ThinkingOver { speaker, turn } => self.thinking_over(speaker, turn).await,
            Note::GapOver { speaker, turn } => self.release_held(speaker, turn).await,
            Note::OrbRecovers(speaker) => {
                if self.state.orb(speaker) == OrbState::Error {
                    self.set_orb_state(speaker, OrbState::Idle).await;
                }
            }
        }
    }

    fn turn_mut(&mut self, speaker: Speaker, id: u64) -> Option<&mut Turn> {
        self.floor
            .as_mut()
            .and_then(|f| f.voice(speaker))
            .and_then(|v| v.turn.as_mut())
            .filter(|t| t.id == id)
    }

    async fn thinking_over(&mut self, speaker: Speaker, turn: u64) {
        if let Some(floor) = self.floor.as_mut()
            && floor.thinking.is_some_and(|(s, _)| s == speaker)
        {
            floor.thinking = None;
        }
        // From now on the prepared answer is an ordinary line: the human can cut it off.
        if let Some(t) = self.turn_mut(speaker, turn) {
            t.thinking = false;
        }
        self.end_thinking(ModeNormal {
            speaker,
            ended_at: epoch_ms(),
        })
        .await;
        self.record_event(&Event::ModeNormal { speaker });
        for other in AIS.into_iter().filter(|s| *s != speaker) {
            if self.state.orb(other) == OrbState::Muted {
                self.set_orb_state(other, OrbState::Idle).await;
            }
        }
        self.release_held(speaker, turn).await;
    }

    /// The held-back audio of a line plays now (and what is still being made follows it).
    async fn release_held(&mut self, speaker: Speaker, turn: u64) {
        let Some(voice) = self.floor.as_mut().and_then(|f| f.voice(speaker)) else {
            return;
        };
        let Some(t) = voice.turn.as_mut().filter(|t| t.id == turn) else {
            return;
        };
        let held = t.held.take().unwrap_or_default();
        voice.pacer.push(&held);
        if t.produced {
            voice.pacer.finish();
            if voice.pacer.is_idle() {
                self.end_line(speaker, false, 0).await;
            }
        }
    }

    async fn on_transcript(&mut self, transcript: wit::Transcript) {
        let now_ms = self.clock_ms();
        let Some(floor) = self.floor.as_mut() else {
            return;
        };
        let text = transcript.text.trim().to_owned();
        let id = format!("you-{}-{}", self.generation, floor.utterance);
        let start_ms = if floor.speech_onset_ms > 0 {
            floor.speech_onset_ms
        } else {
            now_ms
        };
        match transcript.kind {
            TranscriptKind::Partial => {
                if text.is_empty() {
                    return;
                }
                floor.partial_open = true;
                self.record_event(&Event::SttPartial {
                    speaker: Speaker::You,
                    text: text.clone(),
                    confidence: transcript.confidence,
                });
                self.show_caption(Caption {
                    id,
                    speaker: Speaker::You,
                    text,
                    timestamp: epoch_ms(),
                    is_final: Some(false),
                    start_ms: Some(start_ms),
                    end_ms: None,
                })
                .await;
            }
            TranscriptKind::Final => {
                floor.utterance += 1;
                floor.partial_open = false;
                // From the real end of speech; when the VAD has not placed it yet, it is
                // measured once the VAD does (`human_stopped`).
                floor.final_heard_ms = Some(now_ms);
                let stt_final = floor
                    .speech_offset_ms
                    .map(|offset| Duration::from_millis(now_ms.saturating_sub(offset)));
                floor.last_stt_final = stt_final;
                if text.is_empty() {
                    return;
                }
                floor
                    .transcript
                    .push(Line::said(Speaker::You, text.clone()));
                floor.last_speaker = Some(Speaker::You);
                floor.ai_turns_in_a_row = 0;
                if let Some(recorder) = floor.recorder.as_mut()
                    && let Err(error) =
                        recorder.caption(Speaker::You, start_ms, now_ms.max(start_ms), &text)
                {
                    self.recording_error(error);
                }
                tracing::info!(episode = %self.episode_id, stt_final_ms = ?stt_final.map(millis), text = %text, "stt.final");
                self.record_event(&Event::SttFinal {
                    speaker: Speaker::You,
                    text: text.clone(),
                    confidence: transcript.confidence,
                });
                self.show_caption(Caption {
                    id,
                    speaker: Speaker::You,
                    text: text.clone(),
                    timestamp: epoch_ms(),
                    is_final: Some(true),
                    start_ms: Some(start_ms),
                    end_ms: Some(now_ms.max(start_ms)),
                })
                .await;
                self.queue_event(FloorEvent::HumanSaid(text));
            }
        }
    }

    /// Autopilot was switched: the policy hears it.
    pub(super) async fn autopilot_changed(&mut self, on: bool) {
        let now_ms = self.clock_ms();
        if let Some(floor) = self.floor.as_mut() {
            floor.autopilot_since_ms = on.then_some(now_ms);
            if on {
                floor.ai_turns_in_a_row = 0;
            }
        }
        self.record_event(&Event::AutopilotToggle { enabled: on });
        self.queue_event(FloorEvent::AutopilotChanged(on));
        self.run_policy().await;
        self.report_problems().await;
    }

    /// Ends the floor: stops every task and finishes the recording. Returns `recording.ready`.
    ///
    /// The writer thread finishes the files; the actor waits for it at most the writer's
    /// `finish_within` (a hung disk), then ends anyway with the recording reported failed.
    pub(super) async fn close_floor(&mut self) -> Option<RecordingReady> {
        let finishing = self.hand_off_floor()?;
        match finishing.wait().await {
            Ok(summary) => {
                let ready =
                    recording_ready(&self.episode_id, &summary, &self.registry.download_links());
                tracing::info!(episode = %self.episode_id, folder = ?ready.folder, files = ready.files.len(), "recording ready");
                Some(ready)
            }
            Err(error) => {
                tracing::error!(episode = %self.episode_id, %error, "recording could not be finished");
                // Clients hear of a recording's trouble once: not again if it failed before.
                if let Some(floor) = self.floor.as_mut()
                    && !floor.recording_failed
                {
                    floor.recording_failed = true;
                    self.pending_problems
                        .push(format!("recording could not be finished: {error}"));
                }
                None
            }
        }
    }

    /// Stops every task of the floor and hands the end of the recording to its writer thread,
    /// without waiting (so `Drop` may call it too); await the result for `recording.ready`.
    pub(super) fn hand_off_floor(&mut self) -> Option<FinishingRecording> {
        let end_ms = self.clock_ms();
        let floor = self.floor.as_mut()?;
        floor.close(end_ms);
        if let Some(task) = floor.stt_task.take() {
            // The STT call sees its input end and returns; nothing waits for it.
            drop(task);
        }
        let mut recorder = floor.recorder.take()?;
        let earlier = recorder.check();
        let finishing = recorder.finish(end_ms);
        if let Err(error) = earlier {
            self.recording_error(error);
        }
        Some(finishing)
    }
}

/// `recording.ready` for a finished recording of `episode_id`, its URLs signed by `links`.
pub(super) fn recording_ready(
    episode_id: &str,
    summary: &RecordingSummary,
    links: &DownloadLinks,
) -> RecordingReady {
    let folder = summary
        .folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let details: Vec<RecordedFileInfo> = summary
        .files
        .iter()
        .map(|f| RecordedFileInfo {
            name: f.name.clone(),
            url: links.url(&folder, &f.name),
            bytes: f.bytes,
            duration_ms: f.duration_ms,
        })
        .collect();
    RecordingReady {
        episode_id: episode_id.to_owned(),
        files: details
            .iter()
            .map(|f| format!("{folder}/{}", f.name))
            .collect(),
        folder: Some(folder),
        details,
    }
}

fn speaker_name(speaker: Speaker) -> &'static str {
    match speaker {
        Speaker::You => "you",
        Speaker::Claude => "claude",
        Speaker::Guest => "guest",
    }
}
