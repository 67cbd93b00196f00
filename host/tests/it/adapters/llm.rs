//! The LLM adapters against their fake providers on 127.0.0.1: `anthropic` (claude, Messages API
//! SSE) and `openai-compat` (guest: Groq, Together, OpenAI, xAI Grok, local llama.cpp). Each test
//! loads the real built plugins into a real host, checks the request the fake received, and plays
//! one failure of issue 5: 401, 429 with retry-after, 5xx/529 (retried, then the fallback plugin),
//! a dropped stream, malformed data, a slow first byte. Each failure is written once and run for
//! both adapters (`for_both_adapters!`); the requests and quirks of each provider follow.

use crate::support;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::plugins::Studio;
use serde_json::json;
use studio_test_kit::fakes::{FakeServer, Fault, anthropic, openai};
use voice_studio::plugins::wit::{
    ChatMessage, ChatRole, Completion, LlmRequest, PluginError, Speaker,
};
use voice_studio::plugins::{CallError, PluginHost};

const ANTHROPIC_KEY: &str = "sk-ant-api03-test-key-0123456789abcdef";
const GROQ_KEY: &str = "gsk_test_groq_key_0123456789abcdef";

/// Every secret the guest plugin may read, as proposed for plugins.toml.
const GUEST_SECRETS: &str = r#"["GROQ_API_KEY", "TOGETHER_API_KEY", "OPENAI_API_KEY", "GROK_API_KEY", "LOCAL_LLAMA_API_KEY", "LOCAL_LLAMA_ENDPOINT", "GUEST_PROVIDER", "GUEST_MODEL"]"#;

fn pieces() -> Vec<String> {
    ["Hello", " from", " the fake."].map(String::from).to_vec()
}

/// A studio line request as the session sends it.
fn request(speaker: Speaker, model: &str) -> LlmRequest {
    LlmRequest {
        speaker,
        model: model.to_owned(),
        system: "You are on a podcast.".to_owned(),
        messages: vec![
            ChatMessage {
                role: ChatRole::User,
                content: "<speaker name=\"Basil\">Hi there</speaker>".to_owned(),
            },
            ChatMessage {
                role: ChatRole::Assistant,
                content: "Hello Basil.".to_owned(),
            },
            ChatMessage {
                role: ChatRole::User,
                content: "<speaker name=\"Basil\">What now?</speaker>".to_owned(),
            },
        ],
        max_tokens: 300,
        temperature: Some(0.7),
    }
}

/// What one call gave: the text streamed (also before a failure), the result, the time it took.
struct Outcome {
    text: String,
    result: Result<Completion, CallError>,
    elapsed: Duration,
}

impl Outcome {
    fn plugin_error(&self) -> &PluginError {
        match &self.result {
            Err(CallError::Plugin { error, .. }) => error,
            other => panic!(
                "expected a plugin error, got {other:?} (text {:?})",
                self.text
            ),
        }
    }

    fn completion(&self) -> &Completion {
        match &self.result {
            Ok(completion) => completion,
            Err(error) => panic!("expected success, got {error}"),
        }
    }
}

async fn call(host: &Arc<PluginHost>, request: LlmRequest) -> Outcome {
    let ai = voice_studio::speakers::Speaker::from(request.speaker)
        .ai()
        .expect("an LLM request is an AI's");
    let mut handle = host.llm(ai);
    let (tx, collector) = support::plugins::token_collector();
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(30), handle.complete(request, tx))
        .await
        .expect("an adapter call never hangs");
    let elapsed = started.elapsed();
    let text = collector.await.expect("collector");
    Outcome {
        text,
        result,
        elapsed,
    }
}

/// A studio whose `role` is served by `plugin` (with `secrets` and the `config` lines), and
/// `mock-llm` as its fallback when `fallback` is set.
async fn studio(
    role: &str,
    plugin: &str,
    secrets: &str,
    config: &str,
    fallback: bool,
) -> (Studio, Arc<PluginHost>) {
    let studio = Studio::with_plugins(&[plugin, "mock-llm"]);
    let fallback = if fallback {
        "fallback = [\"mock-llm\"]"
    } else {
        ""
    };
    studio.write_manifest(&format!(
        r#"
[roles]
{role} = "{plugin}"

[plugins.{plugin}]
path = "{plugin}.wasm"
capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
secrets = {secrets}
{fallback}
[plugins.{plugin}.config]
retry_base_ms = 20
{config}

[plugins.mock-llm]
path = "mock-llm.wasm"
capabilities = ["log", "config"]
[plugins.mock-llm.config]
token_delay_ms = 0
"#
    ));
    let host = studio.start(false).await;
    (studio, host)
}

