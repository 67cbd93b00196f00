//! Host bindings of the four plugin worlds, generated from `wit/` by wasmtime's `bindgen!`.
//!
//! The `llm-plugin` world imports every shared interface, so it is generated first and owns them;
//! the other worlds map those interfaces onto it with `with:`, which keeps one Rust type per WIT type
//! (an `stt` transcript and an `llm` plugin-error are the same types everywhere). Imports are async
//! on the host and trappable (a resource-table failure traps the guest rather than panicking the host).

#![allow(missing_docs, clippy::too_many_arguments)]

/// The `llm-plugin` world, and with it every shared import interface.
pub mod llm {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1.0",
        world: "llm-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "studio:plugin/http.response": crate::capabilities::net::HttpResponse,
            "studio:plugin/websocket.connection": crate::capabilities::websocket::WsConnection,
            "studio:plugin/process.child": crate::capabilities::process::ProcessChild,
            "studio:plugin/streams.audio-input": crate::capabilities::streams::AudioInput,
            "studio:plugin/streams.transcript-sink": crate::capabilities::streams::TranscriptSink,
            "studio:plugin/streams.token-sink": crate::capabilities::streams::TokenSink,
            "studio:plugin/streams.audio-sink": crate::capabilities::streams::AudioSink,
        },
    });
}

/// The `stt-plugin` world.
pub mod stt {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1.0",
        world: "stt-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "studio:plugin/types": crate::bindings::llm::studio::plugin::types,
            "studio:plugin/log": crate::bindings::llm::studio::plugin::log,
            "studio:plugin/clock": crate::bindings::llm::studio::plugin::clock,
            "studio:plugin/config": crate::bindings::llm::studio::plugin::config,
            "studio:plugin/http": crate::bindings::llm::studio::plugin::http,
            "studio:plugin/websocket": crate::bindings::llm::studio::plugin::websocket,
            "studio:plugin/process": crate::bindings::llm::studio::plugin::process,
            "studio:plugin/streams": crate::bindings::llm::studio::plugin::streams,
        },
    });
}

/// The `tts-plugin` world.
pub mod tts {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1.0",
        world: "tts-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "studio:plugin/types": crate::bindings::llm::studio::plugin::types,
            "studio:plugin/log": crate::bindings::llm::studio::plugin::log,
            "studio:plugin/clock": crate::bindings::llm::studio::plugin::clock,
            "studio:plugin/config": crate::bindings::llm::studio::plugin::config,
            "studio:plugin/http": crate::bindings::llm::studio::plugin::http,
            "studio:plugin/websocket": crate::bindings::llm::studio::plugin::websocket,
            "studio:plugin/process": crate::bindings::llm::studio::plugin::process,
            "studio:plugin/streams": crate::bindings::llm::studio::plugin::streams,
        },
    });
}

/// The `policy-plugin` world.
pub mod policy {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1.0",
        world: "policy-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "studio:plugin/types": crate::bindings::llm::studio::plugin::types,
            "studio:plugin/log": crate::bindings::llm::studio::plugin::log,
        },
    });
}

pub use llm::studio::plugin::{clock, config, http, log, process, streams, types, websocket};
