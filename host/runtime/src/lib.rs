//! The plugin runtime: wasmtime engine, plugin registry, hot reload, host capabilities, limits.
//!
//! Every provider (STT, TTS, LLM) and turn policy is a WebAssembly component built against the WIT
//! contract in `wit/` (one folder per contract version).
//! [`PluginHost`] loads the ones `plugins.toml` names, keeps the current version of each in a
//! registry that hot reload swaps atomically, and hands out per-role call handles ([`SttHandle`],
//! [`TtsHandle`], [`LlmHandle`], [`PolicyHandle`]) that a studio session keeps. Each handle owns one
//! sandboxed instance (memory cap, guest-CPU cap, only the capabilities `plugins.toml` grants); a
//! trap fails only that call, and the next call gets a fresh instance.
//!
//! # Who imports whom
//!
//! Each module imports only modules on the lines above its own (checked by grepping `use super::`
//! and `crate::`); read it bottom up to go from the facade to the leaves:
//!
//! ```text
//! cancel  cpu_meter  redact  embedded  compile_cache     leaves (embedded: the built-in plugins)
//! manifest -> embedded                                    (catalog -> manifest)
//! bindings                 generated from wit/v*/, a module per contract version (see below)
//! error    -> bindings, manifest, redact
//! egress   -> bindings, manifest                          where a plugin may connect
//! secrets  -> redact
//! grant    -> cancel, egress, manifest, secrets           what one plugin is granted
//! plugin_log -> grant, manifest
//! capabilities -> bindings, cancel, cpu_meter, egress, grant, manifest, plugin_log
//!                          the host imports, on a `PluginView` (never the store type)
//! sandbox  -> capabilities, cpu_meter, grant, plugin_log  the store's data and its limits
//! engine   -> bindings, capabilities, compile_cache, error, manifest, sandbox
//! version  -> bindings, embedded, engine, grant, manifest, sandbox  one loaded plugin version
//! health   -> bindings, error                             each plugin's calls and last error
//! registry -> embedded, engine, error, grant, health, manifest, secrets, version
//! metrics  -> bindings, error, manifest, registry          what `/metrics` counts of plugins
//! call     -> bindings, cancel, capabilities, error, manifest, metrics, registry, sandbox, version
//! watch    -> error, metrics                              sends reload requests on a channel
//! host     -> call, engine, error, manifest, metrics, redact, registry, secrets, version, watch
//! conformance -> call, cancel, capabilities, engine, error, host, manifest, version, wit
//!                          `plugin check`: a role's contract run against one component
//! ```
//!
//! The one edge upwards is generated: `bindgen!`'s `with:` table in `bindings` names the host types
//! that stand for the contract's resources (an HTTP response, a socket, a child, the streams),
//! which live in `capabilities` beside the imports that use them.

pub(crate) mod bindings;
mod call;
mod cancel;
pub(crate) mod capabilities;
pub mod catalog;
mod compile_cache;
pub mod conformance;
mod cpu_meter;
mod egress;
mod embedded;
mod engine;
mod error;
mod grant;
mod health;
mod host;
pub mod manifest;
pub mod metrics;
mod plugin_log;
mod redact;
mod registry;
mod sandbox;
mod secrets;
mod version;
mod watch;

/// Where the host's build script put the built plugins (`<target>/plugins`); a checkout's own
/// build uses them, a program elsewhere its embedded plugins (see [`default_plugin_dir`]).
pub const BUILT_PLUGIN_DIR: &str = env!("BUILT_PLUGIN_DIR");

/// The stable WIT contract, package and version (`studio:plugin@0.1.0`): what new plugins are
/// built against. The host also loads the other versions in [`SUPPORTED_CONTRACTS`].
pub const WIT_CONTRACT: &str = env!("WIT_CONTRACT");

/// The first-party plugins built with this runtime (the crates under `plugins/`), by name. They
/// share the workspace's version.
pub fn first_party_plugins() -> impl Iterator<Item = &'static str> {
    env!("FIRST_PARTY_PLUGINS")
        .split(',')
        .filter(|name| !name.is_empty())
}

pub use call::{CallFigures, LlmHandle, PolicyHandle, STUDIO_SAMPLE_RATE, SttHandle, TtsHandle};
pub use cancel::CallCancel;
pub use capabilities::process::kill_all_children;
pub use capabilities::streams::SttInput;
pub use embedded::{
    EMBEDDED_PLUGIN_DIR, EmbeddedPlugin, checkout_plugin_dir, default_plugin_dir, embedded_plugins,
    is_embedded,
};
pub use error::{CallError, PluginHostError, describe_plugin_error};
pub use health::PluginHealth;
pub use host::{Inspection, LlmRole, PluginHost, PluginHostOptions, PluginStatus};
pub use manifest::{Capability, Manifest, ManifestError, PluginKind, RoleSlot};
pub use plugin_log::{BURST_LINES, LINES_PER_SECOND, MAX_LINE_BYTES};
pub use redact::{MIN_REDACTED_LEN, RedactedLog, RedactingWriter, Redactor};
pub use registry::ReloadEvent;
pub use version::{Contract, PluginInfoSummary, SUPPORTED_CONTRACTS};
pub use watch::HotReloadStats;

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
