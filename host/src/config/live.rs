//! Settings that change while the server runs (the frontend's settings dialog): the guest's
//! provider, model, instructions and voice, and which API keys are set. They live until restart.
//!
//! Studios read them through a `watch` channel: a read is a cheap borrow with no lock held across
//! an await, and the next turn sees the newest value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::watch;

use super::Config;

/// `GUEST_PROVIDER` / `RuntimeConfig.guestProvider`: the guest LLM's service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestProvider {
    /// Groq (GROQ_API_KEY).
    Groq,
    /// xAI Grok (GROK_API_KEY).
    Grok,
    /// Together.ai (TOGETHER_API_KEY).
    Together,
    /// OpenAI (OPENAI_API_KEY).
    Openai,
    /// A local OpenAI-compatible server (LOCAL_LLAMA_ENDPOINT, no key).
    Local,
}

impl GuestProvider {
    /// Parses the frontend's / environment's spelling.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "groq" => Self::Groq,
            "grok" => Self::Grok,
            "together" => Self::Together,
            "openai" => Self::Openai,
            "local" => Self::Local,
            _ => return None,
        })
    }

    /// The frontend's / environment's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Groq => "groq",
            Self::Grok => "grok",
            Self::Together => "together",
            Self::Openai => "openai",
            Self::Local => "local",
        }
    }

    /// The environment variable holding this provider's key, if it needs one.
    pub fn key_variable(self) -> Option<&'static str> {
        match self {
            Self::Groq => Some("GROQ_API_KEY"),
            Self::Grok => Some("GROK_API_KEY"),
            Self::Together => Some("TOGETHER_API_KEY"),
            Self::Openai => Some("OPENAI_API_KEY"),
            Self::Local => None,
        }
    }
}

/// `TTS_PROVIDER` / `RuntimeConfig.ttsProvider`: the speech synthesis service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TtsProvider {
    /// Google Cloud Text-to-Speech.
    Google,
    /// Coqui / EchoForge, a local voice server the frontend's settings offer (no adapter yet).
    Coqui,
    /// Piper, run locally (PIPER_PATH, PIPER_MODEL_PATH).
    Piper,
}

impl TtsProvider {
    /// Parses the frontend's / environment's spelling.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "google" => Self::Google,
            "coqui" => Self::Coqui,
            "piper" => Self::Piper,
            _ => return None,
        })
    }

    /// The frontend's / environment's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Coqui => "coqui",
            Self::Piper => "piper",
        }
    }
}

/// `VoiceConfig.provider` of the frontend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoiceProvider {
    /// A Google voice (`googleVoice`).
    Google,
    /// A Coqui speaker (`coquiSpeaker`).
    Coqui,
}

/// The guest's voice, as the frontend's `VoiceConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceConfig {
    /// Which voice service.
    pub provider: VoiceProvider,
    /// Google voice name, e.g. `en-US-Neural2-A`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub google_voice: Option<String>,
    /// Coqui speaker id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coqui_speaker: Option<String>,
    /// Speaking rate (1.0 = normal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaking_rate: Option<f64>,
    /// Pitch in semitones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pitch: Option<f64>,
}

/// The guest settings the studios read on each turn; the frontend's `RuntimeConfig`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfig {
    /// The guest LLM's service.
    pub guest_provider: GuestProvider,
    /// The guest LLM's model, if not the provider's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_model: Option<String>,
    /// Extra system instructions for the guest (its persona).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_system_instructions: Option<String>,
    /// The speech synthesis service.
    pub tts_provider: TtsProvider,
    /// The guest's voice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_voice: Option<VoiceConfig>,
    /// Claude's voice (absent: the TTS plugin's default for claude).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claude_voice: Option<VoiceConfig>,
}

/// A validated `POST /api/config/guest` body: only the fields it carried change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeConfigUpdate {
    /// New guest provider.
    pub guest_provider: Option<GuestProvider>,
    /// New guest model.
    pub guest_model: Option<String>,
    /// New guest instructions.
    pub guest_system_instructions: Option<String>,
    /// New TTS provider.
    pub tts_provider: Option<TtsProvider>,
    /// New guest voice.
    pub guest_voice: Option<VoiceConfig>,
    /// New voice for claude.
    pub claude_voice: Option<VoiceConfig>,
}

