//! Per-role call handles that a studio session keeps: [`SttHandle`], [`TtsHandle`], [`LlmHandle`],
//! [`PolicyHandle`].
//!
//! A handle owns at most one live instance (a `Store` plus the instantiated component). Each call
//! looks up the registry's *current* version for the role; when it differs from the live instance's
//! version, a fresh instance is made (instantiation is cheap), so after a hot reload the next call
//! runs the new code while a call in flight finishes on its old store. An instance that trapped, hit
//! a limit, or whose call was abandoned midway is thrown away and rebuilt on the next call.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use wasmtime::Store;

use super::bindings;
use super::cancel::CallCancel;
use super::capabilities::streams::{
    AudioInput, AudioSink, Delivery, Liveness, SttInput, TokenSink, TranscriptSink,
};
use super::error::CallError;
use super::manifest::RoleSlot;
use super::registry::Registry;
use super::sandbox::{LimitHit, PluginState, begin_call, new_store};
use super::version::{PluginVersion, WorldPre};
use super::wit::{
    AudioChunk, Completion, Decision, FloorEvent, FloorState, LlmRequest, PluginError, SttRequest,
    Transcript, TtsRequest,
};

/// Sample rate of studio microphone frames (48 kHz mono, 20 ms = 960 samples).
pub const STUDIO_SAMPLE_RATE: u32 = 48_000;

/// A component instance of one world, made from a [`WorldPre`].
trait WorldInstance: Sized + Send + 'static {
    async fn instantiate(
        pre: &WorldPre,
        store: &mut Store<PluginState>,
    ) -> Option<wasmtime::Result<Self>>;
}

impl WorldInstance for bindings::stt::SttPlugin {
    async fn instantiate(
        pre: &WorldPre,
        store: &mut Store<PluginState>,
    ) -> Option<wasmtime::Result<Self>> {
        match pre {
            WorldPre::Stt(pre) => Some(pre.instantiate_async(store).await),
            _ => None,
        }
    }
}

impl WorldInstance for bindings::tts::TtsPlugin {
    async fn instantiate(
        pre: &WorldPre,
        store: &mut Store<PluginState>,
    ) -> Option<wasmtime::Result<Self>> {
        match pre {
            WorldPre::Tts(pre) => Some(pre.instantiate_async(store).await),
            _ => None,
        }
    }
}

impl WorldInstance for bindings::llm::LlmPlugin {
    async fn instantiate(
        pre: &WorldPre,
        store: &mut Store<PluginState>,
    ) -> Option<wasmtime::Result<Self>> {
        match pre {
            WorldPre::Llm(pre) => Some(pre.instantiate_async(store).await),
            _ => None,
        }
    }
}

impl WorldInstance for bindings::policy::PolicyPlugin {
    async fn instantiate(
        pre: &WorldPre,
        store: &mut Store<PluginState>,
    ) -> Option<wasmtime::Result<Self>> {
        match pre {
            WorldPre::Policy(pre) => Some(pre.instantiate_async(store).await),
            _ => None,
        }
    }
}

/// One live instance and the version it was made from.
struct Live<W> {
    version: Arc<PluginVersion>,
    store: Store<PluginState>,
    instance: W,
}

/// The role-independent part of a handle: which role, the live instance, the session clock.
struct Seat<W> {
    registry: Arc<Registry>,
    slot: RoleSlot,
    /// Behind a mutex only so handles are `Sync` (sessions hold `&` to them across awaits); calls
    /// reach it through `&mut self` and `get_mut`, which never locks.
    live: Mutex<Option<Live<W>>>,
    clock_origin: Option<Instant>,
    cancel: CallCancel,
    /// STT only: the fallback-chain position the next call starts at. A long STT call cannot be
    /// retried elsewhere within the call (the audio it consumed is gone), so after a failure the
    /// next call moves down the chain.
    next_attempt: usize,
}

impl<W: WorldInstance> Seat<W> {
    fn new(registry: Arc<Registry>, slot: RoleSlot) -> Seat<W> {
        Seat {
            registry,
            slot,
            live: Mutex::new(None),
            clock_origin: None,
            cancel: CallCancel::default(),
            next_attempt: 0,
        }
    }

