//! `contract-next-llm`: an `llm-plugin` built against `wit/v0.2.0` (the contract draft) with
//! wit-bindgen directly. It answers every request with one line that reports what 0.2.0 adds,
//! `deadline-ms`, and how many messages it got, so the host's tests can see that a 0.2 plugin
//! loads next to 0.1 ones and receives the new field:
//!
//! ```text
//! contract 0.2.0 deadline-ms 60000 messages 1.
//! ```

wit_bindgen::generate!({
    path: "../../wit/v0.2.0",
    world: "llm-plugin",
});

use exports::studio::plugin::llm::{Completion, Guest as Llm, LlmRequest};
use studio::plugin::streams::TokenSink;
use studio::plugin::types::{PluginError, Role};

/// The plugin; it keeps no state.
struct ContractNextLlm;

impl Guest for ContractNextLlm {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "contract-next-llm".into(),
            version: "1.0.0".into(),
            role: Role::Llm,
            contract: "0.2.0".into(),
            capabilities: Vec::new(),
            summary: "Reports the contract 0.2.0 fields it receives; for the host's tests.".into(),
        }
    }
}

impl Llm for ContractNextLlm {
    fn complete(request: LlmRequest, sink: &TokenSink) -> Result<Completion, PluginError> {
        let line = format!(
            "contract 0.2.0 deadline-ms {} messages {}.",
            request.deadline_ms,
            request.messages.len()
        );
        sink.push(&line)?;
        Ok(Completion {
            stop_reason: "end_turn".into(),
            input_tokens: None,
            output_tokens: Some(1),
        })
    }
}

// Only on wasm: native linkers reject the component model's export symbol names, and the
// workspace also builds this crate natively.
#[cfg(target_arch = "wasm32")]
export!(ContractNextLlm);
