//! The four plugin roles: one trait each, the stream wrappers they receive, and the export macros.

use crate::__bindings::stt_world::studio::plugin::{streams, websocket};
use crate::{AudioChunk, Completion, FloorEvent, FloorState, InputEvent, LlmRequest, PluginError};
use crate::{Decision, PluginInfo, Role, SttRequest, Transcript, TtsRequest};

/// A speech-to-text plugin: reads the microphone and pushes transcripts.
pub trait SttPlugin {
    /// Who the plugin is. The default: role `stt`, capabilities `log` and `config`, and the
    /// name, version and description from the plugin's `Cargo.toml`.
    fn describe() -> PluginInfo {
        PluginInfo::for_role(Role::Stt)
    }

    /// Recognizes one microphone stream: iterate `input` until it ends (flush what you have as final
    /// on [`InputEvent::End`]), pushing transcripts to `sink` as soon as they are known.
    fn transcribe(
        request: SttRequest,
        input: &mut Microphone<'_>,
        sink: &TranscriptSink<'_>,
    ) -> Result<(), PluginError>;
}

/// A text-to-speech plugin: turns one sentence into audio.
pub trait TtsPlugin {
    /// Who the plugin is. The default: role `tts`, capabilities `log` and `config`, and the
    /// name, version and description from the plugin's `Cargo.toml`.
    fn describe() -> PluginInfo {
        PluginInfo::for_role(Role::Tts)
    }

    /// Synthesizes `request.text`, pushing audio to `sink` as it is produced. When a push fails with
    /// `cancelled`, return that error at once.
    fn synthesize(request: TtsRequest, sink: &AudioSink<'_>) -> Result<(), PluginError>;
}

/// A language-model plugin: streams one reply.
pub trait LlmPlugin {
    /// Who the plugin is. The default: role `llm`, capabilities `log` and `config`, and the
    /// name, version and description from the plugin's `Cargo.toml`.
    fn describe() -> PluginInfo {
        PluginInfo::for_role(Role::Llm)
    }

    /// Streams the reply to `request` into `sink` piece by piece and says how it ended. When a push
    /// fails with `cancelled`, return that error at once.
    fn complete(request: LlmRequest, sink: &TokenSink<'_>) -> Result<Completion, PluginError>;
}

/// A turn-taking policy: a pure, deterministic function from the floor and one event to decisions.
pub trait PolicyPlugin {
    /// Who the plugin is. The default: role `policy`, capability `log`, and the name, version and
    /// description from the plugin's `Cargo.toml`.
    fn describe() -> PluginInfo {
        PluginInfo::for_role(Role::Policy)
    }

    /// Decides what happens after `event`, given `state`. Keep state in `Decision::Remember`.
    fn decide(state: FloorState, event: FloorEvent) -> Vec<Decision>;
}

/// The microphone as one STT call sees it: an iterator of [`InputEvent`]s that ends after
/// [`InputEvent::End`] (or after the first error, which it yields).
pub struct Microphone<'a> {
    raw: &'a streams::AudioInput,
    socket: Option<&'a websocket::Connection>,
    timeout_ms: Option<u32>,
    done: bool,
}

impl<'a> Microphone<'a> {
    #[doc(hidden)]
    pub fn __new(raw: &'a streams::AudioInput) -> Self {
        Self {
            raw,
            socket: None,
            timeout_ms: None,
            done: false,
        }
    }

    /// The sample rate of the audio events.
    pub fn sample_rate(&self) -> u32 {
        self.raw.sample_rate()
    }

    /// Makes the iterator also yield [`InputEvent::Socket`] for messages on `socket` (a provider's
    /// streaming connection), so one loop serves the microphone and the provider.
    pub fn watch_socket(&mut self, socket: &'a websocket::Connection) {
        self.socket = Some(socket);
    }

    /// Stops watching the socket (for example after it closed).
    pub fn unwatch_socket(&mut self) {
        self.socket = None;
    }

    /// Makes the iterator yield [`InputEvent::Timeout`] after `timeout_ms` without events (None: wait forever).
    pub fn set_timeout(&mut self, timeout_ms: Option<u32>) {
        self.timeout_ms = timeout_ms;
    }

