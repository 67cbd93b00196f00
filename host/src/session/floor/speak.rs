//! One AI line as a task: LLM tokens -> speech (markup taken out) -> clauses -> TTS audio at the
//! studio rate, reported to the actor as notes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::note::Note;
use crate::audio::{Resampler, SAMPLE_RATE};
use crate::observe::timeline::Wait;
use crate::plugins::wit::{AudioChunk, LlmRequest, TtsRequest};
use crate::plugins::{LlmHandle, TtsHandle};
use crate::prompt::{ClauseSplitter, SpokenFilter};
use crate::speakers::Speaker;

/// How far the line's TTS audio may run ahead of what clients were sent. TTS providers (and the
/// mock) deliver faster than real time; taking a whole line at once kept every speaking studio's
/// line in memory (1.5 MiB a studio, most of the server's memory at density). Past this lead the
/// task stops taking audio, the TTS call waits in its push (the call's deadline does not count
/// that wait) and resumes as the audio plays. It also covers the next clause's first audio: that
/// TTS request leaves when the previous clause's call ends, this far ahead of its playback.
pub(super) const AHEAD_OF_PLAYBACK: Duration = Duration::from_millis(1500);
/// TTS chunks waiting between the plugin and the line's task.
const TTS_CHUNKS_WAITING: usize = 8;

/// How long to wait before taking more TTS audio, when `sent` samples (48 kHz) are more than
/// [`AHEAD_OF_PLAYBACK`] ahead of the `released` ones; `None` when more may come now.
fn ahead_wait(sent: u64, released: &AtomicU64) -> Option<Duration> {
    let lead = AHEAD_OF_PLAYBACK.as_millis() as u64 * u64::from(SAMPLE_RATE) / 1000;
    let ahead = sent.saturating_sub(released.load(Ordering::Relaxed));
    (ahead > lead).then(|| {
        let excess_us = (ahead - lead) * 1_000_000 / u64::from(SAMPLE_RATE);
        Duration::from_micros(excess_us).max(Duration::from_millis(20))
    })
}