    /// Takes the instance for attempt `attempt` of a call: attempt 0 is the role's plugin (the live
    /// instance when it runs the current version, else a new one); later attempts are the plugin's
    /// `fallback` list in order, each in a fresh instance. The caller puts an instance back only
    /// when the call ended cleanly.
    async fn checkout(&mut self, attempt: usize) -> Result<Live<W>, CallError> {
        let unavailable = |plugin: &str, message: String| CallError::Load {
            plugin: plugin.to_string(),
            message,
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
    fn falls_back(&self, attempt: usize, error: &CallError) -> bool {
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
                tracing::warn!(role = %self.slot, failed = error.plugin(), fallback = %next, "falling back to the next plugin: {error}");
                true
            }
            None => false,
        }
    }

    /// The wall-clock deadline of a call on `live` (for STT, its idle deadline).
    fn deadline(&self, live: &Live<W>) -> Duration {
        live.version
            .grant
            .entry
            .budget
            .deadlines
            .of(self.slot.kind())
    }

    /// Ends a call that passed its deadline: cancels it, so anything still waiting on its behalf
    /// stops, and throws its instance away (its store may be stopped mid-call).
    fn expire(&mut self, mut live: Live<W>) -> CallError {
        let kind = self.slot.kind();
        let error = CallError::Deadline {
            plugin: live.version.name().to_string(),
            kind,
            limit_ms: live.version.grant.entry.budget.deadlines.ms(kind),
        };
        let cancelled_before = self.cancel.is_cancelled();
        self.cancel.cancel();
        live.store.data_mut().table = wasmtime::component::ResourceTable::new();
        drop(live);
        if !cancelled_before {
            // The deadline is the host's, not the session's: a fallback attempt may still run.
            self.cancel.reset();
        }
        tracing::warn!(plugin = error.plugin(), role = %self.slot, "plugin call passed its deadline; its instance is thrown away: {error}");
        error
    }

