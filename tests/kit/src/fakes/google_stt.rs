//! A fake Google Cloud Speech-to-Text v1 REST server (`speech.googleapis.com`, synchronous
//! recognize): `POST /v1/speech:recognize` with `{"config":{"encoding":"LINEAR16",
//! "sampleRateHertz","languageCode"},"audio":{"content":"<base64>"}}` -> `{"results":
//! [{"alternatives":[{"transcript","confidence"}],"resultEndTime","languageCode"}],
//! "totalBilledTime"}`, or no `results` at all when the script says nothing was heard ("").
//!
//! It checks nothing itself: it records every request (tests check the path, `authorization`,
//! the JSON config and the audio via [`audio_samples`]) and answers each with the next scripted
//! text. Failures: the [`Fault`] queue, in Google's error shape (401 `UNAUTHENTICATED`, 429
//! `RESOURCE_EXHAUSTED` with `retry-after`, 500 `INTERNAL`, 503 `UNAVAILABLE`, a body cut off
//! mid-way, a body that is not JSON, a slow first byte).

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::fakes::{Control, FakeServer, Fault, Recorded, cut_off, google_fault_error, serve};

/// The path of the recognize method.
pub const RECOGNIZE_PATH: &str = "/v1/speech:recognize";

/// A running fake Speech-to-Text server.
#[derive(Debug)]
pub struct FakeGoogleStt {
    server: FakeServer,
}

#[derive(Debug)]
struct Shared {
    control: Control,
    texts: Vec<String>,
    next: AtomicUsize,
}

/// Starts a fake answering each request with the next of `texts` (repeating; "" = no speech).
pub async fn start(texts: &[&str]) -> FakeGoogleStt {
    let control = Control::default();
    let state = Arc::new(Shared {
        control: control.clone(),
        texts: texts.iter().map(|t| t.to_string()).collect(),
        next: AtomicUsize::new(0),
    });
    let router = Router::new()
        .route(RECOGNIZE_PATH, post(recognize))
        .with_state(state);
    FakeGoogleStt {
        server: serve(router, control).await,
    }
}

impl Deref for FakeGoogleStt {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

/// The samples in a recorded request's `audio.content` (empty when there are none).
pub fn audio_samples(request: &Recorded) -> Vec<i16> {
    let json = request.json();
    let content = json["audio"]["content"].as_str().unwrap_or_default();
    STANDARD
        .decode(content)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

async fn recognize(State(state): State<Arc<Shared>>, recorded: Recorded) -> Response {
    state.control.record(recorded);
    let fault = state.control.next_fault();
    if let Some(error) = fault.as_ref().and_then(google_fault_error) {
        return error;
    }
    match fault {
        Some(Fault::DropMidStream) => {
            return cut_off(b"{\"results\":[{\"alternatives\":[{\"transcript\":\"hel");
        }
        Some(Fault::Malformed) => {
            return (
                [(header::CONTENT_TYPE, "application/json")],
                "{\"results\": [ oops",
            )
                .into_response();
        }
        Some(Fault::SlowFirstByte { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        // The status faults were answered above.
        _ => {}
    }
    let text = if state.texts.is_empty() {
        String::new()
    } else {
        let i = state.next.fetch_add(1, Ordering::SeqCst);
        state.texts[i % state.texts.len()].clone()
    };
    if text.is_empty() {
        return axum::Json(json!({"totalBilledTime": "1s", "requestId": "1234567890"}))
            .into_response();
    }
    axum::Json(json!({
        "results": [{
            "alternatives": [{"transcript": text, "confidence": 0.94}],
            "resultEndTime": "1.500s",
            "languageCode": "en-us",
        }],
        "totalBilledTime": "2s",
        "requestId": "1234567890",
    }))
    .into_response()
}
