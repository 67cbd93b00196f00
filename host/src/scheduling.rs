//! Threads beside the async runtime (the recorders, the episode store): they must never cut in
//! on the runtime's workers, which carry every studio's live audio and each line's hand-offs.
//!
//! On Linux such a thread puts itself in the `SCHED_BATCH` class as it starts: it keeps its fair
//! share of the CPU, but waking up no longer preempts the thread running on that core. Without
//! it, a woken recorder or store thread (a sleeper, so the scheduler favours it) could take the
//! core from a studio in the middle of a step: at 260 studios the host's total time between
//! stages had a p99 of 10-12 ms in the normal class and 3-6 ms in the batch class, the same
//! binary run alternately (docs/BENCHMARKS.md, "Host-added latency"). Their work is never late
//! for a listener: it waits in their queues.

/// Moves the calling thread to `SCHED_BATCH`; logs and goes on where the system refuses.
#[cfg(target_os = "linux")]
pub fn yield_to_live_audio() {
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
