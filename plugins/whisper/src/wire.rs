//! Whisper's two wire flavours, as pure functions: the request body and content type for an
//! utterance, and the text (or error) in an answer.

use studio_plugin::json::Value;
use studio_plugin::{PluginError, pcm, wav};

/// Which server the endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A studio transcription server (`POST /transcribe`): the body is bare PCM s16le 16 kHz mono,
    /// the answer `{"text","is_final","language","language_probability"}`.
    Raw,
    /// OpenAI / whisper.cpp / faster-whisper: multipart with `file=audio.wav`.
    Multipart,
}

impl Format {
    /// Parses the `format` setting.
    pub fn parse(text: &str) -> Result<Self, PluginError> {
        match text.trim() {
            "raw" => Ok(Self::Raw),
            "multipart" => Ok(Self::Multipart),
            other => Err(PluginError::Config(format!(
                "the setting `format` is `{other}`; use \"raw\" or \"multipart\""
            ))),
        }
    }
}

/// The multipart form fields sent with the audio file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    /// `model` (e.g. `whisper-1`).
    pub model: String,
    /// `language` (ISO-639-1, e.g. `en`); empty: the server detects it.
    pub language: String,
    /// `prompt`: words to expect (the guests' names); empty for none.
    pub prompt: String,
}

/// The multipart boundary: long and unusual, so that the WAV data does not contain it by chance.
const BOUNDARY: &str = "----voice-studio-whisper-7d9f3c1a5e8b";

/// The body and content type for one utterance of 16 kHz samples.
pub fn body(
    format: Format,
    samples: &[i16],
    sample_rate: u32,
    fields: &Fields,
) -> (Vec<u8>, String) {
    match format {
        Format::Raw => (
            pcm::samples_to_le_bytes(samples),
            "application/octet-stream".to_owned(),
        ),
        Format::Multipart => (
            multipart(&wav::write_mono(samples, sample_rate), fields),
            format!("multipart/form-data; boundary={BOUNDARY}"),
        ),
    }
}

