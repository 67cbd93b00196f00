//! Which services the real adapters use and how to reach them: `USE_REAL_ADAPTERS`,
//! `STT_PROVIDER`, `TTS_PROVIDER`, `GUEST_PROVIDER`, `GUEST_MODEL`, the provider API keys, and the
//! endpoints and paths of local providers. Which plugin serves which provider is the plugins'
//! business (`plugins::catalog`).

use std::collections::HashMap;
use std::path::PathBuf;

use super::{Config, GuestProvider, Reader, Secret, TtsProvider};
use crate::plugins::catalog;

/// `STT_PROVIDER`: which speech-to-text service the real adapters use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SttProvider {
    /// AssemblyAI streaming (needs ASSEMBLYAI_API_KEY).
    AssemblyAi,
    /// Google Cloud Speech-to-Text (needs GOOGLE_APPLICATION_CREDENTIALS).
    Google,
    /// A Whisper HTTP endpoint (WHISPER_ENDPOINT).
    Whisper,
}

impl SttProvider {
    /// The variable's spelling of this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AssemblyAi => "assemblyai",
            Self::Google => "google",
            Self::Whisper => "whisper",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "assemblyai" => Self::AssemblyAi,
            "google" => Self::Google,
            "whisper" => Self::Whisper,
            _ => return None,
        })
    }
}

/// Which providers the real adapters use.
#[derive(Debug, Clone)]
pub struct ProviderSelection {
    /// `USE_REAL_ADAPTERS`: false runs the offline mock plugins.
    pub use_real_adapters: bool,
    /// `STT_PROVIDER`.
    pub stt: SttProvider,
    /// `TTS_PROVIDER`.
    pub tts: TtsProvider,
    /// `GUEST_PROVIDER`.
    pub guest: GuestProvider,
    /// `GUEST_MODEL`: the guest LLM's model name, if not the provider's default.
    pub guest_model: Option<String>,
}

impl ProviderSelection {
    /// Reads the selection variables.
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        let use_real_adapters = r.flag("USE_REAL_ADAPTERS", false);
        let stt = r
            .choice(
                "STT_PROVIDER",
                "provider",
                SttProvider::parse,
                SttProvider::AssemblyAi,
                "set STT_PROVIDER to assemblyai, google or whisper",
            )
            .unwrap_or(SttProvider::AssemblyAi);
        let tts = r
            .choice(
                "TTS_PROVIDER",
                "provider",
                TtsProvider::parse,
                TtsProvider::Google,
                "set TTS_PROVIDER to google, coqui or piper",
            )
            .unwrap_or(TtsProvider::Google);
        let guest = r
            .choice(
                "GUEST_PROVIDER",
                "provider",
                GuestProvider::parse,
                GuestProvider::Groq,
                "set GUEST_PROVIDER to groq, grok, together, openai or local",
            )
            .unwrap_or(GuestProvider::Groq);
        Self {
            use_real_adapters,
            stt,
            tts,
            guest,
            guest_model: r.optional_text("GUEST_MODEL"),
        }
    }

    /// With real adapters, every selected provider needs its key and an adapter plugin.
    pub(super) fn check_real_adapters(&self, r: &mut Reader<'_>, keys: &ApiKeys) {
        if !self.use_real_adapters {
            return;
        }
        let mut require = |variable: &'static str, why: &str| {
            if keys.get(variable).is_none() {
                r.problem(
                    variable,
                    format!("not set, but {why}"),
                    format!(
                        "set {variable} in the environment or .env, or set USE_REAL_ADAPTERS=false to run the offline mock plugins"
                    ),
                );
            }
        };
        require(
            "ANTHROPIC_API_KEY",
            "claude always uses Anthropic with USE_REAL_ADAPTERS=true",
        );
        match self.stt {
            SttProvider::AssemblyAi => require("ASSEMBLYAI_API_KEY", "STT_PROVIDER=assemblyai"),
            SttProvider::Google => require("GOOGLE_APPLICATION_CREDENTIALS", "STT_PROVIDER=google"),
            SttProvider::Whisper => {}
        }
        if self.tts == TtsProvider::Google {
            require("GOOGLE_APPLICATION_CREDENTIALS", "TTS_PROVIDER=google");
        }
        if let Some(variable) = self.guest.key_variable() {
            require(variable, &format!("GUEST_PROVIDER={}", self.guest.as_str()));
        }
        if catalog::tts_adapter(self.tts.as_str()).is_none() {
            r.problem(
                "TTS_PROVIDER",
                format!("{} has no adapter plugin in this studio", self.tts.as_str()),
                "set TTS_PROVIDER to google or piper, or USE_REAL_ADAPTERS=false",
            );
        }
    }
}

