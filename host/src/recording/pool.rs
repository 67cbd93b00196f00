//! The threads that write a server's recordings: a few lanes, not a thread per recording.
//!
//! Each recording is handed to the lane with the fewest recordings. The lane's thread wakes every
//! [`BATCH_EVERY`] (or at once when a handle asks: `finish`, a closing handle, a queue half
//! full), takes each of its recordings' queues in turn, writes them, syncs them on their schedule
//! and finishes them. A thread per recording cost a wake-up and two context switches per
//! recording per beat, and as many threads competing with the runtime's workers as there were
//! studios (docs/BENCHMARKS.md, "Recorder lanes"). A lane's thread ends when its last recording
//! has ended and starts again with the next one, so an idle server has none.
//!
//! A hung disk holds its lane's thread in the write, and with it the lane's other recordings:
//! they share that disk anyway, and each studio's handle still never waits (its frames are
//! dropped once its queue is full). A panic while writing one recording ends only that one.
//!
//! A lane that fell behind (CPU taken by other work, a slow disk) held seconds of frames in its
//! queues, and the allocator may keep those pages once they are freed: some overloaded
//! 320-studio runs left the server at 159-277 MiB after every studio had ended, against 45 MiB
//! idle. A lane that ends hands them back to the system ([`crate::memory::trim`]: 363 -> 71 MiB
//! at the end of such a run). It does not trim while it runs: trimming after each backlog ran about once a
//! second beside busy loops and freed 7-20 MiB that the next backlog took again
//! (docs/BENCHMARKS.md, "Recording room, memory after a backlog, live-audio priority").

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::Thread;

use super::writer::{BATCH_EVERY, Job, Writing};

/// Stack of a lane's thread: room for libopus's encoder, which keeps its buffers on the stack.
const LANE_STACK: usize = 1024 * 1024;

/// The lanes that write every recording of a server; clones share them.
#[derive(Clone)]
pub struct WriterPool {
    lanes: Arc<[Arc<Lane>]>,
}

impl std::fmt::Debug for WriterPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterPool")
            .field("lanes", &self.lanes.len())
            .finish()
    }
}

impl Default for WriterPool {
    /// A lane per core: the encodes of a full server spread over every core, while the threads
    /// stay few.
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
    }
}

impl WriterPool {
    /// A pool of `lanes` lanes (at least one); no thread runs until a recording starts.
    pub fn new(lanes: usize) -> Self {
        Self {
            lanes: (0..lanes.max(1))
                .map(|_| Arc::new(Lane::default()))
                .collect(),
        }
    }

    /// Recordings being written right now.
    pub fn recordings(&self) -> usize {
        self.lanes.iter().map(|lane| lane.lock().load).sum()
    }

    /// Lane threads running right now: at most one per lane, none when no recording runs.
    pub fn threads(&self) -> usize {
        self.lanes
            .iter()
            .filter(|lane| lane.lock().thread.is_some())
            .count()
    }

    /// Hands `job` to the lane with the fewest recordings, starting its thread if it has none.
    pub(super) fn start(&self, job: Job) -> Result<Arc<Lane>, std::io::Error> {
        // `new` makes at least one lane.
        let lane = self
            .lanes
            .iter()
            .min_by_key(|lane| lane.lock().load)
            .unwrap_or(&self.lanes[0])
            .clone();
        let mut state = lane.lock();
        state.arrivals.push(job);
        state.load += 1;
        if let Some(thread) = &state.thread {
            thread.unpark();
            return Ok(lane.clone());
        }
        let serving = lane.clone();
        let spawned = std::thread::Builder::new()
            .name("recorder".into())
            .stack_size(LANE_STACK)
            .spawn(move || {
                crate::scheduling::yield_to_live_audio();
                serve(&serving);
            });
        match spawned {
            Ok(handle) => {
                state.thread = Some(handle.thread().clone());
                Ok(lane.clone())
            }
            Err(error) => {
                state.arrivals.pop();
                state.load -= 1;
                Err(error)
            }
        }
    }
}

/// One lane: its thread, while it runs, and the recordings handed to it.
#[derive(Default)]
pub(super) struct Lane {
    state: Mutex<LaneState>,
}

#[derive(Default)]
struct LaneState {
    /// Recordings handed over and not yet opened by the thread.
    arrivals: Vec<Job>,
    /// Recordings on this lane, opened or not.
    load: usize,
    /// The lane's thread, while it runs.
    thread: Option<Thread>,
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, LaneState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the lane's thread before its beat.
    pub(super) fn wake(&self) {
        if let Some(thread) = &self.lock().thread {
            thread.unpark();
        }
    }
}

/// The lane's thread: opens what arrives, steps every recording once a beat, and ends when the
/// lane has nothing left (under the lane's lock, so a recording handed over meanwhile finds
/// no thread and starts a new one).
fn serve(lane: &Lane) {
    let mut writing: Vec<Writing> = Vec::new();
    loop {
        let arrivals = {
            let mut state = lane.lock();
            if writing.is_empty() && state.arrivals.is_empty() {
                state.thread = None;
                drop(state);
                crate::memory::trim();
                return;
            }
            std::mem::take(&mut state.arrivals)
        };
        let mut ended = 0;
        for job in arrivals {
            let lost = job.lost_handle();
            match catch_unwind(AssertUnwindSafe(|| Writing::open(job))) {
                Ok(opened) => writing.push(opened),
                Err(_) => {
                    lost.panicked();
                    ended += 1;
                }
            }
        }
        writing.retain_mut(
            |recording| match catch_unwind(AssertUnwindSafe(|| recording.step())) {
                Ok(true) => true,
                Ok(false) => {
                    ended += 1;
                    false
                }
                Err(_) => {
                    recording.lost_handle().panicked();
                    ended += 1;
                    false
                }
            },
        );
        if ended > 0 {
            let mut state = lane.lock();
            state.load = state.load.saturating_sub(ended);
        }
        if !writing.is_empty() {
            std::thread::park_timeout(BATCH_EVERY);
        }
    }
}
