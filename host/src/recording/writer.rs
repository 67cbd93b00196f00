//! The recorder's own thread: the studio actor hands every write to it through a bounded queue
//! and never waits on the disk.
//!
//! [`RecordingWriter`] is the studio's side: each call queues one command and returns at once.
//! When the queue is full (a slow or hung disk), frames are dropped first (the track holds
//! silence where they were), captions and events keep some more room; the first trouble, and
//! the first write error the thread meets (a full disk), are reported once through the calls'
//! `Err` and a wake-up callback. The thread owns the [`Recorder`], writes in order, syncs the
//! files on a schedule and finishes the recording; the studio awaits that with a deadline.
//!
//! The thread takes its queue in batches: it wakes every [`BATCH_EVERY`] (or at once for
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
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::error::RecordingError;
use super::events::Event;
use super::manifest::{BriefingRecord, PluginRecord};
use super::recorder::{Recorder, RecorderConfig, RecordingSummary};
use crate::speakers::Speaker;

/// Stack of a writer thread: room for libopus's encoder, which keeps its buffers on the stack.
const WRITER_STACK: usize = 1024 * 1024;
/// How often the thread takes what was queued: five frames of a track per wake-up. Writes reach
/// the OS this much later at most, well inside the open Cluster's second.
pub const BATCH_EVERY: Duration = Duration::from_millis(100);

/// How the writer thread works; the same for every session of a server.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// How long written data may wait before it is synced to the device (`fdatasync`): what a
    /// power loss may take beyond the open Cluster. Default 2 s.
    pub sync_every: Duration,
    /// Frames that may wait for the disk before new ones are dropped. Default 100: one second of
    /// the two tracks that take frames at once (the human and the AI speaking).
    pub frame_queue: usize,
    /// Further room for captions, events and silence fills, which are never dropped while
    /// frames are. Default 256.
    pub note_queue: usize,
    /// How long the studio waits for the recording to be finished before it ends anyway and
    /// reports the recording partial. Default 10 s.
    pub finish_within: Duration,
    /// A test hook standing in for the disk under the thread: it can hold every write (a hung
    /// disk) or fail it (a full disk). `None` in production.
    pub disk_fault: Option<DiskFault>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            sync_every: Duration::from_secs(2),
            frame_queue: 100,
            note_queue: 256,
            finish_within: Duration::from_secs(10),
            disk_fault: None,
        }
    }
}

/// What the disk under a writer thread does, for tests: healthy, hung or full.
#[derive(Debug, Clone, Default)]
pub struct DiskFault {
    state: Arc<(Mutex<FaultState>, Condvar)>,
}

#[derive(Debug, Default)]
struct FaultState {
    mode: FaultMode,
    /// Writer threads waiting on the hung disk right now.
    held: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum FaultMode {
    #[default]
    Healthy,
    Hung,
    Full,
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

    /// Writes go through again; held ones continue.
    pub fn heal(&self) {
        self.set(FaultMode::Healthy);
    }

    /// Writer threads held by the hung disk right now.
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
            FaultMode::Healthy | FaultMode::Hung => Ok(()),
        }
    }
}

/// One write for the thread.
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

/// What the studio's handle and the thread share.
#[derive(Default)]
struct Shared {
    /// Commands waiting for the thread; it swaps the queue out whole, so the lock is held only
    /// for a push or a swap, never across a write.
    inbox: Mutex<Inbox>,
    /// Commands sent and not yet taken by the thread.
    queued: AtomicUsize,
    /// The thread met a failure (set after `failure` is filled).
    failed: AtomicBool,
    /// The thread's first failure, until the handle reports it.
    failure: Mutex<Option<RecordingError>>,
    /// The recording's folder, once the thread has created it.
    folder: Arc<OnceLock<PathBuf>>,
}

/// The writer thread's queue.
#[derive(Default)]
struct Inbox {
    commands: VecDeque<Command>,
    /// The studio's handle is gone: take what is left, then finish the files where they stand.
    closed: bool,
}