/// A studio with claude on `anthropic` pointed at `fake`; `config` lines are added to its table.
async fn claude_studio(
    fake: &FakeServer,
    config: &str,
    fallback: bool,
) -> (Studio, Arc<PluginHost>) {
    let config = format!("base_url = \"{}\"\n{config}", fake.base_url());
    let (studio, host) = studio(
        "claude",
        "anthropic",
        r#"["ANTHROPIC_API_KEY"]"#,
        &config,
        fallback,
    )
    .await;
    host.set_secret("ANTHROPIC_API_KEY", ANTHROPIC_KEY);
    (studio, host)
}

/// A studio with the guest on `openai-compat` (GUEST_PROVIDER=groq, the Groq key set, Groq's base
/// URL on `fake`); `config` lines are added to its table.
async fn guest_studio(
    fake: &FakeServer,
    config: &str,
    fallback: bool,
) -> (Studio, Arc<PluginHost>) {
    let config = format!(
        "groq_base_url = \"{}/openai/v1\"\n{config}",
        fake.base_url()
    );
    let (studio, host) = studio("guest", "openai-compat", GUEST_SECRETS, &config, fallback).await;
    // Explicit, so the test does not depend on the environment it runs in.
    host.set_secret("GUEST_PROVIDER", "groq");
    host.set_secret("GUEST_MODEL", "");
    host.set_secret("GROQ_API_KEY", GROQ_KEY);
    (studio, host)
}

/// The text every fake streams (the three [`pieces`]).
const FAKE_TEXT: &str = "Hello from the fake.";

/// The adapter under test: each failure scenario below is written once and run for both.
#[derive(Debug, Clone, Copy)]
enum Llm {
    /// claude on `anthropic`.
    Anthropic,
    /// the guest on `openai-compat`, GUEST_PROVIDER=groq.
    Guest,
}

impl Llm {
    /// Its fake provider; after `error_after` pieces the stream carries the provider's error event.
    async fn fake(self, error_after: Option<usize>) -> FakeServer {
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
    async fn studio(
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
    fn request(self) -> LlmRequest {
        let speaker = match self {
            Self::Anthropic => Speaker::Claude,
            Self::Guest => Speaker::Guest,
        };
        request(speaker, "")
    }

    /// The plugin's name, as host errors show it.
    fn plugin(self) -> &'static str {
        match self {
            Self::Anthropic => "anthropic",
            Self::Guest => "openai-compat",
        }
    }

    /// The provider as the adapter's messages name it.
    fn provider(self) -> &'static str {
        match self {
            Self::Anthropic => "Anthropic",
            Self::Guest => "Groq",
        }
    }

    /// The secret holding the key, and the key the studio sets.
    fn key(self) -> (&'static str, &'static str) {
        match self {
            Self::Anthropic => ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
            Self::Guest => ("GROQ_API_KEY", GROQ_KEY),
        }
    }

    /// The header carrying `key` as the provider expects it.
    fn key_header(self, key: &str) -> (&'static str, String) {
        match self {
            Self::Anthropic => ("x-api-key", key.to_owned()),
            Self::Guest => ("authorization", format!("Bearer {key}")),
        }
    }

    /// The auth error for the fake's 401 (the masked key OpenAI echoes is redacted).
    fn auth_message(self) -> &'static str {
        match self {
            Self::Anthropic => "Anthropic refused ANTHROPIC_API_KEY (HTTP 401): invalid x-api-key",
            Self::Guest => {
                "Groq refused GROQ_API_KEY (HTTP 401): Incorrect API key provided: [redacted] You can find your API key at https://platform.openai.com/account/api-keys."
            }
        }
    }

    /// The exchange a plain line must make: the config it runs with, the request the provider
    /// must receive and the completion reported.
    fn exchange(self) -> Exchange {
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
    fn overload(self) -> (Fault, &'static str) {
        match self {
            Self::Anthropic => (
                Fault::Overloaded,
                "Anthropic is unavailable (HTTP 529): Overloaded",
            ),
            Self::Guest => (Fault::ServerError, "Groq is unavailable (HTTP 500)"),
        }
    }

    /// The error type the fake's mid-stream error event carries.
    fn stream_error_kind(self) -> &'static str {
        match self {
            Self::Anthropic => "overloaded_error",
            Self::Guest => "server_error",
        }
    }
}

