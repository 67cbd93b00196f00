//! The host's ends of the streams that long calls read from and write to.
//!
//! Input comes from a tokio channel the session feeds ([`SttInput`]); output goes into tokio
//! channels the session reads. A sink returns `cancelled` once its receiver is gone or the call's [`CallCancel`] is set,
//! which is how barge-in and session end reach a plugin that is busy producing.
//!
//! The streams also keep a call within its budget: audio read or pushed and text pushed credit
//! the guest-CPU budget (see `cpu_meter::CpuMeter`), an STT call's visits to its input feed its idle
//! deadline ([`Liveness`]), and an LLM reply is capped at the request's `max_tokens` pieces and
//! [`MAX_REPLY_CHARS`] characters: pushes beyond are refused with `cancelled`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use wasmtime::component::Resource;

use super::super::bindings::streams::{self, InputEvent};
use super::super::bindings::types::{AudioChunk, PluginError, Transcript};
use super::super::cancel::CallCancel;
use super::super::wit::{LlmRequest, TtsRequest};
use super::PluginView;
use super::websocket::{WsConnection, WsStream};
use futures::StreamExt;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

/// What the session feeds an STT call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SttInput {
    /// Microphone samples (mono s16 at the handle's sample rate).
    Audio(Vec<i16>),
    /// The host's VAD heard speech begin.
    SpeechStarted,
    /// The host's VAD heard speech end.
    SpeechEnded,
    /// The stream ended; the plugin flushes and returns. Dropping the sender means the same.
    End,
}

/// Most audio of one TTS clause the host accepts, in ms: the pacer's bound on one voice's queue.
/// The studio takes audio as it plays and a call's deadline leaves that wait out, so without a
/// bound a plugin that streams without end would keep its voice talking for ever; beyond it,
/// pushes are refused and the clause ends there.
pub(crate) const MAX_CLAUSE_AUDIO_MS: u64 = 180_000;
/// Most characters of one LLM reply the host accepts, whatever `max_tokens` says: some twenty
/// times a 300-token line. Beyond, pushes are refused and the line ends there.
pub(crate) const MAX_REPLY_CHARS: usize = 16_000;
/// Characters per token the host allows a reply on average before it treats `max_tokens` as
/// passed: English text runs about 4, so a reply the model really kept within `max_tokens` is
/// never cut, while a plugin that ignores the bound is stopped near it.
pub(crate) const MAX_CHARS_PER_TOKEN: usize = 8;

/// When an STT call last showed it is alive (waiting in `audio-input.next`, back from it, or
/// pushing a transcript), for its idle deadline. Shared with the watchdog of the call.
#[derive(Debug)]
pub(crate) struct Liveness {
    origin: Instant,
    /// Milliseconds from `origin` to the last sign of life.
    last_ms: AtomicU64,
    /// Whether the plugin is waiting inside `audio-input.next` (never idle then).
    waiting: AtomicBool,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
            waiting: AtomicBool::new(false),
        }
    }
}

impl Liveness {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The plugin showed a sign of life.
    pub(crate) fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn set_waiting(&self, waiting: bool) {
        self.touch();
        self.waiting.store(waiting, Ordering::Relaxed);
    }

    /// How long the plugin has gone without a sign of life; zero while it waits for input.
    pub(crate) fn idle(&self) -> Duration {
        if self.waiting.load(Ordering::Relaxed) {
            return Duration::ZERO;
        }
        let last = self.last_ms.load(Ordering::Relaxed);
        Duration::from_millis(self.now_ms().saturating_sub(last))
    }
}

/// What a streaming call's sink delivered, read by the handle once the call is over.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    /// Set once anything was delivered: a failed call that delivered nothing may be retried elsewhere.
    delivered: AtomicBool,
    /// Non-empty pieces of text delivered (LLM).
    pieces: AtomicU32,
    /// Set when a push was refused for passing `max_tokens` or [`MAX_REPLY_CHARS`] (LLM), or
    /// [`MAX_CLAUSE_AUDIO_MS`] (TTS).
    capped: AtomicBool,
    /// Time pushes spent waiting for the studio to take what was pushed (done, and the start
    /// of a wait going on): the studio paces TTS audio to playback, and a call's deadline does
    /// not count the time the studio held it back.
    held: std::sync::Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    total: std::time::Duration,
    since: Option<std::time::Instant>,
}

