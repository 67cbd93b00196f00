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
// Everything that talks to the studio (the bindings, the role traits, the host capabilities) is
// behind the default feature `plugin-api`. Without it the crate is only `text` and `resample`: the
// clause splitter, message markup and resampler the host shares with plugins. The host depends on
// this crate with `default-features = false`, so one published crate carries the shared rules and
// the server does not compile the guest bindings.

pub mod resample;
pub mod text;

#[cfg(feature = "plugin-api")]
#[doc(hidden)]
#[path = "bindings.rs"]
pub mod __bindings;

#[cfg(feature = "plugin-api")]
pub mod clock;
#[cfg(feature = "plugin-api")]
pub mod config;
#[cfg(feature = "plugin-api")]
pub mod google_auth;
#[cfg(feature = "plugin-api")]
pub mod http;
#[cfg(feature = "plugin-api")]
pub mod llm;
#[cfg(feature = "plugin-api")]
pub mod log;
#[cfg(feature = "plugin-api")]
pub mod pcm;
#[cfg(feature = "plugin-api")]
pub mod retry;
#[cfg(feature = "plugin-api")]
mod roles;
#[cfg(feature = "plugin-api")]
pub mod sse;
#[cfg(feature = "plugin-api")]
pub mod transcript;
#[cfg(feature = "plugin-api")]
pub mod turns;
#[cfg(feature = "plugin-api")]
mod types;
#[cfg(feature = "plugin-api")]
pub mod utterance;
#[cfg(feature = "plugin-api")]
pub mod wav;
#[cfg(feature = "plugin-api")]
pub mod websocket;

#[cfg(feature = "plugin-api")]
pub use roles::{
    AudioSink, LlmPlugin, Microphone, PolicyPlugin, SttPlugin, TokenSink, TranscriptSink, TtsPlugin,
};
#[cfg(feature = "plugin-api")]
pub use types::*;

/// JSON, re-exported so that every adapter uses the same `serde_json`.
#[cfg(feature = "plugin-api")]
pub use serde_json as json;

/// Child processes through the host (capability `process`, only `allowed_executables`).
#[cfg(feature = "plugin-api")]
pub mod process {
    pub use crate::__bindings::stt_world::studio::plugin::process::{Child, spawn};
}

/// The contract version this SDK builds plugins against; `describe()` reports it by default.
pub const CONTRACT_VERSION: &str = "0.1.0";
