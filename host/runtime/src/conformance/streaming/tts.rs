//! TTS: a sentence must stream as audio chunks of one plausible rate, and a long text must stop
//! when cancelled after its first chunk.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::super::CallRecord;
use super::super::report::Check;
use super::{collect, failed_call, ms, stream_then_cancel};
use crate::host::PluginHost;
use crate::manifest::PluginKind;
use crate::wit;

pub(super) async fn check(host: &Arc<PluginHost>, records: &mut Vec<CallRecord>) -> Vec<Check> {
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
