//! A fake OpenAI-compatible Chat Completions server (streaming, `stream: true`): `POST
//! {any base}/chat/completions` answered with `data:` chunks and `data: [DONE]`, in the flavour of
//! OpenAI, Groq (`x_groq`), Together (`choices[0].text`, `usage: null`) or llama.cpp (`timings`,
//! no `[DONE]`, no key), and the real error bodies for every [`Fault`] (401 with the masked key
//! echoed like OpenAI does, 429 with `retry-after` and Groq's body, 500, 503 for `Overloaded`, a
//! dropped stream, garbage data lines, a slow first byte).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use crate::fakes::{
    Control, FakeServer, Fault, Recorded, json_error, serve_scripted, sse_response,
};

/// `usage.prompt_tokens` the fake reports.
pub const PROMPT_TOKENS: u32 = 9;

/// Which server's habits the stream follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// OpenAI: the usage chunk with `choices: []` when asked for, then `[DONE]`.
    #[default]
    OpenAi,
    /// Groq: `x_groq` on the first and last chunks (the last with its usage).
    Groq,
    /// Together: each choice also carries `text`, ordinary chunks have `usage: null`.
    Together,
    /// llama.cpp server: `timings` on the last chunk, no `[DONE]`, no key needed.
    LlamaCpp,
}

/// What the fake answers with when no fault is queued.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The reply, one chunk per piece.
    pub reply: Vec<String>,
    /// The server's habits.
    pub flavor: Flavor,
    /// After this many pieces, a `data: {"error":...}` (`server_error`) ends the stream.
    pub error_after: Option<usize>,
}

impl Script {
    /// A plain OpenAI-flavoured reply.
    pub fn reply(reply: Vec<String>) -> Self {
        Self {
            reply,
            flavor: Flavor::OpenAi,
            error_after: None,
        }
    }

    /// The same with another flavour.
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }
}

/// Starts an OpenAI-flavoured fake answering every request with `reply`.
pub async fn start(reply: Vec<String>) -> FakeServer {
    start_with(Script::reply(reply)).await
}

/// Starts the fake with a full [`Script`].
pub async fn start_with(script: Script) -> FakeServer {
    // Every base URL (`/v1`, `/openai/v1`, none) ends in `/chat/completions`.
    serve_scripted(Router::new().fallback(completions), script).await
}

async fn completions(
    State((control, script)): State<(Control, Script)>,
    request: Recorded,
) -> Response {
    control.record(request.clone());
    if request.method != "POST" || !request.path.ends_with("/chat/completions") {
        return error(
            404,
            &format!("Unknown request URL: {} {}", request.method, request.path),
            "invalid_request_error",
            Some("unknown_url"),
        );
    }
    let key = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let fault = control.next_fault();
    match fault {
        Some(Fault::Unauthorized) => {
            return error(
                401,
                &format!(
                    "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                    masked(&key)
                ),
                "invalid_request_error",
                Some("invalid_api_key"),
            );
        }
        Some(Fault::RateLimited { retry_after_s }) => {
            let mut response = error(
                429,
                &format!(
                    "Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_fake` on tokens per minute (TPM): Limit 6000, Used 5990, Requested 120. Please try again in {retry_after_s}s."
                ),
                "tokens",
                Some("rate_limit_exceeded"),
            );
            response
                .headers_mut()
                .insert("retry-after", retry_after_s.into());
            return response;
        }
        Some(Fault::ServerError) => {
            return error(
                500,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
            );
        }
        Some(Fault::Overloaded) => {
            return error(503, "Service Unavailable", "internal_server_error", None);
        }
        Some(Fault::SlowFirstByte { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(Fault::DropMidStream | Fault::Malformed) | None => {}
    }
    if key.is_empty() && script.flavor != Flavor::LlamaCpp {
        return error(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error",
            None,
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return error(
            400,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
            None,
        );
    };
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    if model.is_empty() || !body["messages"].is_array() {
        return error(
            400,
            "you must provide a model parameter",
            "invalid_request_error",
            None,
        );
    }
    let include_usage = body["stream_options"]["include_usage"] == json!(true);
    let chunks = Chunks {
        model,
        flavor: script.flavor,
    };
    let mut frames = vec![chunks.piece(Some("assistant"), "", true)];
    match fault {
        Some(Fault::Malformed) => {
            frames.push("data: {\"id\":\"chatcmpl-fake\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\n\n".to_owned());
            frames.push("data: <html><body>502 Bad Gateway</body></html>\n\n".to_owned());
            return sse_response(frames, false);
        }
        Some(Fault::DropMidStream) => {
            let first = script.reply.first().cloned().unwrap_or_default();
            frames.push(chunks.piece(None, &first, false));
            return sse_response(frames, true);
        }
        _ => {}
    }
    for (i, piece) in script.reply.iter().enumerate() {
        if script.error_after == Some(i) {
            frames.push(data(json!({"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}})));
            return sse_response(frames, false);
        }
        frames.push(chunks.piece(None, piece, false));
    }
    let completion_tokens = script.reply.len();
    frames.push(chunks.finish(completion_tokens));
    if include_usage && matches!(script.flavor, Flavor::OpenAi | Flavor::Groq) {
        frames.push(data(json!({
            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_694_268_190,
            "model": chunks.model, "choices": [],
            "usage": usage(completion_tokens),
        })));
    }
    if script.flavor != Flavor::LlamaCpp {
        frames.push("data: [DONE]\n\n".to_owned());
    }
    sse_response(frames, false)
}

/// Builds the chunks of one stream in its flavour.
struct Chunks {
    model: String,
    flavor: Flavor,
}

impl Chunks {
    fn base(&self, choice: Value) -> Value {
        let mut chunk = json!({
            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_694_268_190,
            "model": self.model, "choices": [choice],
        });
        if self.flavor == Flavor::Together {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    fn piece(&self, role: Option<&str>, text: &str, first: bool) -> String {
        let mut delta = json!({"content": text});
        if let Some(role) = role {
            delta["role"] = json!(role);
        }
        let mut choice =
            json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": null});
        if self.flavor == Flavor::Together {
            choice["text"] = json!(text);
        }
        let mut chunk = self.base(choice);
        if first && self.flavor == Flavor::Groq {
            chunk["x_groq"] = json!({"id": "req_fake"});
        }
        data(chunk)
    }

    fn finish(&self, completion_tokens: usize) -> String {
        let mut choice =
            json!({"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"});
        if self.flavor == Flavor::Together {
            choice["text"] = json!("");
        }
        let mut chunk = self.base(choice);
        match self.flavor {
            Flavor::Groq => {
                chunk["x_groq"] = json!({"id": "req_fake", "usage": usage(completion_tokens)});
            }
            Flavor::Together => chunk["usage"] = usage(completion_tokens),
            Flavor::LlamaCpp => {
                chunk["timings"] =
                    json!({"prompt_n": PROMPT_TOKENS, "predicted_n": completion_tokens});
            }
            Flavor::OpenAi => {}
        }
        data(chunk)
    }
}

fn usage(completion_tokens: usize) -> Value {
    json!({
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion_tokens,
        "total_tokens": PROMPT_TOKENS as usize + completion_tokens,
    })
}

/// One `data:` event.
fn data(chunk: Value) -> String {
    format!("data: {chunk}\n\n")
}

/// A key as OpenAI echoes it in a 401: its start and end around stars.
fn masked(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "****".to_owned();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

/// The OpenAI error body `{"error":{"message","type","param","code"}}`.
fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Response {
    json_error(
        status,
        &json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    )
}
