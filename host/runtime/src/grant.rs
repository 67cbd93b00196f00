//! [`Grant`]: what `plugins.toml` grants one plugin, shared by all of its instances, and how a
//! reload that narrows it cancels the calls still running under it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::cancel::{CallCancel, WeakCallCancel};
use super::egress::Egress;
use super::manifest::PluginEntry;
use super::secrets::SecretStore;

/// What one plugin is granted, shared by all of its instances.
#[derive(Debug)]
pub(crate) struct Grant {
    /// The plugin's `plugins.toml` entry.
    pub(crate) entry: Arc<PluginEntry>,
    /// Where its declared secrets come from.
    pub(crate) secrets: Arc<SecretStore>,
    /// Its HTTP client (connection pool, redirect policy of its `allowed_hosts`), made on first use.
    pub(crate) http: std::sync::OnceLock<reqwest::Client>,
    /// Where its `http` and `websocket` may connect: `allowed_hosts` and the address rule.
    pub(crate) egress: Arc<Egress>,
    /// Tells this grant apart from the others in the process (the holder of a call's cancel).
    pub(crate) id: u64,
    /// Set once a reload took something away from it; calls holding it are cancelled.
    revoked: AtomicBool,
    /// The cancels of the calls that hold (or held) this grant, fired when it is revoked.
    holders: Mutex<Vec<WeakCallCancel>>,
}

impl Grant {
    /// A grant for `entry`.
    pub(crate) fn new(entry: PluginEntry, secrets: Arc<SecretStore>) -> Grant {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let egress = Egress::new(&entry.name, &entry.allowed_hosts);
        Grant {
            entry: Arc::new(entry),
            secrets,
            http: std::sync::OnceLock::new(),
            egress: Arc::new(egress),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            revoked: AtomicBool::new(false),
            holders: Mutex::new(Vec::new()),
        }
    }

    /// The plugin's name.
    pub(crate) fn name(&self) -> &str {
        &self.entry.name
    }

    /// Whether a reload took something away from this grant.
    pub(crate) fn is_revoked(&self) -> bool {
        self.revoked.load(Ordering::SeqCst)
    }

    /// Marks the call `cancel` belongs to as holding this grant: revoking the grant cancels it.
    /// A grant already revoked cancels it at once.
    pub(crate) fn hold(&self, cancel: &CallCancel) {
        cancel.set_holder(self.id);
        let mut holders = self.holders.lock().unwrap_or_else(PoisonError::into_inner);
        if self.is_revoked() {
            drop(holders);
            cancel.cancel();
            return;
        }
        holders.retain(|h| h.is_alive() && !h.is(cancel));
        holders.push(cancel.downgrade());
    }

    /// Revokes the grant: host calls under it are denied from now on, and every call still
    /// holding it is cancelled (its waits end; the next call runs on the new grant).
    pub(crate) fn revoke(&self) {
        let holders = {
            let mut holders = self.holders.lock().unwrap_or_else(PoisonError::into_inner);
            self.revoked.store(true, Ordering::SeqCst);
            std::mem::take(&mut *holders)
        };
        for cancel in holders.iter().filter_map(WeakCallCancel::upgrade) {
            // A handle that moved on to another grant since is not cancelled.
            if cancel.holder() == self.id {
                cancel.cancel();
            }
        }
    }
}