/// A settings payload that cannot be applied, naming the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    /// The JSON field (e.g. `guestProvider`, `guestVoice.pitch`, or `body`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl SettingsError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Longest accepted guest instructions; they go into every guest prompt.
const MAX_INSTRUCTIONS_CHARS: usize = 20_000;
/// Longest accepted model or voice name.
const MAX_NAME_CHARS: usize = 200;

fn object<'a>(body: &'a Value, field: &str) -> Result<&'a Map<String, Value>, SettingsError> {
    body.as_object()
        .ok_or_else(|| SettingsError::new(field, "must be a JSON object"))
}

/// A string field; `null`, absent and "" mean "leave unchanged", as the frontend sends "" for
/// fields the user left empty.
fn opt_string(
    map: &Map<String, Value>,
    field: &str,
    prefix: &str,
    max: usize,
) -> Result<Option<String>, SettingsError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max => Err(SettingsError::new(
            format!("{prefix}{field}"),
            format!("longer than {max} characters"),
        )),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(SettingsError::new(
            format!("{prefix}{field}"),
            "must be a string",
        )),
    }
}

fn opt_number(
    map: &Map<String, Value>,
    field: &str,
    prefix: &str,
    range: std::ops::RangeInclusive<f64>,
) -> Result<Option<f64>, SettingsError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if range.contains(&v) => Ok(Some(v)),
            _ => Err(SettingsError::new(
                format!("{prefix}{field}"),
                format!("must be between {} and {}", range.start(), range.end()),
            )),
        },
        Some(_) => Err(SettingsError::new(
            format!("{prefix}{field}"),
            "must be a number",
        )),
    }
}

impl RuntimeConfigUpdate {
    /// Validates a `RuntimeConfig` JSON body field by field, so a 400 can name the field.
    pub fn from_json(body: &Value) -> Result<Self, SettingsError> {
        let map = object(body, "body")?;
        let guest_provider = opt_string(map, "guestProvider", "", MAX_NAME_CHARS)?
            .map(|raw| {
                GuestProvider::parse(&raw).ok_or_else(|| {
                    SettingsError::new(
                        "guestProvider",
                        format!(
                            "unknown provider `{raw}`; use groq, grok, together, openai or local"
                        ),
                    )
                })
            })
            .transpose()?;
        let tts_provider = opt_string(map, "ttsProvider", "", MAX_NAME_CHARS)?
            .map(|raw| {
                TtsProvider::parse(&raw).ok_or_else(|| {
                    SettingsError::new(
                        "ttsProvider",
                        format!("unknown provider `{raw}`; use google, coqui or piper"),
                    )
                })
            })
            .transpose()?;
        let guest_model = opt_string(map, "guestModel", "", MAX_NAME_CHARS)?;
        let guest_system_instructions =
            opt_string(map, "guestSystemInstructions", "", MAX_INSTRUCTIONS_CHARS)?;
        Ok(Self {
            guest_provider,
            guest_model,
            guest_system_instructions,
            tts_provider,
            guest_voice: voice(map, "guestVoice")?,
            claude_voice: voice(map, "claudeVoice")?,
        })
    }
}

/// A `VoiceConfig` field (`guestVoice`, `claudeVoice`), validated; absent or `null`: unchanged.
fn voice(map: &Map<String, Value>, field: &str) -> Result<Option<VoiceConfig>, SettingsError> {
    let voice = match map.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(voice) => voice,
    };
    let v = object(voice, field)?;
    let prefix = format!("{field}.");
    let provider = match v.get("provider") {
        Some(Value::String(p)) if p == "google" => VoiceProvider::Google,
        Some(Value::String(p)) if p == "coqui" => VoiceProvider::Coqui,
        _ => {
            return Err(SettingsError::new(
                format!("{prefix}provider"),
                "must be \"google\" or \"coqui\"",
            ));
        }
    };
    Ok(Some(VoiceConfig {
        provider,
        google_voice: opt_string(v, "googleVoice", &prefix, MAX_NAME_CHARS)?,
        coqui_speaker: opt_string(v, "coquiSpeaker", &prefix, MAX_NAME_CHARS)?,
        speaking_rate: opt_number(v, "speakingRate", &prefix, 0.25..=4.0)?,
        pitch: opt_number(v, "pitch", &prefix, -20.0..=20.0)?,
    }))
}