    /// Turns a call's outcome into the handle's result, keeping the instance only when it is sound.
    fn settle<T>(
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
    fn settle_outcome<T>(
        &mut self,
        attempt: usize,
        mut live: Live<W>,
        outcome: wasmtime::Result<Result<T, PluginError>>,
    ) -> Result<T, CallError> {
        let plugin = live.version.name().to_string();
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

// Sessions keep handles in actors that are moved between threads and borrowed across awaits.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<SttHandle>();
    send_and_sync::<TtsHandle>();
    send_and_sync::<LlmHandle>();
    send_and_sync::<PolicyHandle>();
};

/// Removes a stream the host lent to a call, so its channel end is dropped (the receiver sees the
/// end of the stream) as soon as the call returns.
fn release<T: 'static>(store: &mut Store<PluginState>, rep: u32) {
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

macro_rules! handle_common {
    ($handle:ident, $world:ty) => {
        impl $handle {
            pub(crate) fn new(registry: Arc<Registry>, slot: RoleSlot) -> $handle {
                $handle {
                    seat: Seat::<$world>::new(registry, slot),
                }
            }

            /// Sets the start of the session clock that the plugin's `clock.session-ms` counts from.
            pub fn set_session_clock_origin(&mut self, origin: Instant) {
                self.seat.clock_origin = Some(origin);
            }

            /// A canceller for this handle's call in flight.
            pub fn canceller(&self) -> CallCancel {
                self.seat.cancel.clone()
            }

            /// The name and sha256 of the plugin version the live instance runs, if one is live.
            pub fn live_version(&self) -> Option<(String, String)> {
                let live = self
                    .seat
                    .live
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                live.as_ref()
                    .map(|l| (l.version.name().to_string(), l.version.code.sha256.clone()))
            }
        }
    };
}

/// Speech-to-text calls for one session.
pub struct SttHandle {
    seat: Seat<bindings::stt::SttPlugin>,
}
handle_common!(SttHandle, bindings::stt::SttPlugin);

impl SttHandle {
    /// Recognizes `input` at [`STUDIO_SAMPLE_RATE`] until it ends, sending transcripts to `out`.
    pub async fn transcribe(
        &mut self,
        request: SttRequest,
        input: mpsc::Receiver<SttInput>,
        out: mpsc::Sender<Transcript>,
    ) -> Result<(), CallError> {
        self.transcribe_at(request, STUDIO_SAMPLE_RATE, input, out)
            .await
    }

    /// Like [`SttHandle::transcribe`], for input at `sample_rate`. STT does not fall back within a
    /// call (the audio it consumed is gone); after a failure that falls back, the next call runs
    /// on the next plugin of the `fallback` list, and once that call ends the role's own plugin is
    /// tried again.
    pub async fn transcribe_at(
        &mut self,
        request: SttRequest,
        sample_rate: u32,
        input: mpsc::Receiver<SttInput>,
        out: mpsc::Sender<Transcript>,
    ) -> Result<(), CallError> {
        let attempt = std::mem::take(&mut self.seat.next_attempt);
        if attempt > 0 {
            // `checkout` resets the cancel token only for the role's own plugin.
            self.seat.cancel.reset();
        }
        let mut live = self.seat.checkout(attempt).await?;
        let cancel = self.seat.cancel.clone();
        // A session-long call has no whole-call deadline: it is stopped when it stays away from
        // its input (and sends nothing) for longer than its idle deadline.
        let idle_limit = self.seat.deadline(&live);
        let liveness = Arc::new(Liveness::default());
        let outcome = {
            let call = async {
                let table = &mut live.store.data_mut().table;
                let input = table.push(AudioInput {
                    sample_rate,
                    rx: input,
                    ended: false,
                    cancel: cancel.clone(),
                    liveness: liveness.clone(),
                })?;
                let sink = table.push(TranscriptSink {
                    tx: out,
                    cancel,
                    liveness: liveness.clone(),
                })?;
                let (input_rep, sink_rep) = (input.rep(), sink.rep());
                begin_call(&mut live.store);
                let result = live
                    .instance
                    .studio_plugin_stt()
                    .call_transcribe(&mut live.store, &request, input, sink)
                    .await;
                release::<AudioInput>(&mut live.store, input_rep);
                release::<TranscriptSink>(&mut live.store, sink_rep);
                result
            };
            tokio::select! {
                outcome = call => Some(outcome),
                () = idle_past(&liveness, idle_limit) => None,
            }
        };
        let result = match outcome {
            Some(outcome) => self.seat.settle(attempt, live, outcome),
            None => Err(self.seat.expire(live)),
        };
        if let Err(error) = &result
            && self.seat.falls_back(attempt, error)
        {
            self.seat.next_attempt = attempt + 1;
        }
        result
    }
}

/// Returns once `liveness` has shown no sign of life for `limit` (an STT call's idle deadline).
async fn idle_past(liveness: &Liveness, limit: Duration) {
    loop {
        let idle = liveness.idle();
        if idle >= limit {
            return;
        }
        tokio::time::sleep(limit - idle).await;
    }
}

/// The body of a streaming call (TTS, LLM) on a handle: runs the call into a `$sink` feeding `$out`
/// within the call's deadline and, when it fails before delivering anything and the error falls
/// back, tries the next plugin of the chain. Evaluates to the result and what the last attempt's
/// sink delivered. A macro rather than a generic function with an async closure: the closure's
/// future would not be provably `Send` for every lifetime, and the studio spawns these calls.
macro_rules! stream_with_fallback {
    ($handle:ident, $sink:ident, $export:ident, $method:ident, $request:ident, $out:ident) => {{
        let mut attempt = 0;
        loop {
            let delivery = Arc::new(Delivery::default());
            let mut live = $handle.seat.checkout(attempt).await?;
            let sink = $sink::for_call(
                delivery.clone(),
                $out.clone(),
                $handle.seat.cancel.clone(),
                &$request,
            );
            let limit = $handle.seat.deadline(&live);
            let outcome = tokio::time::timeout(limit, async {
                let sink = live.store.data_mut().table.push(sink)?;
                let sink_rep = sink.rep();
                begin_call(&mut live.store);
                let result = live
                    .instance
                    .$export()
                    .$method(&mut live.store, &$request, sink)
                    .await;
                release::<$sink>(&mut live.store, sink_rep);
                result
            })
            .await;
            let result = match outcome {
                Ok(outcome) => $handle.seat.settle(attempt, live, outcome),
                Err(_elapsed) => Err($handle.seat.expire(live)),
            };
            match result {
                Err(e) if !delivery.delivered() && $handle.seat.falls_back(attempt, &e) => {
                    attempt += 1
                }
                result => break (result, delivery),
            }
        }
    }};
}

/// Text-to-speech calls for one session.
pub struct TtsHandle {
    seat: Seat<bindings::tts::TtsPlugin>,
}
handle_common!(TtsHandle, bindings::tts::TtsPlugin);

impl TtsHandle {
    /// Speaks `request.text`, sending audio to `out` as it is produced. When the plugin fails
    /// before sending any audio, the next plugin of its `fallback` list is tried.
    pub async fn synthesize(
        &mut self,
        request: TtsRequest,
        out: mpsc::Sender<AudioChunk>,
    ) -> Result<(), CallError> {
        let (result, _) = stream_with_fallback!(
            self,
            AudioSink,
            studio_plugin_tts,
            call_synthesize,
            request,
            out
        );
        result
    }
}

/// LLM calls for one AI of one session.
pub struct LlmHandle {
    seat: Seat<bindings::llm::LlmPlugin>,
}
handle_common!(LlmHandle, bindings::llm::LlmPlugin);

impl LlmHandle {
    /// Streams the reply to `request` into `out`, then returns how it ended. When the plugin fails
    /// before sending any text, the next plugin of its `fallback` list is tried.
    ///
    /// The host holds the reply to `request.max_tokens` pieces (and a bound on characters): a
    /// push beyond is refused with `cancelled`, and the line ends as if the model had stopped at
    /// `max_tokens`, whatever the plugin returns after the refusal (unless it failed otherwise).
    pub async fn complete(
        &mut self,
        request: LlmRequest,
        out: mpsc::Sender<String>,
    ) -> Result<Completion, CallError> {
        let (result, delivery) = stream_with_fallback!(
            self,
            TokenSink,
            studio_plugin_llm,
            call_complete,
            request,
            out
        );
        if !delivery.capped() {
            return result;
        }
        let cut = |completion: Option<Completion>| Completion {
            stop_reason: "max_tokens".into(),
            input_tokens: completion.as_ref().and_then(|c| c.input_tokens),
            output_tokens: Some(delivery.pieces()),
        };
        match result {
            Ok(completion) => Ok(cut(Some(completion))),
            Err(CallError::Plugin {
                error: PluginError::Cancelled,
                ..
            }) if !self.seat.cancel.is_cancelled() => Ok(cut(None)),
            Err(error) => Err(error),
        }
    }
}

/// Turn-policy calls for one session.
pub struct PolicyHandle {
    seat: Seat<bindings::policy::PolicyPlugin>,
}
handle_common!(PolicyHandle, bindings::policy::PolicyPlugin);

impl PolicyHandle {
    /// Decides what happens after `event`, given `state`. Policies are pure, so a failed call is
    /// retried on the next plugin of the policy's `fallback` list.
    pub async fn decide(
        &mut self,
        state: FloorState,
        event: FloorEvent,
    ) -> Result<Vec<Decision>, CallError> {
        let mut attempt = 0;
        loop {
            let mut live = self.seat.checkout(attempt).await?;
            let limit = self.seat.deadline(&live);
            begin_call(&mut live.store);
            let outcome = tokio::time::timeout(
                limit,
                live.instance
                    .studio_plugin_policy()
                    .call_decide(&mut live.store, &state, &event),
            )
            .await;
            let result = match outcome {
                Ok(outcome) => self.seat.settle(attempt, live, outcome.map(Ok)),
                Err(_elapsed) => Err(self.seat.expire(live)),
            };
            match result {
                Err(e) if self.seat.falls_back(attempt, &e) => attempt += 1,
                result => return result,
            }
        }
    }
}