/// Everything one AI line needs, moved into its task.
pub(super) struct LineJob {
    /// Who speaks.
    pub speaker: Speaker,
    /// The line's id (notes of a stopped line are recognised and dropped).
    pub line: u64,
    /// Samples of the line released to clients so far (the actor counts them).
    pub released: Arc<AtomicU64>,
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
        line,
        released,
        mut llm,
        mut tts,
        request,
        voice,
        language,
    } = job;
    // Each clause with the instant the splitter finished it.
    let (clause_tx, mut clause_rx) = mpsc::channel::<(String, Instant)>(32);
    let write = async {
        let (token_tx, mut token_rx) = mpsc::channel::<String>(256);
        let asked = Instant::now();
        let call = llm.complete(request, token_tx);
        tokio::pin!(call);
        let mut splitter = ClauseSplitter::new();
        // Markup a model imitates (an envelope, a studio note, an entity) is never spoken or
        // captioned; the recorded reply keeps it, as the model wrote it.
        let mut unmark = SpokenFilter::new();
        let mut reply = String::new();
        let mut first = true;
        let mut on_token = async |token: String, reply: &mut String, first: &mut bool| {
            if *first {
                *first = false;
                let _ = notes
                    .send(Note::LlmFirstToken {
                        speaker,
                        line,
                        wait: Wait::since(asked),
                    })
                    .await;
            }
            reply.push_str(&token);
            for clause in splitter.push(&unmark.push(&token)) {
                // The TTS side may have given up (it failed); the reply is still logged.
                let _ = clause_tx.send((clause, Instant::now())).await;
            }
            let _ = notes
                .send(Note::LlmToken {
                    speaker,
                    line,
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
        for clause in splitter.push(&unmark.finish()) {
            let _ = clause_tx.send((clause, Instant::now())).await;
        }
        if let Some(rest) = splitter.finish() {
            let _ = clause_tx.send((rest, Instant::now())).await;
        }
        drop(clause_tx);
        let _ = notes
            .send(Note::LlmDone {
                speaker,
                line,
                result: result.map(|_| reply),
                after: asked.elapsed(),
            })
            .await;
    };
    let say = async {
        let mut first_audio = true;
        let mut resampler: Option<Resampler> = None;
        let mut resampled = Vec::with_capacity(8192);
        // Samples of the line handed to the actor so far.
        let mut sent: u64 = 0;
        while let Some((clause, ready)) = clause_rx.recv().await {
            let _ = notes
                .send(Note::ClauseStart {
                    speaker,
                    line,
                    text: clause.clone(),
                    ready,
                })
                .await;
            let (audio_tx, mut audio_rx) = mpsc::channel::<AudioChunk>(TTS_CHUNKS_WAITING);
            let asked = Instant::now();
            let call = tts.synthesize(
                TtsRequest {
                    text: clause,
                    speaker: speaker.into(),
                    voice: voice.clone(),
                    language: language.clone(),
                },
                audio_tx,
            );
            tokio::pin!(call);
            let mut forward = async |chunk: AudioChunk, first_audio: &mut bool, sent: &mut u64| {
                let answered = Instant::now();
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
                let first = std::mem::take(first_audio).then_some(Wait {
                    sent: asked,
                    answered,
                });
                *sent += resampled.len() as u64;
                let _ = notes
                    .send(Note::Audio {
                        speaker,
                        line,
                        samples: resampled.clone(),
                        first,
                    })
                    .await;
            };
            let result = loop {
                let wait = ahead_wait(sent, &released);
                tokio::select! {
                    result = &mut call => break result,
                    Some(chunk) = audio_rx.recv(), if wait.is_none() => {
                        forward(chunk, &mut first_audio, &mut sent).await;
                    }
                    () = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {}
                }
            };
            while let Ok(chunk) = audio_rx.try_recv() {
                forward(chunk, &mut first_audio, &mut sent).await;
            }
            // The clause's tail is still inside the filter; it belongs to this clause.
            if let Some(r) = resampler.as_mut() {
                resampled.clear();
                r.flush(&mut resampled);
                r.reset();
                if !resampled.is_empty() {
                    sent += resampled.len() as u64;
                    let _ = notes
                        .send(Note::Audio {
                            speaker,
                            line,
                            samples: resampled.clone(),
                            first: None,
                        })
                        .await;
                }
            }
            let error = result.err();
            let failed = error.is_some();
            let _ = notes
                .send(Note::ClauseEnd {
                    speaker,
                    line,
                    error,
                })
                .await;
            if failed {
                // Later clauses would fail the same way; the line ends with what was spoken.
                return;
            }
        }
    };
    // `biased`: the writing half is polled first, so a clause it finishes is taken by the
    // speaking half in the same poll. Unbiased, `join!` starts from each half in turn, and a
    // clause sent after the speaking half's turn waited for the task to come round again, behind
    // every task queued on the worker (the tail of `first_clause_to_tts_request` at density).
    tokio::join!(biased; write, say);
    let _ = notes.send(Note::Produced { speaker, line }).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tts_audio_waits_only_once_it_is_past_its_lead_over_playback() {
        let released = AtomicU64::new(0);
        let lead = 48 * AHEAD_OF_PLAYBACK.as_millis() as u64;
        assert_eq!(ahead_wait(0, &released), None);
        assert_eq!(
            ahead_wait(lead, &released),
            None,
            "exactly the lead may wait to play"
        );
        // 480 samples past the lead at 48 kHz: 10 ms, rounded up to one frame of pacing.
        assert_eq!(
            ahead_wait(lead + 480, &released),
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            ahead_wait(lead + 48_000, &released),
            Some(Duration::from_secs(1))
        );
        // As the audio plays, the same amount sent is within the lead again.
        released.store(48_000, Ordering::Relaxed);
        assert_eq!(ahead_wait(lead + 48_000, &released), None);
    }
}
