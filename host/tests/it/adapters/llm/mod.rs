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

mod adapter;
mod anthropic_only;
mod openai_compat_only;

use adapter::Llm;
