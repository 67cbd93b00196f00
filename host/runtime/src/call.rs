//! Per-role call handles that a studio session keeps: [`SttHandle`], [`TtsHandle`], [`LlmHandle`],
//! [`PolicyHandle`].
//!
//! A handle owns at most one live instance (a `Store` plus the instantiated component). Each call
//! looks up the registry's *current* version for the role; when it differs from the live instance's
//! version, a fresh instance is made (instantiation is cheap), so after a hot reload the next call
//! runs the new code while a call in flight finishes on its old store. An instance that trapped, hit
//! a limit, or whose call was abandoned midway is thrown away and rebuilt on the next call.

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

mod contract;
mod seat;

use super::cancel::CallCancel;
use super::capabilities::streams::{
    AudioInput, AudioSink, Delivery, Liveness, SttInput, TokenSink, TranscriptSink,
};
use super::error::CallError;
use super::manifest::RoleSlot;
use super::registry::Registry;
use super::sandbox::begin_call;
use super::wit::{
    AudioChunk, Completion, Decision, FloorEvent, FloorState, LlmRequest, PluginError, SttRequest,
    Transcript, TtsRequest,
};
use contract::{LlmInstance, PolicyInstance, SttInstance, TtsInstance};
use seat::{Seat, release};

/// What one call used, as its handle measured it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallFigures {
    /// Guest CPU time of the call (time in host calls and waiting is not counted).
    pub guest_cpu: Duration,
    /// The highest the instance's linear memory has been, over all its memories (bytes).
    pub memory_peak_bytes: u64,
}

/// Sample rate of studio microphone frames (48 kHz mono, 20 ms = 960 samples).
pub const STUDIO_SAMPLE_RATE: u32 = 48_000;

// Sessions keep handles in actors that are moved between threads and borrowed across awaits.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<SttHandle>();
    send_and_sync::<TtsHandle>();
    send_and_sync::<LlmHandle>();
    send_and_sync::<PolicyHandle>();
};

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

            /// What the last call that reached an instance used: guest CPU time and the
            /// instance's memory peak (`None` before any call ran).
            pub fn last_call(&self) -> Option<CallFigures> {
                self.seat.last
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
    seat: Seat<SttInstance>,
}
handle_common!(SttHandle, SttInstance);

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

/// Runs a streaming call within `limit` of its own time: the time its pushes waited for the
/// studio to take what they pushed (the studio takes TTS audio as it plays) does not count.
/// `None` when the deadline passed.
async fn within_deadline<F: std::future::Future>(
    limit: Duration,
    delivery: &Delivery,
    call: F,
) -> Option<F::Output> {
    let start = tokio::time::Instant::now();
    tokio::pin!(call);
    loop {
        let deadline = start + limit + delivery.held_back();
        tokio::select! {
            output = &mut call => return Some(output),
            () = tokio::time::sleep_until(deadline) => {
                if tokio::time::Instant::now() >= start + limit + delivery.held_back() {
                    return None;
                }
            }
        }
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
            let outcome = within_deadline(limit, &delivery, async {
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
                Some(outcome) => $handle.seat.settle(attempt, live, outcome),
                None => Err($handle.seat.expire(live)),
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
    seat: Seat<TtsInstance>,
}
handle_common!(TtsHandle, TtsInstance);

impl TtsHandle {
    /// Speaks `request.text`, sending audio to `out` as it is produced. When the plugin fails
    /// before sending any audio, the next plugin of its `fallback` list is tried.
    pub async fn synthesize(
        &mut self,
        request: TtsRequest,
        out: mpsc::Sender<AudioChunk>,
    ) -> Result<(), CallError> {
        let (result, delivery) = stream_with_fallback!(
            self,
            AudioSink,
            studio_plugin_tts,
            call_synthesize,
            request,
            out
        );
        // A clause cut at its audio bound ends with what was delivered, whatever the plugin
        // returns after the refusal (unless it failed otherwise).
        match result {
            Err(CallError::Plugin {
                error: PluginError::Cancelled,
                ..
            }) if delivery.capped() && !self.seat.cancel.is_cancelled() => Ok(()),
            result => result,
        }
    }
}

/// LLM calls for one AI of one session.
pub struct LlmHandle {
    seat: Seat<LlmInstance>,
}
handle_common!(LlmHandle, LlmInstance);

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
    seat: Seat<PolicyInstance>,
}
handle_common!(PolicyHandle, PolicyInstance);

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
