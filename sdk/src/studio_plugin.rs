//! Write voice-studio plugins (speech to text, text to speech, language model, turn policy) as
//! WebAssembly components for the `studio:plugin@0.1.0` contract.
//!
//! Implement one trait for your role and export it with one macro:
//!
//! ```
//! use studio_plugin::{LlmPlugin, LlmRequest, TokenSink, Completion, PluginError, transcript};
//!
//! struct Echo;
//!
//! impl LlmPlugin for Echo {
//!     fn complete(request: LlmRequest, sink: &TokenSink<'_>) -> Result<Completion, PluginError> {
//!         // Others' lines come wrapped in the studio's markup, several to a message:
//!         // `transcript` unwraps them. None when this AI speaks first.
//!         match transcript::last_said(&request.messages) {
//!             Some(line) => sink.push(&format!("You said: {}", line.text))?,
//!             None => sink.push("Hello!")?,
//!         }
//!         Ok(Completion::end_turn())
//!     }
//! }
//!
//! studio_plugin::export_llm!(Echo);
//! ```
//!
//! Everything else here is what adapters keep needing: [`config`] with defaults, [`log`] macros,
//! [`sse`] parsing, [`pcm`] and [`wav`] audio helpers (with the host's anti-aliased
//! [`pcm::Resampler`]), the LLM request's conversation read by [`transcript`], and the streaming
//! [`text::ClauseSplitter`] the host uses too.
//! The pure helpers compile and run natively, so plugin logic can be unit tested with `cargo test`;
//! the host imports only work inside the studio (natively they panic).

#![deny(missing_docs)]

#[doc(hidden)]
#[path = "bindings.rs"]
pub mod __bindings;

pub mod clock;
pub mod config;
pub mod google_auth;
pub mod http;
pub mod llm;
pub mod log;
pub mod pcm;
pub mod retry;
mod roles;
pub mod sse;
pub mod text;
pub mod transcript;
pub mod turns;
mod types;
pub mod utterance;
pub mod wav;
pub mod websocket;

pub use roles::{
    AudioSink, LlmPlugin, Microphone, PolicyPlugin, SttPlugin, TokenSink, TranscriptSink, TtsPlugin,
};
pub use types::*;

/// JSON, re-exported so that every adapter uses the same `serde_json`.
pub use serde_json as json;

/// The contract version this SDK builds plugins against; `describe()` reports it by default.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// Child processes through the host (capability `process`, only `allowed_executables`).
pub mod process {
    pub use crate::__bindings::stt_world::studio::plugin::process::{Child, spawn};
}
