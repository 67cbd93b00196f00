//! The floor's recording: the recorder lane that records the session (tracks, captions,
//! events), started when the floor opens, fed without waiting, finished when it closes; and the
//! `recording.ready` that tells clients where the files are.

use tokio::sync::mpsc;

use super::Floor;
use super::note::Note;
use super::timings::millis;
use crate::briefings::Briefing;
use crate::gateway::download_links::DownloadLinks;
use crate::gateway::protocol::{RecordedFileInfo, RecordingReady};
use crate::recording::{
    BriefingRecord, Event, FinishingRecording, PluginRecord, RecorderConfig, RecordingBucket,
    RecordingError, RecordingSummary, RecordingWriter,
};
use crate::session::TurnLoopSetup;
use crate::session::room::Room;
use crate::speakers::Speaker;
use crate::store::{EpisodeFeed, EpisodePlugin, SessionStart};
use crate::transcript::TranscriptLine;

/// The session's recording, as the floor holds it.
pub(super) struct Tape {
    /// The recording's handle to its recorder lane, fed without waiting (the actor never touches the disk);
    /// `None` when the session is not recorded or the recording was handed off to finish.
    pub(super) recorder: Option<RecordingWriter>,
    /// The clients were told the recording failed (they are told once).
    pub(super) failed: bool,
    /// Session time the silent tracks were last filled up to.
    pub(super) recorded_until_ms: u64,
    /// The session's writes to the episode store (lines, turns, its end), fed without waiting;
    /// `None` when there is no store or the session was handed off.
    pub(super) feed: Option<EpisodeFeed>,
    /// The task copying the live recording to the bucket (`RECORDING_BUCKET`), if any; aborted
    /// when the recording is handed off (its files are then copied whole).
    live_copy: Option<tokio::task::AbortHandle>,
}

impl Drop for Tape {
    /// A floor dropped without a hand-off (its studio panicked) leaves no copying task behind.
    fn drop(&mut self) {
        if let Some(task) = self.live_copy.take() {
            task.abort();
        }
    }
}

impl Tape {
    /// Starts the recording of a new session, unless the disk is low on space; what went wrong
    /// is pushed to `problems`.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call site, Floor::open, which has each of these at hand"
    )]
    pub(super) fn start(
        setup: &TurnLoopSetup,
        episode_id: &str,
        generation: u64,
        briefing_id: &str,
        briefing: &Briefing,
        notes_tx: &mpsc::Sender<Note>,
        min_free_mb: u64,
        problems: &mut Vec<String>,
    ) -> Tape {
        let session_id = format!("{episode_id}-{}-{generation}", super::epoch_ms());
        let (recorder, failed) =
            if let Some(message) = disk_space_low(&setup.recording_dir, min_free_mb) {
                problems.push(message);
                (None, false)
            } else {
                start_recorder(
                    setup,
                    episode_id,
                    &session_id,
                    briefing_id,
                    briefing,
                    notes_tx,
                    problems,
                )
            };
        let feed = setup.store.as_ref().map(|store| {
            let briefing_file = setup.briefings.path_of(briefing_id).is_file();
            store.session(SessionStart {
                session_id,
                episode_id: episode_id.to_owned(),
                recording_dir: recorder.as_ref().map(|_| setup.recording_dir.clone()),
                started_at_ms: super::epoch_ms(),
                title: briefing.title.clone(),
                briefing: briefing_file.then(|| briefing_id.to_owned()),
                plugins: plugin_records(setup)
                    .into_iter()
                    .map(|p| EpisodePlugin {
                        role: p.role,
                        name: p.name,
                        version: p.version,
                        hash: p.hash,
                    })
                    .collect(),
            })
        });
        Tape {
            recorder,
            failed,
            recorded_until_ms: 0,
            feed,
            live_copy: None,
        }
    }
}

impl Floor {
    /// A final line of the transcript: its caption in the recording and its line in the
    /// episode store, neither waited for.
    pub(super) fn transcribed(
        &mut self,
        room: &mut Room,
        speaker: Speaker,
        (start_ms, end_ms): (u64, u64),
        text: &str,
        interrupted: bool,
    ) {
        if let Some(feed) = self.tape.feed.as_mut() {
            feed.line(TranscriptLine {
                speaker,
                start_ms,
                end_ms,
                text: text.to_owned(),
                interrupted,
            });
        }
        if let Some(recorder) = self.tape.recorder.as_mut()
            && let Err(error) = recorder.caption(speaker, start_ms, end_ms, text)
        {
            self.recording_error(room, error);
        }
    }

