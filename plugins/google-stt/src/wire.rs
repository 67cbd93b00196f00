//! Google Speech-to-Text v1 `POST /v1/speech:recognize` as pure functions: the request body for an
//! utterance, the text in an answer, and the error in a refusal.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use studio_plugin::json::{Value, json};
use studio_plugin::{PluginError, http, pcm};

/// What is asked of the recognizer besides the audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// BCP-47, e.g. `en-US`.
    pub language_code: String,
    /// A model (`latest_short`, `phone_call`...); empty for Google's default.
    pub model: String,
    /// Whether Google adds punctuation.
    pub punctuation: bool,
    /// Phrases to expect (the guests' names, the topic's terms).
    pub phrases: Vec<String>,
}

/// The JSON body for 16-bit mono samples at `sample_rate`.
pub fn body(samples: &[i16], sample_rate: u32, options: &Options) -> Value {
    let mut config = json!({
        "encoding": "LINEAR16",
        "sampleRateHertz": sample_rate,
        "languageCode": options.language_code,
    });
    if !options.model.is_empty() {
        config["model"] = json!(options.model);
    }
    if options.punctuation {
        config["enableAutomaticPunctuation"] = json!(true);
    }
    if !options.phrases.is_empty() {
        config["speechContexts"] = json!([{ "phrases": options.phrases }]);
    }
    json!({
        "config": config,
        "audio": { "content": STANDARD.encode(pcm::samples_to_le_bytes(samples)) },
    })
}

/// The recognized text and its confidence; empty text when Google heard no words (`{}`).
pub fn parse_answer(body: &[u8]) -> Result<(String, Option<f32>), PluginError> {
    let value: Value = studio_plugin::json::from_slice(body).map_err(|e| {
        PluginError::Protocol(format!(
            "Google Speech-to-Text answered with something that is not JSON: {e}"
        ))
    })?;
    let results = match value.get("results") {
        None | Some(Value::Null) => return Ok((String::new(), None)),
        Some(Value::Array(results)) => results,
        Some(_) => {
            return Err(PluginError::Protocol(
                "Google Speech-to-Text answered with `results` that are not a list".into(),
            ));
        }
    };
    let mut text = String::new();
    let mut confidence = None;
    for result in results {
        let Some(best) = result
            .get("alternatives")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        else {
            continue;
        };
        let piece = best
            .get("transcript")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim();
        if piece.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(piece);
        confidence = confidence.or(best
            .get("confidence")
            .and_then(Value::as_f64)
            .map(|c| c as f32));
    }
    Ok((text, confidence))
}

/// The error for a non-2xx answer, with Google's own message (`{"error":{"message",...}}`);
/// a refused token names the credentials variable.
pub fn status_error(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    credentials_var: &str,
) -> PluginError {
    let message = studio_plugin::json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            let error = v.get("error")?;
            let text = error.get("message")?.as_str()?;
            let state = error.get("status").and_then(Value::as_str).unwrap_or("");
            Some(format!("{state} {text}").trim().to_owned())
        })
        .map_or_else(|| body.to_vec(), String::into_bytes);
    match http::status_error(status, headers, &message) {
        PluginError::Auth(m) => PluginError::Auth(format!(
            "Google Speech-to-Text refused the credentials in {credentials_var} ({m})"
        )),
        PluginError::Unavailable(m) => {
            PluginError::Unavailable(format!("Google Speech-to-Text is unavailable: {m}"))
        }
        PluginError::Config(m) => {
            PluginError::Config(format!("Google Speech-to-Text rejected the request: {m}"))
        }
        PluginError::RateLimited(mut limit) => {
            limit.message = format!("Google Speech-to-Text is rate limiting: {}", limit.message);
            PluginError::RateLimited(limit)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            language_code: "en-US".into(),
            model: String::new(),
            punctuation: false,
            phrases: Vec::new(),
        }
    }

    #[test]
    fn the_body_is_the_documented_linear16_request() {
        let body = body(&[1, -1], 16_000, &options());
        assert_eq!(
            body,
            json!({
                "config": {"encoding": "LINEAR16", "sampleRateHertz": 16000, "languageCode": "en-US"},
                "audio": {"content": "AQD//w=="},
            })
        );
        let with_all = super::body(
            &[],
            16_000,
            &Options {
                model: "latest_short".into(),
                punctuation: true,
                phrases: vec!["Claude".into()],
                ..options()
            },
        );
        assert_eq!(with_all["config"]["model"], "latest_short");
        assert_eq!(with_all["config"]["enableAutomaticPunctuation"], true);
        assert_eq!(
            with_all["config"]["speechContexts"][0]["phrases"][0],
            "Claude"
        );
    }

    #[test]
    fn answers_join_the_best_alternative_of_each_result() {
        let answer = br#"{"results":[{"alternatives":[{"transcript":"hello world","confidence":0.97},{"transcript":"yellow world"}],"resultEndTime":"1.230s","languageCode":"en-us"},{"alternatives":[{"transcript":" how are you"}]}],"totalBilledTime":"2s"}"#;
        assert_eq!(
            parse_answer(answer),
            Ok(("hello world how are you".to_owned(), Some(0.97)))
        );
        assert_eq!(parse_answer(b"{}"), Ok((String::new(), None)));
        assert_eq!(
            parse_answer(br#"{"results":[{"alternatives":[]}],"totalBilledTime":"1s"}"#),
            Ok((String::new(), None))
        );
    }

    #[test]
    fn malformed_answers_are_protocol_errors() {
        assert!(matches!(
            parse_answer(b"nope"),
            Err(PluginError::Protocol(_))
        ));
        assert!(matches!(
            parse_answer(br#"{"results":7}"#),
            Err(PluginError::Protocol(_))
        ));
    }

    #[test]
    fn google_errors_keep_their_message() {
        let body = br#"{"error":{"code":429,"message":"Quota exceeded.","status":"RESOURCE_EXHAUSTED","details":[]}}"#;
        let headers = vec![("retry-after".to_owned(), "2".to_owned())];
        match status_error(429, &headers, body, "GOOGLE_APPLICATION_CREDENTIALS") {
            PluginError::RateLimited(limit) => {
                assert_eq!(limit.retry_after_ms, Some(2000));
                assert!(
                    limit.message.contains("RESOURCE_EXHAUSTED Quota exceeded."),
                    "{}",
                    limit.message
                );
            }
            other => panic!("{other:?}"),
        }
        let refused = status_error(401, &[], br#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#, "GOOGLE_APPLICATION_CREDENTIALS");
        assert!(
            matches!(&refused, PluginError::Auth(m) if m.contains("GOOGLE_APPLICATION_CREDENTIALS") && m.contains("401")),
            "{refused:?}"
        );
        assert!(matches!(
            status_error(503, &[], b"", "X"),
            PluginError::Unavailable(_)
        ));
    }
}
