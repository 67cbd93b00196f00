//! The long-running STT call that listens to the microphone for the whole session.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::note::Note;
use crate::plugins::wit::{SttRequest, Transcript};
use crate::plugins::{CallError, SttHandle, SttInput};

/// How many microphone frames may wait for the STT plugin (30 s: a per-utterance recognizer
/// blocks while its request, with retries, is in flight); beyond that it is not keeping up and
/// frames are dropped rather than queued without bound.
pub(super) const STT_INPUT_QUEUE: usize = 1500;
/// First wait before restarting an STT call that ended or failed; doubles up to the maximum.
const STT_RESTART_FIRST: Duration = Duration::from_millis(200);
/// Longest wait between STT restarts.
const STT_RESTART_MAX: Duration = Duration::from_secs(5);
/// An STT call that ran this long was healthy: the next restart starts from the first wait again.
const STT_HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// Runs the STT plugin over the microphone for the whole studio session: one long `transcribe`
/// call fed from `frames`, restarted with backoff when it ends or fails, until `frames` closes.
pub(super) async fn listen(
    mut stt: SttHandle,
    request: SttRequest,
    mut frames: mpsc::Receiver<SttInput>,
    notes: mpsc::Sender<Note>,
) {
    let mut backoff = STT_RESTART_FIRST;
    let mut closed = false;
    let mut restarted_on_revoke = false;
    while !closed {
        let (input_tx, input_rx) = mpsc::channel(STT_INPUT_QUEUE);
        let (text_tx, mut text_rx) = mpsc::channel::<Transcript>(64);
        let began = Instant::now();
        let call = stt.transcribe(request.clone(), input_rx, text_tx);
        tokio::pin!(call);
        let mut input = Some(input_tx);
        let result = loop {
            tokio::select! {
                result = &mut call => break result,
                Some(transcript) = text_rx.recv() => {
                    if notes.send(Note::Transcript(transcript, Instant::now())).await.is_err() {
                        return;
                    }
                }
                frame = frames.recv(), if input.is_some() => match frame {
                    // The plugin reads in this same task, so a blocking send could never be
                    // served: a full queue drops the frame instead.
                    Some(frame) => {
                        if let Some(tx) = &input
                            && tx.try_send(frame).is_err()
                        {
                            tracing::warn!("STT plugin is not keeping up; a microphone frame was dropped");
                            crate::metrics::stt_frame_dropped();
                        }
                    }
                    // The studio ended: closing the input lets the plugin flush its last final.
                    None => {
                        closed = true;
                        input = None;
                    }
                },
            }
        };
        while let Ok(transcript) = text_rx.try_recv() {
            if notes
                .send(Note::Transcript(transcript, Instant::now()))
                .await
                .is_err()
            {
                return;
            }
        }
        if closed {
            return;
        }
        if began.elapsed() >= STT_HEALTHY_AFTER {
            backoff = STT_RESTART_FIRST;
        }
        if !matches!(result, Err(CallError::GrantRevoked { .. })) {
            restarted_on_revoke = false;
        }
        match result {
            Ok(()) => tracing::info!(?backoff, "STT call ended; restarting it"),
            Err(CallError::GrantRevoked { plugin }) => {
                // plugins.toml took something from the plugin's grant: not a failure. Restart
                // at once on the new grant (once; a second revocation in a row waits the
                // backoff); frames queued in `frames` meanwhile are kept.
                tracing::info!(
                    plugin,
                    "STT grant revoked by a plugins.toml reload; restarting STT on the new grant"
                );
                if !std::mem::replace(&mut restarted_on_revoke, true) {
                    continue;
                }
            }
            Err(error) => {
                tracing::warn!(%error, ?backoff, "STT call failed; restarting it");
                if notes.send(Note::SttFailed(error)).await.is_err() {
                    return;
                }
            }
        }
        // Frames that arrive while we wait are not lost: they queue in `frames`.
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(STT_RESTART_MAX);
    }
}
