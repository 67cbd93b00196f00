//! The recorder off the studio actor: the studio hands every write to a recorder lane (see
//! [`super::pool`]) through a bounded queue and never waits on the disk.
//!
//! [`RecordingWriter`] is the studio's side: each call queues one command and returns at once.
//! When the queue is full (a slow or hung disk), frames are dropped first (the track holds
//! silence where they were), captions and events keep some more room; the first trouble, and
//! the first write error the lane meets (a full disk), are reported once through the calls'
//! `Err` and a wake-up callback. On the lane, [`Writing`] owns the [`Recorder`], writes in
//! order, syncs the files on a schedule and finishes the recording; the studio awaits that with
//! a deadline.
//!
//! The lane takes the queue in batches: it wakes every [`BATCH_EVERY`] (or at once for
//! `finish`, a closing handle or a queue half full), not once per write. A wake-up per 20 ms
//! frame of every studio was a fifth of the server's CPU at 140 studios (a futex wake and a
//! context switch each, see docs/BENCHMARKS.md "Where the time goes"); a batch of five frames
//! costs one.
//!
//! Loss bounds. A process crash (`kill -9`) loses what is not yet handed to the OS: the open
//! Cluster of each track (at most 1 s) plus the commands still queued (at most [`BATCH_EVERY`]
//! of them while the disk keeps up; at most the queue's depth when it does not). A power loss
//! also loses what the OS had not written yet: files are synced at most `sync_every` after a
//! write, so at most `sync_every` + 1 s of audio per track, plus the queue. Captions and events are synced on the same schedule.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::error::RecordingError;
use super::events::Event;
use super::manifest::{BriefingRecord, PluginRecord};
use super::pool::{Lane, WriterPool};
use super::recorder::{Recorder, RecorderConfig, RecordingSummary};
use crate::speakers::Speaker;

/// How often a lane takes what was queued: five frames of a track per wake-up. Writes reach
/// the OS this much later at most, well inside the open Cluster's second.
pub const BATCH_EVERY: Duration = Duration::from_millis(100);

/// Queued writes that wake the lane before its beat: half a second of two tracks.
const WAKE_EARLY_AT: usize = 50;

/// How recordings are written; the same for every session of a server.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// How long written data may wait before it is synced to the device (`fdatasync`): what a
    /// power loss may take beyond the open Cluster. Default 2 s.
    pub sync_every: Duration,
    /// Frames that may wait for the disk before new ones are dropped. Default 300: three seconds
    /// of the two tracks that take frames at once (the human and the AI speaking). A lane that
    /// is starved of CPU for a moment (320 studios starting at once beside other work) falls a
    /// second or more behind and catches up; one second of room dropped frames there. The room
    /// costs memory only while it is used.
    pub frame_queue: usize,
    /// Further room for captions, events and silence fills, which are never dropped while
    /// frames are. Default 256.
    pub note_queue: usize,
    /// How long the studio waits for the recording to be finished before it ends anyway and
    /// reports the recording partial. Default 10 s.
    pub finish_within: Duration,
    /// A test hook standing in for the disk under the lane: it can hold every write (a hung
    /// disk) or fail it (a full disk). `None` in production.
    pub disk_fault: Option<DiskFault>,
    /// The recorder lanes that write the recordings. Clones of these options share them; the
    /// default is a new pool with a lane per core.
    pub pool: WriterPool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            sync_every: Duration::from_secs(2),
            frame_queue: 300,
            note_queue: 256,
            finish_within: Duration::from_secs(10),
            disk_fault: None,
            pool: WriterPool::default(),
        }
    }
}

/// What the disk under a recorder lane does, for tests: healthy, hung or full; or the writer
/// panics on it, as a bug would.
#[derive(Debug, Clone, Default)]
pub struct DiskFault {
    state: Arc<(Mutex<FaultState>, Condvar)>,
}

#[derive(Debug, Default)]
struct FaultState {
    mode: FaultMode,
    /// Lane threads waiting on the hung disk right now.
    held: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum FaultMode {
    #[default]
    Healthy,
    Hung,
    Full,
    Panicking,
}

impl DiskFault {
    /// A healthy disk.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every write from now on waits until [`DiskFault::heal`], as on a hung disk.
    pub fn hang(&self) {
        self.set(FaultMode::Hung);
    }

