//! The Text-to-Speech v1 wire format (`POST /v1/text:synthesize`): the request body, the
//! answer, and Google's error JSON. Pure, so it is unit tested natively.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use studio_plugin::google_auth::CREDENTIALS_VAR;
use studio_plugin::json::{self, Value, json};
use studio_plugin::wav::{self, Wav};
use studio_plugin::{PluginError, RateLimit, http};

/// Google's limit on `input.text` is 5000 bytes; sentences are cut well below it.
pub const MAX_SENTENCE_CHARS: usize = 1000;

/// The language of a voice name: `en-US-Neural2-D` -> `en-US` (None when the name has no
/// `xx-YY-` prefix).
pub fn language_of_voice(voice: &str) -> Option<String> {
    let mut parts = voice.splitn(3, '-');
    let language = parts.next()?;
    let region = parts.next()?;
    parts.next()?;
    let plausible = (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_alphabetic())
        && (2..=3).contains(&region.len())
        && region.chars().all(|c| c.is_ascii_alphanumeric());
    plausible.then(|| format!("{language}-{region}"))
}

/// The `text:synthesize` body for one sentence.
pub fn synthesize_body(text: &str, language: &str, voice: &str, sample_rate: u32) -> Value {
    json!({
        "input": {"text": text},
        "voice": {"languageCode": language, "name": voice},
        "audioConfig": {"audioEncoding": "LINEAR16", "sampleRateHertz": sample_rate},
    })
}

/// Reads a `{"audioContent": "<base64 WAV>"}` answer into its (mono) audio. Anything else is a
/// `protocol` error.
pub fn parse_answer(body: &[u8]) -> Result<Wav, PluginError> {
    let answer: Value = json::from_slice(body).map_err(|_| {
        PluginError::Protocol("Google TTS answered with something that is not JSON".into())
    })?;
    let Some(content) = answer.get("audioContent").and_then(Value::as_str) else {
        return Err(PluginError::Protocol(
            "Google TTS answered without audioContent".into(),
        ));
    };
    let bytes = STANDARD.decode(content.trim()).map_err(|e| {
        PluginError::Protocol(format!("Google TTS audioContent is not base64: {e}"))
    })?;
    let parsed = wav::parse(&bytes).map_err(|e| {
        PluginError::Protocol(format!(
            "Google TTS LINEAR16 audio is not a usable WAV: {e}"
        ))
    })?;
    if parsed.sample_rate == 0 {
        return Err(PluginError::Protocol(
            "Google TTS audio has a sample rate of 0".into(),
        ));
    }
    Ok(Wav {
        sample_rate: parsed.sample_rate,
        channels: 1,
        samples: parsed.to_mono(),
    })
}

/// The error for a failed `text:synthesize`, from Google's `{"error":{"code","message","status"}}`:
/// 401/403 `auth` naming the provider and [`CREDENTIALS_VAR`], 429 `rate-limited` with
/// `retry-after`, 5xx `unavailable`, other 4xx `config` (a bad voice or language).
pub fn status_error(status: u16, headers: &[(String, String)], body: &[u8]) -> PluginError {
    let answer: Value = json::from_slice(body).unwrap_or_default();
    let error = &answer["error"];
    let detail = match (error["status"].as_str(), error["message"].as_str()) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (None, Some(message)) => message.to_owned(),
        _ => String::from_utf8_lossy(body).trim().to_owned(),
    };
    let detail: String = detail.chars().take(300).collect();
    match status {
        401 | 403 => PluginError::Auth(format!(
            "Google Text-to-Speech refused the service account in {CREDENTIALS_VAR} (HTTP {status}): {detail}"
        )),
        429 => PluginError::RateLimited(RateLimit {
            retry_after_ms: http::retry_after_ms(headers),
            message: format!("Google Text-to-Speech rate limit (HTTP 429): {detail}"),
        }),
        408 | 500..=599 => PluginError::Unavailable(format!(
            "Google Text-to-Speech failed (HTTP {status}): {detail}"
        )),
        _ => PluginError::Config(format!(
            "Google Text-to-Speech rejected the request (HTTP {status}): {detail}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_come_from_voice_names() {
        assert_eq!(
            language_of_voice("en-US-Neural2-D").as_deref(),
            Some("en-US")
        );
        assert_eq!(
            language_of_voice("cmn-CN-Wavenet-A").as_deref(),
            Some("cmn-CN")
        );
        assert_eq!(language_of_voice("Neural2"), None);
        assert_eq!(language_of_voice("en-US"), None);
    }

    #[test]
    fn the_body_asks_for_linear16_at_the_rate() {
        assert_eq!(
            synthesize_body("Hello there.", "en-US", "en-US-Neural2-F", 24000),
            json!({
                "input": {"text": "Hello there."},
                "voice": {"languageCode": "en-US", "name": "en-US-Neural2-F"},
                "audioConfig": {"audioEncoding": "LINEAR16", "sampleRateHertz": 24000}
            })
        );
    }

    #[test]
    fn answers_lose_their_wav_header() {
        let samples: Vec<i16> = (0..480).map(|i| (i * 10) as i16).collect();
        let wav = wav::write_mono(&samples, 16_000);
        let body = json!({"audioContent": STANDARD.encode(&wav)}).to_string();
        let parsed = parse_answer(body.as_bytes()).expect("parse");
        assert_eq!(parsed.sample_rate, 16_000);
        assert_eq!(parsed.samples, samples);
    }

    #[test]
    fn malformed_answers_are_protocol_errors() {
        for body in [
            b"<html>".to_vec(),
            b"{}".to_vec(),
            br#"{"audioContent":"%%%"}"#.to_vec(),
            json!({"audioContent": STANDARD.encode(b"ID3 mp3 bytes")})
                .to_string()
                .into_bytes(),
        ] {
            assert!(
                matches!(parse_answer(&body), Err(PluginError::Protocol(_))),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[test]
    fn google_errors_map_to_what_the_host_acts_on() {
        let body = br#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#;
        match status_error(401, &[], body) {
            PluginError::Auth(message) => {
                assert!(message.contains(CREDENTIALS_VAR), "{message}");
                assert!(message.contains("Google Text-to-Speech"), "{message}");
                assert!(message.contains("UNAUTHENTICATED"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(status_error(403, &[], b""), PluginError::Auth(_)));
        match status_error(429, &[("retry-after".into(), "2".into())], b"{}") {
            PluginError::RateLimited(limit) => assert_eq!(limit.retry_after_ms, Some(2000)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            status_error(500, &[], b""),
            PluginError::Unavailable(_)
        ));
        assert!(matches!(
            status_error(503, &[], b""),
            PluginError::Unavailable(_)
        ));
        assert!(matches!(
            status_error(400, &[], b""),
            PluginError::Config(_)
        ));
    }
}