impl Shared {
    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The studio's side of a recording: queues writes for the writer thread without ever waiting.
///
/// Every call returns at once. It returns `Err` at most once per recording: for the first write
/// dropped because the disk is behind, or the first failure the thread met, whichever the
/// studio sees first; later trouble is only logged, and the recording goes on where it can
/// (a dropped frame becomes silence in its track).
pub struct RecordingWriter {
    /// The writer thread, to wake it before its beat and to know it is gone; `None` when it
    /// could not start.
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    dir: PathBuf,
    frame_room: usize,
    room: usize,
    finish_within: Duration,
    reported: bool,
    dropped: u64,
}

impl RecordingWriter {
    /// Starts the writer thread, which creates the episode folder and every file in it (see
    /// [`Recorder::create`]). `on_failure` runs on that thread when it first meets a failure, so
    /// the studio can call [`RecordingWriter::check`] without waiting for its next write.
    pub fn start(config: RecorderConfig, on_failure: impl Fn() + Send + 'static) -> Self {
        let options = config.writer.clone();
        let frame_room = options.frame_queue.max(1);
        let room = frame_room + options.note_queue.max(1);
        let shared = Arc::new(Shared::default());
        let dir = config.recording_dir.clone();
        let thread_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("recorder".into())
            .stack_size(WRITER_STACK)
            .spawn(move || {
                crate::background::yield_to_live_audio();
                run(config, &thread_shared, &on_failure);
            });
        let thread = match spawned {
            Ok(handle) => Some(handle),
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
            thread,
            shared,
            dir,
            frame_room,
            room,
            finish_within: options.finish_within,
            reported: false,
            dropped: 0,
        }
    }