impl Delivery {
    /// Whether anything was delivered.
    pub(crate) fn delivered(&self) -> bool {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Whether the reply was cut at its bound.
    pub(crate) fn capped(&self) -> bool {
        self.capped.load(Ordering::Relaxed)
    }

    /// Non-empty pieces of text delivered.
    pub(crate) fn pieces(&self) -> u32 {
        self.pieces.load(Ordering::Relaxed)
    }

    /// How long pushes have waited for the studio so far, the wait going on included.
    pub(crate) fn held_back(&self) -> std::time::Duration {
        let held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.total
            + held
                .since
                .map_or(std::time::Duration::ZERO, |t| t.elapsed())
    }

    /// Sends `item` like [`deliver`]; a wait for room counts as held back.
    async fn deliver<T>(
        &self,
        tx: &mpsc::Sender<T>,
        cancel: &CallCancel,
        item: T,
    ) -> Result<(), PluginError> {
        if cancel.is_cancelled() {
            return Err(PluginError::Cancelled);
        }
        // The usual case: room at once, no clock read and no lock.
        let item = match tx.try_send(item) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(PluginError::Cancelled),
            Err(mpsc::error::TrySendError::Full(item)) => item,
        };
        let lock = || {
            self.held
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        lock().since = Some(std::time::Instant::now());
        let result = deliver(tx, cancel, item).await;
        let mut held = lock();
        if let Some(since) = held.since.take() {
            held.total += since.elapsed();
        }
        result
    }
}

/// The microphone as one STT call sees it.
pub struct AudioInput {
    pub(crate) sample_rate: u32,
    pub(crate) rx: mpsc::Receiver<SttInput>,
    pub(crate) ended: bool,
    pub(crate) cancel: CallCancel,
    /// Signs of life for the call's idle deadline.
    pub(crate) liveness: Arc<Liveness>,
}

/// Where an STT call's transcripts go.
pub struct TranscriptSink {
    pub(crate) tx: mpsc::Sender<Transcript>,
    pub(crate) cancel: CallCancel,
    /// Signs of life for the call's idle deadline.
    pub(crate) liveness: Arc<Liveness>,
}

/// Where an LLM call's text goes.
pub struct TokenSink {
    pub(crate) delivery: Arc<Delivery>,
    pub(crate) tx: mpsc::Sender<String>,
    pub(crate) cancel: CallCancel,
    /// Pieces the reply may have: the request's `max_tokens` (0: no bound but the characters).
    max_pieces: u32,
    /// Characters the reply may have.
    max_chars: usize,
    /// Characters delivered so far.
    chars: usize,
}

impl TokenSink {
    /// The sink of one `complete` call for `request`.
    pub(crate) fn for_call(
        delivery: Arc<Delivery>,
        tx: mpsc::Sender<String>,
        cancel: CallCancel,
        request: &LlmRequest,
    ) -> TokenSink {
        let by_tokens = usize::try_from(request.max_tokens)
            .unwrap_or(usize::MAX)
            .saturating_mul(MAX_CHARS_PER_TOKEN);
        TokenSink {
            delivery,
            tx,
            cancel,
            max_pieces: request.max_tokens,
            max_chars: match request.max_tokens {
                0 => MAX_REPLY_CHARS,
                _ => by_tokens.min(MAX_REPLY_CHARS),
            },
            chars: 0,
        }
    }

