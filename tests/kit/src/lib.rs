//! The test kit: what the host's integration tests, its benchmarks and the plugin harness share,
//! so each is written once.
//!
//! - [`speech`]: real speech in the browser microphone's format (espeak-ng + sox), with a
//!   voice-like tone where those tools are missing;
//! - [`manifest`]: a `plugins.toml` builder, so a test states only the roles it changes;
//! - `fakes` (feature `fakes`): local fake provider servers, each speaking its provider's real
//!   wire protocol, with a queue of faults to play; `fakes/piper` beside this crate stands in for
//!   the Piper executable;
//! - `otlp` (feature `otlp`): a local OpenTelemetry collector that receives and decodes trace
//!   exports.

#[cfg(feature = "fakes")]
pub mod fakes;
pub mod manifest;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod speech;
