//! Outbound HTTP(S) through the host (capability `http`, only to the plugin's `allowed_hosts`), with
//! request builders, streaming server-sent events, and the mapping from HTTP failures to the
//! `PluginError` case the host acts on.

pub use crate::__bindings::stt_world::studio::plugin::http::{Method, Request, Response, send};

use crate::PluginError;
use crate::sse::{SseEvent, SseParser};

impl Request {
    /// A request with no headers, no body and the host's default timeout.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
        }
    }

    /// A GET request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A POST with a JSON body (and `content-type: application/json`).
    pub fn post_json(url: impl Into<String>, body: &serde_json::Value) -> Self {
        Self::new(Method::Post, url)
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// Sets the overall time limit in ms.
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = Some(ms);
        self
    }
}

/// Reads a response body to its end, failing with `protocol` past `max_bytes`.
pub fn read_to_end(response: &Response, max_bytes: usize) -> Result<Vec<u8>, PluginError> {
    let mut body = Vec::new();
    while let Some(piece) = response.read(64 * 1024)? {
        body.extend_from_slice(&piece);
        if body.len() > max_bytes {
            return Err(PluginError::Protocol(format!(
                "response body over {max_bytes} bytes"
            )));
        }
    }
    Ok(body)
}

/// Sends `request` and turns a non-2xx answer into the matching error (reading the body, up to
/// 64 KiB, for the message). A 2xx response comes back for the caller to read.
pub fn send_checked(request: &Request) -> Result<Response, PluginError> {
    send_mapping_errors(request, status_error)
}

/// Sends `request`; a non-2xx answer becomes `error(status, headers, body)` (body read up to 64 KiB).
fn send_mapping_errors(
    request: &Request,
    error: impl FnOnce(u16, &[(String, String)], &[u8]) -> PluginError,
) -> Result<Response, PluginError> {
    let response = send(request)?;
    let status = response.status();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let headers = response.headers();
    let body = read_to_end(&response, 64 * 1024).unwrap_or_default();
    Err(error(status, &headers, &body))
}

/// The error for a failed HTTP status: 401/403 `auth`, 429 `rate-limited` (with `retry-after`),
/// 5xx and 408 `unavailable`, 400/404/422 and other 4xx `config` (a bad model, URL or
/// parameter: retrying does not help). The message carries the status and the start of the body.
pub fn status_error(status: u16, headers: &[(String, String)], body: &[u8]) -> PluginError {
    let text = String::from_utf8_lossy(body);
    let excerpt: String = text.chars().take(300).collect();
    let message = format!("HTTP {status}: {}", excerpt.trim());
    match status {
        401 | 403 => PluginError::Auth(message),
        429 => PluginError::RateLimited(crate::RateLimit {
            retry_after_ms: retry_after_ms(headers),
            message,
        }),
        408 | 500..=599 => PluginError::Unavailable(message),
        _ => PluginError::Config(message),
    }
}

/// The `retry-after` header in ms (seconds, possibly fractional; HTTP dates are not parsed), or
/// the `retry-after-ms` header some APIs send.
pub fn retry_after_ms(headers: &[(String, String)]) -> Option<u64> {
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    if let Some(ms) = find("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(ms.max(0.0) as u64);
    }
    let seconds = find("retry-after")?.parse::<f64>().ok()?;
    Some((seconds.max(0.0) * 1000.0) as u64)
}

/// Who a request goes to, for errors that tell the operator what to fix: the provider's name as
/// people know it and the secret (environment variable) that authenticates to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider<'a> {
    /// E.g. `Anthropic`, `Groq`.
    pub name: &'a str,
    /// E.g. `ANTHROPIC_API_KEY`.
    pub key_variable: &'a str,
}

impl Provider<'_> {
    /// [`status_error`] with messages that name the provider (and, for 401/403, the variable):
    /// "Anthropic refused ANTHROPIC_API_KEY (HTTP 401): invalid x-api-key". The detail is the
    /// provider's own `error.message` when the body is its JSON error, else the start of the body.
    pub fn status_error(
        &self,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> PluginError {
        let name = self.name;
        let detail = error_detail(body);
        match status_error(status, headers, body) {
            PluginError::Auth(_) => PluginError::Auth(format!(
                "{name} refused {} (HTTP {status}): {detail}",
                self.key_variable
            )),
            PluginError::RateLimited(limit) => PluginError::RateLimited(crate::RateLimit {
                retry_after_ms: limit.retry_after_ms,
                message: format!("{name} is rate limiting (HTTP {status}): {detail}"),
            }),
            PluginError::Unavailable(_) => {
                PluginError::Unavailable(format!("{name} is unavailable (HTTP {status}): {detail}"))
            }
            PluginError::Config(_) => PluginError::Config(format!(
                "{name} rejected the request (HTTP {status}): {detail}"
            )),
            other => other,
        }
    }

    /// [`send_checked`] with [`Provider::status_error`]'s messages.
    pub fn send_checked(&self, request: &Request) -> Result<Response, PluginError> {
        send_mapping_errors(request, |status, headers, body| {
            self.status_error(status, headers, body)
        })
    }
}

