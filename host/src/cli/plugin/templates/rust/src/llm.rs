//! `{{name}}`: a language model for voice-studio that repeats the last line it was told, one word
//! at a time. Replace `reply` with a call to your model (the `http` capability and
//! `studio_plugin::http`) and keep the streaming loop.

use std::time::Duration;

use studio_plugin::transcript::{self, Who};
use studio_plugin::{
    ChatMessage, Completion, LlmPlugin, LlmRequest, PluginError, TokenSink, config, log,
};

/// The exported plugin.
pub struct Plugin;

impl LlmPlugin for Plugin {
    // `describe()` has a default: role `llm`, contract 0.1.0, capabilities `log` and `config`, and
    // name, version and summary from Cargo.toml. To ask for more (then grant it at install):
    // fn describe() -> studio_plugin::PluginInfo {
    //     use studio_plugin::{Capability, PluginInfo, Role};
    //     PluginInfo::for_role(Role::Llm).with_capabilities(&[Capability::Log, Capability::Config, Capability::Http])
    // }

    fn complete(request: LlmRequest, sink: &TokenSink<'_>) -> Result<Completion, PluginError> {
        let delay = Duration::from_millis(config::get_u32("delay_ms", 40).into());
        let text = reply(&request.messages);
        log::debug!(
            "{} answers with {} words",
            request.speaker.name(),
            text.split_whitespace().count()
        );
        for (i, word) in text.split_whitespace().enumerate() {
            std::thread::sleep(delay);
            let piece = if i == 0 {
                word.to_owned()
            } else {
                format!(" {word}")
            };
            // A push fails with `Cancelled` when the human barges in: return it at once.
            sink.push(&piece)?;
        }
        Ok(Completion::end_turn())
    }
}

/// What the plugin says, given the conversation. The studio hands others' lines over as markup
/// (`<speaker name="...">` envelopes, several to a message, and `<studio>` notes); the SDK's
/// `transcript` module unwraps and unescapes it.
pub fn reply(messages: &[ChatMessage]) -> String {
    match transcript::last_said(messages) {
        Some(line) if line.text.trim().is_empty() => "I did not catch that.".to_owned(),
        Some(line) => match line.who {
            Who::Named(name) => format!("{name} said: {}", line.text),
            _ => format!("You said: {}", line.text),
        },
        // Nobody spoke yet: autopilot's first line gets only the system prompt and a studio note.
        None => "Hello! Say something and I will repeat it.".to_owned(),
    }
}

studio_plugin::export_llm!(Plugin);

#[cfg(test)]
mod tests {
    use super::reply;
    use studio_plugin::{ChatMessage, ChatRole};

    #[test]
    fn repeats_the_last_speaker_unescaped() {
        let messages = [
            ChatMessage::new(ChatRole::User, "<speaker name=\"Ana\">Welcome!</speaker>"),
            ChatMessage::new(ChatRole::Assistant, "Thanks, Ana."),
            ChatMessage::new(
                ChatRole::User,
                "<speaker name=\"Guest\">Cars &amp; buses?</speaker>\n<studio>It is your turn.</studio>",
            ),
        ];
        assert_eq!(reply(&messages), "Guest said: Cars & buses?");
    }

    #[test]
    fn says_hello_when_nobody_spoke_yet() {
        let messages = [ChatMessage::new(
            ChatRole::User,
            "<studio>The recording has started. You speak first.</studio>",
        )];
        assert_eq!(
            reply(&messages),
            "Hello! Say something and I will repeat it."
        );
    }
}
