//! The generated bindings, one module per world. They are public only so that the export macros can
//! name them from a plugin crate; plugin authors use the friendly re-exports at the crate root.
//!
//! The `stt-plugin` world generates the interfaces every world shares (`types`, `log`, `clock`,
//! `config`, `http`, `websocket`, `process`, `streams`); the other worlds point at those with `with:`
//! so that `PluginError`, `Speaker` and the rest are one Rust type whatever the role.

/// The speech-to-text world; also the home of the shared interfaces.
pub mod stt_world {
    wit_bindgen::generate!({
        world: "stt-plugin",
        path: "wit/v0.1.0",
        generate_all,
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "__export_stt_world",
        default_bindings_module: "studio_plugin::__bindings::stt_world",
    });
}

/// The text-to-speech world.
pub mod tts_world {
    wit_bindgen::generate!({
        world: "tts-plugin",
        path: "wit/v0.1.0",
        with: {
            "studio:plugin/types@0.1.0": crate::__bindings::stt_world::studio::plugin::types,
            "studio:plugin/log@0.1.0": crate::__bindings::stt_world::studio::plugin::log,
            "studio:plugin/clock@0.1.0": crate::__bindings::stt_world::studio::plugin::clock,
            "studio:plugin/config@0.1.0": crate::__bindings::stt_world::studio::plugin::config,
            "studio:plugin/http@0.1.0": crate::__bindings::stt_world::studio::plugin::http,
            "studio:plugin/websocket@0.1.0": crate::__bindings::stt_world::studio::plugin::websocket,
            "studio:plugin/process@0.1.0": crate::__bindings::stt_world::studio::plugin::process,
            "studio:plugin/streams@0.1.0": crate::__bindings::stt_world::studio::plugin::streams,
        },
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "__export_tts_world",
        default_bindings_module: "studio_plugin::__bindings::tts_world",
    });
}

/// The language-model world.
pub mod llm_world {
    wit_bindgen::generate!({
        world: "llm-plugin",
        path: "wit/v0.1.0",
        with: {
            "studio:plugin/types@0.1.0": crate::__bindings::stt_world::studio::plugin::types,
            "studio:plugin/log@0.1.0": crate::__bindings::stt_world::studio::plugin::log,
            "studio:plugin/clock@0.1.0": crate::__bindings::stt_world::studio::plugin::clock,
            "studio:plugin/config@0.1.0": crate::__bindings::stt_world::studio::plugin::config,
            "studio:plugin/http@0.1.0": crate::__bindings::stt_world::studio::plugin::http,
            "studio:plugin/websocket@0.1.0": crate::__bindings::stt_world::studio::plugin::websocket,
            "studio:plugin/process@0.1.0": crate::__bindings::stt_world::studio::plugin::process,
            "studio:plugin/streams@0.1.0": crate::__bindings::stt_world::studio::plugin::streams,
        },
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "__export_llm_world",
        default_bindings_module: "studio_plugin::__bindings::llm_world",
    });
}

/// The turn-policy world.
pub mod policy_world {
    wit_bindgen::generate!({
        world: "policy-plugin",
        path: "wit/v0.1.0",
        with: {
            "studio:plugin/types@0.1.0": crate::__bindings::stt_world::studio::plugin::types,
            "studio:plugin/log@0.1.0": crate::__bindings::stt_world::studio::plugin::log,
        },
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "__export_policy_world",
        default_bindings_module: "studio_plugin::__bindings::policy_world",
    });
}