/// The human part of a provider's JSON error body (`error.message`, the shape Anthropic, OpenAI
/// and most LLM APIs share, or a top-level `message`), else the start of the body as text.
pub fn error_detail(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = parsed.as_ref().and_then(|json| {
        json.pointer("/error/message")
            .or_else(|| json.get("message"))
            .and_then(serde_json::Value::as_str)
            .or_else(|| json.get("error").and_then(serde_json::Value::as_str))
    });
    let text = match message {
        Some(message) => message.to_owned(),
        None => String::from_utf8_lossy(body).into_owned(),
    };
    let text: String = text.trim().chars().take(300).collect();
    if text.is_empty() {
        "(no details)".to_owned()
    } else {
        text
    }
}

/// `error` with every trace of `secret` taken out of its message: the whole value, and words that
/// start like it (providers echo a masked key, e.g. OpenAI's "Incorrect API key provided:
/// sk-abc1*****wxyz"). Keys must never reach logs, events or the client.
pub fn redact(error: PluginError, secret: &str) -> PluginError {
    let clean = |message: String| redact_text(&message, secret);
    match error {
        PluginError::Config(m) => PluginError::Config(clean(m)),
        PluginError::Auth(m) => PluginError::Auth(clean(m)),
        PluginError::Unavailable(m) => PluginError::Unavailable(clean(m)),
        PluginError::Protocol(m) => PluginError::Protocol(clean(m)),
        PluginError::Denied(m) => PluginError::Denied(clean(m)),
        PluginError::Internal(m) => PluginError::Internal(clean(m)),
        PluginError::RateLimited(limit) => PluginError::RateLimited(crate::RateLimit {
            retry_after_ms: limit.retry_after_ms,
            message: clean(limit.message),
        }),
        PluginError::Cancelled => PluginError::Cancelled,
    }
}

/// [`redact`] on plain text.
pub fn redact_text(text: &str, secret: &str) -> String {
    let secret = secret.trim();
    if secret.len() < 4 {
        return text.to_owned();
    }
    // A masked echo keeps the key's first few characters; 6 (or the whole short key) is enough to
    // recognize it without matching ordinary words.
    let prefix: String = secret.chars().take(6).collect();
    let text = text.replace(secret, "[redacted]");
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            let bare = word
                .trim_end()
                .trim_start_matches(['"', '\'', '(', '`', ':']);
            if bare.len() >= prefix.len() && bare.starts_with(&prefix) {
                let trailing = &word[word.trim_end().len()..];
                format!("[redacted]{trailing}")
            } else {
                word.to_owned()
            }
        })
        .collect()
}

/// A streaming response read as server-sent events: an iterator of `Result<SseEvent, PluginError>`
/// that ends with the body.
pub struct SseStream<'a> {
    response: &'a Response,
    parser: SseParser,
    ready: std::collections::VecDeque<SseEvent>,
    done: bool,
}

impl<'a> SseStream<'a> {
    /// Reads `response`'s body as an event stream.
    pub fn new(response: &'a Response) -> Self {
        Self {
            response,
            parser: SseParser::new(),
            ready: Default::default(),
            done: false,
        }
    }
}

