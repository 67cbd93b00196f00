//! The adapter under test, as a value: each failure scenario is written once and run for
//! both LLM adapters.

use super::*;

/// The adapter under test: each failure scenario below is written once and run for both.
#[derive(Debug, Clone, Copy)]
pub(super) enum Llm {
    /// claude on `anthropic`.
    Anthropic,
    /// the guest on `openai-compat`, GUEST_PROVIDER=groq.
    Guest,
}

impl Llm {
    /// Its fake provider; after `error_after` pieces the stream carries the provider's error event.
    pub(super) async fn fake(self, error_after: Option<usize>) -> FakeServer {
        match self {
            Self::Anthropic => {
                anthropic::start_with(anthropic::Script {
                    error_after,
                    ..anthropic::Script::reply(pieces())
                })
                .await
            }
            // GUEST_PROVIDER is groq, so the fake streams in Groq's way.
            Self::Guest => {
                openai::start_with(openai::Script {
                    error_after,
                    ..openai::Script::reply(pieces()).flavor(openai::Flavor::Groq)
                })
                .await
            }
        }
    }

    /// A studio with this adapter pointed at `fake`, its key set; `config` lines are added.
    pub(super) async fn studio(
        self,
        fake: &FakeServer,
        config: &str,
        fallback: bool,
    ) -> (Studio, Arc<PluginHost>) {
        match self {
            Self::Anthropic => claude_studio(fake, config, fallback).await,
            Self::Guest => guest_studio(fake, config, fallback).await,
        }
    }

    /// A studio line request for its speaker.
    pub(super) fn request(self) -> LlmRequest {
        let speaker = match self {
            Self::Anthropic => Speaker::Claude,
            Self::Guest => Speaker::Guest,
        };
        request(speaker, "")
    }

    /// The plugin's name, as host errors show it.
    pub(super) fn plugin(self) -> &'static str {
        match self {
            Self::Anthropic => "anthropic",
            Self::Guest => "openai-compat",
        }
    }

    /// The provider as the adapter's messages name it.
    pub(super) fn provider(self) -> &'static str {
        match self {
            Self::Anthropic => "Anthropic",
            Self::Guest => "Groq",
        }
    }

    /// The secret holding the key, and the key the studio sets.
    pub(super) fn key(self) -> (&'static str, &'static str) {
        match self {
            Self::Anthropic => ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
            Self::Guest => ("GROQ_API_KEY", GROQ_KEY),
        }
    }

    /// The header carrying `key` as the provider expects it.
    pub(super) fn key_header(self, key: &str) -> (&'static str, String) {
        match self {
            Self::Anthropic => ("x-api-key", key.to_owned()),
            Self::Guest => ("authorization", format!("Bearer {key}")),
        }
    }

    /// The auth error for the fake's 401 (the masked key OpenAI echoes is redacted).
    pub(super) fn auth_message(self) -> &'static str {
        match self {
            Self::Anthropic => "Anthropic refused ANTHROPIC_API_KEY (HTTP 401): invalid x-api-key",
            Self::Guest => {
                "Groq refused GROQ_API_KEY (HTTP 401): Incorrect API key provided: [redacted] You can find your API key at https://platform.openai.com/account/api-keys."
            }
        }
    }

    /// The exchange a plain line must make: the config it runs with, the request the provider
    /// must receive and the completion reported.
    pub(super) fn exchange(self) -> Exchange {
        let messages = [
            json!({"role": "user", "content": "<speaker name=\"Basil\">Hi there</speaker>"}),
            json!({"role": "assistant", "content": "Hello Basil."}),
            json!({"role": "user", "content": "<speaker name=\"Basil\">What now?</speaker>"}),
        ];
        match self {
            Self::Anthropic => Exchange {
                config: "max_tokens = 200",
                path: "/v1/messages",
                headers: vec![
                    ("x-api-key", ANTHROPIC_KEY.to_owned()),
                    ("anthropic-version", "2023-06-01".to_owned()),
                    ("content-type", "application/json".to_owned()),
                ],
                body: json!({
                    "model": "claude-haiku-4-5",
                    "max_tokens": 200,
                    "stream": true,
                    "system": "You are on a podcast.",
                    "temperature": 0.7,
                    "messages": messages,
                }),
                completion: Completion {
                    stop_reason: "end_turn".into(),
                    input_tokens: Some(anthropic::INPUT_TOKENS),
                    output_tokens: Some(3),
                },
            },
            Self::Guest => Exchange {
                config: "",
                path: "/openai/v1/chat/completions",
                headers: vec![
                    ("authorization", format!("Bearer {GROQ_KEY}")),
                    ("content-type", "application/json".to_owned()),
                ],
                body: json!({
                    "model": "llama-3.3-70b-versatile",
                    "messages": [
                        {"role": "system", "content": "You are on a podcast."},
                        messages[0], messages[1], messages[2],
                    ],
                    "stream": true,
                    "stream_options": {"include_usage": true},
                    "max_tokens": 300,
                    "temperature": 0.7,
                }),
                completion: Completion {
                    stop_reason: "stop".into(),
                    input_tokens: Some(openai::PROMPT_TOKENS),
                    output_tokens: Some(3),
                },
            },
        }
    }

    /// The provider's own server failure (Anthropic's 529, Groq's 500) and the start of the
    /// `unavailable` message it becomes.
    pub(super) fn overload(self) -> (Fault, &'static str) {
        match self {
            Self::Anthropic => (
                Fault::Overloaded,
                "Anthropic is unavailable (HTTP 529): Overloaded",
            ),
            Self::Guest => (Fault::ServerError, "Groq is unavailable (HTTP 500)"),
        }
    }

    /// The error type the fake's mid-stream error event carries.
    pub(super) fn stream_error_kind(self) -> &'static str {
        match self {
            Self::Anthropic => "overloaded_error",
            Self::Guest => "server_error",
        }
    }
}