fn multipart(wav: &[u8], fields: &Fields) -> Vec<u8> {
    let mut out = Vec::with_capacity(wav.len() + 1024);
    out.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"audio.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(wav);
    out.extend_from_slice(b"\r\n");
    let mut field = |name: &str, value: &str| {
        if !value.is_empty() {
            out.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
    };
    field("model", &fields.model);
    field("response_format", "json");
    field("language", &fields.language);
    field("prompt", &fields.prompt);
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

/// The language Whisper wants (ISO-639-1) from a BCP-47 tag: `en-US` -> `en`.
pub fn whisper_language(bcp47: &str) -> String {
    bcp47
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The text of a 2xx answer. A top-level `error` (the studio server and whisper.cpp report
/// failures as HTTP 200 with one) is `unavailable`: the server failed on its side, and a retry may
/// work; anything that is not JSON with a `text` string is `protocol`.
pub fn parse_answer(body: &[u8]) -> Result<String, PluginError> {
    let value: Value = studio_plugin::json::from_slice(body).map_err(|e| {
        PluginError::Protocol(format!(
            "Whisper answered with something that is not JSON: {e}"
        ))
    })?;
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        let message = match error {
            Value::String(text) => text.clone(),
            // OpenAI's shape: {"error": {"message": ...}}.
            other => other
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| other.to_string(), str::to_owned),
        };
        if !message.is_empty() || !error.is_string() {
            let excerpt: String = message.chars().take(300).collect();
            return Err(PluginError::Unavailable(format!(
                "Whisper answered with an error: {excerpt}"
            )));
        }
    }
    value
        .get("text")
        .and_then(Value::as_str)
        .map(|text| text.trim().to_owned())
        .ok_or_else(|| PluginError::Protocol("Whisper's answer has no `text`".to_owned()))
}

/// Names the provider (and, for a refused key, the variable) in an error from the HTTP layer.
pub fn in_context(error: PluginError, key_var: &str, key_set: bool) -> PluginError {
    match error {
        PluginError::Auth(message) if key_set => {
            PluginError::Auth(format!("Whisper refused {key_var} ({message})"))
        }
        PluginError::Auth(message) => PluginError::Auth(format!(
            "Whisper refused the request ({message}); set {key_var} if the server needs a key"
        )),
        PluginError::Unavailable(message) if !message.starts_with("Whisper") => {
            PluginError::Unavailable(format!("Whisper is unavailable: {message}"))
        }
        PluginError::Config(message) => {
            PluginError::Config(format!("Whisper rejected the request: {message}"))
        }
        PluginError::RateLimited(mut limit) => {
            limit.message = format!("Whisper is rate limiting: {}", limit.message);
            PluginError::RateLimited(limit)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            model: "whisper-1".into(),
            language: "en".into(),
            prompt: String::new(),
        }
    }

    #[test]
    fn raw_body_is_bare_little_endian_pcm() {
        let (body, content_type) = body(Format::Raw, &[1, -2, 0x0304], 16_000, &fields());
        assert_eq!(body, vec![1, 0, 0xFE, 0xFF, 4, 3]);
        assert_eq!(content_type, "application/octet-stream");
    }

    #[test]
    fn multipart_body_carries_a_16_khz_wav_and_the_fields() {
        let samples = vec![100i16; 1600];
        let (body, content_type) = body(Format::Multipart, &samples, 16_000, &fields());
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .expect("boundary");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
        assert!(text.contains("name=\"file\"; filename=\"audio.wav\""));
        assert!(text.contains("name=\"model\"\r\n\r\nwhisper-1\r\n"));
        assert!(text.contains("name=\"response_format\"\r\n\r\njson\r\n"));
        assert!(text.contains("name=\"language\"\r\n\r\nen\r\n"));
        assert!(
            !text.contains("name=\"prompt\""),
            "empty fields are left out"
        );
        let start = body
            .windows(4)
            .position(|w| w == b"RIFF")
            .expect("a WAV part");
        let wav = wav::parse(&body[start..start + 44 + 3200]).expect("valid WAV");
        assert_eq!((wav.sample_rate, wav.channels), (16_000, 1));
        assert_eq!(wav.samples, samples);
    }

    #[test]
    fn languages_become_iso_639_1() {
        assert_eq!(whisper_language("en-US"), "en");
        assert_eq!(whisper_language("pt_BR"), "pt");
        assert_eq!(whisper_language(""), "");
    }

    #[test]
    fn answers_give_their_text() {
        let studio = br#"{"text":" Hello there. ","is_final":true,"language":"en","language_probability":0.98}"#;
        assert_eq!(parse_answer(studio), Ok("Hello there.".to_owned()));
        assert_eq!(parse_answer(br#"{"text":""}"#), Ok(String::new()));
        assert_eq!(
            parse_answer(br#"{"text":"hi","error":null}"#),
            Ok("hi".to_owned())
        );
    }

    #[test]
    fn errors_in_a_200_answer_are_errors() {
        let studio = br#"{"text":"","is_final":true,"error":"CUDA out of memory"}"#;
        assert!(
            matches!(parse_answer(studio), Err(PluginError::Unavailable(m)) if m.contains("CUDA out of memory"))
        );
        let cpp = br#"{"error":"failed to read WAV file"}"#;
        assert!(matches!(
            parse_answer(cpp),
            Err(PluginError::Unavailable(_))
        ));
        let openai =
            br#"{"error":{"message":"Invalid file format.","type":"invalid_request_error"}}"#;
        assert!(
            matches!(parse_answer(openai), Err(PluginError::Unavailable(m)) if m.contains("Invalid file format."))
        );
    }

    #[test]
    fn malformed_answers_are_protocol_errors() {
        assert!(matches!(
            parse_answer(b"<html>oops"),
            Err(PluginError::Protocol(_))
        ));
        assert!(matches!(
            parse_answer(br#"{"txt":"x"}"#),
            Err(PluginError::Protocol(_))
        ));
        assert!(matches!(
            parse_answer(br#"{"text":"x"#),
            Err(PluginError::Protocol(_))
        ));
    }

    #[test]
    fn auth_errors_name_the_variable_only_when_a_key_was_sent() {
        let with_key = in_context(
            PluginError::Auth("HTTP 401: bad key".into()),
            "OPENAI_API_KEY",
            true,
        );
        assert!(
            matches!(with_key, PluginError::Auth(m) if m.starts_with("Whisper refused OPENAI_API_KEY (HTTP 401"))
        );
        let without = in_context(
            PluginError::Auth("HTTP 401: no key".into()),
            "OPENAI_API_KEY",
            false,
        );
        assert!(matches!(without, PluginError::Auth(m) if m.contains("set OPENAI_API_KEY")));
        let down = in_context(PluginError::Unavailable("HTTP 502: x".into()), "K", false);
        assert!(
            matches!(down, PluginError::Unavailable(m) if m.starts_with("Whisper is unavailable"))
        );
    }
}
