//! The STT adapters (`whisper`, `google-stt`, `assemblyai`) as real plugins in the real host,
//! against the fake providers of the test kit (`studio_test_kit::fakes`): microphone audio at 48 kHz with the host's VAD
//! hints goes in, transcripts come out, the requests the fakes received are checked (path, query,
//! headers, audio format and length), and every failure of issue 5 is played.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::plugins::Studio;
use crate::support::stt::{Mic, TONE_HZ, crossings_per_second, le_samples, microphone, transcribe};
use studio_test_kit::fakes::Fault;
use tokio::sync::mpsc;
use voice_studio::plugins::wit::{PluginError, Speaker, SttRequest, Transcript, TranscriptKind};
use voice_studio::plugins::{CallError, PluginHost, SttInput};

// ---------------------------------------------------------------------------------------------
// Microphone audio and running one STT call.

/// One utterance as the host's VAD reports it: the hint comes 100 ms after the speech begins,
/// and the end hint after 300 ms of quiet. With the adapters' 300 ms pre-roll the utterance is
/// 1500 ms long and starts 300 ms into the stream after `lead_ms` = 500 of quiet.
fn one_utterance() -> Vec<Mic> {
    vec![
        Mic::Quiet(500),
        Mic::Tone(100),
        Mic::Started,
        Mic::Tone(900),
        Mic::Quiet(300),
        Mic::Ended,
    ]
}

fn two_utterances() -> Vec<Mic> {
    let mut script = one_utterance();
    script.extend([
        Mic::Quiet(400),
        Mic::Tone(100),
        Mic::Started,
        Mic::Tone(500),
        Mic::Quiet(300),
        Mic::Ended,
        Mic::Quiet(200),
    ]);
    script
}

fn request() -> SttRequest {
    SttRequest {
        speaker: Speaker::You,
        language: "en-US".into(),
        key_terms: Vec::new(),
    }
}

/// Runs one `transcribe` call over `script` (then the end of the stream); returns the call's
/// result and every transcript pushed.
async fn run(host: &Arc<PluginHost>, script: &[Mic]) -> (Result<(), CallError>, Vec<Transcript>) {
    run_request(host, script, request()).await
}

async fn run_request(
    host: &Arc<PluginHost>,
    script: &[Mic],
    request: SttRequest,
) -> (Result<(), CallError>, Vec<Transcript>) {
    let mut inputs = microphone(script);
    inputs.push(SttInput::End);
    transcribe(host, request, inputs).await
}

fn finals(transcripts: &[Transcript]) -> Vec<(String, u64, u64)> {
    transcripts
        .iter()
        .filter(|t| t.kind == TranscriptKind::Final)
        .map(|t| (t.text.clone(), t.start_ms, t.end_ms))
        .collect()
}

fn plugin_error(result: Result<(), CallError>) -> PluginError {
    match result {
        Err(CallError::Plugin { error, .. }) => error,
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

/// The loud part of some samples (the tone, without the silence around it).
fn loud(samples: &[i16]) -> &[i16] {
    let first = samples
        .iter()
        .position(|s| s.unsigned_abs() > 1000)
        .unwrap_or(0);
    let last = samples
        .iter()
        .rposition(|s| s.unsigned_abs() > 1000)
        .unwrap_or(0);
    &samples[first..=last.max(first)]
}

/// Asserts that 16 kHz `samples` still carry the 440 Hz test tone (a wrong rate would move it).
fn assert_tone_at_16_khz(samples: &[i16]) {
    let rate = crossings_per_second(loud(samples), 16_000);
    assert!(
        (rate - 2.0 * TONE_HZ).abs() < 20.0,
        "the tone is still 440 Hz at 16 kHz: {rate}"
    );
}

/// The error of a call over `script` that is expected to fail.
async fn failure(host: &Arc<PluginHost>, script: &[Mic]) -> PluginError {
    let (result, _) = run(host, script).await;
    plugin_error(result)
}

/// Asserts that a call that started at `started` ended within `limit` (gave up, never hung).
fn assert_ended_within(started: Instant, limit: Duration) {
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());
}

/// Three answers that start later than any timeout the tests configure.
fn three_slow_answers() -> impl Iterator<Item = Fault> {
    std::iter::repeat_n(Fault::SlowFirstByte { ms: 5000 }, 3)
}

/// A studio with one STT plugin configured by `table` (the `[plugins.NAME]` body after `path`).
async fn studio_host(plugin: &str, table: &str) -> (Studio, Arc<PluginHost>) {
    let studio = Studio::with_plugins(&[plugin]);
    studio.write_manifest(&format!(
        "[roles]\nstt = \"{plugin}\"\n[plugins.{plugin}]\npath = \"{plugin}.wasm\"\n{table}\n"
    ));
    let host = studio.start(false).await;
    (studio, host)
}

// ---------------------------------------------------------------------------------------------
// whisper

mod whisper;

// ---------------------------------------------------------------------------------------------
// google-stt

mod google_stt;

// ---------------------------------------------------------------------------------------------
// assemblyai

mod assemblyai;
