//! mock-llm as the studio runs it: the built component in the real host runtime.

use studio_plugin_harness::wit::{ChatMessage, ChatRole, LlmRequest, Speaker};
use studio_plugin_harness::{Capability, Harness, PluginKind, PluginUnderTest};

fn plugin() -> PluginUnderTest {
    Harness::new("mock-llm")
        .capabilities([Capability::Log, Capability::Config])
        .config("token_delay_ms", 0)
        .load()
        .expect("mock-llm loads in the host")
}

const BRIEFING: &str = "You are the guest.\n---\ntitle: The Future of Cities\ntopic: Should cities ban cars downtown?\n---";

fn request(speaker: Speaker, line: &str, max_tokens: u32) -> LlmRequest {
    LlmRequest {
        speaker,
        model: String::new(),
        system: BRIEFING.into(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: line.into(),
        }],
        max_tokens,
        temperature: None,
    }
}

#[test]
fn describes_itself_as_a_language_model() {
    let info = plugin().describe();
    assert_eq!(
        (info.name.as_str(), info.kind, info.contract.as_str()),
        ("mock-llm", PluginKind::Llm, "0.1.0")
    );
}

#[test]
fn the_guest_answers_the_last_line_about_the_briefing_topic() {
    let line = "<speaker name=\"claude\">So, is a car ban fair to commuters?</speaker>";
    let (text, completion) = plugin()
        .complete(request(Speaker::Guest, line, 300))
        .expect("completes");
    assert!(text.contains("is a car ban fair to commuters"), "{text}");
    assert!(text.contains("the Future of Cities"), "{text}");
    assert!(!text.contains("<speaker"), "{text}");
    let words = text.split_whitespace().count();
    assert!((20..=40).contains(&words), "{words} words: {text}");
    assert_eq!(completion.stop_reason, "end_turn");
    assert_eq!(
        completion.output_tokens,
        Some(u32::try_from(words).unwrap_or(0))
    );
}

#[test]
fn claude_hosts_with_a_question() {
    let line = "<speaker name=\"Basil\">Claude, what about delivery vans?</speaker>";
    let (text, _) = plugin()
        .complete(request(Speaker::Claude, line, 300))
        .expect("completes");
    assert!(text.contains('?'), "{text}");
}

#[test]
fn max_tokens_cuts_the_reply() {
    let (text, completion) = plugin()
        .complete(request(Speaker::Guest, "Hi.", 5))
        .expect("completes");
    assert_eq!(text.split_whitespace().count(), 5);
    assert_eq!(completion.stop_reason, "max_tokens");
}