    /// Whether `text` still fits the reply's bounds.
    fn fits(&self, text: &str) -> bool {
        let pieces_ok = self.max_pieces == 0 || self.delivery.pieces() < self.max_pieces;
        pieces_ok && self.chars.saturating_add(text.len()) <= self.max_chars
    }
}

/// Where a TTS call's audio goes.
pub struct AudioSink {
    pub(crate) delivery: Arc<Delivery>,
    pub(crate) tx: mpsc::Sender<AudioChunk>,
    pub(crate) cancel: CallCancel,
    /// Audio pushed so far, in microseconds.
    pushed_us: u64,
}

impl AudioSink {
    /// The sink of one `synthesize` call.
    pub(crate) fn for_call(
        delivery: Arc<Delivery>,
        tx: mpsc::Sender<AudioChunk>,
        cancel: CallCancel,
        _request: &TtsRequest,
    ) -> AudioSink {
        AudioSink {
            delivery,
            tx,
            cancel,
            pushed_us: 0,
        }
    }
}

/// What ended one wait of `audio-input.next`.
enum Woke {
    /// Something from the session (None: the session dropped its sender).
    Input(Option<SttInput>),
    /// The stream had ended before, or the call was cancelled.
    Ended,
    /// A frame (or the end) from the watched socket.
    Socket(Option<Result<WsMessage, tungstenite::Error>>),
    /// The plugin's timeout passed.
    Timeout,
}

/// Waits for whichever comes first: input (queued input first, so audio never waits behind a
/// socket), a frame on `socket`, the deadline, or the call's cancellation.
async fn wait_for_input(
    input: &mut AudioInput,
    socket: Option<&mut WsStream>,
    deadline: Option<tokio::time::Instant>,
) -> Woke {
    if input.ended || input.cancel.is_cancelled() {
        input.ended = true;
        return Woke::Ended;
    }
    // Fast path: a frame that is already queued needs no timer and no select.
    match input.rx.try_recv() {
        Ok(item) => return Woke::Input(Some(item)),
        Err(mpsc::error::TryRecvError::Disconnected) => return Woke::Input(None),
        Err(mpsc::error::TryRecvError::Empty) => {}
    }
    let cancel = input.cancel.clone();
    let socket_frame = async {
        match socket {
            Some(stream) => stream.next().await,
            None => std::future::pending().await,
        }
    };
    let timer = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        item = input.rx.recv() => Woke::Input(item),
        () = cancel.cancelled() => {
            input.ended = true;
            Woke::Ended
        }
        frame = socket_frame => Woke::Socket(frame),
        () = timer => Woke::Timeout,
    }
}

/// Sends `item`, waiting for room, unless the call is cancelled or the receiver is gone.
async fn deliver<T>(tx: &mpsc::Sender<T>, cancel: &CallCancel, item: T) -> Result<(), PluginError> {
    if cancel.is_cancelled() {
        return Err(PluginError::Cancelled);
    }
    tokio::select! {
        sent = tx.send(item) => sent.map_err(|_| PluginError::Cancelled),
        () = cancel.cancelled() => Err(PluginError::Cancelled),
    }
}

impl streams::Host for PluginView<'_> {}

impl streams::HostAudioInput for PluginView<'_> {
    async fn sample_rate(&mut self, input: Resource<AudioInput>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&input)?.sample_rate)
    }

    async fn next(
        &mut self,
        input: Resource<AudioInput>,
        socket: Option<Resource<WsConnection>>,
        timeout_ms: Option<u32>,
    ) -> wasmtime::Result<Result<InputEvent, PluginError>> {
        // A plugin's own timeout is cut to the idle deadline: it gets `timeout` back at least
        // that often, so its keep-alives and timers run whatever it asked for.
        let idle_ms = self.budget().deadlines.stt_idle_ms;
        let deadline = timeout_ms.map(|ms| {
            tokio::time::Instant::now() + Duration::from_millis(u64::from(ms).min(idle_ms))
        });
        let liveness = self.table.get(&input)?.liveness.clone();
        liveness.set_waiting(true);
        let event = self.next_event(&input, socket.as_ref(), deadline).await;
        liveness.set_waiting(false);
        if let Ok(Ok(InputEvent::Audio(samples))) = &event {
            let rate = self.table.get(&input)?.sample_rate;
            let credit = self.budget().audio_credit(samples.len(), rate);
            self.credit_cpu(credit);
        }
        event
    }

    async fn drop(&mut self, input: Resource<AudioInput>) -> wasmtime::Result<()> {
        self.table.delete(input)?;
        Ok(())
    }
}

impl PluginView<'_> {
    /// The body of `audio-input.next`: waits for the next event for the plugin.
    async fn next_event(
        &mut self,
        input: &Resource<AudioInput>,
        socket: Option<&Resource<WsConnection>>,
        deadline: Option<tokio::time::Instant>,
    ) -> wasmtime::Result<Result<InputEvent, PluginError>> {
        loop {
            // The table lends one entry at a time: borrow the socket's stream for the wait.
            let mut stream = match &socket {
                Some(socket) => match self.table.get_mut(socket)?.take_stream() {
                    Ok(stream) => Some(stream),
                    Err(error) => return Ok(Err(error)),
                },
                None => None,
            };
            let woke = wait_for_input(self.table.get_mut(input)?, stream.as_mut(), deadline).await;
            if let (Some(socket), Some(stream)) = (socket, stream) {
                self.table.get_mut(socket)?.stream = Some(stream);
            }
            let event = match woke {
                Woke::Input(received) => {
                    let input = self.table.get_mut(input)?;
                    match received {
                        Some(SttInput::Audio(samples)) => InputEvent::Audio(samples),
                        Some(SttInput::SpeechStarted) => InputEvent::SpeechStarted,
                        Some(SttInput::SpeechEnded) => InputEvent::SpeechEnded,
                        Some(SttInput::End) | None => {
                            input.ended = true;
                            InputEvent::End
                        }
                    }
                }
                Woke::Ended => InputEvent::End,
                Woke::Timeout => InputEvent::Timeout,
                Woke::Socket(frame) => {
                    let Some(socket) = socket else {
                        continue;
                    };
                    match self.table.get_mut(socket)?.deliver(frame) {
                        Some(Ok(message)) => InputEvent::Socket(message),
                        Some(Err(error)) => return Ok(Err(error)),
                        // A ping or pong: keep waiting.
                        None => continue,
                    }
                }
            };
            return Ok(Ok(event));
        }
    }
}