/// What a plain line sends and reports ([`Llm::exchange`]).
struct Exchange {
    /// Config lines for the adapter's table.
    config: &'static str,
    /// The request path the provider must receive (always a POST).
    path: &'static str,
    /// Headers the request must carry.
    headers: Vec<(&'static str, String)>,
    /// The exact JSON body.
    body: serde_json::Value,
    /// The completion the call must report.
    completion: Completion,
}

/// One test per adapter for each scenario: `scenario::anthropic` and `scenario::guest`.
macro_rules! for_both_adapters {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn anthropic() {
                super::$scenario(super::Llm::Anthropic).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn guest() {
                super::$scenario(super::Llm::Guest).await;
            }
        }
    )*};
}

for_both_adapters!(
    streams_the_line_and_sends_the_exact_request,
    auth_failure_names_the_provider_and_variable_and_is_not_retried,
    a_missing_key_is_refused_unsent_and_a_key_set_at_run_time_applies_on_the_next_call,
    rate_limit_waits_for_retry_after_then_succeeds,
    rate_limit_longer_than_the_bound_fails_at_once_as_rate_limited,
    rate_limit_past_the_bound_falls_back_to_mock_llm,
    server_errors_are_retried_then_succeed,
    persistent_server_errors_are_unavailable_after_bounded_retries,
    persistent_server_errors_fall_back_to_mock_llm,
    stream_dropped_mid_reply_is_unavailable_and_not_retried,
    error_event_mid_stream_is_unavailable,
    malformed_stream_is_a_protocol_error,
    slow_first_byte_times_out_as_unavailable_instead_of_hanging,
    slow_first_byte_times_out_and_the_fallback_serves,
    slow_first_byte_is_retried_then_succeeds,
);

/// The line came from mock-llm, not from the fake.
fn assert_fallback_served(outcome: &Outcome) {
    outcome.completion();
    assert!(!outcome.text.is_empty());
    assert_ne!(outcome.text, FAKE_TEXT, "mock-llm served the line");
}

async fn streams_the_line_and_sends_the_exact_request(llm: Llm) {
    let expected = llm.exchange();
    let fake = llm.fake(None).await;
    let (_studio, host) = llm.studio(&fake, expected.config, false).await;
    let outcome = call(&host, llm.request()).await;
    assert_eq!(outcome.text, FAKE_TEXT);
    assert_eq!(outcome.completion(), &expected.completion);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", expected.path)
    );
    for (name, value) in &expected.headers {
        assert_eq!(sent.header(name), Some(value.as_str()), "{name}");
    }
    assert_eq!(sent.json(), expected.body);
}

async fn auth_failure_names_the_provider_and_variable_and_is_not_retried(llm: Llm) {
    let fake = llm.fake(None).await;
    // Even with a fallback configured: a refused key is the operator's to fix, not to hide.
    let (_studio, host) = llm.studio(&fake, "", true).await;
    fake.push_faults([Fault::Unauthorized]);
    let outcome = call(&host, llm.request()).await;
    let PluginError::Auth(message) = outcome.plugin_error() else {
        panic!("expected auth, got {:?}", outcome.result)
    };
    assert_eq!(message, llm.auth_message());
    // The OpenAI fake echoes the key masked, as OpenAI does; neither the key nor its start may show.
    let shown = outcome
        .result
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(shown.contains(llm.plugin()), "{shown}");
    let (_, key) = llm.key();
    for text in [message.as_str(), shown.as_str()] {
        assert!(!text.contains(key), "{text}");
        assert!(!text.contains(&key[..8]), "{text}");
    }
    assert_eq!(fake.requests().len(), 1, "an auth failure is not retried");
}