/// Every provider key variable, with the settings-API field that sets it at run time.
pub const API_KEY_VARIABLES: [&str; 7] = [
    "ANTHROPIC_API_KEY",
    "ASSEMBLYAI_API_KEY",
    "GROQ_API_KEY",
    "GROK_API_KEY",
    "TOGETHER_API_KEY",
    "OPENAI_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
];

/// The provider API keys, by the environment variable that carries each.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    /// Keys that were set, keyed by variable name (e.g. `ANTHROPIC_API_KEY`).
    pub by_variable: HashMap<&'static str, Secret>,
}

impl ApiKeys {
    /// The key in `variable`, if set and non-empty.
    pub fn get(&self, variable: &str) -> Option<&Secret> {
        self.by_variable.get(variable)
    }

    /// Reads every variable of [`API_KEY_VARIABLES`] that is set.
    pub(super) fn read(r: &Reader<'_>) -> Self {
        let by_variable = API_KEY_VARIABLES
            .into_iter()
            .filter_map(|variable| Some((variable, r.secret(variable)?)))
            .collect();
        Self { by_variable }
    }
}

/// Endpoints and paths of local providers.
#[derive(Debug, Clone)]
pub struct LocalProviders {
    /// `WHISPER_ENDPOINT`.
    pub whisper_endpoint: String,
    /// `LOCAL_LLAMA_ENDPOINT`.
    pub local_llama_endpoint: String,
    /// `PIPER_PATH`: the Piper executable.
    pub piper_path: PathBuf,
    /// `PIPER_MODEL_PATH`: the Piper voice model.
    pub piper_model_path: PathBuf,
}

impl LocalProviders {
    /// Reads the endpoints (which must be http(s) URLs) and the Piper paths.
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        Self {
            whisper_endpoint: r.endpoint("WHISPER_ENDPOINT", "http://localhost:8001/transcribe"),
            local_llama_endpoint: r.endpoint("LOCAL_LLAMA_ENDPOINT", "http://localhost:8080/v1"),
            piper_path: r.path("PIPER_PATH", "piper"),
            piper_model_path: r.path("PIPER_MODEL_PATH", "./models/en_US-lessac-medium.onnx"),
        }
    }
}

impl Config {
    /// The values plugins may read (when `plugins.toml` declares them in `secrets`) and that
    /// `${VAR}` in `plugins.toml` expands from: the process environment, with the settings this
    /// configuration resolved from `.env` and defaults on top.
    pub fn plugin_environment(&self) -> HashMap<String, String> {
        let mut environment: HashMap<String, String> = std::env::vars().collect();
        let local = &self.local;
        let mut set = |name: &str, value: String| {
            environment.insert(name.to_string(), value);
        };
        set("WHISPER_ENDPOINT", local.whisper_endpoint.clone());
        set("LOCAL_LLAMA_ENDPOINT", local.local_llama_endpoint.clone());
        set("PIPER_PATH", local.piper_path.display().to_string());
        set(
            "PIPER_MODEL_PATH",
            local.piper_model_path.display().to_string(),
        );
        set("GUEST_PROVIDER", self.providers.guest.as_str().to_string());
        if let Some(model) = &self.providers.guest_model {
            set("GUEST_MODEL", model.clone());
        }
        for (variable, secret) in self.keys.by_variable.iter() {
            set(variable, secret.expose().to_string());
        }
        environment
    }
}
