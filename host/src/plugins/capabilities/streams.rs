//! The host's ends of the streams that long calls read from and write to.
//!
//! Input comes from a tokio channel the session feeds; output goes into tokio channels the session
//! reads. A sink returns `cancelled` once its receiver is gone or the call's [`CallCancel`] is set,
//! which is how barge-in and session end reach a plugin that is busy producing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use wasmtime::component::Resource;

use super::super::bindings::streams::{self, InputEvent};
use super::super::bindings::types::{AudioChunk, PluginError, Transcript};
use super::super::call::{CallCancel, SttInput};
use super::super::sandbox::PluginState;
use super::websocket::{WsConnection, WsStream};
use futures::StreamExt;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

/// The microphone as one STT call sees it.
pub struct AudioInput {
    pub(crate) sample_rate: u32,
    pub(crate) rx: mpsc::Receiver<SttInput>,
    pub(crate) ended: bool,
    pub(crate) cancel: CallCancel,
}

/// Where an STT call's transcripts go.
pub struct TranscriptSink {
    pub(crate) tx: mpsc::Sender<Transcript>,
    pub(crate) cancel: CallCancel,
}

/// Where an LLM call's text goes.
pub struct TokenSink {
    /// Set once anything was delivered: a failed call that delivered nothing may be retried elsewhere.
    pub(crate) delivered: Arc<AtomicBool>,
    pub(crate) tx: mpsc::Sender<String>,
    pub(crate) cancel: CallCancel,
}

/// Where a TTS call's audio goes.
pub struct AudioSink {
    /// Set once anything was delivered: a failed call that delivered nothing may be retried elsewhere.
    pub(crate) delivered: Arc<AtomicBool>,
    pub(crate) tx: mpsc::Sender<AudioChunk>,
    pub(crate) cancel: CallCancel,
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

impl streams::Host for PluginState {}

impl streams::HostAudioInput for PluginState {
    async fn sample_rate(&mut self, input: Resource<AudioInput>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&input)?.sample_rate)
    }

    async fn next(
        &mut self,
        input: Resource<AudioInput>,
        socket: Option<Resource<WsConnection>>,
        timeout_ms: Option<u32>,
    ) -> wasmtime::Result<Result<InputEvent, PluginError>> {
        let deadline =
            timeout_ms.map(|ms| tokio::time::Instant::now() + Duration::from_millis(u64::from(ms)));
        loop {
            // The table lends one entry at a time: borrow the socket's stream for the wait.
            let mut stream = match &socket {
                Some(socket) => match self.table.get_mut(socket)?.take_stream() {
                    Ok(stream) => Some(stream),
                    Err(error) => return Ok(Err(error)),
                },
                None => None,
            };
            let woke = wait_for_input(self.table.get_mut(&input)?, stream.as_mut(), deadline).await;
            if let (Some(socket), Some(stream)) = (&socket, stream) {
                self.table.get_mut(socket)?.stream = Some(stream);
            }
            let event = match woke {
                Woke::Input(received) => {
                    let input = self.table.get_mut(&input)?;
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
                    let Some(socket) = &socket else {
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

    async fn drop(&mut self, input: Resource<AudioInput>) -> wasmtime::Result<()> {
        self.table.delete(input)?;
        Ok(())
    }
}

impl streams::HostTranscriptSink for PluginState {
    async fn push(
        &mut self,
        sink: Resource<TranscriptSink>,
        transcript: Transcript,
    ) -> wasmtime::Result<Result<(), PluginError>> {
        let sink = self.table.get(&sink)?;
        Ok(deliver(&sink.tx, &sink.cancel, transcript).await)
    }

    async fn drop(&mut self, sink: Resource<TranscriptSink>) -> wasmtime::Result<()> {
        self.table.delete(sink)?;
        Ok(())
    }
}

impl streams::HostTokenSink for PluginState {
    async fn push(
        &mut self,
        sink: Resource<TokenSink>,
        text: String,
    ) -> wasmtime::Result<Result<(), PluginError>> {
        let sink = self.table.get(&sink)?;
        let result = deliver(&sink.tx, &sink.cancel, text).await;
        if result.is_ok() {
            sink.delivered.store(true, Ordering::Relaxed);
        }
        Ok(result)
    }

    async fn drop(&mut self, sink: Resource<TokenSink>) -> wasmtime::Result<()> {
        self.table.delete(sink)?;
        Ok(())
    }
}

impl streams::HostAudioSink for PluginState {
    async fn push(
        &mut self,
        sink: Resource<AudioSink>,
        chunk: AudioChunk,
    ) -> wasmtime::Result<Result<(), PluginError>> {
        let sink = self.table.get(&sink)?;
        let result = deliver(&sink.tx, &sink.cancel, chunk).await;
        if result.is_ok() {
            sink.delivered.store(true, Ordering::Relaxed);
        }
        Ok(result)
    }

    async fn drop(&mut self, sink: Resource<AudioSink>) -> wasmtime::Result<()> {
        self.table.delete(sink)?;
        Ok(())
    }
}