async fn a_missing_key_is_refused_unsent_and_a_key_set_at_run_time_applies_on_the_next_call(
    llm: Llm,
) {
    let fake = llm.fake(None).await;
    let (_studio, host) = llm.studio(&fake, "", false).await;
    let (variable, _) = llm.key();
    host.set_secret(variable, "");
    let missing = call(&host, llm.request()).await;
    assert!(
        matches!(missing.plugin_error(), PluginError::Config(m) if m.contains(variable) && m.contains(llm.provider())),
        "{:?}",
        missing.result
    );
    assert!(fake.requests().is_empty(), "nothing is sent without a key");

    let runtime_keys = ["k_first_runtime_key_000000", "k_second_runtime_key_11111"];
    for key in runtime_keys {
        host.set_secret(variable, key);
        call(&host, llm.request()).await.completion();
    }
    let (header, _) = llm.key_header("");
    let sent: Vec<_> = fake
        .requests()
        .iter()
        .map(|r| r.header(header).unwrap_or_default().to_owned())
        .collect();
    let expected: Vec<_> = runtime_keys.map(|key| llm.key_header(key).1).to_vec();
    assert_eq!(sent, expected);
}

async fn rate_limit_waits_for_retry_after_then_succeeds(llm: Llm) {
    let fake = llm.fake(None).await;
    let (_studio, host) = llm.studio(&fake, "", false).await;
    fake.push_faults([Fault::RateLimited { retry_after_s: 1 }]);
    let outcome = call(&host, llm.request()).await;
    assert_eq!(outcome.text, FAKE_TEXT);
    outcome.completion();
    assert_eq!(fake.requests().len(), 2);
    assert!(
        outcome.elapsed >= Duration::from_millis(1000),
        "{:?}",
        outcome.elapsed
    );
}

async fn rate_limit_longer_than_the_bound_fails_at_once_as_rate_limited(llm: Llm) {
    let fake = llm.fake(None).await;
    let (_studio, host) = llm.studio(&fake, "", false).await;
    fake.push_faults([Fault::RateLimited { retry_after_s: 30 }]);
    let outcome = call(&host, llm.request()).await;
    let PluginError::RateLimited(limit) = outcome.plugin_error() else {
        panic!("expected rate-limited, got {:?}", outcome.result)
    };
    assert_eq!(limit.retry_after_ms, Some(30_000));
    assert!(limit.message.contains(llm.provider()), "{}", limit.message);
    assert_eq!(fake.requests().len(), 1);
    assert!(
        outcome.elapsed < Duration::from_secs(5),
        "{:?}",
        outcome.elapsed
    );
}

async fn rate_limit_past_the_bound_falls_back_to_mock_llm(llm: Llm) {
    let fake = llm.fake(None).await;
    let (_studio, host) = llm.studio(&fake, "", true).await;
    fake.push_faults([Fault::RateLimited { retry_after_s: 60 }]);
    let outcome = call(&host, llm.request()).await;
    assert_fallback_served(&outcome);
    assert_eq!(fake.requests().len(), 1);
    assert!(
        outcome.elapsed < Duration::from_secs(5),
        "{:?}",
        outcome.elapsed
    );
}

async fn server_errors_are_retried_then_succeed(llm: Llm) {
    let fake = llm.fake(None).await;
    let (_studio, host) = llm.studio(&fake, "", false).await;
    fake.push_faults([Fault::ServerError, Fault::Overloaded]);
    let outcome = call(&host, llm.request()).await;
    assert_eq!(outcome.text, FAKE_TEXT);
    assert_eq!(fake.requests().len(), 3);
}

async fn persistent_server_errors_are_unavailable_after_bounded_retries(llm: Llm) {
    let fake = llm.fake(None).await;
    let (_studio, host) = llm.studio(&fake, "", false).await;
    let (fault, message) = llm.overload();
    fake.push_faults([fault.clone(), fault.clone(), fault]);
    let outcome = call(&host, llm.request()).await;
    assert!(
        matches!(outcome.plugin_error(), PluginError::Unavailable(m) if m.starts_with(message)),
        "{:?}",
        outcome.result
    );
    assert_eq!(fake.requests().len(), 3, "3 tries in all");
}

async fn persistent_server_errors_fall_back_to_mock_llm(llm: Llm) {
    let fake = llm.fake(None).await;
    let (_studio, host) = llm.studio(&fake, "", true).await;
    let (fault, _) = llm.overload();
    fake.push_faults([fault.clone(), fault.clone(), fault]);
    let outcome = call(&host, llm.request()).await;
    assert_fallback_served(&outcome);
    assert_eq!(fake.requests().len(), 3);
}