/// One field of the frontend's `ApiKeysPayload` and the environment variable (secret name) it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyField {
    /// The JSON field, e.g. `anthropicApiKey`.
    pub field: &'static str,
    /// The secret / environment variable name, e.g. `ANTHROPIC_API_KEY`.
    pub variable: &'static str,
}

/// The fields of `ApiKeysPayload`, in the frontend's order.
pub const API_KEY_FIELDS: [ApiKeyField; 6] = [
    ApiKeyField {
        field: "anthropicApiKey",
        variable: "ANTHROPIC_API_KEY",
    },
    ApiKeyField {
        field: "assemblyaiApiKey",
        variable: "ASSEMBLYAI_API_KEY",
    },
    ApiKeyField {
        field: "groqApiKey",
        variable: "GROQ_API_KEY",
    },
    ApiKeyField {
        field: "grokApiKey",
        variable: "GROK_API_KEY",
    },
    ApiKeyField {
        field: "togetherApiKey",
        variable: "TOGETHER_API_KEY",
    },
    ApiKeyField {
        field: "openaiApiKey",
        variable: "OPENAI_API_KEY",
    },
];

impl ApiKeyField {
    /// All `ApiKeysPayload` fields.
    pub fn all() -> &'static [ApiKeyField] {
        &API_KEY_FIELDS
    }

    /// Validates an `ApiKeysPayload` body: the keys it sets (empty strings are skipped, as the
    /// frontend sends "" for keys the user did not enter). Unknown fields are rejected so a typo
    /// does not silently leave a key unset.
    pub fn parse_payload(body: &Value) -> Result<Vec<(ApiKeyField, String)>, SettingsError> {
        let map = object(body, "body")?;
        let mut keys = Vec::new();
        for (name, value) in map {
            let Some(field) = API_KEY_FIELDS.iter().find(|f| f.field == name) else {
                return Err(SettingsError::new(
                    name.clone(),
                    "unknown key field; use anthropicApiKey, assemblyaiApiKey, groqApiKey, grokApiKey, togetherApiKey or openaiApiKey",
                ));
            };
            match value {
                Value::Null => {}
                Value::String(s) if s.trim().is_empty() => {}
                Value::String(s) if s.len() > 4096 || s.chars().any(char::is_control) => {
                    return Err(SettingsError::new(
                        name.clone(),
                        "not a plausible API key (too long or has control characters)",
                    ));
                }
                Value::String(s) => keys.push((*field, s.trim().to_owned())),
                _ => return Err(SettingsError::new(name.clone(), "must be a string")),
            }
        }
        Ok(keys)
    }
}

/// Which API keys are set (never their values), by `ApiKeysPayload` field name.
pub type KeyStatus = BTreeMap<&'static str, bool>;

/// The live settings shared by the settings API (writer) and the studios (readers).
#[derive(Debug)]
pub struct LiveConfig {
    runtime: watch::Sender<RuntimeConfig>,
    keys_set: watch::Sender<KeyStatus>,
}

impl LiveConfig {
    /// Starts from the environment's configuration.
    pub fn new(config: &Config) -> Self {
        let runtime = RuntimeConfig {
            guest_provider: config.providers.guest,
            guest_model: config.providers.guest_model.clone(),
            guest_system_instructions: None,
            tts_provider: config.providers.tts,
            guest_voice: None,
            claude_voice: None,
        };
        let keys: KeyStatus = API_KEY_FIELDS
            .iter()
            .map(|f| (f.field, config.keys.get(f.variable).is_some()))
            .collect();
        Self {
            runtime: watch::Sender::new(runtime),
            keys_set: watch::Sender::new(keys),
        }
    }

    /// The current guest settings.
    pub fn runtime(&self) -> RuntimeConfig {
        self.runtime.borrow().clone()
    }