    /// Every write from now on fails with "no space left on device".
    pub fn fill(&self) {
        self.set(FaultMode::Full);
    }

    /// Every write from now on panics, as a bug in the writer would.
    pub fn panic_writes(&self) {
        self.set(FaultMode::Panicking);
    }

    /// Writes go through again; held ones continue.
    pub fn heal(&self) {
        self.set(FaultMode::Healthy);
    }

    /// Lane threads held by the hung disk right now.
    pub fn held(&self) -> usize {
        self.lock().held
    }

    fn set(&self, mode: FaultMode) {
        self.lock().mode = mode;
        self.state.1.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Passes a write through the disk: waits while it is hung, fails while it is full.
    fn pass(&self) -> io::Result<()> {
        let mut state = self.lock();
        if state.mode == FaultMode::Hung {
            state.held += 1;
            while state.mode == FaultMode::Hung {
                state = self
                    .state
                    .1
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.held -= 1;
        }
        match state.mode {
            FaultMode::Full => Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            )),
            FaultMode::Panicking => {
                drop(state);
                panic!("the disk fault hook panics, as a bug in the writer would")
            }
            FaultMode::Healthy | FaultMode::Hung => Ok(()),
        }
    }
}

/// One write for the lane.
enum Command {
    Frame {
        speaker: Speaker,
        at_ms: u64,
        samples: Box<[i16]>,
    },
    AdvanceTo(u64),
    Caption {
        speaker: Speaker,
        start_ms: u64,
        end_ms: u64,
        text: String,
    },
    Event {
        t_ms: u64,
        event: Event,
    },
    Plugins(Vec<PluginRecord>),
    Briefing(BriefingRecord),
    Finish {
        end_ms: u64,
        reply: oneshot::Sender<Result<RecordingSummary, RecordingError>>,
    },
}

/// What the studio's handle and the lane share.
#[derive(Default)]
struct Shared {
    /// Commands waiting for the lane; it swaps the queue out whole, so the lock is held only
    /// for a push or a swap, never across a write.
    inbox: Mutex<Inbox>,
    /// Commands sent and not yet taken by the lane.
    queued: AtomicUsize,
    /// The lane met a failure (set after `failure` is filled).
    failed: AtomicBool,
    /// The lane no longer writes this recording: writing it panicked.
    gone: AtomicBool,
    /// The lane's first failure, until the handle reports it.
    failure: Mutex<Option<RecordingError>>,
    /// The recording's folder, once the lane has created it.
    folder: Arc<OnceLock<PathBuf>>,
}

/// The recording's queue.
#[derive(Default)]
struct Inbox {
    commands: VecDeque<Command>,
    /// The studio's handle is gone: take what is left, then finish the files where they stand.
    closed: bool,
    /// Frame buffers the lane has written, for the handle's next frames: no allocation per frame,
    /// and none freed on another thread than the one that made it (glibc's slow path for 2 KB).
    spare: Vec<Box<[i16]>>,
}

/// Frame buffers kept for reuse per recording: a beat's worth of two speaking tracks.
const SPARE_FRAMES: usize = 16;

impl Shared {
    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The studio's side of a recording: queues writes for its lane without ever waiting.
///
/// Every call returns at once. It returns `Err` at most once per recording: for the first write
/// dropped because the disk is behind, or the first failure the lane met, whichever the
/// studio sees first; later trouble is only logged, and the recording goes on where it can
/// (a dropped frame becomes silence in its track).
pub struct RecordingWriter {
    /// The lane writing this recording, to wake it before its beat; `None` when no lane could
    /// take it (its thread could not start).
    lane: Option<Arc<Lane>>,
    shared: Arc<Shared>,
    dir: PathBuf,
    frame_room: usize,
    room: usize,
    finish_within: Duration,
    reported: bool,
    dropped: u64,
}

impl RecordingWriter {
    /// Hands the recording to a lane of the configured pool, which creates the episode folder
    /// and every file in it (see [`Recorder::create`]). `on_failure` runs on the lane when it
    /// first meets a failure, so the studio can call [`RecordingWriter::check`] without waiting
    /// for its next write.
    pub fn start(config: RecorderConfig, on_failure: impl Fn() + Send + Sync + 'static) -> Self {
        let options = config.writer.clone();
        let frame_room = options.frame_queue.max(1);
        let room = frame_room + options.note_queue.max(1);
        let shared = Arc::new(Shared::default());
        let dir = config.recording_dir.clone();
        let job = Job {
            config,
            shared: shared.clone(),
            on_failure: Arc::new(on_failure),
        };
        let lane = match options.pool.start(job) {
            Ok(lane) => Some(lane),
            Err(error) => {
                report(
                    &shared,
                    RecordingError::WriterLost {
                        dir: dir.clone(),
                        reason: format!("it could not start: {error}"),
                    },
                );
                None
            }
        };
        Self {
            lane,
            shared,
            dir,
            frame_room,
            room,
            finish_within: options.finish_within,
            reported: false,
            dropped: 0,
        }
    }

