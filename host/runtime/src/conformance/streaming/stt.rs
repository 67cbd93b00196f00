//! STT: a synthetic voice in 20 ms frames must come back as well-formed transcripts, and a
//! session-long call on open input must stop when cancelled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::super::report::Check;
use super::super::{CallRecord, audio};
use super::{cancel_and_wait, cancellation, collect, failed_call, ms};
use crate::call::STUDIO_SAMPLE_RATE;
use crate::capabilities::streams::SttInput;
use crate::host::PluginHost;
use crate::manifest::PluginKind;
use crate::wit;

pub(super) async fn check(host: &Arc<PluginHost>, records: &mut Vec<CallRecord>) -> Vec<Check> {
    let mut handle = host.stt();
    let request = || wit::SttRequest {
        speaker: wit::Speaker::You,
        language: "en-US".into(),
        key_terms: Vec::new(),
    };
    let samples = audio::utterance(STUDIO_SAMPLE_RATE);
    let frames: Vec<Vec<i16>> = samples.chunks(960).map(<[i16]>::to_vec).collect();
    let (in_tx, in_rx) = mpsc::channel(frames.len() + 3);
    // With the hints the studio's VAD gives (a recognizer may wait for the end of speech).
    let (started_ms, ended_ms) = audio::speech_hints_ms();
    for (i, frame) in frames.into_iter().enumerate() {
        let at_ms = u32::try_from(i * 20).unwrap_or(u32::MAX);
        // Capacity covers every frame and hint, so this never waits.
        if at_ms == started_ms {
            let _ = in_tx.try_send(SttInput::SpeechStarted);
        }
        if at_ms == ended_ms {
            let _ = in_tx.try_send(SttInput::SpeechEnded);
        }
        let _ = in_tx.try_send(SttInput::Audio(frame));
    }
    let _ = in_tx.try_send(SttInput::End);
    let (out_tx, out_rx) = mpsc::channel(1024);
    let started = Instant::now();
    let (result, transcripts) =
        tokio::join!(handle.transcribe(request(), in_rx, out_tx), collect(out_rx));
    let wall = started.elapsed();
    let streaming = match &result {
        Err(e) => failed_call("stt streaming", e),
        Ok(()) => judge_transcripts(&transcripts),
    }
    .figure("audio_ms", f64::from(audio::utterance_ms()))
    .figure("call_ms", ms(wall));
    records.push(CallRecord::new(
        "stt transcribe",
        PluginKind::Stt,
        result,
        wall,
        handle.last_call(),
    ));

    // A session-long call on a stream that does not end, cancelled (a session closing).
    let cancel = handle.canceller();
    let (in_tx, in_rx) = mpsc::channel(100);
    for _ in 0..50 {
        let _ = in_tx.try_send(SttInput::Audio(audio::voice(STUDIO_SAMPLE_RATE, 20)));
    }
    // Room for everything it could say about a second of audio: it never waits on the sink.
    let (out_tx, _out_rx) = mpsc::channel(1024);
    let started = Instant::now();
    let (cancelled, result) = {
        let call = async {
            let result = handle.transcribe(request(), in_rx, out_tx).await;
            (result, Instant::now())
        };
        tokio::pin!(call);
        // A second of audio is queued; it has a moment to start reading before the cancel.
        let early = tokio::select! {
            ended = &mut call => Some(ended),
            () = tokio::time::sleep(Duration::from_millis(300)) => None,
        };
        match early {
            Some((result, _)) => {
                let check = match &result {
                    Err(e) => failed_call("stt cancellation", e),
                    Ok(()) => Check::fail(
                        "stt cancellation",
                        "the call returned while its input was still open; an STT call lasts until the input ends or the host cancels it",
                    ),
                };
                (check, Some(result))
            }
            None => {
                let (ended, at) = cancel_and_wait(&mut call, &cancel).await;
                cancellation("stt cancellation", ended, at)
            }
        }
    };
    let wall = started.elapsed();
    if let Some(result) = result {
        records.push(CallRecord::new(
            "stt cancel",
            PluginKind::Stt,
            result,
            wall,
            handle.last_call(),
        ));
    }
    drop(in_tx);
    vec![streaming, cancelled]
}

/// Transcripts in the contract's form: times within the audio and in order, finals with text,
/// confidence in 0..1.
fn judge_transcripts(transcripts: &[wit::Transcript]) -> Check {
    let audio_ms = u64::from(audio::utterance_ms());
    let mut problems = Vec::new();
    for t in transcripts {
        if t.start_ms > t.end_ms {
            problems.push(format!(
                "{:?} starts at {} ms after it ends ({} ms)",
                t.text, t.start_ms, t.end_ms
            ));
        }
        // A recognizer may round to its own frames: a second of slack.
        if t.end_ms > audio_ms + 1_000 {
            problems.push(format!(
                "{:?} ends at {} ms, after the {audio_ms} ms of audio",
                t.text, t.end_ms
            ));
        }
        if let Some(c) = t.confidence
            && !(0.0..=1.0).contains(&c)
        {
            problems.push(format!("{:?} has confidence {c}, outside 0..1", t.text));
        }
        if t.kind == wit::TranscriptKind::Final && t.text.trim().is_empty() {
            problems
                .push("a final transcript has no text (send nothing when nothing was said)".into());
        }
    }
    let finals: Vec<&wit::Transcript> = transcripts
        .iter()
        .filter(|t| t.kind == wit::TranscriptKind::Final)
        .collect();
    let partials = transcripts.len() - finals.len();
    let check = if !problems.is_empty() {
        Check::fail("stt streaming", problems.join("; "))
    } else if finals.is_empty() {
        Check::warn(
            "stt streaming",
            format!(
                "{partials} partial and no final transcript for {audio_ms} ms of a synthetic voice; a recognizer may hear no words in it, but a final ends the human's turn"
            ),
        )
    } else {
        Check::pass(
            "stt streaming",
            format!(
                "{partials} partial and {} final transcripts, the first final {:?} ({}-{} ms)",
                finals.len(),
                finals[0].text,
                finals[0].start_ms,
                finals[0].end_ms
            ),
        )
    };
    check
        .figure("partials_count", partials as f64)
        .figure("finals_count", finals.len() as f64)
}
