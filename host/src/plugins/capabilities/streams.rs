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
use super::net::WsConnection;

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
        if socket.is_some() {
            return Ok(Err(PluginError::Unavailable(
                "websocket support is not built into this host yet".into(),
            )));
        }
        let input = self.table.get_mut(&input)?;
        if input.ended || input.cancel.is_cancelled() {
            input.ended = true;
            return Ok(Ok(InputEvent::End));
        }
        // Fast path: a frame that is already queued needs no timer and no select.
        let received = match input.rx.try_recv() {
            Ok(item) => Some(item),
            Err(mpsc::error::TryRecvError::Disconnected) => None,
            Err(mpsc::error::TryRecvError::Empty) => {
                let cancel = input.cancel.clone();
                let wait = async {
                    tokio::select! {
                        item = input.rx.recv() => item,
                        () = cancel.cancelled() => None,
                    }
                };
                match timeout_ms {
                    Some(ms) => {
                        match tokio::time::timeout(Duration::from_millis(u64::from(ms)), wait).await
                        {
                            Ok(item) => item,
                            Err(_) => return Ok(Ok(InputEvent::Timeout)),
                        }
                    }
                    None => wait.await,
                }
            }
        };
        let event = match received {
            Some(SttInput::Audio(samples)) => InputEvent::Audio(samples),
            Some(SttInput::SpeechStarted) => InputEvent::SpeechStarted,
            Some(SttInput::SpeechEnded) => InputEvent::SpeechEnded,
            Some(SttInput::End) | None => {
                input.ended = true;
                InputEvent::End
            }
        };
        Ok(Ok(event))
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
        sink.delivered.store(result.is_ok(), Ordering::Relaxed);
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
        sink.delivered.store(result.is_ok(), Ordering::Relaxed);
        Ok(result)
    }

    async fn drop(&mut self, sink: Resource<AudioSink>) -> wasmtime::Result<()> {
        self.table.delete(sink)?;
        Ok(())
    }
}