    /// The recording's folder, filled in once the lane has created it (a later take
    /// gets a `-N` suffix, so the name is known only then).
    pub fn folder(&self) -> Arc<OnceLock<PathBuf>> {
        self.shared.folder.clone()
    }

    /// Queues a 20 ms frame of `speaker` that started at session time `at_ms`; dropped when
    /// the disk is behind.
    pub fn push_frame(
        &mut self,
        speaker: Speaker,
        at_ms: u64,
        frame: &[i16],
    ) -> Result<(), RecordingError> {
        self.check()?;
        if self.shared.queued.load(Ordering::Acquire) >= self.frame_room {
            return self.drop_one();
        }
        // The buffer is taken from the spares under the same lock that queues it.
        self.send_with(|inbox| {
            let samples = match inbox.spare.pop() {
                Some(mut buffer) if buffer.len() == frame.len() => {
                    buffer.copy_from_slice(frame);
                    buffer
                }
                _ => frame.into(),
            };
            Command::Frame {
                speaker,
                at_ms,
                samples,
            }
        })
    }

    /// Queues filling every track with silence up to session time `at_ms`.
    pub fn advance_to(&mut self, at_ms: u64) -> Result<(), RecordingError> {
        self.send(Command::AdvanceTo(at_ms))
    }

    /// Queues a caption of `speaker` shown from `start_ms` to `end_ms` (session time).
    pub fn caption(
        &mut self,
        speaker: Speaker,
        start_ms: u64,
        end_ms: u64,
        text: &str,
    ) -> Result<(), RecordingError> {
        self.send(Command::Caption {
            speaker,
            start_ms,
            end_ms,
            text: text.to_owned(),
        })
    }

    /// Queues `event` at session time `t_ms` for `events.jsonl`.
    pub fn event(&mut self, t_ms: u64, event: &Event) -> Result<(), RecordingError> {
        self.send(Command::Event {
            t_ms,
            event: event.clone(),
        })
    }

    /// Queues which plugin served each role, for `session.yml`.
    pub fn set_plugins(&mut self, plugins: Vec<PluginRecord>) -> Result<(), RecordingError> {
        self.send(Command::Plugins(plugins))
    }

    /// Queues the briefing the AIs were given, for `session.yml`.
    pub fn set_briefing(&mut self, briefing: BriefingRecord) -> Result<(), RecordingError> {
        self.send(Command::Briefing(briefing))
    }

    /// Returns the lane's first failure, once; `Ok` otherwise (and after it was reported).
    pub fn check(&mut self) -> Result<(), RecordingError> {
        if self.reported || !self.shared.failed.load(Ordering::Acquire) {
            return Ok(());
        }
        let failure = self
            .shared
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match failure {
            Some(error) => self.report_once(error),
            None => Ok(()),
        }
    }

    /// Writes waiting for the lane right now.
    pub fn queued(&self) -> usize {
        self.shared.queued.load(Ordering::Acquire)
    }

    /// Writes dropped so far because the disk was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Hands the end of the recording at session time `end_ms` to the lane (pad the tracks,
    /// `session.end`, Cues, the final `session.yml`); await the result with
    /// [`FinishingRecording::wait`].
    pub fn finish(self, end_ms: u64) -> FinishingRecording {
        let (reply, answer) = oneshot::channel();
        // Past the queue's room: `finish` always finds its place.
        let lost = match &self.lane {
            Some(_) if self.shared.gone.load(Ordering::Acquire) => Some("it ended".to_owned()),
            Some(lane) => {
                self.shared.queued.fetch_add(1, Ordering::AcqRel);
                self.shared
                    .inbox()
                    .commands
                    .push_back(Command::Finish { end_ms, reply });
                lane.wake();
                None
            }
            None => Some("it never started".to_owned()),
        };
        FinishingRecording {
            answer,
            dir: self.dir.clone(),
            within: self.finish_within,
            lost,
        }
    }

