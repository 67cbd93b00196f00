//! Who gets the CPU first: the async runtime's workers, which carry every studio's live audio and
//! each line's hand-offs, ahead of everything else.
//!
//! - **Workers ahead of other processes.** Each worker asks for a negative nice value
//!   (`LIVE_AUDIO_NICE`, default -10) the first time it runs, as audio servers do. Beside other
//!   work on the same cores, a worker that lost its core for a few ms stalled every studio step
//!   queued behind it: at 320 studios beside two busy loops, the host's total time between
//!   stages had a p99 of 0.46-2.24 ms with the normal priority and 0.10-0.91 ms with nice -10,
//!   the same build run alternately (docs/BENCHMARKS.md, "Recording room, memory after a
//!   backlog, live-audio priority"). Raising a priority needs `CAP_SYS_NICE` or a nice limit
//!   (`RLIMIT_NICE`); where the system refuses, the server logs it once, with the fix, and runs
//!   at the normal priority.
//! - **Threads beside the runtime after it** (the recorders, the episode store). On Linux such a
//!   thread puts itself in the `SCHED_BATCH` class at the normal nice as it starts: it keeps its
//!   fair share of the CPU, but waking up no longer preempts the thread running on that core.
//!   Without it, a woken recorder or store thread (a sleeper, so the scheduler favours it) could
//!   take the core from a studio in the middle of a step: at 260 studios the host's total time
//!   between stages had a p99 of 10-12 ms in the normal class and 3-6 ms in the batch class
//!   (docs/BENCHMARKS.md, "Host-added latency"). Their work is never late for a listener: it
//!   waits in their queues.
//!
//! A thread starts with the priority of the thread that made it, so every thread of the runtime
//! first returns to the normal nice ([`runtime_thread_started`]); only the workers then raise it
//! ([`live_audio_worker_unparked`]). A plugin runs on the workers too, under its call's deadline
//! and CPU budget; a program a plugin starts runs at the normal nice.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The nice value of a normal thread.
const NORMAL_NICE: i32 = 0;

/// For `on_thread_start` of the runtime: every new runtime thread (a worker or a blocking-pool
/// thread, which a raised worker may have made) starts at the normal nice.
pub fn runtime_thread_started() {
    // Lowering a nice value is always allowed.
    let _ = set_nice(NORMAL_NICE);
}

/// For `on_thread_unpark` of the runtime, which only its workers call: the first time, the
/// worker asks for `nice`; later calls cost a thread-local read.
pub fn live_audio_worker_unparked(nice: i32) {
    RAISED.with(|raised| {
        if raised.get() {
            return;
        }
        raised.set(true);
        if nice == NORMAL_NICE {
            return;
        }
        if let Err(error) = set_nice(nice)
            && !REFUSAL_LOGGED.swap(true, Ordering::Relaxed)
        {
            let limit = 20 - nice;
            tracing::info!(
                %error,
                "the live-audio threads keep the normal priority: the system refused nice {nice}. \
                 Fix: give the process CAP_SYS_NICE, or an RLIMIT_NICE of {limit} (systemd \
                 LimitNICE={nice}, docker or podman --ulimit nice={limit}); or set \
                 LIVE_AUDIO_NICE=0 to stop asking"
            );
        }
    });
}

/// Moves the calling thread to `SCHED_BATCH` at the normal nice; logs and goes on where the
/// system refuses.
#[cfg(target_os = "linux")]
pub fn yield_to_live_audio() {
    // A thread made by a raised worker inherited its nice; lowering it is always allowed.
    let _ = set_nice(NORMAL_NICE);
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param for the call's duration; pid 0 is this thread.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "a background thread stays in the normal scheduling class");
    }
}

/// Other systems keep the normal class.
#[cfg(not(target_os = "linux"))]
pub fn yield_to_live_audio() {}

thread_local! {
    /// Whether this runtime thread has asked for the live-audio nice already.
    static RAISED: Cell<bool> = const { Cell::new(false) };
}

/// Whether a refusal was logged: once per process, not once per worker.
static REFUSAL_LOGGED: AtomicBool = AtomicBool::new(false);

/// Sets the calling thread's nice value (on Linux a nice value belongs to a thread).
#[cfg(target_os = "linux")]
fn set_nice(nice: i32) -> std::io::Result<()> {
    // SAFETY: setpriority takes plain integers; who = 0 is the calling thread on Linux.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Elsewhere a nice value belongs to the whole process: the threads keep theirs.
#[cfg(not(target_os = "linux"))]
fn set_nice(_nice: i32) -> std::io::Result<()> {
    Ok(())
}