impl Iterator for SseStream<'_> {
    type Item = Result<SseEvent, PluginError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            match self.response.read(16 * 1024) {
                Ok(Some(bytes)) => self.ready.extend(self.parser.feed(&bytes)),
                Ok(None) => {
                    self.done = true;
                    self.ready.extend(self.parser.finish());
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn statuses_map_to_the_error_the_host_acts_on() {
        assert!(
            matches!(status_error(401, &[], b"bad key"), PluginError::Auth(m) if m.contains("401") && m.contains("bad key"))
        );
        assert!(matches!(status_error(403, &[], b""), PluginError::Auth(_)));
        assert!(matches!(
            status_error(503, &[], b"overloaded"),
            PluginError::Unavailable(_)
        ));
        assert!(matches!(
            status_error(529, &[], b""),
            PluginError::Unavailable(_)
        ));
        assert!(matches!(
            status_error(404, &[], b"no such model"),
            PluginError::Config(_)
        ));
        match status_error(429, &headers(&[("Retry-After", "2")]), b"slow down") {
            PluginError::RateLimited(limit) => {
                assert_eq!(limit.retry_after_ms, Some(2000));
                assert!(limit.message.contains("slow down"));
            }
            other => panic!("expected rate-limited, got {other:?}"),
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        assert_eq!(
            retry_after_ms(&headers(&[("retry-after", "1.5")])),
            Some(1500)
        );
        assert_eq!(
            retry_after_ms(&headers(&[("retry-after-ms", "250"), ("retry-after", "9")])),
            Some(250)
        );
        assert_eq!(
            retry_after_ms(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            None
        );
        assert_eq!(retry_after_ms(&[]), None);
    }

    #[test]
    fn long_error_bodies_are_cut_in_the_message() {
        let body = "x".repeat(5000);
        let PluginError::Config(message) = status_error(400, &[], body.as_bytes()) else {
            panic!("config")
        };
        assert!(message.len() < 400);
    }

    #[test]
    fn provider_errors_name_the_provider_and_the_variable() {
        let anthropic = Provider {
            name: "Anthropic",
            key_variable: "ANTHROPIC_API_KEY",
        };
        let body = br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
        assert_eq!(
            anthropic.status_error(401, &[], body),
            PluginError::Auth(
                "Anthropic refused ANTHROPIC_API_KEY (HTTP 401): invalid x-api-key".into()
            )
        );
        match anthropic.status_error(429, &headers(&[("retry-after", "3")]), b"{}") {
            PluginError::RateLimited(limit) => {
                assert_eq!(limit.retry_after_ms, Some(3000));
                assert!(
                    limit
                        .message
                        .starts_with("Anthropic is rate limiting (HTTP 429)")
                );
            }
            other => panic!("expected rate-limited, got {other:?}"),
        }
        assert!(matches!(
            anthropic.status_error(529, &[], b"Overloaded"),
            PluginError::Unavailable(m) if m == "Anthropic is unavailable (HTTP 529): Overloaded"
        ));
        assert!(matches!(
            anthropic.status_error(404, &[], b""),
            PluginError::Config(m) if m.ends_with("(no details)")
        ));
    }

    #[test]
    fn error_detail_reads_the_providers_message() {
        assert_eq!(
            error_detail(br#"{"error":{"message":"Rate limit reached","type":"tokens"}}"#),
            "Rate limit reached"
        );
        assert_eq!(error_detail(br#"{"message":"quota"}"#), "quota");
        assert_eq!(
            error_detail(br#"{"error":"model loading"}"#),
            "model loading"
        );
        assert_eq!(
            error_detail(b"  <html>Bad Gateway</html> "),
            "<html>Bad Gateway</html>"
        );
    }

    #[test]
    fn redaction_removes_the_key_and_its_masked_echo() {
        let key = "sk-test-1234567890abcdef";
        let message = format!(
            "Incorrect API key provided: sk-tes************cdef. Also {key} and \"{key}\"."
        );
        let clean = redact_text(&message, key);
        assert!(!clean.contains(key), "{clean}");
        assert!(!clean.contains("sk-tes"), "{clean}");
        assert!(
            clean.starts_with("Incorrect API key provided: [redacted] Also"),
            "{clean}"
        );
        assert_eq!(redact_text("short key", "ab"), "short key");
        let error = redact(PluginError::Auth(format!("bad {key}")), key);
        assert_eq!(error, PluginError::Auth("bad [redacted]".into()));
    }

    #[test]
    fn request_builders_set_method_headers_and_body() {
        let request =
            Request::post_json("https://api.example.com/v1", &serde_json::json!({"a": 1}))
                .header("x-api-key", "k")
                .timeout_ms(5000);
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.body, b"{\"a\":1}".to_vec());
        assert_eq!(
            request.headers[0],
            ("content-type".to_owned(), "application/json".to_owned())
        );
        assert_eq!(request.headers[1], ("x-api-key".to_owned(), "k".to_owned()));
        assert_eq!(request.timeout_ms, Some(5000));
        assert_eq!(Request::get("http://x").method, Method::Get);
    }
}
