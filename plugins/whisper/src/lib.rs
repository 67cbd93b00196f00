//! `whisper`: speech to text with a Whisper server, one request per utterance.
//!
//! The microphone is cut into utterances on the host's VAD hints (with a pre-roll, and a length
//! cap); each utterance, resampled to 16 kHz, goes to `endpoint` in one of two flavours: `raw` (a
//! studio transcription server, `POST /transcribe`: the body is bare PCM s16le 16 kHz mono) or
//! `multipart` (OpenAI, whisper.cpp, faster-whisper: `file=audio.wav`, `model`,
//! `response_format=json`). The answer's `text` becomes one final transcript.
//!
//! A failed utterance is retried (the audio is kept, so a retry resends it) by the SDK's
//! [`RetryPolicy`]; when the retries run out the call returns the error, so the host reports it
//! to the studio and starts a new call (the user's words are not lost silently).

#![deny(missing_docs)]

mod wire;

use studio_plugin::http::{self, Method, Request};
use studio_plugin::retry::RetryPolicy;
use studio_plugin::utterance::{self, Utterance};
use studio_plugin::{
    Capability, Microphone, PluginError, PluginInfo, Role, SttPlugin, SttRequest, TranscriptSink,
    config,
};
use wire::{Fields, Format};

/// The rate Whisper works at; every flavour gets 16 kHz mono.
const WHISPER_RATE: u32 = 16_000;
/// The default for WHISPER_ENDPOINT: a studio transcription server on this machine (`raw`).
const DEFAULT_ENDPOINT: &str = "http://localhost:8001/transcribe";
/// The largest answer read (a transcript of 30 s of speech is a few hundred bytes).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The exported plugin.
pub struct Whisper;

/// The plugin's settings, read once per call.
struct Settings {
    endpoint: String,
    format: Format,
    model: String,
    language: String,
    key_var: String,
    key: Option<String>,
    timeout_ms: u32,
    segments: utterance::Settings,
}

impl Settings {
    fn load(request: &SttRequest) -> Result<Self, PluginError> {
        let format = Format::parse(&config::get_str("format", "raw"))?;
        // `endpoint` in the config wins; else WHISPER_ENDPOINT (when declared and set); else the
        // studio server's default address.
        let endpoint = match config::get("endpoint")? {
            Some(endpoint) => endpoint,
            None => config::secret("WHISPER_ENDPOINT")
                .ok()
                .flatten()
                .filter(|e| !e.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()),
        };
        let key_var = config::get_str("api_key_secret", "OPENAI_API_KEY");
        // Only the multipart (OpenAI-style) servers take a key; an undeclared one is just absent.
        let key = match format {
            Format::Multipart => config::secret(&key_var)
                .ok()
                .flatten()
                .filter(|k| !k.is_empty()),
            Format::Raw => None,
        };
        let language = match config::get("language")? {
            Some(language) => language,
            None => wire::whisper_language(&request.language),
        };
        Ok(Self {
            endpoint: endpoint.trim().to_owned(),
            format,
            model: config::get_str("model", "whisper-1"),
            language,
            key_var,
            key,
            timeout_ms: config::get_u32("timeout_ms", 20_000),
            segments: utterance::Settings::from_config(),
        })
    }
}

impl SttPlugin for Whisper {
    fn describe() -> PluginInfo {
        PluginInfo::for_role(Role::Stt).with_capabilities(&[
            Capability::Log,
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
        let fields = Fields {
            model: settings.model.clone(),
            language: settings.language.clone(),
            prompt: request.key_terms.join(", "),
        };
        let policy = RetryPolicy::from_config();
        utterance::transcribe_utterances(
            input,
            sink,
            settings.segments,
            WHISPER_RATE,
            |utterance| {
                let text = policy.run("whisper transcription", |_| {
                    recognize(&settings, &fields, utterance)
                })?;
                Ok(utterance.transcript(text))
            },
        )
    }
}

/// One request for one utterance: its text (empty when the server heard no words).
fn recognize(
    settings: &Settings,
    fields: &Fields,
    utterance: &Utterance,
) -> Result<String, PluginError> {
    let (body, content_type) = wire::body(
        settings.format,
        &utterance.samples,
        utterance.sample_rate,
        fields,
    );
    let mut request = Request::new(Method::Post, settings.endpoint.clone())
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(body)
        .timeout_ms(settings.timeout_ms);
    if let Some(key) = &settings.key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let in_context = |error| wire::in_context(error, &settings.key_var, settings.key.is_some());
    let response = http::send_checked(&request).map_err(in_context)?;
    let answer = http::read_to_end(&response, MAX_ANSWER_BYTES).map_err(in_context)?;
    wire::parse_answer(&answer)
}

studio_plugin::export_stt!(Whisper);
