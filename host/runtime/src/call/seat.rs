//! The role-independent part of a call handle: the [`Seat`] that checks out an instance of the
//! role's current plugin version (or of a fallback), ends a call past its deadline, and settles
//! a call's outcome (keeping the instance only when it is sound).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::Store;

use super::super::cancel::CallCancel;
use super::super::error::CallError;
use super::super::manifest::RoleSlot;
use super::super::metrics;
use super::super::registry::Registry;
use super::super::sandbox::{LimitHit, PluginState, new_store};
use super::super::version::{PluginVersion, WorldPre};
use super::super::wit::PluginError;
use super::CallFigures;

/// A component instance of one world, made from a [`WorldPre`] (one impl per role, over every
/// contract version, in `contract.rs`).
pub(super) trait WorldInstance: Sized + Send + 'static {
    async fn instantiate(
        pre: &WorldPre,
        store: &mut Store<PluginState>,
    ) -> Option<wasmtime::Result<Self>>;
}

/// One live instance and the version it was made from.
pub(super) struct Live<W> {
    pub(super) version: Arc<PluginVersion>,
    pub(super) store: Store<PluginState>,
    pub(super) instance: W,
}

/// The role-independent part of a handle: which role, the live instance, the session clock.
pub(super) struct Seat<W> {
    pub(super) registry: Arc<Registry>,
    pub(super) slot: RoleSlot,
    /// Behind a mutex only so handles are `Sync` (sessions hold `&` to them across awaits); calls
    /// reach it through `&mut self` and `get_mut`, which never locks.
    pub(super) live: Mutex<Option<Live<W>>>,
    pub(super) clock_origin: Option<Instant>,
    pub(super) cancel: CallCancel,
    /// STT only: the fallback-chain position the next call starts at. A long STT call cannot be
    /// retried elsewhere within the call (the audio it consumed is gone), so after a failure the
    /// next call moves down the chain.
    pub(super) next_attempt: usize,
    /// What the last call that reached an instance used (for `plugin check`).
    pub(super) last: Option<CallFigures>,
}

impl<W: WorldInstance> Seat<W> {
    pub(super) fn new(registry: Arc<Registry>, slot: RoleSlot) -> Seat<W> {
        Seat {
            registry,
            slot,
            live: Mutex::new(None),
            clock_origin: None,
            cancel: CallCancel::default(),
            next_attempt: 0,
            last: None,
        }
    }

    /// Keeps what the call on `live` used, before its instance is kept or thrown away.
    fn record(&mut self, live: &Live<W>) {
        let state = live.store.data();
        let guest_cpu = state
            .caps
            .meter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .used();
        self.last = Some(CallFigures {
            guest_cpu,
            memory_peak_bytes: u64::try_from(state.memory_peak).unwrap_or(u64::MAX),
        });
    }

    /// Takes the instance for attempt `attempt` of a call: attempt 0 is the role's plugin (the live
    /// instance when it runs the current version, else a new one); later attempts are the plugin's
    /// `fallback` list in order, each in a fresh instance. The caller puts an instance back only
    /// when the call ended cleanly.
    pub(super) async fn checkout(&mut self, attempt: usize) -> Result<Live<W>, CallError> {
        let slot = self.slot;
        let registry = self.registry.clone();
        let unavailable = |plugin: &str, message: String| {
            let error = CallError::Load {
                plugin: plugin.to_string(),
                message,
            };
            metrics::call_ended(slot, plugin, Err(&error));
            registry.health.call_ended(plugin, Err(&error));
            error
        };
        let setup = self.registry.snapshot();
        // Attempt 0 (every call, on the hot path) is a map lookup; only fallbacks build the chain.
        let name = match attempt {
            0 => setup.manifest.roles.get(&self.slot).cloned(),
            _ => setup.manifest.chain(self.slot).into_iter().nth(attempt),
        };
        let Some(name) = name.as_ref() else {
            return Err(unavailable(
                self.slot.name(),
                format!("[roles] {} is not set in plugins.toml", self.slot),
            ));
        };
        let version = setup.versions.get(name).ok_or_else(|| {
            let why = setup
                .errors
                .get(name)
                .cloned()
                .unwrap_or_else(|| "not loaded".into());
            unavailable(name, why)
        })?;
        if attempt == 0 {
            self.cancel.reset();
        }
        // Revoking this grant (a reload that takes something away) cancels the call.
        version.grant.hold(&self.cancel);
        if attempt == 0
            && let Some(mut live) = self
                .live
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            && Arc::ptr_eq(&live.version, version)
        {
            live.store.data_mut().caps.clock_origin = self.clock_origin;
            live.store.data_mut().caps.cancel = self.cancel.clone();
            return Ok(live);
        }
        let mut store = new_store(&self.registry.engine.engine, version.grant.clone());
        store.data_mut().caps.clock_origin = self.clock_origin;
        store.data_mut().caps.cancel = self.cancel.clone();
        let instance = W::instantiate(&version.code.pre, &mut store)
            .await
            .ok_or_else(|| unavailable(name, format!("it is not a {} plugin", self.slot.kind())))?
            .map_err(|e| {
                let message = format!("instantiation failed: {e:#}");
                unavailable(
                    name,
                    version.grant.secrets.redactor().redact(&message).into(),
                )
            })?;
        Ok(Live {
            version: version.clone(),
            store,
            instance,
        })
    }

