//! Host bindings of the four worlds of contract 0.2.0 (`wit/v0.2.0/`, a draft).
//!
//! 0.2.0 changes only the `llm` interface (`llm-request.deadline-ms`). Every import interface is
//! the same as in 0.1.0 apart from its versioned name, so `with:` maps them onto the 0.1.0 modules:
//! one Rust type per WIT type across versions, and one host implementation of each capability.
//! The generated `add_to_linker` of a world would register those under their 0.1.0 names, so the
//! engine links the 0.2.0 names itself (`engine.rs`, with the per-interface
//! `add_to_linker_instance` functions, which take any instance name). Exported interfaces are
//! generated anew (a `bindgen!` cannot map exports), and the call handles convert their requests
//! (`call/contract.rs`).

/// The `llm-plugin` world of 0.2.0: the one whose export changed.
pub mod llm {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2.0",
        world: "llm-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "studio:plugin/types@0.2.0": crate::bindings::v0_1::llm::studio::plugin::types,
            "studio:plugin/log@0.2.0": crate::bindings::v0_1::llm::studio::plugin::log,
            "studio:plugin/clock@0.2.0": crate::bindings::v0_1::llm::studio::plugin::clock,
            "studio:plugin/config@0.2.0": crate::bindings::v0_1::llm::studio::plugin::config,
            "studio:plugin/http@0.2.0": crate::bindings::v0_1::llm::studio::plugin::http,
            "studio:plugin/websocket@0.2.0": crate::bindings::v0_1::llm::studio::plugin::websocket,
            "studio:plugin/process@0.2.0": crate::bindings::v0_1::llm::studio::plugin::process,
            "studio:plugin/streams@0.2.0": crate::bindings::v0_1::llm::studio::plugin::streams,
        },
    });
}

/// The `stt-plugin` world of 0.2.0.
pub mod stt {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2.0",
        world: "stt-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "studio:plugin/types@0.2.0": crate::bindings::v0_1::llm::studio::plugin::types,
            "studio:plugin/log@0.2.0": crate::bindings::v0_1::llm::studio::plugin::log,
            "studio:plugin/clock@0.2.0": crate::bindings::v0_1::llm::studio::plugin::clock,
            "studio:plugin/config@0.2.0": crate::bindings::v0_1::llm::studio::plugin::config,
            "studio:plugin/http@0.2.0": crate::bindings::v0_1::llm::studio::plugin::http,
            "studio:plugin/websocket@0.2.0": crate::bindings::v0_1::llm::studio::plugin::websocket,
            "studio:plugin/process@0.2.0": crate::bindings::v0_1::llm::studio::plugin::process,
            "studio:plugin/streams@0.2.0": crate::bindings::v0_1::llm::studio::plugin::streams,
        },
    });
}

/// The `tts-plugin` world of 0.2.0.
pub mod tts {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2.0",
        world: "tts-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "studio:plugin/types@0.2.0": crate::bindings::v0_1::llm::studio::plugin::types,
            "studio:plugin/log@0.2.0": crate::bindings::v0_1::llm::studio::plugin::log,
            "studio:plugin/clock@0.2.0": crate::bindings::v0_1::llm::studio::plugin::clock,
            "studio:plugin/config@0.2.0": crate::bindings::v0_1::llm::studio::plugin::config,
            "studio:plugin/http@0.2.0": crate::bindings::v0_1::llm::studio::plugin::http,
            "studio:plugin/websocket@0.2.0": crate::bindings::v0_1::llm::studio::plugin::websocket,
            "studio:plugin/process@0.2.0": crate::bindings::v0_1::llm::studio::plugin::process,
            "studio:plugin/streams@0.2.0": crate::bindings::v0_1::llm::studio::plugin::streams,
        },
    });
}

/// The `policy-plugin` world of 0.2.0.
pub mod policy {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2.0",
        world: "policy-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "studio:plugin/types@0.2.0": crate::bindings::v0_1::llm::studio::plugin::types,
            "studio:plugin/log@0.2.0": crate::bindings::v0_1::llm::studio::plugin::log,
        },
    });
}