    /// Writes an event to the recording (and a turn's metrics to the episode store),
    /// reporting the first failure to the clients.
    pub(super) fn record(&mut self, room: &mut Room, event: &Event) {
        let t = room.clock_ms();
        if let (Some(feed), Event::TurnEnd { speaker, metrics }) = (self.tape.feed.as_mut(), event)
        {
            feed.turn(*speaker, t, metrics);
        }
        let Some(recorder) = self.tape.recorder.as_mut() else {
            return;
        };
        if let Err(error) = recorder.event(t, event) {
            self.recording_error(room, error);
        }
    }

    /// Reports, once, a failure the recording's lane met.
    pub(super) fn check_recording(&mut self, room: &mut Room) {
        let Some(recorder) = self.tape.recorder.as_mut() else {
            return;
        };
        if let Err(error) = recorder.check() {
            self.recording_error(room, error);
        }
    }

    /// The recording failed: the clients hear it once and the studio goes on unrecorded.
    pub(super) fn recording_error(&mut self, room: &mut Room, error: RecordingError) {
        if self.tape.failed {
            return;
        }
        self.tape.failed = true;
        tracing::error!(episode = %room.episode_id, %error, "recording failed; the studio goes on unrecorded");
        let message = format!(
            "recording failed: {error}. The studio goes on; fix RECORDING_DIR (space, permissions) for the next session"
        );
        // Logged in the recording too: if the disk comes back, its events.jsonl says where
        // frames are missing (captions and events keep room in the writer's queue).
        self.record(
            room,
            &Event::Error {
                error: message.clone(),
                service: Some("recording".into()),
                context: None,
            },
        );
        room.problems.push(message);
    }

    /// The recording could not be finished; clients hear of a recording's trouble once, so not
    /// again if it failed before.
    pub(in crate::session) fn finish_failed(&mut self, room: &mut Room, error: &RecordingError) {
        if !self.tape.failed {
            self.tape.failed = true;
            room.problems
                .push(format!("recording could not be finished: {error}"));
        }
    }

    /// Copies the live recording to `bucket` every `bucket.upload_every()` until it is handed
    /// off, so a host that dies loses at most that much of it.
    pub(in crate::session) fn copy_live_to(&mut self, bucket: RecordingBucket) {
        let Some(recorder) = self.tape.recorder.as_ref() else {
            return;
        };
        let every = bucket.upload_every();
        let task = tokio::spawn(crate::recording::live_copy::run(
            bucket,
            recorder.folder(),
            every,
        ));
        if let Some(previous) = self.tape.live_copy.replace(task.abort_handle()) {
            previous.abort();
        }
    }

    /// Stops every task of the floor and hands the end of the recording to its recorder lane,
    /// without waiting (so a dropped studio may call it too); await the result for
    /// `recording.ready`.
    pub(in crate::session) fn hand_off(&mut self, room: &mut Room) -> Option<FinishingRecording> {
        let end_ms = room.clock_ms();
        self.close(end_ms);
        if let Some(feed) = self.tape.feed.take() {
            feed.end(end_ms);
        }
        if let Some(task) = self.ear.stt_task.take() {
            // The STT call sees its input end and returns; nothing waits for it.
            drop(task);
        }
        if let Some(task) = self.tape.live_copy.take() {
            task.abort();
        }
        let mut recorder = self.tape.recorder.take()?;
        let earlier = recorder.check();
        let finishing = recorder.finish(end_ms);
        if let Err(error) = earlier {
            self.recording_error(room, error);
        }
        Some(finishing)
    }
}

/// Starts the recording of a new session: its recorder lane creates the folder and files.
/// Returns the writer and whether it already failed (reported in `problems`).
fn start_recorder(
    setup: &TurnLoopSetup,
    episode_id: &str,
    session_id: &str,
    briefing_id: &str,
    briefing: &Briefing,
    notes_tx: &mpsc::Sender<Note>,
    problems: &mut Vec<String>,
) -> (Option<RecordingWriter>, bool) {
    let mut config = RecorderConfig::new(&setup.recording_dir, episode_id, session_id);
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
    // The recorder lane creates the folder and its files; a failure there (or any later
    // one) wakes the actor with a note, and `check` reports it once.
    let wake = notes_tx.clone();
    let mut recorder = RecordingWriter::start(config, move || {
        let _ = wake.try_send(Note::RecordingTrouble);
    });
    let briefing_path = setup.briefings.path_of(briefing_id);
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

/// `recording.ready` for a finished recording of `episode_id`, its URLs signed by `links`.
pub(in crate::session) fn recording_ready(
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
