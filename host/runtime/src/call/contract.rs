//! The instance a handle calls, whatever contract version its plugin was built against.
//!
//! The host speaks the stable contract (0.1.0) internally: the handles take and return its types
//! (`crate::wit`). An instance of a later version gets its requests converted here, with what the
//! later version adds filled in from the host's own state, and its results converted back. Each
//! role's instance type offers the same call shape as the generated bindings
//! (`instance.studio_plugin_llm().call_complete(..)`), so the handles do not branch on versions.

use wasmtime::Store;
use wasmtime::component::Resource;

use super::super::bindings::{v0_1, v0_2};
use super::super::capabilities::streams::{AudioInput, AudioSink, TokenSink, TranscriptSink};
use super::super::manifest::PluginKind;
use super::super::sandbox::PluginState;
use super::super::version::{ByContract, WorldPre};
use super::super::wit::{
    AiLine, Completion, Decision, FloorEvent, FloorState, LlmRequest, PluginError, Respond,
    Segment, SttRequest, Think, Thinking, TimerRequest, TtsRequest,
};
use super::seat::WorldInstance;

/// A live STT instance.
pub(crate) type SttInstance = ByContract<v0_1::stt::SttPlugin, v0_2::stt::SttPlugin>;
/// A live TTS instance.
pub(crate) type TtsInstance = ByContract<v0_1::tts::TtsPlugin, v0_2::tts::TtsPlugin>;
/// A live LLM instance.
pub(crate) type LlmInstance = ByContract<v0_1::llm::LlmPlugin, v0_2::llm::LlmPlugin>;
/// A live policy instance.
pub(crate) type PolicyInstance = ByContract<v0_1::policy::PolicyPlugin, v0_2::policy::PolicyPlugin>;

type CallResult<T> = wasmtime::Result<Result<T, PluginError>>;

/// Instantiates `$pre` (a `ByContract` pre) into the matching `ByContract` instance.
macro_rules! instantiate_either {
    ($pre:expr, $store:expr) => {
        match $pre {
            ByContract::V0_1(pre) => pre.instantiate_async($store).await.map(ByContract::V0_1),
            ByContract::V0_2(pre) => pre.instantiate_async($store).await.map(ByContract::V0_2),
        }
    };
}

impl WorldInstance for SttInstance {
    async fn instantiate(
        pre: &WorldPre,
        store: &mut Store<PluginState>,
    ) -> Option<wasmtime::Result<Self>> {
        match pre {
            WorldPre::Stt(pre) => Some(instantiate_either!(pre, &mut *store)),
            _ => None,
        }
    }
}

impl WorldInstance for TtsInstance {
    async fn instantiate(
        pre: &WorldPre,
        store: &mut Store<PluginState>,
    ) -> Option<wasmtime::Result<Self>> {
        match pre {
            WorldPre::Tts(pre) => Some(instantiate_either!(pre, &mut *store)),
            _ => None,
        }
    }
}

impl WorldInstance for LlmInstance {
    async fn instantiate(
        pre: &WorldPre,
        store: &mut Store<PluginState>,
    ) -> Option<wasmtime::Result<Self>> {
        match pre {
            WorldPre::Llm(pre) => Some(instantiate_either!(pre, &mut *store)),
            _ => None,
        }
    }
}

impl WorldInstance for PolicyInstance {
    async fn instantiate(
        pre: &WorldPre,
        store: &mut Store<PluginState>,
    ) -> Option<wasmtime::Result<Self>> {
        match pre {
            WorldPre::Policy(pre) => Some(instantiate_either!(pre, &mut *store)),
            _ => None,
        }
    }
}

/// The `stt` export of an instance.
#[derive(Clone, Copy)]
pub(crate) struct SttExport<'a>(&'a SttInstance);

impl SttInstance {
    pub(crate) fn studio_plugin_stt(&self) -> SttExport<'_> {
        SttExport(self)
    }
}

impl SttExport<'_> {
    pub(crate) async fn call_transcribe(
        self,
        store: &mut Store<PluginState>,
        request: &SttRequest,
        input: Resource<AudioInput>,
        sink: Resource<TranscriptSink>,
    ) -> CallResult<()> {
        match self.0 {
            ByContract::V0_1(i) => {
                i.studio_plugin_stt()
                    .call_transcribe(store, request, input, sink)
                    .await
            }
            ByContract::V0_2(i) => {
                let request = v0_2::stt::exports::studio::plugin::stt::SttRequest {
                    speaker: request.speaker,
                    language: request.language.clone(),
                    key_terms: request.key_terms.clone(),
                };
                i.studio_plugin_stt()
                    .call_transcribe(store, &request, input, sink)
                    .await
            }
        }
    }
}

/// The `tts` export of an instance.
#[derive(Clone, Copy)]
pub(crate) struct TtsExport<'a>(&'a TtsInstance);

impl TtsInstance {
    pub(crate) fn studio_plugin_tts(&self) -> TtsExport<'_> {
        TtsExport(self)
    }
}

impl TtsExport<'_> {
    pub(crate) async fn call_synthesize(
        self,
        store: &mut Store<PluginState>,
        request: &TtsRequest,
        sink: Resource<AudioSink>,
    ) -> CallResult<()> {
        match self.0 {
            ByContract::V0_1(i) => {
                i.studio_plugin_tts()
                    .call_synthesize(store, request, sink)
                    .await
            }
            ByContract::V0_2(i) => {
                let request = v0_2::tts::exports::studio::plugin::tts::TtsRequest {
                    text: request.text.clone(),
                    speaker: request.speaker,
                    voice: request.voice.clone(),
                    language: request.language.clone(),
                };
                i.studio_plugin_tts()
                    .call_synthesize(store, &request, sink)
                    .await
            }
        }
    }
}

