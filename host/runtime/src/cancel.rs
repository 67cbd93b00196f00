//! Cancelling a plugin call: [`CallCancel`] is the token a handle's call in flight waits on
//! (barge-in, session end, a revoked grant, a deadline). A leaf: it knows nothing of plugins, so the
//! handles, the grants and the capabilities can all hold one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use tokio::sync::Notify;

/// Cancels the call in flight on a handle (barge-in, session end): its sinks return `cancelled`,
/// and its audio input reports the end. Cheap to clone; each call starts uncancelled.
#[derive(Debug, Clone, Default)]
pub struct CallCancel(Arc<CancelState>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: AtomicBool,
    notify: Notify,
    /// The id of the grant the current call runs under (see `Grant::hold`).
    holder: AtomicU64,
}

/// A [`CallCancel`] that does not keep its handle alive (a grant's list of its holders).
#[derive(Debug, Clone)]
pub(crate) struct WeakCallCancel(Weak<CancelState>);

impl WeakCallCancel {
    /// The cancel, while its handle lives.
    pub(crate) fn upgrade(&self) -> Option<CallCancel> {
        self.0.upgrade().map(CallCancel)
    }

    /// Whether its handle still lives.
    pub(crate) fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }

    /// Whether this is `cancel`.
    pub(crate) fn is(&self, cancel: &CallCancel) -> bool {
        std::ptr::eq(self.0.as_ptr(), Arc::as_ptr(&cancel.0))
    }
}

impl CallCancel {
    /// Cancels the call in flight.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Whether the current call was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Waits until the current call is cancelled.
    pub(crate) async fn cancelled(&self) {
        let notified = self.0.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_cancelled() {
            return;
        }
        notified.await;
    }

    /// Starts a new call uncancelled.
    pub(crate) fn reset(&self) {
        self.0.cancelled.store(false, Ordering::SeqCst);
    }

    /// Notes the grant the current call runs under.
    pub(crate) fn set_holder(&self, grant_id: u64) {
        self.0.holder.store(grant_id, Ordering::SeqCst);
    }

    /// The grant the current call runs under.
    pub(crate) fn holder(&self) -> u64 {
        self.0.holder.load(Ordering::SeqCst)
    }

    /// A reference that does not keep the handle alive.
    pub(crate) fn downgrade(&self) -> WeakCallCancel {
        WeakCallCancel(Arc::downgrade(&self.0))
    }
}
