//! `google-tts`: Google Cloud Text-to-Speech v1 with Neural2 voices
//! (`texttospeech.googleapis.com`, REST).
//!
//! Streaming synthesis is gRPC only, so the text is split into sentences and each sentence is one
//! `POST {base_url}/v1/text:synthesize` asking for LINEAR16 at `sample_rate`; each answer's WAV
//! header is stripped and its samples are pushed (at the WAV's own rate) as soon as it arrives,
//! so the first sentence plays while the next is synthesized.
//!
//! Auth: an OAuth2 access token for the service account in GOOGLE_APPLICATION_CREDENTIALS (the
//! host hands over the file's contents, `secret_files`), from the SDK's [`google_auth`], cached
//! across calls. Each sentence's request (and token) goes through the SDK's [`RetryPolicy`];
//! nothing that was already pushed is retried.

#![deny(missing_docs)]

mod wire;

use studio_plugin::google_auth::{self, CLOUD_PLATFORM_SCOPE};
use studio_plugin::http::{self, Request};
use studio_plugin::retry::RetryPolicy;
use studio_plugin::text::ClauseSplitter;
use studio_plugin::{
    AudioSink, Capability, PluginError, PluginInfo, Role, Speaker, TtsPlugin, TtsRequest, config,
    log, pcm,
};

/// Google's public endpoint.
const DEFAULT_BASE_URL: &str = "https://texttospeech.googleapis.com";
/// claude's default voice (a lower male Neural2 voice).
const DEFAULT_CLAUDE_VOICE: &str = "en-US-Neural2-D";
/// The guest's default voice (a female Neural2 voice), so the two AIs sound different.
const DEFAULT_GUEST_VOICE: &str = "en-US-Neural2-F";
/// A sentence of LINEAR16 at 48 kHz is well under this.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// The exported plugin.
pub struct GoogleTts;

/// The settings of one call.
struct Settings {
    url: String,
    voice: String,
    language: String,
    sample_rate: u32,
    timeout_ms: u32,
    chunk_ms: u32,
}

impl Settings {
    fn load(request: &TtsRequest) -> Self {
        let base_url = config::get_str("base_url", DEFAULT_BASE_URL);
        let voice = if request.voice.trim().is_empty() {
            match request.speaker {
                Speaker::Guest => config::get_str("guest_voice", DEFAULT_GUEST_VOICE),
                _ => config::get_str("claude_voice", DEFAULT_CLAUDE_VOICE),
            }
        } else {
            request.voice.trim().to_owned()
        };
        // The request's language wins; else the voice's own (`en-US-Neural2-D` speaks en-US).
        let language = if request.language.trim().is_empty() {
            wire::language_of_voice(&voice).unwrap_or_else(|| "en-US".to_owned())
        } else {
            request.language.trim().to_owned()
        };
        Self {
            url: format!("{}/v1/text:synthesize", base_url.trim_end_matches('/')),
            voice,
            language,
            sample_rate: config::get_u32("sample_rate", 24_000).clamp(8_000, 48_000),
            timeout_ms: config::get_u32("timeout_ms", 15_000).max(100),
            chunk_ms: config::get_u32("chunk_ms", 100).clamp(10, 1_000),
        }
    }
}

impl TtsPlugin for GoogleTts {
    fn describe() -> PluginInfo {
        PluginInfo::for_role(Role::Tts).with_capabilities(&[
            Capability::Log,
            Capability::Clock,
            Capability::Config,
            Capability::Http,
        ])
    }

    fn synthesize(request: TtsRequest, sink: &AudioSink<'_>) -> Result<(), PluginError> {
        let settings = Settings::load(&request);
        let policy = RetryPolicy::from_config();
        let mut splitter = ClauseSplitter::sentences(wire::MAX_SENTENCE_CHARS);
        let mut sentences = splitter.push(&request.text);
        sentences.extend(splitter.finish());
        for sentence in sentences {
            let audio = policy.run("google-tts text:synthesize", |_| {
                synthesize_sentence(&settings, &sentence)
            })?;
            let chunk = pcm::samples_for_ms(settings.chunk_ms, audio.sample_rate).max(1);
            for piece in audio.samples.chunks(chunk) {
                // `cancelled` (barge-in) ends the call at once.
                sink.push(audio.sample_rate, piece)?;
            }
        }
        Ok(())
    }
}

/// One sentence: token, request, status check, answer. Retried as a whole.
fn synthesize_sentence(
    settings: &Settings,
    sentence: &str,
) -> Result<studio_plugin::wav::Wav, PluginError> {
    let authorization = google_auth::authorization(CLOUD_PLATFORM_SCOPE, settings.timeout_ms)?;
    let body = wire::synthesize_body(
        sentence,
        &settings.language,
        &settings.voice,
        settings.sample_rate,
    );
    let request = Request::post_json(settings.url.clone(), &body)
        .header("authorization", authorization)
        .timeout_ms(settings.timeout_ms);
    let response = http::send(&request)?;
    let status = response.status();
    let answer = http::read_to_end(&response, MAX_ANSWER_BYTES)?;
    if !(200..300).contains(&status) {
        if status == 401 {
            // A revoked or expired token: the next try (or call) fetches a new one.
            google_auth::invalidate();
        }
        return Err(wire::status_error(status, &response.headers(), &answer));
    }
    let audio = wire::parse_answer(&answer)?;
    log::debug(&format!(
        "google-tts: {} samples at {} Hz for {} chars with {}",
        audio.samples.len(),
        audio.sample_rate,
        sentence.chars().count(),
        settings.voice
    ));
    Ok(audio)
}

studio_plugin::export_tts!(GoogleTts);
