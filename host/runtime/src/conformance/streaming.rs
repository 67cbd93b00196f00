//! Streaming and cancellation, per role, through the same call handles a studio uses: STT hears a
//! synthetic voice in 20 ms frames and must answer with well-formed transcripts, TTS and LLM must
//! stream and stop when cancelled mid-stream, a policy must decide a few canned floor situations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::report::Check;
use super::{CallRecord, audio};
use crate::call::{LlmHandle, STUDIO_SAMPLE_RATE};
use crate::cancel::CallCancel;
use crate::capabilities::streams::SttInput;
use crate::error::CallError;
use crate::host::{LlmRole, PluginHost};
use crate::manifest::{PluginKind, RoleSlot};
use crate::wit;

/// How long a cancelled call may take to return.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for the first piece of a stream before cancelling anyway.
const FIRST_PIECE_WAIT: Duration = Duration::from_secs(30);

/// The LLM slot the component fills in the checker.
struct Checked;

impl LlmRole for Checked {
    fn role_slot(self) -> RoleSlot {
        RoleSlot::Claude
    }
}

/// The streaming and cancellation checks of `kind`; every call made goes into `records`.
pub(crate) async fn check(
    host: &Arc<PluginHost>,
    kind: PluginKind,
    model: &str,
    records: &mut Vec<CallRecord>,
) -> Vec<Check> {
    match kind {
        PluginKind::Stt => stt(host, records).await,
        PluginKind::Tts => tts(host, records).await,
        PluginKind::Llm => llm(host, model, records).await,
        PluginKind::Policy => policy(host, records).await,
    }
}