async fn stream_dropped_mid_reply_is_unavailable_and_not_retried(llm: Llm) {
    let fake = llm.fake(None).await;
    let (_studio, host) = llm.studio(&fake, "", true).await;
    fake.push_faults([Fault::DropMidStream]);
    let outcome = call(&host, llm.request()).await;
    assert_eq!(
        outcome.text, "Hello",
        "what arrived before the drop was delivered"
    );
    assert!(
        matches!(outcome.plugin_error(), PluginError::Unavailable(m) if m.contains(llm.provider())),
        "{:?}",
        outcome.result
    );
    assert_eq!(
        fake.requests().len(),
        1,
        "a started reply is never replayed"
    );
}

async fn error_event_mid_stream_is_unavailable(llm: Llm) {
    let fake = llm.fake(Some(1)).await;
    let (_studio, host) = llm.studio(&fake, "", false).await;
    let outcome = call(&host, llm.request()).await;
    assert_eq!(outcome.text, "Hello");
    assert!(
        matches!(outcome.plugin_error(), PluginError::Unavailable(m) if m.contains(llm.stream_error_kind())),
        "{:?}",
        outcome.result
    );
}

async fn malformed_stream_is_a_protocol_error(llm: Llm) {
    let fake = llm.fake(None).await;
    let (_studio, host) = llm.studio(&fake, "", false).await;
    fake.push_faults([Fault::Malformed]);
    let outcome = call(&host, llm.request()).await;
    assert!(
        matches!(outcome.plugin_error(), PluginError::Protocol(m) if m.contains("not JSON")),
        "{:?}",
        outcome.result
    );
    assert_eq!(fake.requests().len(), 1);
}

async fn slow_first_byte_times_out_as_unavailable_instead_of_hanging(llm: Llm) {
    let fake = llm.fake(None).await;
    let (_studio, host) = llm
        .studio(&fake, "timeout_ms = 300\nretries = 0", false)
        .await;
    fake.push_faults([Fault::SlowFirstByte { ms: 10_000 }]);
    let outcome = call(&host, llm.request()).await;
    assert!(
        matches!(outcome.plugin_error(), PluginError::Unavailable(m) if m.contains("timed out")),
        "{:?}",
        outcome.result
    );
    assert!(
        outcome.elapsed < Duration::from_secs(3),
        "{:?}",
        outcome.elapsed
    );
}

async fn slow_first_byte_times_out_and_the_fallback_serves(llm: Llm) {
    let fake = llm.fake(None).await;
    let (_studio, host) = llm
        .studio(&fake, "timeout_ms = 300\nretries = 0", true)
        .await;
    fake.push_faults([Fault::SlowFirstByte { ms: 10_000 }]);
    let outcome = call(&host, llm.request()).await;
    assert_fallback_served(&outcome);
    assert!(
        outcome.elapsed < Duration::from_secs(3),
        "{:?}",
        outcome.elapsed
    );
}

