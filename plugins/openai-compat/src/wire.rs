//! Chat Completions on the wire (`POST {base}/chat/completions`, `stream: true`): the request body,
//! and the streamed chunks read into tokens and a [`Completion`], with the quirks of Groq
//! (`x_groq`), Together (`choices[0].text`, `usage: null`) and llama.cpp (`timings`, no `[DONE]`).
//! Pure, so it is unit tested natively.

use studio_plugin::json::{self, Value, json};
use studio_plugin::llm::{Step, StreamedReply, Usage, excerpt, round_temperature};
use studio_plugin::sse::SseEvent;
use studio_plugin::{ChatRole, Completion, LlmRequest, PluginError, RateLimit};

use crate::provider::GuestProvider;

/// The request body: the system prompt first, then the messages as they are, streaming with usage.
pub fn request_body(
    request: &LlmRequest,
    provider: GuestProvider,
    model: &str,
    max_tokens: u32,
) -> Value {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if !request.system.is_empty() {
        messages.push(json!({"role": "system", "content": request.system}));
    }
    for message in &request.messages {
        let role = match message.role {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        };
        messages.push(json!({"role": role, "content": message.content}));
    }
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    body[provider.max_tokens_field()] = json!(max_tokens);
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(round_temperature(temperature));
    }
    body
}

/// The reply as the stream tells it so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    provider: GuestProvider,
    stop_reason: Option<String>,
    usage: Usage,
    done: bool,
}

impl Reply {
    /// A reply from `provider` (named in errors).
    pub fn new(provider: GuestProvider) -> Self {
        Self {
            provider,
            stop_reason: None,
            usage: Usage::default(),
            done: false,
        }
    }

    fn read_usage(&mut self, usage: &Value) {
        self.usage.read(usage, "prompt_tokens", "completion_tokens");
    }
}

impl StreamedReply for Reply {
    /// Reads one event (`data:` line). Malformed data is `protocol`; `{"error":...}` is mapped by
    /// its type; `[DONE]` is [`Step::Stop`].
    fn on_event(&mut self, event: &SseEvent) -> Result<Step, PluginError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(Step::Stop);
        }
        let chunk: Value = json::from_str(data).map_err(|error| {
            PluginError::Protocol(format!(
                "{} sent a chunk that is not JSON ({error}): {}",
                self.provider.display(),
                excerpt(data)
            ))
        })?;
        if !chunk.is_object() {
            return Err(PluginError::Protocol(format!(
                "{} sent a chunk that is not an object: {}",
                self.provider.display(),
                excerpt(data)
            )));
        }
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(self.provider, error));
        }
        // `usage` is null on Together's ordinary chunks; Groq has also reported it in `x_groq`.
        if let Some(usage) = chunk
            .get("usage")
            .filter(|u| u.is_object())
            .or_else(|| chunk.pointer("/x_groq/usage").filter(|u| u.is_object()))
        {
            self.read_usage(usage);
        }
        // The include_usage chunk has `choices: []`; one choice is asked for, so read the first.
        let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        else {
            return Ok(Step::Continue);
        };
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.stop_reason = Some(reason.to_owned());
        }
        // Together repeats the piece in `text`; only take it when there is no delta at all.
        let text = match choice.get("delta") {
            Some(delta) => delta.get("content").and_then(Value::as_str),
            None => choice.get("text").and_then(Value::as_str),
        };
        Ok(match text {
            Some(text) if !text.is_empty() => Step::Text(text.to_owned()),
            _ => Step::Continue,
        })
    }

    /// How the reply ended. A stream without `[DONE]` that gave a finish reason ended normally
    /// (some llama.cpp builds never send `[DONE]`); one with neither was cut off.
    fn finish(self) -> Result<Completion, PluginError> {
        if !self.done && self.stop_reason.is_none() {
            return Err(PluginError::Unavailable(format!(
                "{}'s stream ended before the reply finished (the connection dropped)",
                self.provider.display()
            )));
        }
        Ok(self
            .usage
            .completion(self.stop_reason.unwrap_or_else(|| "stop".to_owned())))
    }
}