/// A failed call as a streaming check: a provider the checker cannot reach skips it, anything the
/// host stopped fails it.
fn failed_call(name: &str, error: &CallError) -> Check {
    match error {
        CallError::Plugin { .. } | CallError::Denied { .. } => Check::skipped(
            name,
            format!(
                "the provider call failed, so streaming was not exercised: {error} (give it what it needs with --config, --allow-host, --secret)"
            ),
        ),
        _ => Check::fail(name, error.to_string()),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn collect<T>(mut rx: mpsc::Receiver<T>) -> Vec<T> {
    let mut all = Vec::new();
    while let Some(item) = rx.recv().await {
        all.push(item);
    }
    all
}

/// How a cancelled call ended.
fn cancellation(
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
async fn cancel_and_wait<F>(
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

async fn stt(host: &Arc<PluginHost>, records: &mut Vec<CallRecord>) -> Vec<Check> {
    let mut handle = host.stt();
    let request = || wit::SttRequest {
        speaker: wit::Speaker::You,
        language: "en-US".into(),
        key_terms: Vec::new(),
    };
    let samples = audio::utterance(STUDIO_SAMPLE_RATE);
    let frames: Vec<Vec<i16>> = samples.chunks(960).map(<[i16]>::to_vec).collect();
    let (in_tx, in_rx) = mpsc::channel(frames.len() + 1);
    for frame in frames {
        // Capacity covers every frame, so this never waits.
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

async fn tts(host: &Arc<PluginHost>, records: &mut Vec<CallRecord>) -> Vec<Check> {
    let mut handle = host.tts();
    let request = |text: &str| wit::TtsRequest {
        text: text.into(),
        speaker: wit::Speaker::Claude,
        voice: String::new(),
        language: "en-US".into(),
    };
    let (tx, rx) = mpsc::channel(1024);
    let started = Instant::now();
    let (result, chunks) = tokio::join!(
        handle.synthesize(request("This is a check of a text to speech plugin."), tx),
        collect(rx)
    );
    let wall = started.elapsed();
    let streaming = match &result {
        Err(e) => failed_call("tts streaming", e),
        Ok(()) => judge_audio(&chunks),
    }
    .figure("call_ms", ms(wall));
    records.push(CallRecord::new(
        "tts synthesize",
        PluginKind::Tts,
        result,
        wall,
        handle.last_call(),
    ));

    // A long text, cancelled once its first audio arrived; the one-chunk channel holds the
    // plugin in its next push until then.
    let long = "This sentence is long enough to take a while to speak. ".repeat(20);
    let cancel = handle.canceller();
    let (tx, mut rx) = mpsc::channel(1);
    let started = Instant::now();
    let call = async {
        let result = handle.synthesize(request(&long), tx).await;
        (result, Instant::now())
    };
    let (check, record) = stream_then_cancel("tts cancellation", call, &mut rx, &cancel).await;
    if let Some(result) = record {
        records.push(CallRecord::new(
            "tts cancel",
            PluginKind::Tts,
            result,
            started.elapsed(),
            handle.last_call(),
        ));
    }
    vec![streaming, check]
}

/// Runs `call` until its first piece arrives on `rx`, cancels it, and judges how it stopped.
async fn stream_then_cancel<T, F>(
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

/// Audio chunks in the contract's form: one plausible rate, samples in every chunk, not silent.
fn judge_audio(chunks: &[wit::AudioChunk]) -> Check {
    if chunks.is_empty() {
        return Check::fail(
            "tts streaming",
            "the call succeeded without pushing any audio",
        );
    }
    let rate = chunks[0].sample_rate;
    let mut problems = Vec::new();
    if !(8_000..=48_000).contains(&rate) {
        problems.push(format!("sample rate {rate} Hz is outside 8000..48000"));
    }
    if chunks.iter().any(|c| c.sample_rate != rate) {
        problems.push("the sample rate changes between chunks".to_string());
    }
    let empty = chunks.iter().filter(|c| c.samples.is_empty()).count();
    let samples: usize = chunks.iter().map(|c| c.samples.len()).sum();
    let peak = chunks
        .iter()
        .flat_map(|c| c.samples.iter())
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(0);
    let audio_ms = samples as f64 * 1000.0 / f64::from(rate.max(1));
    let check = if !problems.is_empty() {
        Check::fail("tts streaming", problems.join("; "))
    } else if peak == 0 {
        Check::warn(
            "tts streaming",
            format!("{} chunks of pure silence", chunks.len()),
        )
    } else if empty > 0 {
        Check::warn(
            "tts streaming",
            format!("{empty} of {} chunks carry no samples", chunks.len()),
        )
    } else {
        Check::pass(
            "tts streaming",
            format!(
                "{} chunks at {rate} Hz, {audio_ms:.0} ms of audio",
                chunks.len()
            ),
        )
    };
    check
        .figure("chunks_count", chunks.len() as f64)
        .figure("audio_ms", audio_ms)
}

fn llm_request(model: &str, text: &str, max_tokens: u32) -> wit::LlmRequest {
    wit::LlmRequest {
        speaker: wit::Speaker::Claude,
        model: model.into(),
        system: "You are taking part in a live voice conversation. Answer briefly.".into(),
        messages: vec![wit::ChatMessage {
            role: wit::ChatRole::User,
            content: text.into(),
        }],
        max_tokens,
        temperature: None,
    }
}

async fn llm(host: &Arc<PluginHost>, model: &str, records: &mut Vec<CallRecord>) -> Vec<Check> {
    let mut handle: LlmHandle = host.llm(Checked);
    let (tx, rx) = mpsc::channel(1024);
    let started = Instant::now();
    let (result, pieces) = tokio::join!(
        handle.complete(
            llm_request(model, "Say hello to the listeners in a few words.", 64),
            tx
        ),
        collect(rx)
    );
    let wall = started.elapsed();
    let streaming = match &result {
        Err(e) => failed_call("llm streaming", e),
        Ok(completion) => {
            let text: String = pieces.concat();
            if pieces.is_empty() || text.trim().is_empty() {
                Check::fail(
                    "llm streaming",
                    "the call succeeded without streaming any text",
                )
            } else if completion.stop_reason.trim().is_empty() {
                Check::fail("llm streaming", "the completion has no stop_reason")
            } else {
                let shown: String = text.chars().take(60).collect();
                Check::pass(
                    "llm streaming",
                    format!(
                        "{} pieces, {:?}, stopped with {:?}",
                        pieces.len(),
                        shown,
                        completion.stop_reason
                    ),
                )
            }
            .figure("pieces_count", pieces.len() as f64)
        }
    }
    .figure("call_ms", ms(wall));
    records.push(CallRecord::new(
        "llm complete",
        PluginKind::Llm,
        result.map(|_| ()),
        wall,
        handle.last_call(),
    ));

    let cancel = handle.canceller();
    let (tx, mut rx) = mpsc::channel(1);
    let started = Instant::now();
    let request = llm_request(
        model,
        "Please count slowly from one to two hundred, writing every number out in words, one number after another.",
        2_000,
    );
    let call = async {
        let result = handle.complete(request, tx).await.map(|_| ());
        (result, Instant::now())
    };
    let (check, record) = stream_then_cancel("llm cancellation", call, &mut rx, &cancel).await;
    if let Some(result) = record {
        records.push(CallRecord::new(
            "llm cancel",
            PluginKind::Llm,
            result,
            started.elapsed(),
            handle.last_call(),
        ));
    }
    vec![streaming, check]
}

fn floor(now_ms: u64, memory: &str) -> wit::FloorState {
    wit::FloorState {
        now_ms,
        autopilot: false,
        holder: None,
        human_speaking: false,
        last_speaker: None,
        ai_turns_in_a_row: 0,
        max_ai_turns: 4,
        thinking: None,
        autopilot_since_ms: None,
        memory: memory.to_string(),
    }
}

async fn policy(host: &Arc<PluginHost>, records: &mut Vec<CallRecord>) -> Vec<Check> {
    let mut handle = host.policy();
    let situations: Vec<(&str, wit::FloorEvent, fn(&mut wit::FloorState))> = vec![
        ("session started", wit::FloorEvent::SessionStarted, |_| {}),
        (
            "human speech started",
            wit::FloorEvent::HumanSpeechStarted,
            |s| s.human_speaking = true,
        ),
        (
            "human speech ended",
            wit::FloorEvent::HumanSpeechEnded,
            |_| {},
        ),
        (
            "human said a line",
            wit::FloorEvent::HumanSaid("So what do you two think about that?".into()),
            |s| s.last_speaker = Some(wit::Speaker::You),
        ),
        (
            "claude finished",
            wit::FloorEvent::AiFinished(wit::AiLine {
                speaker: wit::Speaker::Claude,
                text: "I think it depends on who you ask.".into(),
                interrupted: false,
            }),
            |s| {
                s.last_speaker = Some(wit::Speaker::Claude);
                s.ai_turns_in_a_row = 1;
            },
        ),
        (
            "autopilot on",
            wit::FloorEvent::AutopilotChanged(true),
            |s| {
                s.autopilot = true;
                s.autopilot_since_ms = Some(s.now_ms);
            },
        ),
        (
            "a timer fired",
            wit::FloorEvent::Timer("conformance".into()),
            |_| {},
        ),
    ];
    let mut memory = String::new();
    let mut slowest = 0.0f64;
    let mut decisions = 0usize;
    let mut problems = Vec::new();
    let mut skipped = None;
    for (i, (what, event, shape)) in situations.into_iter().enumerate() {
        let mut state = floor(1_000 * (i as u64 + 1), &memory);
        shape(&mut state);
        let started = Instant::now();
        let result = handle.decide(state, event).await;
        let wall = started.elapsed();
        slowest = slowest.max(ms(wall));
        match &result {
            Ok(list) => {
                decisions += list.len();
                for decision in list {
                    match decision {
                        wit::Decision::Respond(wit::Respond {
                            speaker: wit::Speaker::You,
                            ..
                        })
                        | wit::Decision::Think(wit::Think {
                            speaker: wit::Speaker::You,
                            ..
                        }) => problems.push(format!(
                            "{what}: it asks the human to speak (only an AI can respond or think)"
                        )),
                        wit::Decision::Remember(m) => memory = m.clone(),
                        _ => {}
                    }
                }
            }
            Err(e @ (CallError::Plugin { .. } | CallError::Denied { .. })) => {
                skipped.get_or_insert_with(|| format!("{what}: {e}"));
            }
            Err(e) => problems.push(format!("{what}: {e}")),
        }
        records.push(CallRecord::new(
            "policy decide",
            PluginKind::Policy,
            result.map(|_| ()),
            wall,
            handle.last_call(),
        ));
    }
    let decide = if !problems.is_empty() {
        Check::fail("policy decisions", problems.join("; "))
    } else if let Some(why) = skipped {
        Check::fail(
            "policy decisions",
            format!("a policy has no provider to blame, yet a decision failed: {why}"),
        )
    } else {
        Check::pass(
            "policy decisions",
            format!(
                "7 floor situations decided ({decisions} decisions), the slowest in {slowest:.1} ms"
            ),
        )
    }
    .figure("slowest_decide_ms", slowest);
    let cancel = Check::skipped(
        "policy cancellation",
        "policy calls are not cancelled; their deadline (policy_ms) stops them",
    );
    vec![decide, cancel]
}
