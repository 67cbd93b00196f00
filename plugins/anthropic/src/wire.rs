//! The Messages API on the wire (`POST /v1/messages` with `stream: true`): the request body, and
//! the streamed events read into tokens and a [`Completion`]. Pure, so it is unit tested natively.

use studio_plugin::http::Provider;
use studio_plugin::json::{self, Value, json};
use studio_plugin::llm::{Step, StreamedReply, Usage, excerpt, round_temperature};
use studio_plugin::sse::SseEvent;
use studio_plugin::{ChatRole, Completion, LlmRequest, PluginError, RateLimit};

/// Anthropic as errors name it.
pub const PROVIDER: Provider<'static> = Provider {
    name: "Anthropic",
    key_variable: "ANTHROPIC_API_KEY",
};

/// The API version every request declares.
pub const API_VERSION: &str = "2023-06-01";

/// The request body for `request`: `system` and the messages as they are (a `system`-role message,
/// which the Messages API has no role for, is appended to the system prompt), streaming on.
pub fn request_body(request: &LlmRequest, model: &str, max_tokens: u32) -> Value {
    let mut system = request.system.clone();
    let mut messages = Vec::with_capacity(request.messages.len());
    for message in &request.messages {
        let role = match message.role {
            ChatRole::System => {
                if !system.is_empty() {
                    system.push_str("\n\n");
                }
                system.push_str(&message.content);
                continue;
            }
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        };
        messages.push(json!({"role": role, "content": message.content}));
    }
    let mut body = json!({
        "model": model,
        "max_tokens": max_tokens,
        "stream": true,
        "messages": messages,
    });
    if !system.is_empty() {
        body["system"] = Value::String(system);
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(round_temperature(temperature));
    }
    body
}

/// The reply as the stream tells it so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    stop_reason: Option<String>,
    usage: Usage,
    stopped: bool,
}

impl StreamedReply for Reply {
    /// Reads one event. Malformed data is `protocol`; an `error` event is mapped by its type;
    /// `message_stop` is [`Step::Stop`].
    fn on_event(&mut self, event: &SseEvent) -> Result<Step, PluginError> {
        let data: Value = json::from_str(&event.data).map_err(|error| {
            PluginError::Protocol(format!(
                "Anthropic sent a `{}` event whose data is not JSON ({error}): {}",
                event.event,
                excerpt(&event.data)
            ))
        })?;
        // The event name equals `data.type`; the data is authoritative when they differ.
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(event.event.as_str());
        match kind {
            "message_start" => {
                if let Some(usage) = data.pointer("/message/usage") {
                    self.read_usage(usage);
                }
                Ok(Step::Continue)
            }
            "content_block_delta" => {
                let Some(delta) = data.get("delta") else {
                    return Err(malformed(
                        "content_block_delta without a delta",
                        &event.data,
                    ));
                };
                // Only text is spoken; thinking and tool-input deltas are skipped.
                if delta.get("type").and_then(Value::as_str) != Some("text_delta") {
                    return Ok(Step::Continue);
                }
                match delta.get("text").and_then(Value::as_str) {
                    Some(text) => Ok(Step::Text(text.to_owned())),
                    None => Err(malformed("text_delta without text", &event.data)),
                }
            }
            "message_delta" => {
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(reason.to_owned());
                }
                if let Some(usage) = data.get("usage") {
                    self.read_usage(usage);
                }
                Ok(Step::Continue)
            }
            "message_stop" => {
                self.stopped = true;
                Ok(Step::Stop)
            }
            "error" => Err(stream_error(&data)),
            // ping, content_block_start/stop, and event types added after this was written.
            _ => Ok(Step::Continue),
        }
    }

    /// How the reply ended; a stream that ended without `message_stop` was cut off.
    fn finish(self) -> Result<Completion, PluginError> {
        if !self.stopped {
            return Err(PluginError::Unavailable(
                "Anthropic's stream ended before message_stop (the connection dropped)".into(),
            ));
        }
        Ok(self
            .usage
            .completion(self.stop_reason.unwrap_or_else(|| "end_turn".to_owned())))
    }
}

impl Reply {
    fn read_usage(&mut self, usage: &Value) {
        // message_delta's counts are cumulative, so the latest one wins.
        self.usage.read(usage, "input_tokens", "output_tokens");
    }
}

/// The error for a mid-stream `event: error`.
pub fn stream_error(data: &Value) -> PluginError {
    let kind = data
        .pointer("/error/type")
        .and_then(Value::as_str)
        .unwrap_or("unknown_error");
    let message = data
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("");
    let text = format!("Anthropic's stream failed with {kind}: {message}");
    match kind {
        "rate_limit_error" => PluginError::RateLimited(RateLimit {
            retry_after_ms: None,
            message: text,
        }),
        "authentication_error" | "permission_error" => PluginError::Auth(format!(
            "Anthropic refused {} mid-stream ({kind}): {message}",
            PROVIDER.key_variable
        )),
        // The request itself was wrong: trying it elsewhere or again does not help.
        "invalid_request_error" | "not_found_error" | "request_too_large" => {
            PluginError::Protocol(text)
        }
        // overloaded_error, api_error, timeouts and anything new: the service's trouble.
        _ => PluginError::Unavailable(text),
    }
}

