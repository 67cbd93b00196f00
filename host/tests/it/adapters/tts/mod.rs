//! The TTS adapters through the real host: `google-tts` against the fake Google token endpoint
//! and Text-to-Speech server, `piper` running the fake `piper` executable (tests/kit/fakes/piper)
//! through the `process` capability. Happy paths check the requests the fakes got (URL, Bearer
//! token, JSON body, argv, stdin); every failure of issue 5 is played, with `mock-tts` as the
//! fallback where the issue expects the studio to keep talking.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::plugins::Studio;
use studio_test_kit::fakes::google_oauth::{self, FakeGoogleOAuth};
use studio_test_kit::fakes::google_tts::{self, Answer, FakeGoogleTts};
use studio_test_kit::fakes::{Fault, Recorded};
use tokio::sync::mpsc;
use voice_studio::plugins::wit::{AudioChunk, PluginError, Speaker, TtsRequest};
use voice_studio::plugins::{CallError, PluginHost, TtsHandle};

const CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";

fn request(speaker: Speaker, text: &str) -> TtsRequest {
    TtsRequest {
        text: text.into(),
        speaker,
        voice: String::new(),
        language: String::new(),
    }
}

/// Runs one synthesis on a new handle (a new plugin instance); the chunks, or the error.
async fn speak(host: &Arc<PluginHost>, request: TtsRequest) -> Result<Vec<AudioChunk>, CallError> {
    speak_on(&mut host.tts(), request).await
}

/// Runs one synthesis on `tts` (whose plugin instance lives as long as the handle, like a session's).
async fn speak_on(tts: &mut TtsHandle, request: TtsRequest) -> Result<Vec<AudioChunk>, CallError> {
    let (tx, mut rx) = mpsc::channel(4096);
    let collector = tokio::spawn(async move {
        let mut chunks = Vec::new();
        while let Some(chunk) = rx.recv().await {
            chunks.push(chunk);
        }
        chunks
    });
    let result = tokio::time::timeout(Duration::from_secs(60), tts.synthesize(request, tx))
        .await
        .expect("a TTS call never hangs");
    let chunks = collector.await.expect("collector");
    result.map(|()| chunks)
}

fn samples(chunks: &[AudioChunk]) -> Vec<i16> {
    chunks
        .iter()
        .flat_map(|c| c.samples.iter().copied())
        .collect()
}

/// The plugin error inside a failed call.
fn plugin_error(result: Result<Vec<AudioChunk>, CallError>) -> PluginError {
    match result {
        Err(CallError::Plugin { error, .. }) => error,
        Err(other) => panic!("expected a plugin error, got {other}"),
        Ok(chunks) => panic!("expected an error, got {} chunks", chunks.len()),
    }
}

/// The error of Claude saying "Hello." in a call expected to fail.
async fn failure(host: &Arc<PluginHost>) -> PluginError {
    plugin_error(speak(host, request(Speaker::Claude, "Hello.")).await)
}

/// Asserts that a call that started at `started` ended within `limit` (gave up, never hung).
fn assert_ended_within(started: Instant, limit: Duration) {
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());
}

/// The manifest line that makes `mock-tts` the plugin's fallback, when `fallback`.
fn fallback_line(fallback: bool) -> &'static str {
    if fallback {
        "fallback = [\"mock-tts\"]"
    } else {
        ""
    }
}

/// Config lines: `extra`, then each default whose key `extra` does not set.
fn settings(defaults: &[(&str, &str)], extra: &str) -> String {
    let mut lines: Vec<String> = extra.lines().map(str::to_owned).collect();
    for (key, value) in defaults {
        let set = extra
            .lines()
            .any(|line| line.split('=').next().map(str::trim) == Some(*key));
        if !set {
            lines.push(format!("{key} = {value}"));
        }
    }
    lines.join("\n")
}

mod google;
mod piper;