impl streams::HostTranscriptSink for PluginView<'_> {
    async fn push(
        &mut self,
        sink: Resource<TranscriptSink>,
        transcript: Transcript,
    ) -> wasmtime::Result<Result<(), PluginError>> {
        let sink = self.table.get(&sink)?;
        sink.liveness.touch();
        let result = deliver(&sink.tx, &sink.cancel, transcript).await;
        sink.liveness.touch();
        Ok(result)
    }

    async fn drop(&mut self, sink: Resource<TranscriptSink>) -> wasmtime::Result<()> {
        self.table.delete(sink)?;
        Ok(())
    }
}

impl streams::HostTokenSink for PluginView<'_> {
    async fn push(
        &mut self,
        sink: Resource<TokenSink>,
        text: String,
    ) -> wasmtime::Result<Result<(), PluginError>> {
        let sink = self.table.get_mut(&sink)?;
        // Once the bound is passed the line has ended: later pushes are refused too.
        if sink.delivery.capped() || !sink.fits(&text) {
            if !sink.delivery.capped.swap(true, Ordering::Relaxed) {
                tracing::info!(
                    plugin = self.ctx.grant.name(),
                    pieces = sink.delivery.pieces(),
                    chars = sink.chars,
                    "LLM reply reached its bound (max_tokens pieces or characters); the rest is refused"
                );
            }
            return Ok(Err(PluginError::Cancelled));
        }
        sink.chars += text.len();
        let piece = !text.is_empty();
        let result = sink.delivery.deliver(&sink.tx, &sink.cancel, text).await;
        if result.is_ok() {
            sink.delivery.delivered.store(true, Ordering::Relaxed);
            if piece {
                sink.delivery.pieces.fetch_add(1, Ordering::Relaxed);
            }
        }
        if piece {
            let credit = self.budget().event_credit();
            self.credit_cpu(credit);
        }
        Ok(result)
    }

    async fn drop(&mut self, sink: Resource<TokenSink>) -> wasmtime::Result<()> {
        self.table.delete(sink)?;
        Ok(())
    }
}

impl streams::HostAudioSink for PluginView<'_> {
    async fn push(
        &mut self,
        sink: Resource<AudioSink>,
        chunk: AudioChunk,
    ) -> wasmtime::Result<Result<(), PluginError>> {
        let credit = self
            .budget()
            .audio_credit(chunk.samples.len(), chunk.sample_rate);
        let sink = self.table.get_mut(&sink)?;
        let chunk_us = (chunk.samples.len() as u64 * 1_000_000)
            .checked_div(u64::from(chunk.sample_rate))
            .unwrap_or(0);
        sink.pushed_us = sink.pushed_us.saturating_add(chunk_us);
        // Once the bound is passed the clause has ended: later pushes are refused too.
        if sink.delivery.capped() || sink.pushed_us > MAX_CLAUSE_AUDIO_MS * 1000 {
            if !sink.delivery.capped.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    plugin = self.ctx.grant.name(),
                    "TTS clause reached {MAX_CLAUSE_AUDIO_MS} ms of audio; the rest is refused"
                );
            }
            return Ok(Err(PluginError::Cancelled));
        }
        let result = sink.delivery.deliver(&sink.tx, &sink.cancel, chunk).await;
        if result.is_ok() {
            sink.delivery.delivered.store(true, Ordering::Relaxed);
        }
        self.credit_cpu(credit);
        Ok(result)
    }

    async fn drop(&mut self, sink: Resource<AudioSink>) -> wasmtime::Result<()> {
        self.table.delete(sink)?;
        Ok(())
    }
}
