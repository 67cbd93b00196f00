//! What the capabilities reach of one plugin instance, named through a trait rather than the
//! concrete store type, as wasmtime-wasi's `WasiView` does: the store's data (the sandbox's
//! `PluginState`) implements [`HasPluginView`] and lends a [`PluginView`], on which every host
//! import is implemented. The capabilities therefore never import the sandbox.

use std::collections::BTreeSet;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::component::{HasData, ResourceTable};

use super::super::cancel::CallCancel;
use super::super::cpu_meter::CpuMeter;
use super::super::grant::Grant;
use super::super::manifest::{CallBudget, Capability};
use super::super::plugin_log::PluginLog;
use super::net::OpenNet;
use super::process::LiveChildren;

/// The per-instance state the capabilities keep between host calls.
pub(crate) struct InstanceCtx {
    /// What the plugin is granted.
    pub(crate) grant: Arc<Grant>,
    /// Where its `log` calls and stdout/stderr go (one budget for all three).
    pub(crate) log: Arc<PluginLog>,
    /// Start of the session clock, when the instance serves a session.
    pub(crate) clock_origin: Option<Instant>,
    /// The cancel token of the call in flight: host calls that wait (a socket, a child process)
    /// stop waiting when it fires.
    pub(crate) cancel: CallCancel,
    /// Capabilities whose refusal was already logged for this instance (warn once, not per call).
    pub(crate) warned: BTreeSet<Capability>,
    /// Child processes of this instance still alive (capped at `max_children`).
    pub(crate) children: LiveChildren,
    /// HTTP responses and WebSockets this instance holds open (each capped).
    pub(crate) open_net: OpenNet,
    /// Guest CPU of the current call; work the plugin serves credits it.
    pub(crate) meter: Arc<Mutex<CpuMeter>>,
}

impl InstanceCtx {
    /// The state of a new instance under `grant`, logging to `log`.
    pub(crate) fn new(grant: Arc<Grant>, log: Arc<PluginLog>) -> InstanceCtx {
        InstanceCtx {
            grant,
            log,
            clock_origin: None,
            cancel: CallCancel::default(),
            warned: BTreeSet::new(),
            children: LiveChildren::default(),
            open_net: OpenNet::default(),
            meter: Arc::default(),
        }
    }

    /// The plugin's name.
    pub(crate) fn plugin(&self) -> &str {
        self.grant.name()
    }

    /// Tops up the current call's guest-CPU budget for work it served (see [`CpuMeter`]).
    pub(crate) fn credit_cpu(&mut self, amount: Duration) {
        if amount.is_zero() {
            return;
        }
        self.meter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .credit(amount);
    }

    /// What the plugin's calls may spend: deadlines and CPU top-ups.
    pub(crate) fn budget(&self) -> &CallBudget {
        &self.grant.entry.budget
    }

    /// Whether the plugin may use `capability`; logs the first refusal of each capability.
    pub(crate) fn check(&mut self, capability: Capability) -> bool {
        if self.grant.is_revoked() {
            // A reload took something from this grant: nothing more under it.
            return false;
        }
        if self.grant.entry.grants(capability) {
            return true;
        }
        if self.warned.insert(capability) {
            tracing::warn!(plugin = self.plugin(), %capability, "plugin used a capability plugins.toml does not grant it");
        }
        false
    }
}

/// One instance's capability state and resource table, borrowed for one host call.
pub(crate) struct PluginView<'a> {
    pub(crate) ctx: &'a mut InstanceCtx,
    pub(crate) table: &'a mut ResourceTable,
}

impl Deref for PluginView<'_> {
    type Target = InstanceCtx;

    fn deref(&self) -> &InstanceCtx {
        self.ctx
    }
}

impl DerefMut for PluginView<'_> {
    fn deref_mut(&mut self) -> &mut InstanceCtx {
        self.ctx
    }
}

/// A store's data that can lend a [`PluginView`] (the `WasiView` of the studio's imports).
pub(crate) trait HasPluginView: Send {
    /// The view the host imports run on.
    fn plugin_view(&mut self) -> PluginView<'_>;
}

/// The `HasData` marker the linker uses to reach a [`PluginView`] from a store's data.
pub(crate) struct PluginData;

impl HasData for PluginData {
    type Data<'a> = PluginView<'a>;
}
