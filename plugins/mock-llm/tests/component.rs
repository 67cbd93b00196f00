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

/// The system prompt's episode part, as the studio writes it.
const BRIEFING: &str = "You are Guest, the AI guest on a live spoken conversation show recorded in a studio. Basil is the human host and Claude is the AI co-host.\n\n# The episode\nTitle: The Future of Cities\nTopic: Should cities ban cars downtown?\nMust cover:\n- Deliveries and disabled access\n\n# Your position\nYou argue that downtown streets are too valuable for parking.\n";

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
fn the_guest_answers_the_last_line_from_its_position() {
    let line = "<speaker name=\"Claude\">A car ban is unfair to commuters.</speaker>";
    let (text, completion) = plugin()
        .complete(request(Speaker::Guest, line, 300))
        .expect("completes");
    assert!(text.contains("A car ban is unfair to commuters"), "{text}");
    assert!(
        text.contains("downtown streets are too valuable for parking"),
        "{text}"
    );
    assert!(!text.contains('<'), "{text}");
    assert!(text.ends_with(['.', '?', '!']), "{text}");
    let words = text.split_whitespace().count();
    assert!((15..=45).contains(&words), "{words} words: {text}");
    assert_eq!(completion.stop_reason, "end_turn");
    assert_eq!(
        completion.output_tokens,
        Some(u32::try_from(words).unwrap_or(0))
    );
}

#[test]
fn an_opening_note_is_never_read_aloud() {
    let note = "<studio>The recording has started. You speak first.</studio>";
    let (text, _) = plugin()
        .complete(request(Speaker::Claude, note, 300))
        .expect("completes");
    assert!(!text.contains("recording has started"), "{text}");
    assert!(!text.contains('<'), "{text}");
    assert!(text.ends_with('?'), "claude hosts with a question: {text}");
}

#[test]
fn max_tokens_cuts_the_reply() {
    let (text, completion) = plugin()
        .complete(request(Speaker::Guest, "Hi.", 5))
        .expect("completes");
    assert_eq!(text.split_whitespace().count(), 5);
    assert_eq!(completion.stop_reason, "max_tokens");
}