    /// The recording's folder, filled in once the writer thread has created it (a later take
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
        self.send(Command::Frame {
            speaker,
            at_ms,
            samples: frame.into(),
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

    /// Returns the thread's first failure, once; `Ok` otherwise (and after it was reported).
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

    /// Writes waiting for the thread right now.
    pub fn queued(&self) -> usize {
        self.shared.queued.load(Ordering::Acquire)
    }

    /// Writes dropped so far because the disk was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Hands the end of the recording at session time `end_ms` to the thread (pad the tracks,
    /// `session.end`, Cues, the final `session.yml`); await the result with
    /// [`FinishingRecording::wait`].
    pub fn finish(self, end_ms: u64) -> FinishingRecording {
        let (reply, answer) = oneshot::channel();
        // Past the queue's room: `finish` always finds its place.
        let lost = match &self.thread {
            Some(thread) if thread.is_finished() => Some("it ended".to_owned()),
            Some(thread) => {
                self.shared.queued.fetch_add(1, Ordering::AcqRel);
                self.shared
                    .inbox()
                    .commands
                    .push_back(Command::Finish { end_ms, reply });
                thread.thread().unpark();
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
        self.check()?;
        let Some(finished) = self.thread.as_ref().map(JoinHandle::is_finished) else {
            return self.writer_lost("it never started");
        };
        let queued = self.shared.queued.load(Ordering::Acquire);
        if queued >= self.room {
            // A live thread empties its queue; a full one with the thread gone is a lost writer.
            if finished {
                return self.writer_lost("it stopped unexpectedly");
            }
            return self.drop_one();
        }
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        self.shared.inbox().commands.push_back(command);
        // A burst (a second of microphone at once, a catch-up fill) is taken before its beat,
        // so it never reaches the frames' limit while the disk keeps up.
        if queued + 1 == self.frame_room / 2
            && let Some(thread) = &self.thread
        {
            thread.thread().unpark();
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
    /// The studio's handle is gone: the thread takes what is queued and, unless `finish` was
    /// among it, ends every file where it stands.
    fn drop(&mut self) {
        self.shared.inbox().closed = true;
        if let Some(thread) = &self.thread {
            thread.thread().unpark();
        }
    }
}

/// A recording handed to its thread to be finished.
pub struct FinishingRecording {
    answer: oneshot::Receiver<Result<RecordingSummary, RecordingError>>,
    dir: PathBuf,
    within: Duration,
    lost: Option<String>,
}

impl FinishingRecording {
    /// Waits for the finished recording, at most the configured `finish_within`: a hung disk
    /// gives [`RecordingError::FinishTimedOut`] and the thread is left to finish on its own.
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

/// Records the thread's first failure for the handle; later ones are only logged.
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

/// The writer thread's state.
struct Writer<'a> {
    recorder: Option<Recorder>,
    shared: &'a Shared,
    on_failure: &'a (dyn Fn() + Send),
    fault: Option<DiskFault>,
    dir: PathBuf,
    /// The latest session time a command spoke of: where an abandoned recording ends.
    last_ms: u64,
    /// Bytes of the recording's files already counted in the metrics.
    bytes_counted: u64,
}

impl Writer<'_> {
    fn fail(&self, error: RecordingError) {
        if report(self.shared, error) {
            (self.on_failure)();
        }
    }

    /// The disk hook, if any: holds the thread while the disk is hung.
    fn pass_disk(&self) -> Result<(), RecordingError> {
        match &self.fault {
            Some(fault) => fault
                .pass()
                .map_err(|e| RecordingError::write(&self.dir, e)),
            None => Ok(()),
        }
    }

    fn apply(&mut self, command: Command) {
        if let Err(error) = self.pass_disk() {
            self.fail(error);
            return;
        }
        let Some(recorder) = self.recorder.as_mut() else {
            return;
        };
        let result = match command {
            Command::Frame {
                speaker,
                at_ms,
                samples,
            } => {
                self.last_ms = self.last_ms.max(at_ms + 20);
                recorder.push_frame(speaker, at_ms, &samples)
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
}

/// The writer thread: takes commands in order, a batch per beat, writes them, syncs on
/// schedule, until `finish` or until the studio's handle is gone (then the files are finished
/// where they stand).
fn run(config: RecorderConfig, shared: &Shared, on_failure: &(dyn Fn() + Send)) {
    let sync_every = config.writer.sync_every;
    let mut writer = Writer {
        recorder: None,
        shared,
        on_failure,
        fault: config.writer.disk_fault.clone(),
        dir: config.recording_dir.clone(),
        last_ms: 0,
        bytes_counted: 0,
    };
    match writer.pass_disk().and_then(|()| Recorder::create(config)) {
        Ok(recorder) => {
            let _ = shared.folder.set(recorder.folder().to_path_buf());
            writer.recorder = Some(recorder);
        }
        Err(error) => writer.fail(error),
    }
    // When the oldest write not yet synced was made.
    let mut unsynced_since: Option<Instant> = Some(Instant::now());
    let mut batch = VecDeque::new();
    loop {
        let closed = {
            let mut inbox = shared.inbox();
            std::mem::swap(&mut inbox.commands, &mut batch);
            inbox.closed
        };
        for command in batch.drain(..) {
            shared.queued.fetch_sub(1, Ordering::AcqRel);
            if let Command::Finish { end_ms, reply } = command {
                let result = writer.finish(end_ms);
                // The studio may have stopped waiting (its deadline passed); nothing to do then.
                let _ = reply.send(result);
                return;
            }
            writer.apply(command);
            unsynced_since.get_or_insert_with(Instant::now);
        }
        if unsynced_since.is_some_and(|since| since.elapsed() >= sync_every) {
            writer.sync();
            unsynced_since = None;
        }
        if closed {
            break;
        }
        let wait = match unsynced_since {
            Some(since) => {
                BATCH_EVERY.min((since + sync_every).saturating_duration_since(Instant::now()))
            }
            None => BATCH_EVERY,
        };
        std::thread::park_timeout(wait);
    }
    // The studio dropped its handle without finishing (its task ended abruptly): end every file
    // where it stands, so the recording still has its Cues and its end.
    if let Some(recorder) = writer.recorder.take() {
        let end_ms = writer.last_ms.max(recorder.duration_ms());
        match recorder.finish(end_ms) {
            Ok(summary) => {
                crate::metrics::recording_finished(&summary, writer.bytes_counted);
                tracing::warn!(folder = %summary.folder.display(), "recording finished without its studio");
            }
            Err(error) => {
                tracing::error!(%error, "an abandoned recording could not be finished");
            }
        }
    }
}
