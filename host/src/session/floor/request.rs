//! What an AI line asks its plugins for: the prompt (briefing, cast, cue, transcript), mapped to
//! the LLM request of the plugin contract, and the model and TTS voice the guest settings choose.

use crate::briefings::Briefing;
use crate::config::RuntimeConfig;
use crate::plugins::wit::{ChatMessage, ChatRole, LlmRequest};
use crate::prompt::{self, Cast, Cue, Line, PromptRequest, Role};
use crate::speakers::Ai;

/// What the floor knows when it asks for a line.
pub(super) struct LineAsk<'a> {
    /// Who speaks.
    pub(super) ai: Ai,
    /// The policy's instruction for the line (may be empty).
    pub(super) cue: &'a str,
    /// The current segment's cue, if the policy set one.
    pub(super) segment_cue: Option<&'a str>,
    /// Thinking mode: how long the line is prepared before it plays.
    pub(super) think_ms: Option<u32>,
    /// The name of the client holding the microphone (the host).
    pub(super) host_name: Option<&'a str>,
    /// The episode's briefing.
    pub(super) briefing: &'a Briefing,
    /// What was said so far.
    pub(super) transcript: &'a [Line],
    /// The guest settings at this moment.
    pub(super) settings: &'a RuntimeConfig,
}

/// The plugin calls of one line: the LLM request, the model it names (empty: the plugin's
/// default) and the TTS voice (empty: the plugin's default for the speaker).
pub(super) struct LineRequest {
    pub(super) llm: LlmRequest,
    pub(super) model: String,
    pub(super) voice: String,
}

/// Builds the prompt of a line and the requests it makes.
pub(super) fn line_request(ask: &LineAsk<'_>) -> LineRequest {
    let mut cast = Cast::with_host(ask.host_name);
    cast.guest_instructions = ask.settings.guest_system_instructions.clone();
    let cue = Cue {
        segment: ask.segment_cue.map(str::to_owned),
        instruction: (!ask.cue.trim().is_empty()).then(|| ask.cue.to_owned()),
        prepared_secs: ask.think_ms.map(|ms| ms.div_ceil(1000)),
    };
    let prompt = prompt::build(ask.ai, ask.briefing, &cast, &cue, ask.transcript);
    let model = chosen_model(ask.settings, ask.ai);
    let voice = chosen_voice(ask.settings, ask.ai);
    LineRequest {
        llm: llm_request(&model, prompt),
        model,
        voice,
    }
}

/// The LLM model the settings choose for `ai`: only the guest's is set there.
fn chosen_model(settings: &RuntimeConfig, ai: Ai) -> String {
    match ai {
        Ai::Guest => settings.guest_model.clone().unwrap_or_default(),
        Ai::Claude => String::new(),
    }
}

/// The TTS voice the settings choose for `ai`. The frontend's guest voice names it in one
/// of two fields, after the voice service it was picked for (`googleVoice`, or `coquiSpeaker`
/// for a speaker id); the TTS request carries one opaque voice name which the configured TTS
/// plugin interprets (a voice name, a speaker id). The first field set wins; an AI without a
/// voice keeps the plugin's default.
fn chosen_voice(settings: &RuntimeConfig, ai: Ai) -> String {
    let voice = match ai {
        Ai::Guest => settings.guest_voice.as_ref(),
        Ai::Claude => settings.claude_voice.as_ref(),
    };
    voice
        .and_then(|v| v.google_voice.clone().or_else(|| v.coqui_speaker.clone()))
        .unwrap_or_default()
}

/// The prompt as the plugin contract's LLM request.
fn llm_request(model: &str, prompt: PromptRequest) -> LlmRequest {
    LlmRequest {
        speaker: prompt.ai.into(),
        model: model.to_owned(),
        system: prompt.system,
        messages: prompt
            .messages
            .into_iter()
            .map(|m| ChatMessage {
                role: match m.role {
                    Role::User => ChatRole::User,
                    Role::Assistant => ChatRole::Assistant,
                },
                content: m.content,
            })
            .collect(),
        max_tokens: prompt.max_tokens,
        temperature: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GuestProvider, TtsProvider, VoiceConfig, VoiceProvider};

    fn voice(name: &str) -> VoiceConfig {
        VoiceConfig {
            provider: VoiceProvider::Google,
            google_voice: Some(name.to_owned()),
            coqui_speaker: None,
            speaking_rate: None,
            pitch: None,
        }
    }

    #[test]
    fn each_ai_speaks_with_its_own_voice_or_the_plugins_default() {
        let mut settings = RuntimeConfig {
            guest_provider: GuestProvider::Groq,
            guest_model: None,
            guest_system_instructions: None,
            tts_provider: TtsProvider::Google,
            guest_voice: None,
            claude_voice: None,
        };
        assert_eq!(chosen_voice(&settings, Ai::Claude), "");
        assert_eq!(chosen_voice(&settings, Ai::Guest), "");
        settings.claude_voice = Some(voice("en-GB-Neural2-B"));
        settings.guest_voice = Some(voice("en-US-Neural2-A"));
        assert_eq!(chosen_voice(&settings, Ai::Claude), "en-GB-Neural2-B");
        assert_eq!(chosen_voice(&settings, Ai::Guest), "en-US-Neural2-A");
    }
}