    /// Waits for the next event with explicit arguments (the iterator uses the watched socket and timeout).
    pub fn next_event(
        &self,
        socket: Option<&websocket::Connection>,
        timeout_ms: Option<u32>,
    ) -> Result<InputEvent, PluginError> {
        self.raw.next(socket, timeout_ms)
    }
}

impl Iterator for Microphone<'_> {
    type Item = Result<InputEvent, PluginError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let event = self.raw.next(self.socket, self.timeout_ms);
        if matches!(event, Ok(InputEvent::End) | Err(_)) {
            self.done = true;
        }
        Some(event)
    }
}

/// Where an STT plugin sends transcripts.
pub struct TranscriptSink<'a> {
    raw: &'a streams::TranscriptSink,
}

impl<'a> TranscriptSink<'a> {
    #[doc(hidden)]
    pub fn __new(raw: &'a streams::TranscriptSink) -> Self {
        Self { raw }
    }

    /// Delivers one transcript; `cancelled` means stop.
    pub fn push(&self, transcript: &Transcript) -> Result<(), PluginError> {
        self.raw.push(transcript)
    }

    /// Delivers a partial transcript.
    pub fn partial(&self, text: &str, start_ms: u64, end_ms: u64) -> Result<(), PluginError> {
        self.push(&Transcript::partial(text, start_ms, end_ms))
    }

    /// Delivers a final transcript.
    pub fn final_(&self, text: &str, start_ms: u64, end_ms: u64) -> Result<(), PluginError> {
        self.push(&Transcript::final_(text, start_ms, end_ms))
    }
}

/// Where an LLM plugin sends its reply.
pub struct TokenSink<'a> {
    raw: &'a streams::TokenSink,
}

impl<'a> TokenSink<'a> {
    #[doc(hidden)]
    pub fn __new(raw: &'a streams::TokenSink) -> Self {
        Self { raw }
    }

    /// Delivers the next piece of text; `cancelled` means stop. Empty text is not sent.
    pub fn push(&self, text: &str) -> Result<(), PluginError> {
        if text.is_empty() {
            return Ok(());
        }
        self.raw.push(text)
    }
}

/// Where a TTS plugin sends audio.
pub struct AudioSink<'a> {
    raw: &'a streams::AudioSink,
}

impl<'a> AudioSink<'a> {
    #[doc(hidden)]
    pub fn __new(raw: &'a streams::AudioSink) -> Self {
        Self { raw }
    }

    /// Delivers mono samples at `sample_rate`; `cancelled` means stop. No samples, nothing sent.
    pub fn push(&self, sample_rate: u32, samples: &[i16]) -> Result<(), PluginError> {
        if samples.is_empty() {
            return Ok(());
        }
        self.push_chunk(&AudioChunk {
            sample_rate,
            samples: samples.to_vec(),
        })
    }

    /// Delivers a chunk as it is.
    pub fn push_chunk(&self, chunk: &AudioChunk) -> Result<(), PluginError> {
        self.raw.push(chunk)
    }
}

/// Exports a type that implements [`SttPlugin`] as the plugin's `stt-plugin` world.
#[macro_export]
macro_rules! export_stt {
    ($plugin:ty) => {
        // Natively there is no component to export, and the export names (`studio:plugin/...#f`)
        // are not valid in a native linker's symbol list.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __StudioSttExport;
            impl $crate::__bindings::stt_world::Guest for __StudioSttExport {
                fn describe() -> $crate::PluginInfo {
                    <$plugin as $crate::SttPlugin>::describe().__fill_from_package(
                        env!("CARGO_PKG_NAME"),
                        env!("CARGO_PKG_VERSION"),
                        env!("CARGO_PKG_DESCRIPTION"),
                    )
                }
            }
            impl $crate::__bindings::stt_world::exports::studio::plugin::stt::Guest
                for __StudioSttExport
            {
                fn transcribe(
                    request: $crate::SttRequest,
                    input: &$crate::__bindings::stt_world::studio::plugin::streams::AudioInput,
                    sink: &$crate::__bindings::stt_world::studio::plugin::streams::TranscriptSink,
                ) -> ::core::result::Result<(), $crate::PluginError> {
                    let mut input = $crate::Microphone::__new(input);
                    let sink = $crate::TranscriptSink::__new(sink);
                    <$plugin as $crate::SttPlugin>::transcribe(request, &mut input, &sink)
                }
            }
            $crate::__bindings::stt_world::__export_stt_world!(
                __StudioSttExport with_types_in $crate::__bindings::stt_world
            );
        };
    };
}

