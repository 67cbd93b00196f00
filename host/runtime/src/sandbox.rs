//! One plugin instance's sandbox: the data its `Store` holds and the limits around each call.
//!
//! Memory is capped by a `ResourceLimiter`. CPU is capped per call in *guest* time: wasmtime's call
//! hook tells us each time execution crosses the wasm/host boundary, so time a plugin spends waiting
//! in a host call (a socket, a sink, `thread::sleep` through WASI poll) is not counted, and the epoch
//! callback (every engine tick, ~10 ms) traps only once the guest's own time passes the cap.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{CallHook, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::capabilities::{HasPluginView, InstanceCtx, PluginView};
use super::cpu_meter::CpuMeter;
use super::grant::Grant;
use super::plugin_log::{PluginLog, PluginOutput};

/// Which limit stopped the current call, if one did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitHit {
    /// The guest CPU cap.
    Cpu,
    /// The memory cap.
    Memory,
}

/// The error an epoch callback raises to stop a plugin over its CPU cap.
#[derive(Debug, thiserror::Error)]
#[error("guest CPU time passed the per-call limit")]
pub(crate) struct CpuLimitExceeded;

/// The data of one plugin instance's `Store`: the capabilities' state, the resource table, WASI
/// and the limits.
pub(crate) struct PluginState {
    /// What the capabilities keep for this instance (its grant, log, clock, cancel, children).
    pub(crate) caps: InstanceCtx,
    pub(crate) table: ResourceTable,
    wasi: WasiCtx,
    memory_limit: usize,
    cpu_limit: Duration,
    pub(crate) limit_hit: Option<LimitHit>,
    /// Linear memory of every core instance of the component, now and at its highest (bytes).
    memory_now: usize,
    pub(crate) memory_peak: usize,
}

impl PluginState {
    fn new(grant: Arc<Grant>) -> PluginState {
        let log = Arc::new(PluginLog::new(grant.clone()));
        // Locked down: no environment, no arguments, no preopened folders, no sockets. Rust std on
        // wasip2 imports parts of WASI, so it is linked, but it reaches nothing.
        let wasi = WasiCtx::builder()
            .stdout(PluginOutput::new(log.clone(), "stdout"))
            .stderr(PluginOutput::new(log.clone(), "stderr"))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let memory_limit = usize::try_from(grant.entry.memory_limit_mb)
            .unwrap_or(usize::MAX)
            .saturating_mul(1 << 20);
        let cpu_limit = Duration::from_millis(grant.entry.cpu_limit_ms);
        PluginState {
            caps: InstanceCtx::new(grant, log),
            table: ResourceTable::new(),
            wasi,
            memory_limit,
            cpu_limit,
            limit_hit: None,
            memory_now: 0,
            memory_peak: 0,
        }
    }
}

impl HasPluginView for PluginState {
    fn plugin_view(&mut self) -> PluginView<'_> {
        PluginView {
            ctx: &mut self.caps,
            table: &mut self.table,
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime::ResourceLimiter for PluginState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            // Refuse rather than trap: the guest's allocator sees a failed grow and aborts, which the
            // caller reports as a memory-limit failure thanks to this mark.
            self.limit_hit = Some(LimitHit::Memory);
            return Ok(false);
        }
        // Kept for `plugin check`'s figures: the sum over the component's memories.
        self.memory_now = self
            .memory_now
            .saturating_add(desired.saturating_sub(current));
        self.memory_peak = self.memory_peak.max(self.memory_now);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Builds a `Store` for one plugin instance with its limits and CPU accounting wired in.
pub(crate) fn new_store(engine: &wasmtime::Engine, grant: Arc<Grant>) -> Store<PluginState> {
    let state = PluginState::new(grant);
    let meter = state.caps.meter.clone();
    let mut store = Store::new(engine, state);
    store.limiter(|state| state);
    let hook_meter = meter.clone();
    store.call_hook(move |_, hook| {
        let mut meter = hook_meter.lock().unwrap_or_else(PoisonError::into_inner);
        match hook {
            CallHook::CallingWasm | CallHook::ReturningFromHost => meter.resume(),
            CallHook::ReturningFromWasm | CallHook::CallingHost => meter.pause(),
        }
        Ok(())
    });
    store.epoch_deadline_callback(move |mut ctx| {
        let state = ctx.data_mut();
        let overdrawn = state
            .caps
            .meter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .overdrawn(state.cpu_limit);
        if overdrawn {
            state.limit_hit = Some(LimitHit::Cpu);
            return Err(CpuLimitExceeded.into());
        }
        // Yield to tokio at every tick so a busy plugin cannot hold a worker thread; the time spent
        // parked in the executor is not the plugin's.
        let meter = meter.clone();
        meter.lock().unwrap_or_else(PoisonError::into_inner).pause();
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(async move {
                tokio::task::yield_now().await;
                meter
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .resume();
            }),
        ))
    });
    store.set_epoch_deadline(1);
    store
}

/// Resets the per-call accounting before a call starts.
pub(crate) fn begin_call(store: &mut Store<PluginState>) {
    let state = store.data_mut();
    state.limit_hit = None;
    *state
        .caps
        .meter
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = CpuMeter::default();
    store.set_epoch_deadline(1);
}