    fn send(&mut self, command: Command) -> Result<(), RecordingError> {
        self.send_with(|_| command)
    }

    /// Queues the command `make` builds from the locked queue (a frame takes a spare buffer).
    fn send_with(
        &mut self,
        make: impl FnOnce(&mut Inbox) -> Command,
    ) -> Result<(), RecordingError> {
        self.check()?;
        let Some(lane) = &self.lane else {
            return self.writer_lost("it never started");
        };
        let queued = self.shared.queued.load(Ordering::Acquire);
        if queued >= self.room {
            // A lane empties the queue; a full one the lane no longer writes is a lost writer.
            if self.shared.gone.load(Ordering::Acquire) {
                return self.writer_lost("it stopped unexpectedly");
            }
            return self.drop_one();
        }
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        let mut inbox = self.shared.inbox();
        let command = make(&mut inbox);
        inbox.commands.push_back(command);
        drop(inbox);
        // A burst (a second of microphone at once, a catch-up fill) is taken before its beat,
        // so it never reaches the frames' limit while the disk keeps up.
        if queued + 1 == WAKE_EARLY_AT.min(self.frame_room / 2) {
            lane.wake();
        }
        Ok(())
    }

    fn writer_lost(&mut self, reason: &str) -> Result<(), RecordingError> {
        self.dropped += 1;
        let error = RecordingError::WriterLost {
            dir: self.dir.clone(),
            reason: reason.into(),
        };
        self.report_once(error)
    }

    fn drop_one(&mut self) -> Result<(), RecordingError> {
        self.dropped += 1;
        let queued = self.shared.queued.load(Ordering::Acquire);
        if self.dropped.is_power_of_two() {
            tracing::warn!(dir = %self.dir.display(), dropped = self.dropped, queued, "recording writes dropped: the disk is behind");
        }
        let error = RecordingError::Backlog {
            dir: self.dir.clone(),
            queued,
        };
        self.report_once(error)
    }

