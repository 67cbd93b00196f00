//! One plugin instance's sandbox: the data its `Store` holds and the limits around each call.
//!
//! Memory is capped by a `ResourceLimiter`. CPU is capped per call in *guest* time: wasmtime's call
//! hook tells us each time execution crosses the wasm/host boundary, so time a plugin spends waiting
//! in a host call (a socket, a sink, `thread::sleep` through WASI poll) is not counted, and the epoch
//! callback (every engine tick, ~10 ms) traps only once the guest's own time passes the cap.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{CallHook, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::call::{CallCancel, WeakCallCancel};
use super::manifest::{Capability, PluginEntry};
use super::plugin_log::{PluginLog, PluginOutput};
use super::redact::Redactor;

/// Secrets the host may hand to plugins: declared names read from the environment at start, and
/// keys set at run time through the settings API (which win). It owns the host's one
/// [`Redactor`], rebuilt whenever a value changes.
#[derive(Debug, Default)]
pub(crate) struct SecretStore {
    values: RwLock<SecretValues>,
    redactor: Arc<Redactor>,
}

#[derive(Debug, Default)]
struct SecretValues {
    /// Declared names (`secrets`, `secret_files`, `env`) read from the environment.
    environment: HashMap<String, String>,
    /// Keys set at run time.
    runtime: HashMap<String, String>,
    /// Names whose value is not secret: declared only in `env` (endpoints, models) or in
    /// `secret_files` (a path; the file's contents are the secret).
    public: BTreeSet<String>,
    /// Secret strings found in the secret files plugins read (a service account's private key).
    files: HashMap<String, Vec<String>>,
}

impl SecretStore {
    /// Replaces the environment snapshot and the names whose values are not secret (at start
    /// and when a `plugins.toml` change is accepted).
    pub(crate) fn set_environment(
        &self,
        values: HashMap<String, String>,
        public: BTreeSet<String>,
    ) {
        let mut current = self.values.write().unwrap_or_else(PoisonError::into_inner);
        current.environment = values;
        current.public = public;
        self.redactor.set_secrets(current.redacted());
    }

    /// Sets a runtime key.
    pub(crate) fn set_runtime(&self, name: &str, value: String) {
        let mut current = self.values.write().unwrap_or_else(PoisonError::into_inner);
        current.runtime.insert(name.to_string(), value);
        self.redactor.set_secrets(current.redacted());
    }

    /// Notes the secret parts of a secret file a plugin was handed, so they are redacted too.
    pub(crate) fn note_file_contents(&self, name: &str, contents: &str) {
        let parts = secret_file_parts(contents);
        let mut current = self.values.write().unwrap_or_else(PoisonError::into_inner);
        if current.files.get(name) == Some(&parts) {
            return;
        }
        current.files.insert(name.to_string(), parts);
        self.redactor.set_secrets(current.redacted());
    }

    /// The current value of `name`, runtime key first.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        let current = self.values.read().unwrap_or_else(PoisonError::into_inner);
        current
            .runtime
            .get(name)
            .or_else(|| current.environment.get(name))
            .cloned()
    }

    /// The redactor of every secret value held here.
    pub(crate) fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }
}

