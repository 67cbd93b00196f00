//! The contract's data types under friendly names, with constructors for the common cases.

use crate::__bindings::{llm_world, policy_world, stt_world, tts_world};

pub use llm_world::exports::studio::plugin::llm::{Completion, LlmRequest};
pub use policy_world::exports::studio::plugin::policy::{
    AiLine, Decision, FloorEvent, FloorState, Respond, Segment, Think, Thinking, TimerRequest,
};
pub use stt_world::exports::studio::plugin::stt::SttRequest;
pub use stt_world::studio::plugin::streams::InputEvent;
pub use stt_world::studio::plugin::types::{
    AudioChunk, Capability, ChatMessage, ChatRole, PluginError, PluginInfo, RateLimit, Role,
    Speaker, Transcript, TranscriptKind,
};
pub use tts_world::exports::studio::plugin::tts::TtsRequest;

impl Speaker {
    /// The speaker's name as the studio writes it (`you`, `claude`, `guest`).
    pub fn name(self) -> &'static str {
        match self {
            Speaker::You => "you",
            Speaker::Claude => "claude",
            Speaker::Guest => "guest",
        }
    }

    /// The other AI (claude for guest and guest for claude); `you` has none and stays `you`.
    pub fn other_ai(self) -> Speaker {
        match self {
            Speaker::Claude => Speaker::Guest,
            Speaker::Guest => Speaker::Claude,
            Speaker::You => Speaker::You,
        }
    }
}

impl Transcript {
    /// A partial transcript (a hypothesis a later one replaces).
    pub fn partial(text: impl Into<String>, start_ms: u64, end_ms: u64) -> Self {
        Self {
            kind: TranscriptKind::Partial,
            text: text.into(),
            start_ms,
            end_ms,
            confidence: None,
        }
    }

    /// A final transcript (the settled text of one utterance).
    pub fn final_(text: impl Into<String>, start_ms: u64, end_ms: u64) -> Self {
        Self {
            kind: TranscriptKind::Final,
            text: text.into(),
            start_ms,
            end_ms,
            confidence: None,
        }
    }

    /// The same transcript with a confidence in 0..1.
    pub fn with_confidence(mut self, confidence: f32) -> Self {
        self.confidence = Some(confidence);
        self
    }
}

impl AudioChunk {
    /// A chunk of mono 16-bit samples at `sample_rate`.
    pub fn new(sample_rate: u32, samples: Vec<i16>) -> Self {
        Self {
            sample_rate,
            samples,
        }
    }

    /// How long the chunk plays, in ms.
    pub fn duration_ms(&self) -> u64 {
        if self.sample_rate == 0 {
            return 0;
        }
        self.samples.len() as u64 * 1000 / u64::from(self.sample_rate)
    }
}

impl Completion {
    /// A completion that ended naturally, without token counts.
    pub fn end_turn() -> Self {
        Self {
            stop_reason: "end_turn".to_owned(),
            input_tokens: None,
            output_tokens: None,
        }
    }

    /// A completion with a stop reason and token counts.
    pub fn new(
        stop_reason: impl Into<String>,
        input_tokens: Option<u32>,
        output_tokens: Option<u32>,
    ) -> Self {
        Self {
            stop_reason: stop_reason.into(),
            input_tokens,
            output_tokens,
        }
    }
}

impl ChatMessage {
    /// A message from `role` with `content`.
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

impl PluginInfo {
    /// The defaults for a role: contract [`crate::CONTRACT_VERSION`], capabilities `log` and
    /// `config` (`log` only for a policy), name, version and summary empty (the export macros fill
    /// them from the plugin's `Cargo.toml`). `clock` is not asked for by default: the host warns at
    /// load time about every capability asked for but not granted, and most plugins never read it.
    pub fn for_role(role: Role) -> Self {
        let capabilities = match role {
            Role::Policy => vec![Capability::Log],
            _ => vec![Capability::Log, Capability::Config],
        };
        Self {
            name: String::new(),
            version: String::new(),
            role,
            contract: crate::CONTRACT_VERSION.to_owned(),
            capabilities,
            summary: String::new(),
        }
    }

