//! The plugin runtime: wasmtime engine, plugin registry, hot reload, host capabilities, limits.
//!
//! Every provider (STT, TTS, LLM) and turn policy is a WebAssembly component built against `wit/`.
//! [`PluginHost`] loads the ones `plugins.toml` names, keeps the current version of each in a
//! registry that hot reload swaps atomically, and hands out per-role call handles ([`SttHandle`],
//! [`TtsHandle`], [`LlmHandle`], [`PolicyHandle`]) that a studio session keeps. Each handle owns one
//! sandboxed instance (memory cap, guest-CPU cap, only the capabilities `plugins.toml` grants); a
//! trap fails only that call, and the next call gets a fresh instance.

pub(crate) mod bindings;
mod call;
mod cancel;
pub(crate) mod capabilities;
pub mod catalog;
mod compile_cache;
mod cpu_meter;
mod egress;
mod engine;
mod error;
mod grant;
mod host;
pub mod manifest;
mod plugin_log;
mod redact;
mod registry;
mod sandbox;
mod secrets;
mod version;
mod watch;

/// Where the host's build script put the first-party plugins (`<target>/plugins`).
pub const BUILT_PLUGIN_DIR: &str = env!("BUILT_PLUGIN_DIR");

pub use call::{LlmHandle, PolicyHandle, STUDIO_SAMPLE_RATE, SttHandle, TtsHandle};
pub use cancel::CallCancel;
pub use capabilities::process::kill_all_children;
pub use capabilities::streams::SttInput;
pub use error::{CallError, PluginHostError, describe_plugin_error};
pub use host::{PluginHost, PluginHostOptions, PluginStatus};
pub use manifest::{Capability, Manifest, ManifestError, PluginKind, RoleSlot};
pub use plugin_log::{BURST_LINES, LINES_PER_SECOND, MAX_LINE_BYTES};
pub use redact::{MIN_REDACTED_LEN, RedactedLog, RedactingWriter, Redactor};
pub use registry::ReloadEvent;
pub use version::PluginInfoSummary;

/// The contract's types as the plugins see them, generated from `wit/` (requests, results, errors).
pub mod wit {
    pub use super::bindings::llm::exports::studio::plugin::llm::{Completion, LlmRequest};
    pub use super::bindings::policy::exports::studio::plugin::policy::{
        AiLine, Decision, FloorEvent, FloorState, Respond, Segment, Think, Thinking, TimerRequest,
    };
    pub use super::bindings::stt::exports::studio::plugin::stt::SttRequest;
    pub use super::bindings::tts::exports::studio::plugin::tts::TtsRequest;
    pub use super::bindings::types::{
        AudioChunk, Capability, ChatMessage, ChatRole, PluginError, PluginInfo, RateLimit, Role,
        Speaker, Transcript, TranscriptKind,
    };
}
