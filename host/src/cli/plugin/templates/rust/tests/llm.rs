//! `{{name}}` as the studio runs it: the built component in the studio's plugin runtime (same
//! sandbox, limits and capability checks).

mod common;

use studio_plugin_harness::wit::{ChatMessage, ChatRole, LlmRequest, Speaker};
use studio_plugin_harness::{Capability, Harness, PluginKind};

#[test]
fn repeats_the_last_line_in_the_real_host() {
    let plugin = Harness::new(common::wasm().to_string_lossy())
        // What `plugin install` grants it: exactly what describe() asks for.
        .capabilities([Capability::Log, Capability::Config])
        .config("delay_ms", 0)
        .load()
        .expect("the host loads the plugin");
    let info = plugin.describe();
    assert_eq!(
        (info.name.as_str(), info.kind),
        ("{{name}}", PluginKind::Llm)
    );
    let request = LlmRequest {
        speaker: Speaker::Claude,
        model: String::new(),
        system: "You are claude, the co-host.".into(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: "<speaker name=\"you\">Hello there.</speaker>\n<speaker name=\"guest\">Shall we start?</speaker>".into(),
        }],
        max_tokens: 100,
        temperature: None,
    };
    let (text, completion) = plugin.complete(request).expect("completes");
    assert_eq!(text, "guest said: Shall we start?");
    assert_eq!(completion.stop_reason, "end_turn");
}