    /// A receiver a studio keeps to read the newest guest settings at the start of each turn.
    pub fn subscribe(&self) -> watch::Receiver<RuntimeConfig> {
        self.runtime.subscribe()
    }

    /// Applies a validated update and returns the result.
    pub fn apply(&self, update: RuntimeConfigUpdate) -> RuntimeConfig {
        self.runtime.send_modify(|rc| {
            if let Some(p) = update.guest_provider {
                rc.guest_provider = p;
            }
            if let Some(m) = update.guest_model {
                rc.guest_model = Some(m);
            }
            if let Some(i) = update.guest_system_instructions {
                rc.guest_system_instructions = Some(i);
            }
            if let Some(t) = update.tts_provider {
                rc.tts_provider = t;
            }
            if let Some(v) = update.guest_voice {
                rc.guest_voice = Some(v);
            }
            if let Some(v) = update.claude_voice {
                rc.claude_voice = Some(v);
            }
        });
        self.runtime()
    }

    /// Records that a key was set at run time.
    pub fn mark_key_set(&self, field: ApiKeyField) {
        self.keys_set.send_modify(|k| {
            k.insert(field.field, true);
        });
    }

    /// Which keys are set.
    pub fn keys_set(&self) -> KeyStatus {
        self.keys_set.borrow().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn guest_update_names_the_bad_field() {
        let err = RuntimeConfigUpdate::from_json(&json!({"guestProvider": "claude"}))
            .expect_err("unknown provider");
        assert_eq!(err.field, "guestProvider");
        let err = RuntimeConfigUpdate::from_json(
            &json!({"guestVoice": {"provider": "google", "pitch": "high"}}),
        )
        .expect_err("pitch must be a number");
        assert_eq!(err.field, "guestVoice.pitch");
        let err = RuntimeConfigUpdate::from_json(&json!([1, 2])).expect_err("not an object");
        assert_eq!(err.field, "body");
    }

    #[test]
    fn the_frontends_invite_payload_is_accepted() {
        let update = RuntimeConfigUpdate::from_json(&json!({
            "guestProvider": "together",
            "guestModel": "meta-llama/Llama-3.3-70B",
            "guestSystemInstructions": "You are a skeptical economist.",
            "guestVoice": {"provider": "google", "googleVoice": "en-US-Neural2-A", "speakingRate": 1.0, "pitch": 0}
        }))
        .expect("valid");
        assert_eq!(update.guest_provider, Some(GuestProvider::Together));
        assert_eq!(update.tts_provider, None);
        assert_eq!(
            update.guest_voice.and_then(|v| v.google_voice).as_deref(),
            Some("en-US-Neural2-A")
        );
    }

    #[test]
    fn claudes_voice_is_set_apart_from_the_guests_and_named_when_bad() {
        let update = RuntimeConfigUpdate::from_json(&json!({
            "claudeVoice": {"provider": "google", "googleVoice": "en-GB-Neural2-B"}
        }))
        .expect("valid");
        assert_eq!(update.guest_voice, None);
        assert_eq!(
            update.claude_voice.and_then(|v| v.google_voice).as_deref(),
            Some("en-GB-Neural2-B")
        );
        let err = RuntimeConfigUpdate::from_json(&json!({"claudeVoice": {"provider": "piper"}}))
            .expect_err("unknown voice service");
        assert_eq!(err.field, "claudeVoice.provider");
        let err = RuntimeConfigUpdate::from_json(
            &json!({"claudeVoice": {"provider": "coqui", "speakingRate": 9}}),
        )
        .expect_err("rate out of range");
        assert_eq!(err.field, "claudeVoice.speakingRate");
    }

    #[test]
    fn empty_key_fields_are_skipped_and_wrong_types_rejected() {
        let keys =
            ApiKeyField::parse_payload(&json!({"anthropicApiKey": "sk-1", "groqApiKey": ""}))
                .expect("valid");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].0.variable, "ANTHROPIC_API_KEY");
        let err = ApiKeyField::parse_payload(&json!({"openaiApiKey": 5})).expect_err("number");
        assert_eq!(err.field, "openaiApiKey");
    }
}
