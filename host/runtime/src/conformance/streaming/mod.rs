//! Streaming and cancellation, per role, through the same call handles a studio uses: STT hears a
//! synthetic voice in 20 ms frames and must answer with well-formed transcripts, TTS and LLM must
//! stream and stop when cancelled mid-stream, a policy must decide a few canned floor situations.

mod llm;
mod policy;
mod stt;
mod tts;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::CallRecord;
use super::report::Check;
use crate::cancel::CallCancel;
use crate::error::CallError;
use crate::host::PluginHost;
use crate::manifest::PluginKind;
use crate::wit;

/// How long a cancelled call may take to return.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for the first piece of a stream before cancelling anyway.
const FIRST_PIECE_WAIT: Duration = Duration::from_secs(30);

/// The streaming and cancellation checks of `kind`; every call made goes into `records`.
pub(crate) async fn check(
    host: &Arc<PluginHost>,
    kind: PluginKind,
    model: &str,
    records: &mut Vec<CallRecord>,
) -> Vec<Check> {
    match kind {
        PluginKind::Stt => stt::check(host, records).await,
        PluginKind::Tts => tts::check(host, records).await,
        PluginKind::Llm => llm::check(host, model, records).await,
        PluginKind::Policy => policy::check(host, records).await,
    }
}

/// A failed call as a streaming check: a provider the checker cannot reach skips it, anything the
/// host stopped fails it.
pub(super) fn failed_call(name: &str, error: &CallError) -> Check {
    match error {
        CallError::Plugin { .. } | CallError::Denied { .. } => Check::skipped(
            name,
            format!(
                "the provider call failed, so streaming was not exercised: {error} (give it what it needs with --config, --allow-host, --allow-exec, --secret)"
            ),
        ),
        _ => Check::fail(name, error.to_string()),
    }
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(super) async fn collect<T>(mut rx: mpsc::Receiver<T>) -> Vec<T> {
    let mut all = Vec::new();
    while let Some(item) = rx.recv().await {
        all.push(item);
    }
    all
}

/// How a cancelled call ended.
pub(super) fn cancellation(
    name: &str,
    ended: Option<(Result<(), CallError>, Instant)>,
    cancelled_at: Instant,
) -> (Check, Option<Result<(), CallError>>) {
    match ended {
        None => (
            Check::fail(
                name,
                format!(
                    "still running {} ms after it was cancelled; return `cancelled` once a sink or the input says so",
                    CANCEL_GRACE.as_millis()
                ),
            ),
            None,
        ),
        Some((result, at)) => {
            let after = ms(at.saturating_duration_since(cancelled_at));
            let how = match &result {
                Ok(()) => "returned normally".to_string(),
                Err(CallError::Plugin {
                    error: wit::PluginError::Cancelled,
                    ..
                }) => "returned cancelled".to_string(),
                Err(e) => format!("ended with an error: {e}"),
            };
            let check = match &result {
                Err(e) if e.is_fault() => {
                    Check::fail(name, format!("cancelled mid-stream, it {how}"))
                }
                _ => Check::pass(
                    name,
                    format!("cancelled mid-stream, it {how} {after:.0} ms later"),
                ),
            };
            (check.figure("stop_after_cancel_ms", after), Some(result))
        }
    }
}

/// Waits up to [`CANCEL_GRACE`] for `call` to end once `cancel` is set.
pub(super) async fn cancel_and_wait<F>(
    call: F,
    cancel: &CallCancel,
) -> (Option<(Result<(), CallError>, Instant)>, Instant)
where
    F: std::future::Future<Output = (Result<(), CallError>, Instant)>,
{
    cancel.cancel();
    let at = Instant::now();
    (tokio::time::timeout(CANCEL_GRACE, call).await.ok(), at)
}

/// Runs `call` until its first piece arrives on `rx`, cancels it, and judges how it stopped.
pub(super) async fn stream_then_cancel<T, F>(
    name: &str,
    call: F,
    rx: &mut mpsc::Receiver<T>,
    cancel: &CallCancel,
) -> (Check, Option<Result<(), CallError>>)
where
    F: std::future::Future<Output = (Result<(), CallError>, Instant)>,
{
    tokio::pin!(call);
    let first = tokio::select! {
        ended = &mut call => Err(ended),
        piece = tokio::time::timeout(FIRST_PIECE_WAIT, rx.recv()) => Ok(piece),
    };
    match first {
        Err((result, _)) => {
            let check = match &result {
                Err(e) => failed_call(name, e),
                Ok(()) => Check::skipped(
                    name,
                    "the call ended before its first piece could be cancelled",
                ),
            };
            (check, Some(result))
        }
        Ok(Err(_)) | Ok(Ok(None)) => {
            let (ended, at) = cancel_and_wait(&mut call, cancel).await;
            let (check, result) = cancellation(name, ended, at);
            let check = if check.outcome == super::Outcome::Pass {
                Check::skipped(
                    name,
                    format!(
                        "nothing was streamed within {} s, so nothing was cancelled mid-stream",
                        FIRST_PIECE_WAIT.as_secs()
                    ),
                )
            } else {
                check
            };
            (check, result)
        }
        Ok(Ok(Some(_))) => {
            let (ended, at) = cancel_and_wait(&mut call, cancel).await;
            // Anything it managed to push after the cancel would be a host bug; drain it.
            while rx.try_recv().is_ok() {}
            cancellation(name, ended, at)
        }
    }
}