async fn slow_first_byte_is_retried_then_succeeds(llm: Llm) {
    let fake = llm.fake(None).await;
    let (_studio, host) = llm.studio(&fake, "timeout_ms = 300", false).await;
    fake.push_faults([Fault::SlowFirstByte { ms: 2_000 }]);
    let outcome = call(&host, llm.request()).await;
    assert_eq!(outcome.text, FAKE_TEXT);
    assert_eq!(fake.requests().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// anthropic only

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_takes_the_request_model_over_the_configured_one() {
    let fake = anthropic::start(pieces()).await;
    let (_studio, host) = claude_studio(&fake, "model = \"claude-sonnet-4-5\"", false).await;
    call(&host, request(Speaker::Claude, "claude-haiku-4-5-20251001"))
        .await
        .completion();
    call(&host, request(Speaker::Claude, "")).await.completion();
    let models: Vec<_> = fake
        .requests()
        .iter()
        .map(|r| r.json()["model"].clone())
        .collect();
    assert_eq!(
        models,
        [
            json!("claude-haiku-4-5-20251001"),
            json!("claude-sonnet-4-5")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_stream_ending_without_message_stop_is_unavailable() {
    let fake = anthropic::start_with(anthropic::Script {
        omit_message_stop: true,
        ..anthropic::Script::reply(pieces())
    })
    .await;
    let (_studio, host) = claude_studio(&fake, "", false).await;
    let outcome = call(&host, request(Speaker::Claude, "")).await;
    assert_eq!(outcome.text, FAKE_TEXT);
    assert!(
        matches!(outcome.plugin_error(), PluginError::Unavailable(m) if m.contains("message_stop")),
        "{:?}",
        outcome.result
    );
}

// ---------------------------------------------------------------------------------------------
// openai-compat only

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_provider_and_model_from_the_studio_settings_select_together() {
    let fake =
        openai::start_with(openai::Script::reply(pieces()).flavor(openai::Flavor::Together)).await;
    let (_studio, host) = guest_studio(
        &fake,
        &format!("together_base_url = \"{}/together/v1\"", fake.base_url()),
        false,
    )
    .await;
    host.set_secret("GUEST_PROVIDER", "together");
    host.set_secret("GUEST_MODEL", "mistralai/Mixtral-8x7B-Instruct-v0.1");
    host.set_secret("TOGETHER_API_KEY", "together-test-key-123456");
    let outcome = call(&host, request(Speaker::Guest, "")).await;
    assert_eq!(outcome.text, FAKE_TEXT, "Together's `text` is not doubled");
    assert_eq!(outcome.completion().output_tokens, Some(3));
    // The studio's per-line model wins over GUEST_MODEL.
    call(
        &host,
        request(Speaker::Guest, "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
    )
    .await
    .completion();
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/together/v1/chat/completions");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer together-test-key-123456")
    );
    assert_eq!(
        requests[0].json()["model"],
        json!("mistralai/Mixtral-8x7B-Instruct-v0.1")
    );
    assert_eq!(
        requests[1].json()["model"],
        json!("meta-llama/Llama-3.3-70B-Instruct-Turbo")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_server_needs_no_key_and_may_omit_done() {
    let fake =
        openai::start_with(openai::Script::reply(pieces()).flavor(openai::Flavor::LlamaCpp)).await;
    let (_studio, host) = guest_studio(&fake, "", false).await;
    host.set_secret("GUEST_PROVIDER", "local");
    host.set_secret("LOCAL_LLAMA_ENDPOINT", format!("{}/v1", fake.base_url()));
    host.set_secret("LOCAL_LLAMA_API_KEY", "");
    let outcome = call(&host, request(Speaker::Guest, "")).await;
    assert_eq!(outcome.text, FAKE_TEXT);
    assert_eq!(outcome.completion().stop_reason, "stop");
    let sent = &fake.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.json()["model"], json!("local"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_and_grok_use_their_own_urls_keys_and_default_models() {
    let fake = openai::start(pieces()).await;
    let base = fake.base_url();
    let (_studio, host) = guest_studio(
        &fake,
        &format!("openai_base_url = \"{base}/openai-api/v1\"\ngrok_base_url = \"{base}/xai/v1\""),
        false,
    )
    .await;
    host.set_secret("OPENAI_API_KEY", "sk-openai-test-000000000");
    host.set_secret("GROK_API_KEY", "xai-grok-test-000000000");
    host.set_secret("GUEST_PROVIDER", "openai");
    call(&host, request(Speaker::Guest, "")).await.completion();
    host.set_secret("GUEST_PROVIDER", "grok");
    call(&host, request(Speaker::Guest, "")).await.completion();
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let (openai, grok) = (&requests[0], &requests[1]);
    assert_eq!(openai.path, "/openai-api/v1/chat/completions");
    assert_eq!(
        openai.header("authorization"),
        Some("Bearer sk-openai-test-000000000")
    );
    assert_eq!(openai.json()["model"], json!("gpt-4.1-mini"));
    assert_eq!(openai.json()["max_completion_tokens"], json!(300));
    assert_eq!(grok.path, "/xai/v1/chat/completions");
    assert_eq!(
        grok.header("authorization"),
        Some("Bearer xai-grok-test-000000000")
    );
    assert_eq!(grok.json()["model"], json!("grok-3"));
    assert_eq!(grok.json()["max_tokens"], json!(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_guest_provider_is_a_configuration_error_listing_the_choices() {
    let fake = openai::start(pieces()).await;
    let (_studio, host) = guest_studio(&fake, "", false).await;
    host.set_secret("GUEST_PROVIDER", "mistral");
    let outcome = call(&host, request(Speaker::Guest, "")).await;
    assert!(
        matches!(outcome.plugin_error(), PluginError::Config(m) if m.contains("mistral") && m.contains("together")),
        "{:?}",
        outcome.result
    );
}