    fn report_once(&mut self, error: RecordingError) -> Result<(), RecordingError> {
        if self.reported {
            return Ok(());
        }
        self.reported = true;
        crate::metrics::recording_failed(&error);
        Err(error)
    }
}

impl Drop for RecordingWriter {
    /// The studio's handle is gone: the lane takes what is queued and, unless `finish` was
    /// among it, ends every file where it stands.
    fn drop(&mut self) {
        self.shared.inbox().closed = true;
        if let Some(lane) = &self.lane {
            lane.wake();
        }
    }
}

/// A recording handed to its lane to be finished.
pub struct FinishingRecording {
    answer: oneshot::Receiver<Result<RecordingSummary, RecordingError>>,
    dir: PathBuf,
    within: Duration,
    lost: Option<String>,
}

impl FinishingRecording {
    /// Waits for the finished recording, at most the configured `finish_within`: a hung disk
    /// gives [`RecordingError::FinishTimedOut`] and the lane is left to finish it on its own.
    pub async fn wait(self) -> Result<RecordingSummary, RecordingError> {
        if let Some(reason) = self.lost {
            return Err(RecordingError::WriterLost {
                dir: self.dir,
                reason,
            });
        }
        match tokio::time::timeout(self.within, self.answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(RecordingError::WriterLost {
                dir: self.dir,
                reason: "it ended without finishing the recording".into(),
            }),
            Err(_) => Err(RecordingError::FinishTimedOut {
                dir: self.dir,
                after: self.within,
            }),
        }
    }
}

/// Records the lane's first failure for the handle; later ones are only logged.
fn report(shared: &Shared, error: RecordingError) -> bool {
    if shared.failed.load(Ordering::Acquire) {
        tracing::debug!(%error, "recording: a further write failed");
        return false;
    }
    tracing::error!(%error, "recording failed; the studio goes on");
    crate::metrics::recording_failed(&error);
    *shared
        .failure
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(error);
    shared.failed.store(true, Ordering::Release);
    true
}

/// A recording handed to a lane, not yet opened.
pub(super) struct Job {
    config: RecorderConfig,
    shared: Arc<Shared>,
    on_failure: Arc<dyn Fn() + Send + Sync>,
}

impl Job {
    /// What the lane needs to report the recording lost, should opening it panic.
    pub(super) fn lost_handle(&self) -> LostHandle {
        LostHandle {
            shared: self.shared.clone(),
            on_failure: self.on_failure.clone(),
            dir: self.config.recording_dir.clone(),
        }
    }
}

/// Tells a recording's handle that its lane no longer writes it.
pub(super) struct LostHandle {
    shared: Arc<Shared>,
    on_failure: Arc<dyn Fn() + Send + Sync>,
    dir: PathBuf,
}

impl LostHandle {
    /// Writing the recording panicked: its files stay as they stand, the handle reports it.
    pub(super) fn panicked(self) {
        tracing::error!(dir = %self.dir.display(), "writing a recording panicked; its files stay as they stand");
        self.shared.gone.store(true, Ordering::Release);
        let error = RecordingError::WriterLost {
            dir: self.dir,
            reason: "writing it panicked".into(),
        };
        if report(&self.shared, error) {
            (self.on_failure)();
        }
    }
}

/// A recording's files and what the lane writes into them.
struct Writer {
    recorder: Option<Recorder>,
    shared: Arc<Shared>,
    on_failure: Arc<dyn Fn() + Send + Sync>,
    fault: Option<DiskFault>,
    dir: PathBuf,
    /// The latest session time a command spoke of: where an abandoned recording ends.
    last_ms: u64,
    /// Bytes of the recording's files already counted in the metrics.
    bytes_counted: u64,
}

impl Writer {
    fn fail(&self, error: RecordingError) {
        if report(&self.shared, error) {
            (self.on_failure)();
        }
    }

    /// The disk hook, if any: holds the lane while the disk is hung.
    fn pass_disk(&self) -> Result<(), RecordingError> {
        match &self.fault {
            Some(fault) => fault
                .pass()
                .map_err(|e| RecordingError::write(&self.dir, e)),
            None => Ok(()),
        }
    }

    /// Writes `command`; gives back a frame's buffer for reuse.
    fn apply(&mut self, command: Command) -> Option<Box<[i16]>> {
        if let Err(error) = self.pass_disk() {
            self.fail(error);
            return None;
        }
        let recorder = self.recorder.as_mut()?;
        let mut written = None;
        let result = match command {
            Command::Frame {
                speaker,
                at_ms,
                samples,
            } => {
                self.last_ms = self.last_ms.max(at_ms + 20);
                let result = recorder.push_frame(speaker, at_ms, &samples);
                written = Some(samples);
                result
            }
            Command::AdvanceTo(at_ms) => {
                self.last_ms = self.last_ms.max(at_ms);
                recorder.advance_to(at_ms)
            }
            Command::Caption {
                speaker,
                start_ms,
                end_ms,
                text,
            } => recorder.caption(speaker, start_ms, end_ms, &text),
            Command::Event { t_ms, event } => {
                self.last_ms = self.last_ms.max(t_ms);
                recorder.event(t_ms, &event)
            }
            Command::Plugins(plugins) => recorder.set_plugins(plugins),
            Command::Briefing(briefing) => recorder.set_briefing(briefing),
            Command::Finish { .. } => Ok(()),
        };
        if let Err(error) = result {
            self.fail(error);
        }
        written
    }

    fn sync(&mut self) {
        if let Err(error) = self.pass_disk() {
            self.fail(error);
            return;
        }
        if let Some(recorder) = self.recorder.as_mut()
            && let Err(error) = recorder.sync_data()
        {
            self.fail(error);
        }
        if let Some(recorder) = &self.recorder {
            self.bytes_counted =
                crate::metrics::recording_grew(recorder.folder(), self.bytes_counted);
        }
    }

