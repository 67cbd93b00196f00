//! A fake Google Cloud Text-to-Speech v1 REST server (`texttospeech.googleapis.com`):
//! `POST /v1/text:synthesize` with `{"input":{"text"},"voice":{"languageCode","name"},
//! "audioConfig":{"audioEncoding":"LINEAR16","sampleRateHertz"}}` -> `{"audioContent":"<base64>"}`,
//! where the audio is a complete WAV file (LINEAR16 comes with its header) at the requested rate.
//!
//! It checks nothing itself: it records every request (tests check URL, `authorization`, body) and
//! answers with a tone whose length follows the text, or with scripted samples. Any other path
//! gets Google's 404. Failures: the [`Fault`] queue (401 `UNAUTHENTICATED`, 429
//! `RESOURCE_EXHAUSTED` with `retry-after`, 500 `INTERNAL`, 503 `UNAVAILABLE`, a body cut off
//! mid-way, bad base64 in `audioContent`, a slow first byte) plus [`FakeGoogleTts::push_answers`]
//! for what the shared queue has no name for (403, base64 of something that is not a WAV).

use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::fakes::{
    Control, FakeServer, Fault, Recorded, cut_off, google_error, google_fault_error, serve,
};

/// The path of the synthesize method.
pub const SYNTHESIZE_PATH: &str = "/v1/text:synthesize";

/// Extra scripted answers, taken (one per request) after the [`Fault`] queue.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// This HTTP status with Google's error JSON (e.g. 403 `PERMISSION_DENIED`).
    Status(u16),
    /// 200 with valid base64 of bytes that are not a WAV file.
    NotWav,
}

/// A running fake Text-to-Speech server.
#[derive(Debug)]
pub struct FakeGoogleTts {
    server: FakeServer,
    state: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    control: Control,
    answers: Mutex<VecDeque<Answer>>,
    samples: Mutex<Option<Vec<i16>>>,
}

/// Starts the fake; every answer is a tone until [`FakeGoogleTts::set_samples`].
pub async fn start() -> FakeGoogleTts {
    let control = Control::default();
    let state = Arc::new(Shared {
        control: control.clone(),
        answers: Mutex::new(VecDeque::new()),
        samples: Mutex::new(None),
    });
    let router = Router::new().fallback(synthesize).with_state(state.clone());
    FakeGoogleTts {
        server: serve(router, control).await,
        state,
    }
}

impl FakeGoogleTts {
    /// Queues scripted answers for the next requests (after any queued [`Fault`]).
    pub fn push_answers(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state
            .answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(answers);
    }

    /// Answers every request with exactly these samples (at the requested rate) instead of a tone.
    pub fn set_samples(&self, samples: Vec<i16>) {
        *self
            .state
            .samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(samples);
    }
}

impl Deref for FakeGoogleTts {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

/// The tone the fake speaks for `text` at `rate`: 220 Hz, 60 ms per character (at least 200 ms).
pub fn tone_for(text: &str, rate: u32) -> Vec<i16> {
    let ms = (text.chars().count() as u64 * 60).max(200);
    let n = (u64::from(rate) * ms / 1000) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            ((t * 220.0 * std::f32::consts::TAU).sin() * 8000.0) as i16
        })
        .collect()
}

/// A 16-bit mono WAV file, the way Google's LINEAR16 answers start (44-byte header). Written
/// here rather than with the SDK's `wav` module on purpose: the fake must not share the code of
/// the adapter it tests.
pub fn wav_bytes(samples: &[i16], rate: u32) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

fn audio_answer(audio: &[u8]) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        json!({"audioContent": STANDARD.encode(audio)}).to_string(),
    )
        .into_response()
}

async fn synthesize(State(state): State<Arc<Shared>>, recorded: Recorded) -> Response {
    let request = recorded.json();
    let is_synthesize = recorded.method == "POST" && recorded.path == SYNTHESIZE_PATH;
    state.control.record(recorded);

    let fault = state.control.next_fault();
    if let Some(error) = fault.as_ref().and_then(google_fault_error) {
        return error;
    }
    match fault {
        Some(Fault::DropMidStream) => return cut_off(b"{\"audioContent\":\"UklGR"),
        Some(Fault::Malformed) => {
            return (
                [(header::CONTENT_TYPE, "application/json")],
                json!({"audioContent": "%%% this is not base64 %%%"}).to_string(),
            )
                .into_response();
        }
        Some(Fault::SlowFirstByte { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        // The status faults were answered above.
        _ => {}
    }
    let answer = state
        .answers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop_front();
    match answer {
        Some(Answer::Status(status)) => return google_error(status, None),
        Some(Answer::NotWav) => return audio_answer(b"ID3\x03\x00 this is an MP3, not a WAV"),
        None => {}
    }
    if !is_synthesize {
        return google_error(404, None);
    }
    let Some(text) = request["input"]["text"].as_str() else {
        return google_error(400, None);
    };
    let rate = request["audioConfig"]["sampleRateHertz"]
        .as_u64()
        .and_then(|r| u32::try_from(r).ok())
        .unwrap_or(24_000);
    let samples = state
        .samples
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or_else(|| tone_for(text, rate));
    audio_answer(&wav_bytes(&samples, rate))
}