fn malformed(what: &str, data: &str) -> PluginError {
    PluginError::Protocol(format!("Anthropic sent {what}: {}", excerpt(data)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use studio_plugin::llm::replay;
    use studio_plugin::{ChatMessage, Speaker};

    const STREAM: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-haiku-4-5-20251001","stop_reason":null,"usage":{"input_tokens":11,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: brand_new_event
data: {"type":"brand_new_event","whatever":true}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there!"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":6}}

event: message_stop
data: {"type":"message_stop"}

"#;

    fn run(text: &str) -> (String, Result<Completion, PluginError>) {
        replay(Reply::default(), text)
    }

    fn request(temperature: Option<f32>) -> LlmRequest {
        LlmRequest {
            speaker: Speaker::Claude,
            model: String::new(),
            system: "You are Claude.".into(),
            messages: vec![
                ChatMessage::new(ChatRole::User, "Hi"),
                ChatMessage::new(ChatRole::Assistant, "Hello"),
                ChatMessage::new(ChatRole::System, "Be brief."),
                ChatMessage::new(ChatRole::User, "Why?"),
            ],
            max_tokens: 300,
            temperature,
        }
    }

    #[test]
    fn text_deltas_stream_and_usage_and_stop_reason_are_reported() {
        let (text, completion) = run(STREAM);
        assert_eq!(text, "Hello there!");
        assert_eq!(
            completion,
            Ok(Completion::new("end_turn", Some(11), Some(6)))
        );
    }

    #[test]
    fn a_stream_without_message_stop_was_dropped() {
        let cut = STREAM
            .split("event: message_stop")
            .next()
            .unwrap_or_default();
        let (text, completion) = run(cut);
        assert_eq!(text, "Hello there!");
        assert!(
            matches!(completion, Err(PluginError::Unavailable(_))),
            "{completion:?}"
        );
    }

    #[test]
    fn an_overloaded_error_event_is_unavailable() {
        let stream = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let (_, result) = run(stream);
        assert!(
            matches!(&result, Err(PluginError::Unavailable(m)) if m.contains("overloaded_error") && m.contains("Overloaded")),
            "{result:?}"
        );
    }

    #[test]
    fn other_error_events_map_to_what_the_host_acts_on() {
        let error = |kind: &str| {
            stream_error(&json!({"type":"error","error":{"type": kind, "message":"m"}}))
        };
        assert!(matches!(
            error("rate_limit_error"),
            PluginError::RateLimited(_)
        ));
        assert!(matches!(error("api_error"), PluginError::Unavailable(_)));
        assert!(
            matches!(error("authentication_error"), PluginError::Auth(m) if m.contains("ANTHROPIC_API_KEY"))
        );
        assert!(matches!(
            error("invalid_request_error"),
            PluginError::Protocol(_)
        ));
        assert!(matches!(
            error("something_new"),
            PluginError::Unavailable(_)
        ));
    }

    #[test]
    fn malformed_data_is_a_protocol_error() {
        let (_, result) =
            run("event: content_block_delta\ndata: {\"type\":\"content_block_del\n\n");
        assert!(
            matches!(result, Err(PluginError::Protocol(_))),
            "{result:?}"
        );
        let (_, result) = run(
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\"}}\n\n",
        );
        assert!(
            matches!(result, Err(PluginError::Protocol(_))),
            "{result:?}"
        );
    }

    #[test]
    fn non_text_deltas_are_skipped() {
        let stream = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let (text, completion) = run(stream);
        assert_eq!(text, "");
        assert_eq!(completion, Ok(Completion::new("end_turn", None, None)));
    }

    #[test]
    fn the_body_maps_the_request_exactly() {
        let body = request_body(&request(Some(0.7)), "claude-haiku-4-5", 300);
        assert_eq!(
            body,
            json!({
                "model": "claude-haiku-4-5",
                "max_tokens": 300,
                "stream": true,
                "system": "You are Claude.\n\nBe brief.",
                "temperature": 0.7,
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello"},
                    {"role": "user", "content": "Why?"},
                ],
            })
        );
        let plain = request_body(
            &LlmRequest {
                system: String::new(),
                ..request(None)
            },
            "m",
            5,
        );
        assert!(plain.get("temperature").is_none());
        assert_eq!(plain["system"], json!("Be brief."));
    }
}