    fn finish(&mut self, end_ms: u64) -> Result<RecordingSummary, RecordingError> {
        self.pass_disk()?;
        match self.recorder.take() {
            Some(recorder) => recorder
                .finish(end_ms)
                .inspect(|summary| crate::metrics::recording_finished(summary, self.bytes_counted)),
            None => Err(RecordingError::Stopped {
                path: self.dir.clone(),
            }),
        }
    }

    /// The studio dropped its handle without finishing (its task ended abruptly): ends every
    /// file where it stands, so the recording still has its Cues and its end.
    fn abandon(&mut self) {
        let Some(recorder) = self.recorder.take() else {
            return;
        };
        let end_ms = self.last_ms.max(recorder.duration_ms());
        match recorder.finish(end_ms) {
            Ok(summary) => {
                crate::metrics::recording_finished(&summary, self.bytes_counted);
                tracing::warn!(folder = %summary.folder.display(), "recording finished without its studio");
            }
            Err(error) => {
                tracing::error!(%error, "an abandoned recording could not be finished");
            }
        }
    }
}

/// A recording on its lane: its files, the batch being written and its sync schedule.
pub(super) struct Writing {
    writer: Writer,
    sync_every: Duration,
    /// When the oldest write not yet synced was made.
    unsynced_since: Option<Instant>,
    batch: VecDeque<Command>,
    /// Frame buffers written in this step, handed back to the handle at its end.
    written: Vec<Box<[i16]>>,
}

impl Writing {
    /// Creates the episode folder and every file in it (the disk hook first).
    pub(super) fn open(job: Job) -> Self {
        let Job {
            config,
            shared,
            on_failure,
        } = job;
        let mut writer = Writer {
            recorder: None,
            shared,
            on_failure,
            fault: config.writer.disk_fault.clone(),
            dir: config.recording_dir.clone(),
            last_ms: 0,
            bytes_counted: 0,
        };
        let sync_every = config.writer.sync_every;
        match writer.pass_disk().and_then(|()| Recorder::create(config)) {
            Ok(recorder) => {
                let _ = writer.shared.folder.set(recorder.folder().to_path_buf());
                writer.recorder = Some(recorder);
            }
            Err(error) => writer.fail(error),
        }
        Self {
            writer,
            sync_every,
            unsynced_since: Some(Instant::now()),
            batch: VecDeque::new(),
            written: Vec::new(),
        }
    }

    /// What the lane needs to report the recording lost, should writing it panic.
    pub(super) fn lost_handle(&self) -> LostHandle {
        LostHandle {
            shared: self.writer.shared.clone(),
            on_failure: self.writer.on_failure.clone(),
            dir: self.writer.dir.clone(),
        }
    }

    /// Writes what the handle queued since the last step, in order, and syncs when the next beat
    /// would be past the schedule. Returns `false` once the recording is over: finished, or its
    /// handle gone and the files ended where they stand.
    pub(super) fn step(&mut self) -> bool {
        let shared = self.writer.shared.clone();
        let closed = {
            let mut inbox = shared.inbox();
            std::mem::swap(&mut inbox.commands, &mut self.batch);
            inbox.closed
        };
        while let Some(command) = self.batch.pop_front() {
            shared.queued.fetch_sub(1, Ordering::AcqRel);
            if let Command::Finish { end_ms, reply } = command {
                let result = self.writer.finish(end_ms);
                // The studio may have stopped waiting (its deadline passed); nothing to do then.
                let _ = reply.send(result);
                return false;
            }
            if let Some(buffer) = self.writer.apply(command) {
                self.written.push(buffer);
            }
            self.unsynced_since.get_or_insert_with(Instant::now);
        }
        if !self.written.is_empty() {
            let mut inbox = shared.inbox();
            let room = SPARE_FRAMES.saturating_sub(inbox.spare.len());
            let kept = self.written.len().min(room);
            inbox.spare.extend(self.written.drain(..kept));
            drop(inbox);
            // Beyond the spare room, freed here (the handle's thread made them).
            self.written.clear();
        }
        // Syncs land on the lane's beat: at the last beat before the schedule's deadline, so
        // a write is never left unsynced longer than `sync_every`.
        if self
            .unsynced_since
            .is_some_and(|since| since.elapsed() + BATCH_EVERY >= self.sync_every)
        {
            self.writer.sync();
            self.unsynced_since = None;
        }
        if closed {
            self.writer.abandon();
            return false;
        }
        true
    }
}