/// Exports a type that implements [`TtsPlugin`] as the plugin's `tts-plugin` world.
#[macro_export]
macro_rules! export_tts {
    ($plugin:ty) => {
        // Natively there is no component to export, and the export names (`studio:plugin/...#f`)
        // are not valid in a native linker's symbol list.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __StudioTtsExport;
            impl $crate::__bindings::tts_world::Guest for __StudioTtsExport {
                fn describe() -> $crate::PluginInfo {
                    <$plugin as $crate::TtsPlugin>::describe().__fill_from_package(
                        env!("CARGO_PKG_NAME"),
                        env!("CARGO_PKG_VERSION"),
                        env!("CARGO_PKG_DESCRIPTION"),
                    )
                }
            }
            impl $crate::__bindings::tts_world::exports::studio::plugin::tts::Guest
                for __StudioTtsExport
            {
                fn synthesize(
                    request: $crate::TtsRequest,
                    sink: &$crate::__bindings::stt_world::studio::plugin::streams::AudioSink,
                ) -> ::core::result::Result<(), $crate::PluginError> {
                    let sink = $crate::AudioSink::__new(sink);
                    <$plugin as $crate::TtsPlugin>::synthesize(request, &sink)
                }
            }
            $crate::__bindings::tts_world::__export_tts_world!(
                __StudioTtsExport with_types_in $crate::__bindings::tts_world
            );
        };
    };
}

/// Exports a type that implements [`LlmPlugin`] as the plugin's `llm-plugin` world.
#[macro_export]
macro_rules! export_llm {
    ($plugin:ty) => {
        // Natively there is no component to export, and the export names (`studio:plugin/...#f`)
        // are not valid in a native linker's symbol list.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __StudioLlmExport;
            impl $crate::__bindings::llm_world::Guest for __StudioLlmExport {
                fn describe() -> $crate::PluginInfo {
                    <$plugin as $crate::LlmPlugin>::describe().__fill_from_package(
                        env!("CARGO_PKG_NAME"),
                        env!("CARGO_PKG_VERSION"),
                        env!("CARGO_PKG_DESCRIPTION"),
                    )
                }
            }
            impl $crate::__bindings::llm_world::exports::studio::plugin::llm::Guest
                for __StudioLlmExport
            {
                fn complete(
                    request: $crate::LlmRequest,
                    sink: &$crate::__bindings::stt_world::studio::plugin::streams::TokenSink,
                ) -> ::core::result::Result<$crate::Completion, $crate::PluginError> {
                    let sink = $crate::TokenSink::__new(sink);
                    <$plugin as $crate::LlmPlugin>::complete(request, &sink)
                }
            }
            $crate::__bindings::llm_world::__export_llm_world!(
                __StudioLlmExport with_types_in $crate::__bindings::llm_world
            );
        };
    };
}

/// Exports a type that implements [`PolicyPlugin`] as the plugin's `policy-plugin` world.
#[macro_export]
macro_rules! export_policy {
    ($plugin:ty) => {
        // Natively there is no component to export, and the export names (`studio:plugin/...#f`)
        // are not valid in a native linker's symbol list.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __StudioPolicyExport;
            impl $crate::__bindings::policy_world::Guest for __StudioPolicyExport {
                fn describe() -> $crate::PluginInfo {
                    <$plugin as $crate::PolicyPlugin>::describe().__fill_from_package(
                        env!("CARGO_PKG_NAME"),
                        env!("CARGO_PKG_VERSION"),
                        env!("CARGO_PKG_DESCRIPTION"),
                    )
                }
            }
            impl $crate::__bindings::policy_world::exports::studio::plugin::policy::Guest
                for __StudioPolicyExport
            {
                fn decide(
                    state: $crate::FloorState,
                    event: $crate::FloorEvent,
                ) -> ::std::vec::Vec<$crate::Decision> {
                    <$plugin as $crate::PolicyPlugin>::decide(state, event)
                }
            }
            $crate::__bindings::policy_world::__export_policy_world!(
                __StudioPolicyExport with_types_in $crate::__bindings::policy_world
            );
        };
    };
}