    /// Whether a failed attempt should be retried on the next plugin of the fallback chain.
    pub(super) fn falls_back(&self, attempt: usize, error: &CallError) -> bool {
        let worth_it = match error {
            CallError::Trap { .. }
            | CallError::CpuLimit { .. }
            | CallError::MemoryLimit { .. }
            | CallError::Deadline { .. } => true,
            CallError::Load { .. } => true,
            CallError::Plugin { error, .. } => {
                matches!(
                    error,
                    PluginError::Unavailable(_) | PluginError::RateLimited(_)
                )
            }
            CallError::Denied { .. } | CallError::GrantRevoked { .. } => false,
        };
        if !worth_it || self.cancel.is_cancelled() {
            return false;
        }
        let chain = self.registry.snapshot().manifest.chain(self.slot);
        match chain.get(attempt + 1) {
            Some(next) => {
                metrics::fell_back(self.slot, error.plugin());
                tracing::warn!(role = %self.slot, failed = error.plugin(), fallback = %next, "falling back to the next plugin: {error}");
                true
            }
            None => false,
        }
    }

    /// The wall-clock deadline of a call on `live` (for STT, its idle deadline).
    pub(super) fn deadline(&self, live: &Live<W>) -> Duration {
        live.version
            .grant
            .entry
            .budget
            .deadlines
            .of(self.slot.kind())
    }

    /// Ends a call that passed its deadline: cancels it, so anything still waiting on its behalf
    /// stops, and throws its instance away (its store may be stopped mid-call).
    pub(super) fn expire(&mut self, mut live: Live<W>) -> CallError {
        let kind = self.slot.kind();
        let error = CallError::Deadline {
            plugin: live.version.name().to_string(),
            kind,
            limit_ms: live.version.grant.entry.budget.deadlines.ms(kind),
        };
        self.record(&live);
        let cancelled_before = self.cancel.is_cancelled();
        self.cancel.cancel();
        live.store.data_mut().table = wasmtime::component::ResourceTable::new();
        drop(live);
        if !cancelled_before {
            // The deadline is the host's, not the session's: a fallback attempt may still run.
            self.cancel.reset();
        }
        tracing::warn!(plugin = error.plugin(), role = %self.slot, "plugin call passed its deadline; its instance is thrown away: {error}");
        metrics::call_ended(self.slot, error.plugin(), Err(&error));
        self.registry.health.call_ended(error.plugin(), Err(&error));
        error
    }

    /// Turns a call's outcome into the handle's result, keeping the instance only when it is
    /// sound, and counts it.
    pub(super) fn settle<T>(
        &mut self,
        attempt: usize,
        live: Live<W>,
        outcome: wasmtime::Result<Result<T, PluginError>>,
    ) -> Result<T, CallError> {
        let plugin = live.version.name().to_string();
        let result = self.settle_uncounted(attempt, live, outcome);
        metrics::call_ended(self.slot, &plugin, result.as_ref().map(|_| ()));
        self.registry
            .health
            .call_ended(&plugin, result.as_ref().map(|_| ()));
        result
    }

    /// [`Seat::settle`] without the count.
    fn settle_uncounted<T>(
        &mut self,
        attempt: usize,
        live: Live<W>,
        outcome: wasmtime::Result<Result<T, PluginError>>,
    ) -> Result<T, CallError> {
        let plugin = live.version.name().to_string();
        let grant = live.version.grant.clone();
        if grant.is_revoked() && (!matches!(outcome, Ok(Ok(_))) || self.cancel.is_cancelled()) {
            // The call ended because a reload took its grant away; the next call gets a fresh
            // instance on the new grant (the version changed with the grant).
            tracing::info!(plugin = %plugin, role = %self.slot, "a plugin call ended: its grant was revoked by a plugins.toml reload");
            return Err(CallError::GrantRevoked { plugin });
        }
        self.settle_outcome(attempt, live, outcome)
            .map_err(|error| error.redacted(grant.secrets.redactor()))
    }

    /// [`Seat::settle`] once revocation is ruled out.
    pub(super) fn settle_outcome<T>(
        &mut self,
        attempt: usize,
        mut live: Live<W>,
        outcome: wasmtime::Result<Result<T, PluginError>>,
    ) -> Result<T, CallError> {
        let plugin = live.version.name().to_string();
        self.record(&live);
        match outcome {
            Ok(result) => {
                // Resources the call created live in the table; they are gone with the call.
                if attempt == 0 {
                    *self.live.get_mut().unwrap_or_else(PoisonError::into_inner) = Some(live);
                }
                result.map_err(|error| match error {
                    PluginError::Denied(message) => CallError::Denied { plugin, message },
                    error => CallError::Plugin { plugin, error },
                })
            }
            Err(trap) => {
                let entry = &live.version.grant.entry;
                let error = match live.store.data().limit_hit {
                    Some(LimitHit::Cpu) => CallError::CpuLimit {
                        plugin,
                        limit_ms: entry.cpu_limit_ms,
                    },
                    Some(LimitHit::Memory) => CallError::MemoryLimit {
                        plugin,
                        limit_mb: entry.memory_limit_mb,
                    },
                    None => CallError::Trap {
                        plugin,
                        message: describe_trap(&trap),
                    },
                };
                // A panic message may carry whatever the plugin held, a key included.
                let error = error.redacted(live.version.grant.secrets.redactor());
                tracing::warn!(plugin = live.version.name(), role = %self.slot, "plugin call failed, its instance is rebuilt for the next call: {error}");
                live.store.data_mut().table = wasmtime::component::ResourceTable::new();
                drop(live);
                Err(error)
            }
        }
    }
}

/// Removes a stream the host lent to a call, so its channel end is dropped (the receiver sees the
/// end of the stream) as soon as the call returns.
pub(super) fn release<T: 'static>(store: &mut Store<PluginState>, rep: u32) {
    // Already gone is fine: the guest may not drop borrowed handles, but a trap clears the table.
    let _ = store
        .data_mut()
        .table
        .delete(wasmtime::component::Resource::<T>::new_own(rep));
}

fn describe_trap(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => format!("{trap} ({error})"),
        None => error.to_string(),
    }
}