impl SecretValues {
    /// `(name, value)` of everything to redact: every value whose name is not public (runtime
    /// keys win over the environment), and the secret parts of secret files.
    fn redacted(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self
            .environment
            .iter()
            .filter(|(name, _)| !self.runtime.contains_key(*name))
            .chain(&self.runtime)
            .filter(|(name, _)| !self.public.contains(*name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        for (name, parts) in &self.files {
            all.extend(parts.iter().map(|part| (name.clone(), part.clone())));
        }
        all
    }
}

/// The secret strings of a secret file: in a JSON credentials file the values of its key
/// fields, and each line of a PEM private key (a plugin logging part of the key is still caught);
/// any other file is secret as a whole.
fn secret_file_parts(contents: &str) -> Vec<String> {
    const SECRET_FIELDS: [&str; 5] = [
        "private_key",
        "private_key_id",
        "client_secret",
        "refresh_token",
        "api_key",
    ];
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(contents) else {
        return vec![contents.trim().to_string()];
    };
    let mut parts = Vec::new();
    for field in SECRET_FIELDS {
        if let Some(serde_json::Value::String(value)) = fields.get(field) {
            parts.push(value.clone());
            parts.extend(
                value
                    .lines()
                    .map(str::trim)
                    .filter(|line| line.len() >= 16 && !line.starts_with("-----"))
                    .map(str::to_string),
            );
        }
    }
    parts
}

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
    pub(crate) egress: Arc<super::capabilities::egress::Egress>,
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
        let egress = super::capabilities::egress::Egress::new(&entry.name, &entry.allowed_hosts);
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

/// Guest CPU time of the current call, kept in step by the call hook, and the budget it draws on.
///
/// The budget is a leaky bucket: a call starts with `cpu_limit_ms` and the work it serves (audio
/// read or pushed, text pushed) credits more, but never so much that more than `cpu_limit_ms`
/// lies unspent. A session-long STT call on live audio therefore never runs dry, while a plugin
/// that spins, serving nothing or burning more than it earns, is stopped within `cpu_limit_ms`
/// of guest time however long it served well before.
#[derive(Debug, Default)]
pub(crate) struct CpuMeter {
    used: Duration,
    running_since: Option<Instant>,
    /// Budget earned on top of the starting `cpu_limit_ms`; never more than `used`.
    credited: Duration,
}

impl CpuMeter {
    /// Adds `amount` to the budget, keeping at most `cpu_limit_ms` of it unspent.
    fn credit(&mut self, amount: Duration) {
        self.credited = (self.credited + amount).min(self.total());
    }

    /// Whether the guest time used passed the budget of a call that started with `limit`.
    fn overdrawn(&self, limit: Duration) -> bool {
        self.total() > limit + self.credited
    }

    fn resume(&mut self) {
        self.running_since = Some(Instant::now());
    }

    fn pause(&mut self) {
        if let Some(since) = self.running_since.take() {
            self.used += since.elapsed();
        }
    }

    fn total(&self) -> Duration {
        self.used
            + self
                .running_since
                .map_or(Duration::ZERO, |since| since.elapsed())
    }
}

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

/// The data of one plugin instance's `Store`.
pub(crate) struct PluginState {
    pub(crate) grant: Arc<Grant>,
    pub(crate) table: ResourceTable,
    /// Where its `log` calls and stdout/stderr go (one budget for all three).
    pub(crate) log: Arc<PluginLog>,
    wasi: WasiCtx,
    memory_limit: usize,
    cpu_limit: Duration,
    meter: Arc<Mutex<CpuMeter>>,
    pub(crate) limit_hit: Option<LimitHit>,
    /// Start of the session clock, when the instance serves a session.
    pub(crate) clock_origin: Option<Instant>,
    /// The cancel token of the call in flight: host calls that wait (a socket, a child process)
    /// stop waiting when it fires.
    pub(crate) cancel: super::call::CallCancel,
    /// Capabilities whose refusal was already logged for this instance (warn once, not per call).
    pub(crate) warned: BTreeSet<Capability>,
    /// Child processes of this instance still alive (capped at `max_children`).
    pub(crate) children: super::capabilities::process::LiveChildren,
    /// HTTP responses and WebSockets this instance holds open (each capped).
    pub(crate) open_net: super::capabilities::net::OpenNet,
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
            grant,
            table: ResourceTable::new(),
            log,
            wasi,
            memory_limit,
            cpu_limit,
            meter: Arc::default(),
            limit_hit: None,
            clock_origin: None,
            cancel: super::call::CallCancel::default(),
            warned: BTreeSet::new(),
            children: Default::default(),
            open_net: Default::default(),
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
    pub(crate) fn budget(&self) -> &super::manifest::CallBudget {
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
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            // Refuse rather than trap: the guest's allocator sees a failed grow and aborts, which the
            // caller reports as a memory-limit failure thanks to this mark.
            self.limit_hit = Some(LimitHit::Memory);
            return Ok(false);
        }
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
    let meter = state.meter.clone();
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
    *state.meter.lock().unwrap_or_else(PoisonError::into_inner) = CpuMeter::default();
    store.set_epoch_deadline(1);
}

#[cfg(test)]
mod cpu_budget_tests {
    use super::*;

    const LIMIT: Duration = Duration::from_millis(20);
    /// What one 20 ms frame at 48 kHz earns at 200 ms per audio second.
    const FRAME_CREDIT: Duration = Duration::from_millis(4);

    /// A meter of a call that ran `used` of guest time (paused, as in a host call).
    fn spend(meter: &mut CpuMeter, used: Duration) {
        meter.used += used;
    }

    #[test]
    fn three_hours_of_audio_at_real_work_rates_never_overdraw_a_tiny_limit() {
        let mut meter = CpuMeter::default();
        // 3 h of 20 ms frames, each costing the plugin 300 us (ten times mock-stt), with a burst
        // of 15 ms (three quarters of the limit) once a minute.
        for frame in 0..(3 * 3600 * 50u64) {
            spend(&mut meter, Duration::from_micros(300));
            if frame % 3000 == 0 {
                spend(&mut meter, Duration::from_millis(15));
            }
            assert!(!meter.overdrawn(LIMIT), "overdrawn at frame {frame}");
            meter.credit(FRAME_CREDIT);
        }
    }

    #[test]
    fn a_spin_after_hours_of_good_service_is_stopped_within_the_limit() {
        let mut meter = CpuMeter::default();
        for _ in 0..(3600 * 50) {
            spend(&mut meter, Duration::from_micros(100));
            meter.credit(FRAME_CREDIT);
        }
        // Unspent budget never exceeds the limit: what was banked is at most 20 ms.
        assert!(!meter.overdrawn(LIMIT));
        spend(&mut meter, LIMIT);
        assert!(
            !meter.overdrawn(LIMIT),
            "exactly the limit is still allowed"
        );
        spend(&mut meter, Duration::from_micros(1));
        assert!(meter.overdrawn(LIMIT), "a spin past the limit is stopped");
    }

    #[test]
    fn a_plugin_burning_more_than_it_earns_is_stopped_after_limit_over_deficit() {
        let mut meter = CpuMeter::default();
        // 5 ms per frame against 4 ms earned: 1 ms short per frame, so the 20 ms of starting
        // budget lasts 20 frames.
        let mut frames = 0;
        while !meter.overdrawn(LIMIT) {
            spend(&mut meter, Duration::from_millis(5));
            meter.credit(FRAME_CREDIT);
            frames += 1;
            assert!(frames < 1000, "never stopped");
        }
        assert_eq!(frames, 21);
    }

    #[test]
    fn without_any_credit_the_budget_is_the_old_per_call_limit() {
        let mut meter = CpuMeter::default();
        spend(&mut meter, LIMIT);
        meter.credit(Duration::ZERO);
        assert!(!meter.overdrawn(LIMIT));
        spend(&mut meter, Duration::from_micros(1));
        assert!(meter.overdrawn(LIMIT));
    }
}
