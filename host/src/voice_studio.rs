//! voice-studio: the host server of a live three-way voice studio.
//!
//! One human (`you`) and two AIs (`claude`, `guest`) share a studio. Every provider adapter (STT,
//! TTS, LLM) and every turn-taking policy is a WebAssembly component behind the WIT contract in
//! `wit/`; this crate is the host that loads, sandboxes, swaps and drives them.

pub mod audio;
pub mod briefings;
pub mod config;
pub mod gateway;
pub mod plugins;
pub mod prompt;
pub mod recording;
pub mod session;
pub mod speakers;
pub mod timestamp;
