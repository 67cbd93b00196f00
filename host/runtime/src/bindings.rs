//! Host bindings of the plugin worlds, one module per contract version (`wit/v<version>/`).
//!
//! A component declares its contract version in the names of what it imports and exports
//! (`studio:plugin/llm@0.1.0`); the loader reads it and links the matching world
//! (`crate::version`). The unversioned paths (`bindings::llm`, `bindings::types`, ...) are the
//! stable contract's, which the host speaks internally; calls to a component of another version
//! are converted at the call (`crate::call::contract`).

#![allow(missing_docs, clippy::too_many_arguments)]

pub mod v0_1;
pub mod v0_2;

pub use v0_1::llm::studio::plugin::{clock, config, http, log, process, streams, types, websocket};
pub use v0_1::{llm, policy, stt, tts};
