//! `anthropic`: claude's lines from the Anthropic Messages API, streamed as server-sent events
//! (`POST /v1/messages`: `message_start`, `content_block_delta`, `message_delta`,
//! `message_stop`). Claude Haiku 4.5 by default.
//!
//! Settings (`[plugins.anthropic.config]`): `base_url` (default `https://api.anthropic.com`, so
//! tests reach a fake), `model` (default `claude-haiku-4-5`; a non-empty `request.model` wins),
//! `max_tokens` (a cap on the request's budget, default 1024) and `timeout_ms` (the whole
//! exchange, default 60000), both read by `studio_plugin::llm::Limits`, and the SDK's retry
//! settings (`retries`, `retry_base_ms`, `retry_after_max_ms`).
//! Secret: `ANTHROPIC_API_KEY`, read on every call so a key set at run time applies at once.

#![deny(missing_docs)]

pub mod wire;

use studio_plugin::http::{self, Request, SseStream};
use studio_plugin::llm::{self, Limits};
use studio_plugin::retry::RetryPolicy;
use studio_plugin::{
    Completion, LlmPlugin, LlmRequest, PluginError, PluginInfo, TokenSink, config, log,
};
use wire::{PROVIDER, Reply};

/// The public API.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// Claude Haiku 4.5 (the alias; the snapshot is `claude-haiku-4-5-20251001`).
pub const DEFAULT_MODEL: &str = "claude-haiku-4-5";

/// The exported plugin.
pub struct Anthropic;

impl LlmPlugin for Anthropic {
    fn describe() -> PluginInfo {
        llm::http_plugin_info()
    }

    fn complete(request: LlmRequest, sink: &TokenSink<'_>) -> Result<Completion, PluginError> {
        let key = config::secret(PROVIDER.key_variable)?
            .filter(|key| !key.trim().is_empty())
            .ok_or_else(|| {
                PluginError::Config(format!(
                    "Anthropic needs {}, which is not set (set it in the environment or the settings)",
                    PROVIDER.key_variable
                ))
            })?;
        stream(&request, sink, key.trim()).map_err(|error| http::redact(error, &key))
    }
}

/// The messages endpoint under `base` (with or without its `/v1`).
pub fn messages_url(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

fn stream(
    request: &LlmRequest,
    sink: &TokenSink<'_>,
    key: &str,
) -> Result<Completion, PluginError> {
    let model = llm::model(request, || config::get_str("model", DEFAULT_MODEL));
    let limits = Limits::from_config();
    let max_tokens = limits.max_tokens_for(request.max_tokens);
    let url = messages_url(&config::get_str("base_url", DEFAULT_BASE_URL));
    let body = wire::request_body(request, &model, max_tokens);
    let http_request = Request::post_json(url, &body)
        .header("x-api-key", key)
        .header("anthropic-version", wire::API_VERSION)
        .timeout_ms(limits.timeout_ms);
    log::debug(&format!("messages with {model}, max_tokens {max_tokens}"));
    // Only the request and its status are retried: once tokens flow, a failure is final.
    let response = RetryPolicy::from_config().run("Anthropic messages", |_| {
        PROVIDER.send_checked(&http_request)
    })?;
    let headers = response.headers();
    let content_type = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.as_str());
    if content_type.is_some_and(|t| !t.contains("event-stream")) {
        let body = http::read_to_end(&response, 64 * 1024).unwrap_or_default();
        return Err(PluginError::Protocol(format!(
            "Anthropic answered with {} instead of an event stream: {}",
            content_type.unwrap_or_default(),
            http::error_detail(&body)
        )));
    }
    llm::relay(
        Reply::default(),
        SseStream::new(&response),
        PROVIDER.name,
        |text| sink.push(text),
    )
}

studio_plugin::export_llm!(Anthropic);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_messages_url_takes_a_base_with_or_without_v1() {
        assert_eq!(
            messages_url("https://api.anthropic.com"),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            messages_url("http://127.0.0.1:9/v1/"),
            "http://127.0.0.1:9/v1/messages"
        );
    }
}
