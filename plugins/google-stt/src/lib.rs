//! `google-stt`: speech to text with Google Cloud Speech-to-Text v1 over REST.
//!
//! Streaming recognition is gRPC only, so this adapter sends one `speech:recognize` request per
//! utterance: the microphone is cut on the host's VAD hints (with a pre-roll and a length cap below
//! the API's one minute), resampled to LINEAR16 16 kHz, and the answer becomes one final
//! transcript. Auth is an OAuth2 access token for the service account in
//! GOOGLE_APPLICATION_CREDENTIALS ([`studio_plugin::google_auth`]).
//!
//! A failed utterance is retried with the SDK's [`RetryPolicy`] (the audio is kept); when the
//! retries run out the call returns the error, so the host reports it and starts a new call.

#![deny(missing_docs)]

mod wire;

use studio_plugin::google_auth::{self, CLOUD_PLATFORM_SCOPE, CREDENTIALS_VAR};
use studio_plugin::http::{self, Request};
use studio_plugin::retry::RetryPolicy;
use studio_plugin::utterance::{self, Utterance};
use studio_plugin::{
    Capability, Microphone, PluginError, PluginInfo, Role, SttPlugin, SttRequest, TranscriptSink,
    config,
};
use wire::Options;

/// The rate sent to Google (its optimum for speech).
const RATE: u32 = 16_000;
/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The exported plugin.
pub struct GoogleStt;

struct Settings {
    url: String,
    options: Options,
    timeout_ms: u32,
    segments: utterance::Settings,
}

impl Settings {
    fn load(request: &SttRequest) -> Result<Self, PluginError> {
        let base_url = config::get_str("base_url", "https://speech.googleapis.com");
        let language_code = match config::get("language_code")? {
            Some(code) => code,
            None if !request.language.trim().is_empty() => request.language.trim().to_owned(),
            None => "en-US".to_owned(),
        };
        let mut segments = utterance::Settings::from_config();
        // The sync API takes at most a minute; stay well inside it.
        segments.max_utterance_ms = segments.max_utterance_ms.min(55_000);
        Ok(Self {
            url: format!("{}/v1/speech:recognize", base_url.trim_end_matches('/')),
            options: Options {
                language_code,
                model: config::get_str("model", ""),
                punctuation: config::get_bool("punctuation", true),
                phrases: request.key_terms.clone(),
            },
            timeout_ms: config::get_u32("timeout_ms", 15_000),
            segments,
        })
    }
}

impl SttPlugin for GoogleStt {
    fn describe() -> PluginInfo {
        // `clock`: token lifetimes are wall-clock times.
        PluginInfo::for_role(Role::Stt).with_capabilities(&[
            Capability::Log,
            Capability::Clock,
            Capability::Config,
            Capability::Http,
        ])
    }

    fn transcribe(
        request: SttRequest,
        input: &mut Microphone<'_>,
        sink: &TranscriptSink<'_>,
    ) -> Result<(), PluginError> {
        let settings = Settings::load(&request)?;
        let policy = RetryPolicy::from_config();
        utterance::transcribe_utterances(input, sink, settings.segments, RATE, |utterance| {
            let (text, confidence) = policy.run("Google speech:recognize", |_| {
                recognize(&settings, utterance)
            })?;
            Ok(utterance.transcript(text).map(|mut transcript| {
                transcript.confidence = confidence;
                transcript
            }))
        })
    }
}

/// One `speech:recognize` request. A token refused with 401 is dropped and a fresh one tried
/// once (it may have been revoked or expired early); a second refusal is `auth`.
fn recognize(
    settings: &Settings,
    utterance: &Utterance,
) -> Result<(String, Option<f32>), PluginError> {
    let body = wire::body(&utterance.samples, utterance.sample_rate, &settings.options);
    let mut refreshed = false;
    loop {
        let authorization = google_auth::authorization(CLOUD_PLATFORM_SCOPE, settings.timeout_ms)?;
        let request = Request::post_json(settings.url.clone(), &body)
            .header("authorization", authorization)
            .timeout_ms(settings.timeout_ms);
        let response = http::send(&request)?;
        let status = response.status();
        if (200..300).contains(&status) {
            return wire::parse_answer(&http::read_to_end(&response, MAX_ANSWER_BYTES)?);
        }
        let headers = response.headers();
        let answer = http::read_to_end(&response, 64 * 1024).unwrap_or_default();
        if status == 401 {
            google_auth::invalidate();
            if !refreshed {
                refreshed = true;
                continue;
            }
        }
        return Err(wire::status_error(
            status,
            &headers,
            &answer,
            CREDENTIALS_VAR,
        ));
    }
}

studio_plugin::export_stt!(GoogleStt);
