//! voice-studio: the host server of a live three-way voice studio.
//!
//! One human (`you`) and two AIs (`claude`, `guest`) share a studio. Every provider adapter (STT,
//! TTS, LLM) and every turn-taking policy is a WebAssembly component behind the WIT contract in
//! `wit/`; this crate is the host that loads, sandboxes, swaps and drives them.

pub mod audio;
pub mod briefings;
pub mod cluster;
pub mod config;
pub mod gateway;
pub mod memory;
pub mod metrics;
pub mod observe;
pub mod prompt;
pub mod recording;
pub mod scheduling;
pub mod session;
pub mod speakers;
pub mod store;
pub mod timestamp;
pub mod transcript;

/// The plugin runtime (its own crate, `host/runtime`, so the plugin harness can use it without the
/// server): engine, registry, hot reload, capabilities, limits and per-role call handles.
pub use studio_plugin_runtime as plugins;