    /// The same info with these capabilities.
    pub fn with_capabilities(mut self, capabilities: &[Capability]) -> Self {
        self.capabilities = capabilities.to_vec();
        self
    }

    /// The same info with this one-line summary.
    pub fn with_summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }

    /// Fills an empty name, version and summary from the plugin's package (used by the export macros).
    #[doc(hidden)]
    pub fn __fill_from_package(mut self, name: &str, version: &str, description: &str) -> Self {
        if self.name.is_empty() {
            self.name = name.to_owned();
        }
        if self.version.is_empty() {
            self.version = version.to_owned();
        }
        if self.summary.is_empty() {
            self.summary = description.to_owned();
        }
        self
    }
}

impl PluginError {
    /// Whether the host stopped wanting output: the plugin should return at once with this error.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, PluginError::Cancelled)
    }
}

impl Decision {
    /// `respond`: `speaker` takes the floor now, with `cue` added to its prompt.
    pub fn respond(speaker: Speaker, cue: impl Into<String>) -> Self {
        Decision::Respond(Respond {
            speaker,
            cue: cue.into(),
        })
    }

    /// `think`: `speaker` prepares an answer for `duration_ms`, then speaks.
    pub fn think(speaker: Speaker, duration_ms: u32, cue: impl Into<String>) -> Self {
        Decision::Think(Think {
            speaker,
            duration_ms,
            cue: cue.into(),
        })
    }

    /// `set-timer`: call `decide` again with `timer(name)` after `after_ms`.
    pub fn set_timer(name: impl Into<String>, after_ms: u32) -> Self {
        Decision::SetTimer(TimerRequest {
            name: name.into(),
            after_ms,
        })
    }

    /// `segment`: a showrunner segment begins.
    pub fn segment(name: impl Into<String>, cue: impl Into<String>, duration_ms: u32) -> Self {
        Decision::Segment(Segment {
            name: name.into(),
            cue: cue.into(),
            duration_ms,
        })
    }
}

impl FloorState {
    /// A quiet floor at `now_ms`: autopilot off, nobody holding or speaking, nothing remembered,
    /// at most 6 AI lines in a row. A starting point for policy tests.
    pub fn idle(now_ms: u64) -> Self {
        Self {
            now_ms,
            autopilot: false,
            holder: None,
            human_speaking: false,
            last_speaker: None,
            ai_turns_in_a_row: 0,
            max_ai_turns: 6,
            thinking: None,
            autopilot_since_ms: None,
            memory: String::new(),
        }
    }
}

impl AiLine {
    /// A line `speaker` finished without being interrupted.
    pub fn finished(speaker: Speaker, text: impl Into<String>) -> Self {
        Self {
            speaker,
            text: text.into(),
            interrupted: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_ai_swaps_claude_and_guest() {
        assert_eq!(Speaker::Claude.other_ai(), Speaker::Guest);
        assert_eq!(Speaker::Guest.other_ai(), Speaker::Claude);
        assert_eq!(Speaker::You.other_ai(), Speaker::You);
        assert_eq!(Speaker::Guest.name(), "guest");
    }

    #[test]
    fn plugin_info_defaults_follow_the_role_and_package() {
        let info =
            PluginInfo::for_role(Role::Policy).__fill_from_package("host-led", "0.1.0", "turns");
        assert_eq!(info.capabilities, vec![Capability::Log]);
        assert_eq!(
            (
                info.name.as_str(),
                info.version.as_str(),
                info.summary.as_str()
            ),
            ("host-led", "0.1.0", "turns")
        );
        assert_eq!(info.contract, crate::CONTRACT_VERSION);
        let named = PluginInfo {
            name: "mine".into(),
            ..PluginInfo::for_role(Role::Tts)
        }
        .__fill_from_package("x", "1", "");
        assert_eq!(named.name, "mine");
        assert!(named.capabilities.contains(&Capability::Config));
    }

    #[test]
    fn chunk_duration_follows_rate() {
        assert_eq!(AudioChunk::new(24000, vec![0; 2400]).duration_ms(), 100);
        assert_eq!(AudioChunk::new(0, vec![0; 10]).duration_ms(), 0);
    }
}
