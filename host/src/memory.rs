//! Giving a finished studio's memory back to the system.
//!
//! glibc's malloc keeps freed memory in its per-thread arenas for reuse; after a busy hour most of
//! its peak stayed resident once the studios had ended (the studio bench saw 194 MiB of 284 still
//! held at 260 studios, docs/BENCHMARKS.md). `malloc_trim` hands the free pages of every arena back.
//! It walks all arenas under their locks, so it runs on a blocking thread, at most once per
//! [`TRIM_AFTER`], after a studio ends (its memory is freed once its task is gone), and on a
//! recorder lane's own thread when the lane ends: a lane that fell behind frees the frames it
//! held after the studios' trim has run (overloaded 320-studio runs kept 159-277 MiB without it,
//! 62-69 MiB with it; docs/BENCHMARKS.md).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long after a studio ends the trim runs; studios ending meanwhile share it.
const TRIM_AFTER: Duration = Duration::from_secs(2);

static TRIM_PENDING: AtomicBool = AtomicBool::new(false);

/// A studio ended: schedules a trim unless one is pending.
pub(crate) fn studio_ended() {
    if TRIM_PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        TRIM_PENDING.store(false, Ordering::Release);
        return;
    };
    runtime.spawn(async {
        tokio::time::sleep(TRIM_AFTER).await;
        TRIM_PENDING.store(false, Ordering::Release);
        let _ = tokio::task::spawn_blocking(trim).await;
    });
}

/// Hands the allocator's free pages back now, on the calling thread (never a runtime worker).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn trim() {
    // SAFETY: malloc_trim takes no pointers and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators return memory on their own terms.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn trim() {}
