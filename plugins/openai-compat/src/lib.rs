//! `openai-compat`: the guest's lines through an OpenAI-compatible Chat Completions stream
//! (`POST {base}/chat/completions`, server-sent `data:` chunks): Groq, Together, OpenAI, xAI
//! Grok, or a local llama.cpp server.
//!
//! Which service: the studio setting GUEST_PROVIDER (read as a declared secret, so a change in
//! the settings dialog applies to the next call), else the config key `provider`, else `groq`.
//! Model: `request.model`, else GUEST_MODEL, else config `model`, else the provider's default.
//! Base URL: config `base_url` (all providers), else `<provider>_base_url` (`groq_base_url`, ...;
//! for `local` the LOCAL_LLAMA_ENDPOINT secret comes first), else the real service's URL.
//! The key (GROQ_API_KEY, TOGETHER_API_KEY, OPENAI_API_KEY, GROK_API_KEY; LOCAL_LLAMA_API_KEY,
//! optional) is read on every call, so a key set at run time through the settings API applies at
//! once. Also `max_tokens` (cap, default 1024) and `timeout_ms` (the whole exchange, default
//! 60000), both read by `studio_plugin::llm::Limits`, and the SDK's retry settings.

#![deny(missing_docs)]

pub mod provider;
pub mod wire;

use provider::GuestProvider;
use studio_plugin::http::{self, Provider, Request, SseStream};
use studio_plugin::llm::{self, Limits};
use studio_plugin::retry::RetryPolicy;
use studio_plugin::{
    Completion, LlmPlugin, LlmRequest, PluginError, PluginInfo, TokenSink, config, log,
};
use wire::Reply;

/// The largest non-streamed completion read.
const MAX_WHOLE_BODY: usize = 1 << 20;

/// The exported plugin.
pub struct OpenAiCompat;

impl LlmPlugin for OpenAiCompat {
    fn describe() -> PluginInfo {
        llm::http_plugin_info()
    }

    fn complete(request: LlmRequest, sink: &TokenSink<'_>) -> Result<Completion, PluginError> {
        let provider = selected_provider()?;
        let key = studio_value(provider.key_variable());
        if key.is_none() && provider.needs_key() {
            return Err(PluginError::Config(format!(
                "{} needs {}, which is not set (GUEST_PROVIDER={}): set it in the environment or the settings",
                provider.display(),
                provider.key_variable(),
                provider.id()
            )));
        }
        let result = stream(provider, &request, sink, key.as_deref());
        match &key {
            Some(key) => result.map_err(|error| http::redact(error, key)),
            None => result,
        }
    }
}

/// A studio value the plugin reads as a secret (a key, GUEST_PROVIDER, GUEST_MODEL): trimmed, None
/// when unset, empty, or not declared in plugins.toml.
fn studio_value(name: &str) -> Option<String> {
    config::secret(name)
        .ok()
        .flatten()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// GUEST_PROVIDER, else config `provider`, else Groq.
fn selected_provider() -> Result<GuestProvider, PluginError> {
    let (chosen, source) = match studio_value("GUEST_PROVIDER") {
        Some(value) => (value, "GUEST_PROVIDER"),
        None => (
            config::get_str("provider", "groq"),
            "the setting `provider`",
        ),
    };
    GuestProvider::parse(&chosen).ok_or_else(|| {
        let known: Vec<&str> = provider::ALL.iter().map(|p| p.id()).collect();
        PluginError::Config(format!(
            "{source} is `{chosen}`; use one of {}",
            known.join(", ")
        ))
    })
}

/// Where `provider` is reached: `base_url`, then (local) LOCAL_LLAMA_ENDPOINT, then
/// `<provider>_base_url`, then the real service.
fn base_url(provider: GuestProvider) -> String {
    if let Some(all) = config::get("base_url").ok().flatten() {
        return all;
    }
    if provider == GuestProvider::Local
        && let Some(endpoint) = studio_value("LOCAL_LLAMA_ENDPOINT")
    {
        return endpoint;
    }
    config::get_str(
        &format!("{}_base_url", provider.id()),
        provider.default_base_url(),
    )
}

fn stream(
    provider: GuestProvider,
    request: &LlmRequest,
    sink: &TokenSink<'_>,
    key: Option<&str>,
) -> Result<Completion, PluginError> {
    let model = llm::model(request, || {
        studio_value("GUEST_MODEL")
            .unwrap_or_else(|| config::get_str("model", provider.default_model()))
    });
    let limits = Limits::from_config();
    let max_tokens = limits.max_tokens_for(request.max_tokens);
    let url = provider::completions_url(&base_url(provider));
    let body = wire::request_body(request, provider, &model, max_tokens);
    let mut http_request = Request::post_json(url, &body)
        .header("accept", "text/event-stream")
        .timeout_ms(limits.timeout_ms);
    if let Some(key) = key {
        http_request = http_request.header("authorization", format!("Bearer {key}"));
    }
    log::debug(&format!(
        "chat completions on {} with {model}, max_tokens {max_tokens}",
        provider.id()
    ));
    let errors = Provider {
        name: provider.display(),
        key_variable: provider.key_variable(),
    };
    // Only the request and its status are retried: once tokens flow, a failure is final.
    let response = RetryPolicy::from_config()
        .run(&format!("{} chat completions", provider.display()), |_| {
            errors.send_checked(&http_request)
        })?;
    if !is_event_stream(&response.headers()) {
        // Some local servers ignore `stream: true` and answer with the whole completion.
        let body = http::read_to_end(&response, MAX_WHOLE_BODY)
            .map_err(|error| llm::broke_off(provider.display(), error))?;
        let (text, completion) = wire::whole_completion(provider, &body)?;
        sink.push(&text)?;
        return Ok(completion);
    }
    llm::relay(
        Reply::new(provider),
        SseStream::new(&response),
        provider.display(),
        |text| sink.push(text),
    )
}

/// Whether the response is a server-sent event stream (or says nothing about its type).
fn is_event_stream(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .is_none_or(|(_, value)| !value.to_ascii_lowercase().contains("json"))
}

studio_plugin::export_llm!(OpenAiCompat);