/// The `llm` export of an instance.
#[derive(Clone, Copy)]
pub(crate) struct LlmExport<'a>(&'a LlmInstance);

impl LlmInstance {
    pub(crate) fn studio_plugin_llm(&self) -> LlmExport<'_> {
        LlmExport(self)
    }
}

impl LlmExport<'_> {
    pub(crate) async fn call_complete(
        self,
        store: &mut Store<PluginState>,
        request: &LlmRequest,
        sink: Resource<TokenSink>,
    ) -> CallResult<Completion> {
        match self.0 {
            ByContract::V0_1(i) => {
                i.studio_plugin_llm()
                    .call_complete(store, request, sink)
                    .await
            }
            ByContract::V0_2(i) => {
                use v0_2::llm::exports::studio::plugin::llm as next;
                // The deadline the handle puts on this call: the store's grant is the plugin's.
                let deadline_ms = store
                    .data()
                    .caps
                    .grant
                    .entry
                    .budget
                    .deadlines
                    .ms(PluginKind::Llm);
                let request = next::LlmRequest {
                    speaker: request.speaker,
                    model: request.model.clone(),
                    system: request.system.clone(),
                    messages: request.messages.clone(),
                    max_tokens: request.max_tokens,
                    temperature: request.temperature,
                    deadline_ms: u32::try_from(deadline_ms).unwrap_or(u32::MAX),
                };
                let outcome = i
                    .studio_plugin_llm()
                    .call_complete(store, &request, sink)
                    .await?;
                Ok(outcome.map(|c| Completion {
                    stop_reason: c.stop_reason,
                    input_tokens: c.input_tokens,
                    output_tokens: c.output_tokens,
                }))
            }
        }
    }
}

/// The `policy` export of an instance.
#[derive(Clone, Copy)]
pub(crate) struct PolicyExport<'a>(&'a PolicyInstance);

impl PolicyInstance {
    pub(crate) fn studio_plugin_policy(&self) -> PolicyExport<'_> {
        PolicyExport(self)
    }
}

impl PolicyExport<'_> {
    pub(crate) async fn call_decide(
        self,
        store: &mut Store<PluginState>,
        state: &FloorState,
        event: &FloorEvent,
    ) -> wasmtime::Result<Vec<Decision>> {
        match self.0 {
            ByContract::V0_1(i) => {
                i.studio_plugin_policy()
                    .call_decide(store, state, event)
                    .await
            }
            ByContract::V0_2(i) => {
                let decisions = i
                    .studio_plugin_policy()
                    .call_decide(
                        store,
                        &policy_next::state(state),
                        &policy_next::event(event),
                    )
                    .await?;
                Ok(decisions.into_iter().map(policy_next::decision).collect())
            }
        }
    }
}

/// The policy interface of 0.2.0 is the same as 0.1.0's under another name: field by field.
mod policy_next {
    use super::super::super::bindings::v0_2::policy::exports::studio::plugin::policy as next;
    use super::{
        AiLine, Decision, FloorEvent, FloorState, Respond, Segment, Think, Thinking, TimerRequest,
    };

    pub(super) fn state(s: &FloorState) -> next::FloorState {
        next::FloorState {
            now_ms: s.now_ms,
            autopilot: s.autopilot,
            holder: s.holder,
            human_speaking: s.human_speaking,
            last_speaker: s.last_speaker,
            ai_turns_in_a_row: s.ai_turns_in_a_row,
            max_ai_turns: s.max_ai_turns,
            thinking: s.thinking.as_ref().map(|t: &Thinking| next::Thinking {
                speaker: t.speaker,
                ends_at_ms: t.ends_at_ms,
            }),
            autopilot_since_ms: s.autopilot_since_ms,
            memory: s.memory.clone(),
        }
    }

    pub(super) fn event(e: &FloorEvent) -> next::FloorEvent {
        match e {
            FloorEvent::SessionStarted => next::FloorEvent::SessionStarted,
            FloorEvent::HumanSpeechStarted => next::FloorEvent::HumanSpeechStarted,
            FloorEvent::HumanSpeechEnded => next::FloorEvent::HumanSpeechEnded,
            FloorEvent::HumanSaid(text) => next::FloorEvent::HumanSaid(text.clone()),
            FloorEvent::AiFinished(AiLine {
                speaker,
                text,
                interrupted,
            }) => next::FloorEvent::AiFinished(next::AiLine {
                speaker: *speaker,
                text: text.clone(),
                interrupted: *interrupted,
            }),
            FloorEvent::AutopilotChanged(on) => next::FloorEvent::AutopilotChanged(*on),
            FloorEvent::Timer(name) => next::FloorEvent::Timer(name.clone()),
        }
    }

    pub(super) fn decision(d: next::Decision) -> Decision {
        match d {
            next::Decision::Respond(r) => Decision::Respond(Respond {
                speaker: r.speaker,
                cue: r.cue,
            }),
            next::Decision::Think(t) => Decision::Think(Think {
                speaker: t.speaker,
                duration_ms: t.duration_ms,
                cue: t.cue,
            }),
            next::Decision::Mute(s) => Decision::Mute(s),
            next::Decision::Unmute(s) => Decision::Unmute(s),
            next::Decision::Stop(s) => Decision::Stop(s),
            next::Decision::Wait => Decision::Wait,
            next::Decision::SetTimer(t) => Decision::SetTimer(TimerRequest {
                name: t.name,
                after_ms: t.after_ms,
            }),
            next::Decision::CancelTimer(name) => Decision::CancelTimer(name),
            next::Decision::Segment(s) => Decision::Segment(Segment {
                name: s.name,
                cue: s.cue,
                duration_ms: s.duration_ms,
            }),
            next::Decision::Remember(text) => Decision::Remember(text),
        }
    }
}
