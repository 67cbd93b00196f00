//! The tasks a studio spawns for the slow parts of a turn: the long-running STT call that
//! listens to the microphone, and one task per AI line (LLM tokens -> clauses -> TTS audio).
//! They report to the studio actor through its note channel and own no studio state, so a
//! barge-in only has to cancel their calls and abort them.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::audio::{Resampler, SAMPLE_RATE};
use crate::gateway::protocol::Speaker;
use crate::plugins::wit::{AudioChunk, LlmRequest, SttRequest, Transcript, TtsRequest};
use crate::plugins::{CallError, LlmHandle, SttHandle, SttInput, TtsHandle};
use crate::prompt::ClauseSplitter;

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

/// What the studio's tasks tell its actor.
#[derive(Debug)]
pub(super) enum Note {
    /// The STT plugin sent a transcript.
    Transcript(Transcript),
    /// The STT call failed (it is restarted after a backoff).
    SttFailed(CallError),
    /// The LLM sent its first token of a turn.
    LlmFirstToken {
        /// Whose turn.
        speaker: Speaker,
        /// Which turn.
        turn: u64,
        /// Request -> first token.
        after: Duration,
    },
    /// A piece of the LLM's reply.
    LlmToken {
        /// Whose turn.
        speaker: Speaker,
        /// Which turn.
        turn: u64,
        /// The text.
        text: String,
    },
    /// The LLM call ended.
    LlmDone {
        /// Whose turn.
        speaker: Speaker,
        /// Which turn.
        turn: u64,
        /// The whole reply, or why it failed.
        result: Result<String, CallError>,
        /// Request -> end.
        after: Duration,
    },
    /// A clause goes to TTS; its audio follows.
    ClauseStart {
        /// Whose turn.
        speaker: Speaker,
        /// Which turn.
        turn: u64,
        /// The clause.
        text: String,
    },
    /// 48 kHz audio of the current clause.
    Audio {
        /// Whose turn.
        speaker: Speaker,
        /// Which turn.
        turn: u64,
        /// The samples.
        samples: Vec<i16>,
        /// For the first audio of the turn: TTS request -> first audio.
        first_after: Option<Duration>,
    },
    /// TTS finished a clause (or failed on it).
    ClauseEnd {
        /// Whose turn.
        speaker: Speaker,
        /// Which turn.
        turn: u64,
        /// Why TTS failed, if it did.
        error: Option<CallError>,
    },
    /// The turn's task produced everything it will.
    Produced {
        /// Whose turn.
        speaker: Speaker,
        /// Which turn.
        turn: u64,
    },
    /// A timer the policy set fired.
    Timer(String),
    /// The gap after the previous AI's line is over: this line may play.
    GapOver {
        /// Whose line.
        speaker: Speaker,
        /// Its turn.
        turn: u64,
    },
    /// Thinking mode's time is up.
    ThinkingOver {
        /// Who was thinking.
        speaker: Speaker,
        /// Its turn.
        turn: u64,
    },
    /// An orb shown as `error` goes back to normal.
    OrbRecovers(Speaker),
    /// The recording's writer thread met a failure (full disk, unwritable folder).
    RecordingTrouble,
}

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
                    if notes.send(Note::Transcript(transcript)).await.is_err() {
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
            if notes.send(Note::Transcript(transcript)).await.is_err() {
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

/// Everything one AI line needs, moved into its task.
pub(super) struct LineJob {
    /// Who speaks.
    pub speaker: Speaker,
    /// The turn's id (notes of an aborted turn are recognised and dropped).
    pub turn: u64,
    /// The LLM handle of the speaker.
    pub llm: LlmHandle,
    /// A TTS handle for this line.
    pub tts: TtsHandle,
    /// The prompt.
    pub request: LlmRequest,
    /// The TTS voice from the settings (empty: the plugin's default for the speaker).
    pub voice: String,
    /// The conversation's language.
    pub language: String,
}

/// Streams one AI line: LLM tokens are cut into clauses as they come, and each clause goes to
/// TTS at once while the LLM keeps writing; the audio, resampled to 48 kHz, goes to the actor's
/// pacer as it arrives, so the next clause is synthesized while the previous one plays.
pub(super) async fn speak_line(job: LineJob, notes: mpsc::Sender<Note>) {
    let LineJob {
        speaker,
        turn,
        mut llm,
        mut tts,
        request,
        voice,
        language,
    } = job;
    let (clause_tx, mut clause_rx) = mpsc::channel::<String>(32);
    let write = async {
        let (token_tx, mut token_rx) = mpsc::channel::<String>(256);
        let asked = Instant::now();
        let call = llm.complete(request, token_tx);
        tokio::pin!(call);
        let mut splitter = ClauseSplitter::new();
        let mut reply = String::new();
        let mut first = true;
        let mut on_token = async |token: String, reply: &mut String, first: &mut bool| {
            if *first {
                *first = false;
                let _ = notes
                    .send(Note::LlmFirstToken {
                        speaker,
                        turn,
                        after: asked.elapsed(),
                    })
                    .await;
            }
            reply.push_str(&token);
            for clause in splitter.push(&token) {
                // The TTS side may have given up (it failed); the reply is still logged.
                let _ = clause_tx.send(clause).await;
            }
            let _ = notes
                .send(Note::LlmToken {
                    speaker,
                    turn,
                    text: token,
                })
                .await;
        };
        let result = loop {
            tokio::select! {
                result = &mut call => break result,
                Some(token) = token_rx.recv() => on_token(token, &mut reply, &mut first).await,
            }
        };
        while let Ok(token) = token_rx.try_recv() {
            on_token(token, &mut reply, &mut first).await;
        }
        if let Some(rest) = splitter.finish() {
            let _ = clause_tx.send(rest).await;
        }
        drop(clause_tx);
        let _ = notes
            .send(Note::LlmDone {
                speaker,
                turn,
                result: result.map(|_| reply),
                after: asked.elapsed(),
            })
            .await;
    };
    let say = async {
        let mut first_audio = true;
        let mut resampler: Option<Resampler> = None;
        let mut resampled = Vec::with_capacity(8192);
        while let Some(clause) = clause_rx.recv().await {
            let _ = notes
                .send(Note::ClauseStart {
                    speaker,
                    turn,
                    text: clause.clone(),
                })
                .await;
            let (audio_tx, mut audio_rx) = mpsc::channel::<AudioChunk>(64);
            let asked = Instant::now();
            let call = tts.synthesize(
                TtsRequest {
                    text: clause,
                    speaker: super::turn_loop::to_wit(speaker),
                    voice: voice.clone(),
                    language: language.clone(),
                },
                audio_tx,
            );
            tokio::pin!(call);
            let mut forward = async |chunk: AudioChunk, first_audio: &mut bool| {
                resampled.clear();
                let rate = chunk.sample_rate;
                if resampler.as_ref().is_none_or(|r| r.from_rate() != rate) {
                    resampler = match Resampler::new(rate, SAMPLE_RATE) {
                        Ok(r) => Some(r),
                        Err(error) => {
                            tracing::warn!(%error, rate, "TTS audio at a rate the studio cannot convert; dropped");
                            return;
                        }
                    };
                }
                if let Some(r) = resampler.as_mut() {
                    r.process(&chunk.samples, &mut resampled);
                }
                let first_after = std::mem::take(first_audio).then(|| asked.elapsed());
                let _ = notes
                    .send(Note::Audio {
                        speaker,
                        turn,
                        samples: resampled.clone(),
                        first_after,
                    })
                    .await;
            };
            let result = loop {
                tokio::select! {
                    result = &mut call => break result,
                    Some(chunk) = audio_rx.recv() => forward(chunk, &mut first_audio).await,
                }
            };
            while let Ok(chunk) = audio_rx.try_recv() {
                forward(chunk, &mut first_audio).await;
            }
            // The clause's tail is still inside the filter; it belongs to this clause.
            if let Some(r) = resampler.as_mut() {
                resampled.clear();
                r.flush(&mut resampled);
                r.reset();
                if !resampled.is_empty() {
                    let _ = notes
                        .send(Note::Audio {
                            speaker,
                            turn,
                            samples: resampled.clone(),
                            first_after: None,
                        })
                        .await;
                }
            }
            let error = result.err();
            let failed = error.is_some();
            let _ = notes
                .send(Note::ClauseEnd {
                    speaker,
                    turn,
                    error,
                })
                .await;
            if failed {
                // Later clauses would fail the same way; the line ends with what was spoken.
                return;
            }
        }
    };
    tokio::join!(write, say);
    let _ = notes.send(Note::Produced { speaker, turn }).await;
}
