//! `mock-llm`: the offline language model. Its replies are deterministic but in character: claude
//! hosts (reacts and asks questions), the guest argues (takes positions), both follow the briefing
//! (its topic, the must-cover items, their own position) and the last thing said to them, follow
//! the showrunner's segment cues, and handle thinking mode. It reads the conversation with the
//! SDK's transcript reader, so studio notes are never answered or quoted, and what it says is
//! whole sentences without markup. The reply streams word by word at `token_delay_ms`, and stops
//! at once when the studio cancels it.

#![deny(missing_docs)]

mod briefing;
mod heard;
mod reply;
mod stance;
mod text;

use std::time::Duration;
use studio_plugin::{
    Capability, Completion, LlmPlugin, LlmRequest, PluginError, PluginInfo, Role, TokenSink, config,
};

/// The exported plugin.
pub struct MockLlm;

impl LlmPlugin for MockLlm {
    fn describe() -> PluginInfo {
        // Exactly what plugins.toml grants it, so loading it warns about nothing.
        PluginInfo::for_role(Role::Llm).with_capabilities(&[Capability::Log, Capability::Config])
    }

    fn complete(request: LlmRequest, sink: &TokenSink<'_>) -> Result<Completion, PluginError> {
        let token_delay = config::get_u32("token_delay_ms", 30);
        let delay = Duration::from_millis(u64::from(token_delay));
        // A provider's time to first token (the benchmark scenario uses 200 ms); by default the
        // first token is as far away as any other.
        let first =
            Duration::from_millis(u64::from(config::get_u32("first_token_ms", token_delay)));
        let text = reply::compose(&request);
        let (tokens, stop_reason) = reply::tokens(&text, request.max_tokens);
        for (i, token) in tokens.iter().enumerate() {
            let wait = if i == 0 { first } else { delay };
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            // `cancelled` (barge-in) ends the call at once.
            sink.push(token)?;
        }
        Ok(Completion::new(
            stop_reason,
            Some(reply::prompt_tokens(&request)),
            Some(u32::try_from(tokens.len()).unwrap_or(u32::MAX)),
        ))
    }
}

studio_plugin::export_llm!(MockLlm);