/// A whole (non-streamed) completion, as a server that ignores `stream: true` answers: its text
/// and how it ended.
pub fn whole_completion(
    provider: GuestProvider,
    body: &[u8],
) -> Result<(String, Completion), PluginError> {
    let json: Value = json::from_slice(body).map_err(|error| {
        PluginError::Protocol(format!(
            "{} answered with JSON that does not parse ({error}): {}",
            provider.display(),
            excerpt(&String::from_utf8_lossy(body))
        ))
    })?;
    if let Some(error) = json.get("error").filter(|e| !e.is_null()) {
        return Err(stream_error(provider, error));
    }
    let choice = json.pointer("/choices/0").ok_or_else(|| {
        PluginError::Protocol(format!(
            "{} answered without choices: {}",
            provider.display(),
            excerpt(&json.to_string())
        ))
    })?;
    let text = choice
        .pointer("/message/content")
        .or_else(|| choice.get("text"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut reply = Reply::new(provider);
    reply.stop_reason = Some(
        choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .unwrap_or("stop")
            .to_owned(),
    );
    if let Some(usage) = json.get("usage").filter(|u| u.is_object()) {
        reply.read_usage(usage);
    }
    Ok((text, reply.finish()?))
}

/// The error for a mid-stream `data: {"error": ...}`.
pub fn stream_error(provider: GuestProvider, error: &Value) -> PluginError {
    let field = |key: &str| -> String {
        match error.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    };
    let message = match error {
        Value::String(text) => text.clone(),
        _ => field("message"),
    };
    let kind = field("type");
    let code = field("code");
    let name = provider.display();
    let text = format!("{name}'s stream failed ({kind} {code}): {message}");
    let is = |words: &[&str]| {
        words
            .iter()
            .any(|w| kind.eq_ignore_ascii_case(w) || code.eq_ignore_ascii_case(w))
    };
    if is(&[
        "rate_limit_exceeded",
        "rate_limit_error",
        "tokens",
        "requests",
        "429",
    ]) {
        PluginError::RateLimited(RateLimit {
            retry_after_ms: None,
            message: text,
        })
    } else if is(&["invalid_api_key", "authentication_error", "401", "403"]) {
        PluginError::Auth(format!(
            "{name} refused {} mid-stream: {message}",
            provider.key_variable()
        ))
    } else if is(&["invalid_request_error", "context_length_exceeded", "400"]) {
        PluginError::Protocol(text)
    } else {
        // server_error, llama.cpp's unavailable_error while loading, and anything new.
        PluginError::Unavailable(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use studio_plugin::llm::replay;
    use studio_plugin::{ChatMessage, Speaker};

    fn run(provider: GuestProvider, text: &str) -> (String, Result<Completion, PluginError>) {
        replay(Reply::new(provider), text)
    }

    const OPENAI: &str = r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"m","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"m","choices":[{"index":0,"delta":{"content":" world"},"finish_reason":null}]}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}

data: [DONE]

"#;

    #[test]
    fn deltas_stream_and_the_usage_chunk_is_read() {
        let (text, completion) = run(GuestProvider::OpenAi, OPENAI);
        assert_eq!(text, "Hello world");
        assert_eq!(completion, Ok(Completion::new("stop", Some(9), Some(2))));
    }

    #[test]
    fn together_repeats_text_and_nulls_usage_without_doubling() {
        let stream = concat!(
            "data: {\"id\":\"t\",\"choices\":[{\"index\":0,\"text\":\"Hi\",\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n",
            "data: {\"id\":\"t\",\"choices\":[{\"index\":0,\"text\":\"!\",\"delta\":{\"content\":\"!\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n",
            "data: [DONE]\n\n"
        );
        let (text, completion) = run(GuestProvider::Together, stream);
        assert_eq!(text, "Hi!");
        assert_eq!(completion, Ok(Completion::new("stop", Some(3), Some(2))));
    }

    #[test]
    fn groq_usage_in_x_groq_is_read() {
        let stream = concat!(
            "data: {\"id\":\"g\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Yo\"},\"finish_reason\":null}],\"x_groq\":{\"id\":\"req_1\"}}\n\n",
            "data: {\"id\":\"g\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}],\"x_groq\":{\"id\":\"req_1\",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}}\n\n",
            "data: [DONE]\n\n"
        );
        let (text, completion) = run(GuestProvider::Groq, stream);
        assert_eq!(text, "Yo");
        assert_eq!(completion, Ok(Completion::new("length", Some(5), Some(1))));
    }

    #[test]
    fn llama_cpp_without_done_ends_normally_after_a_finish_reason() {
        let stream = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Ok\"},\"finish_reason\":null}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"timings\":{\"predicted_n\":1}}\n\n",
        );
        let (text, completion) = run(GuestProvider::Local, stream);
        assert_eq!(text, "Ok");
        assert_eq!(completion, Ok(Completion::new("stop", None, None)));
    }

    #[test]
    fn a_stream_cut_before_any_finish_is_unavailable() {
        let stream = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Ok\"},\"finish_reason\":null}]}\n\n";
        let (text, completion) = run(GuestProvider::Groq, stream);
        assert_eq!(text, "Ok");
        assert!(
            matches!(&completion, Err(PluginError::Unavailable(m)) if m.starts_with("Groq")),
            "{completion:?}"
        );
    }

    #[test]
    fn error_chunks_map_to_what_the_host_acts_on() {
        let (_, result) = run(
            GuestProvider::Groq,
            "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"tokens\",\"code\":\"rate_limit_exceeded\"}}\n\n",
        );
        assert!(
            matches!(result, Err(PluginError::RateLimited(_))),
            "{result:?}"
        );
        let (_, result) = run(
            GuestProvider::Local,
            "data: {\"error\":{\"code\":503,\"message\":\"Loading model\",\"type\":\"unavailable_error\"}}\n\n",
        );
        assert!(
            matches!(&result, Err(PluginError::Unavailable(m)) if m.contains("Loading model")),
            "{result:?}"
        );
        let error = stream_error(
            GuestProvider::OpenAi,
            &json!({"message":"bad key","code":"invalid_api_key"}),
        );
        assert!(matches!(error, PluginError::Auth(m) if m.contains("OPENAI_API_KEY")));
        let error = stream_error(GuestProvider::OpenAi, &json!("oops"));
        assert!(matches!(error, PluginError::Unavailable(m) if m.contains("oops")));
    }

    #[test]
    fn malformed_chunks_are_protocol_errors() {
        for bad in [
            "data: {\"choices\":[{\"delta\n\n",
            "data: <html>502</html>\n\n",
            "data: 42\n\n",
        ] {
            let (_, result) = run(GuestProvider::Groq, bad);
            assert!(
                matches!(result, Err(PluginError::Protocol(_))),
                "{bad}: {result:?}"
            );
        }
    }

    #[test]
    fn a_whole_json_completion_is_read_too() {
        let body = br#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi all"},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#;
        assert_eq!(
            whole_completion(GuestProvider::Local, body),
            Ok((
                "Hi all".to_owned(),
                Completion::new("stop", Some(4), Some(2))
            ))
        );
        let loading =
            br#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#;
        assert!(matches!(
            whole_completion(GuestProvider::Local, loading),
            Err(PluginError::Unavailable(_))
        ));
        assert!(matches!(
            whole_completion(GuestProvider::Local, b"{}"),
            Err(PluginError::Protocol(_))
        ));
    }

    #[test]
    fn the_body_maps_the_request_exactly() {
        let request = LlmRequest {
            speaker: Speaker::Guest,
            model: String::new(),
            system: "You are the guest.".into(),
            messages: vec![
                ChatMessage::new(ChatRole::User, "Hi"),
                ChatMessage::new(ChatRole::Assistant, "Hello"),
            ],
            max_tokens: 200,
            temperature: Some(0.9),
        };
        assert_eq!(
            request_body(
                &request,
                GuestProvider::Groq,
                "llama-3.3-70b-versatile",
                200
            ),
            json!({
                "model": "llama-3.3-70b-versatile",
                "messages": [
                    {"role": "system", "content": "You are the guest."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello"},
                ],
                "stream": true,
                "stream_options": {"include_usage": true},
                "max_tokens": 200,
                "temperature": 0.9,
            })
        );
        let openai = request_body(
            &LlmRequest {
                system: String::new(),
                temperature: None,
                ..request
            },
            GuestProvider::OpenAi,
            "gpt-4.1-mini",
            50,
        );
        assert_eq!(openai["max_completion_tokens"], json!(50));
        assert!(openai.get("max_tokens").is_none());
        assert!(openai.get("temperature").is_none());
        assert_eq!(openai["messages"][0]["role"], json!("user"));
    }
}
