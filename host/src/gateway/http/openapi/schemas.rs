//! The shapes of the HTTP API's bodies, for the OpenAPI document. The handlers build their JSON
//! with `json!` (or parse it by hand, to name the bad field); these types say the same thing to
//! the document, field for field, and the openapi test holds the live answers to them.

#![allow(
    dead_code,
    reason = "shapes for the document only: the handlers write the same JSON themselves"
)]

use std::collections::BTreeMap;

use utoipa::{IntoResponses, ToSchema};

/// Why a request was refused: `401`, `403`, `415`, `429` and most `400`s of the admin doors, the
/// Origin check and `POST /api/episodes`.
#[derive(ToSchema)]
#[schema(example = json!({"success": false, "code": "unauthorized",
    "error": "missing or wrong token: send Authorization: Bearer <STUDIO_ADMIN_TOKEN>"}))]
pub struct Refusal {
    /// Always `false`.
    pub success: bool,
    /// What kind of refusal (`unauthorized`, `forbidden`, `rate-limited`, `bad-request`,
    /// `unsupported-media-type`); the settings API's `415` carries none.
    #[schema(required = false)]
    pub code: Option<String>,
    /// What went wrong and how to fix it.
    pub error: String,
    /// The refused `Origin` (the Origin check's `403` only).
    #[schema(required = false)]
    pub origin: Option<String>,
}

/// A settings body that does not validate (`400`).
#[derive(ToSchema)]
#[schema(example = json!({"success": false, "error": "guestProvider: unknown provider `claude`; use groq, grok, together, openai or local", "field": "guestProvider"}))]
pub struct SettingsRefusal {
    /// Always `false`.
    pub success: bool,
    /// `<field>: <problem>`.
    pub error: String,
    /// The JSON field at fault (`body` when the body is not a JSON object).
    pub field: String,
}

/// `GET /health`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Always `ok`.
    pub status: String,
    /// Now, ISO 8601 UTC with milliseconds.
    #[schema(example = "2026-11-26T09:22:26.123Z")]
    pub timestamp: String,
    /// The server's version.
    #[schema(example = "0.1.0")]
    pub version: String,
    /// The providers in use.
    pub adapters: Adapters,
    /// Every loaded plugin.
    pub plugins: Vec<PluginStatus>,
    /// Studios running now.
    pub studios: u64,
}

/// The providers in use (`/health`'s `adapters`, the shape the frontend expects).
#[derive(ToSchema)]
pub struct Adapters {
    /// Whether the real provider adapters are on (`USE_REAL_ADAPTERS`).
    pub enabled: bool,
    /// `STT_PROVIDER`.
    #[schema(example = "assemblyai")]
    pub stt: String,
    /// The live TTS provider.
    #[schema(example = "google")]
    pub tts: String,
    /// The live guest provider.
    #[schema(example = "groq")]
    pub guest: String,
}

/// One loaded plugin.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginStatus {
    /// Its name in `plugins.toml`.
    #[schema(example = "mock-stt")]
    pub name: String,
    /// The roles it serves, comma-separated, or `standby` when it is only declared.
    #[schema(example = "stt")]
    pub role: String,
    /// Its version from `describe()`.
    pub version: String,
    /// SHA-256 of its `.wasm`, hex.
    pub sha256: String,
    /// False after a failed load or reload (the previous version keeps serving).
    pub healthy: bool,
    /// The last load or reload error: in the admin view only (it may name paths).
    #[schema(required = false)]
    pub last_error: Option<String>,
}

/// `GET /ready`: `200` ready, `503` not ready.
#[derive(ToSchema)]
#[schema(example = json!({"status": "not-ready", "reason": "plugins are not loaded"}))]
pub struct Readiness {
    /// `ready` or `not-ready`.
    #[schema(pattern = "^(ready|not-ready)$")]
    pub status: String,
    /// Why not ready, in general words (`not-ready` only).
    #[schema(required = false)]
    pub reason: Option<String>,
    /// The plugin errors or the folder and its error: in the admin view only.
    #[schema(required = false)]
    pub detail: Option<String>,
}

/// `GET /api/config`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// `USE_REAL_ADAPTERS`.
    pub use_real_adapters: bool,
    /// `STT_PROVIDER`.
    #[schema(example = "assemblyai")]
    pub stt_provider: String,
    /// The live TTS provider.
    pub tts_provider: TtsProvider,
    /// The live guest provider.
    pub guest_provider: GuestProvider,
    /// The live guest model, `null` for the provider's default.
    #[schema(required = true)]
    pub guest_model: Option<String>,
    /// The live guest settings.
    pub runtime_config: RuntimeConfig,
    /// Which keys are set (never their values), by `ApiKeysPayload` field.
    #[schema(example = json!({"anthropicApiKey": false, "assemblyaiApiKey": false,
        "groqApiKey": false, "grokApiKey": false, "togetherApiKey": false, "openaiApiKey": false}))]
    pub keys: BTreeMap<String, bool>,
}

/// The guest LLM's service.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GuestProvider {
    /// Groq.
    Groq,
    /// xAI Grok.
    Grok,
    /// Together.
    Together,
    /// OpenAI.
    Openai,
    /// `LOCAL_LLAMA_ENDPOINT`.
    Local,
}

/// The speech synthesis service.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TtsProvider {
    /// Google Text-to-Speech.
    Google,
    /// Coqui.
    Coqui,
    /// Piper, a local process.
    Piper,
}

/// The frontend's `RuntimeConfig`: the guest settings the studios read on each turn.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfig {
    /// The guest LLM's service.
    pub guest_provider: GuestProvider,
    /// The guest LLM's model, when not the provider's default.
    #[schema(required = false)]
    pub guest_model: Option<String>,
    /// Extra system instructions for the guest (its persona).
    #[schema(required = false)]
    pub guest_system_instructions: Option<String>,
    /// The speech synthesis service.
    pub tts_provider: TtsProvider,
    /// The guest's voice.
    #[schema(required = false)]
    pub guest_voice: Option<Voice>,
    /// Claude's voice (absent: the TTS plugin's default for claude).
    #[schema(required = false)]
    pub claude_voice: Option<Voice>,
}

/// Who speaks a voice.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VoiceProvider {
    /// Google Text-to-Speech.
    Google,
    /// Coqui.
    Coqui,
}

/// A voice.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Voice {
    /// Its service.
    pub provider: VoiceProvider,
    /// A Google voice name, e.g. `en-US-Neural2-A`.
    #[schema(required = false, max_length = 200)]
    pub google_voice: Option<String>,
    /// A Coqui speaker.
    #[schema(required = false, max_length = 200)]
    pub coqui_speaker: Option<String>,
    /// Speaking rate, 0.25 to 4.
    #[schema(required = false, minimum = 0.25, maximum = 4.0)]
    pub speaking_rate: Option<f64>,
    /// Pitch in semitones, -20 to 20.
    #[schema(required = false, minimum = -20.0, maximum = 20.0)]
    pub pitch: Option<f64>,
}

/// `POST /api/config/guest`'s body: every field optional; absent, `null` or `""` leaves it as it
/// is.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"guestProvider": "together", "guestModel": "meta-llama/Llama-3.3-70B"}))]
pub struct RuntimeConfigUpdate {
    /// The guest LLM's service.
    #[schema(required = false)]
    pub guest_provider: Option<GuestProvider>,
    /// The guest LLM's model.
    #[schema(required = false, max_length = 200)]
    pub guest_model: Option<String>,
    /// Extra system instructions for the guest.
    #[schema(required = false, max_length = 20000)]
    pub guest_system_instructions: Option<String>,
    /// The speech synthesis service.
    #[schema(required = false)]
    pub tts_provider: Option<TtsProvider>,
    /// The guest's voice.
    #[schema(required = false)]
    pub guest_voice: Option<Voice>,
    /// Claude's voice (absent: the TTS plugin's default for claude).
    #[schema(required = false)]
    pub claude_voice: Option<Voice>,
}

/// `POST /api/config/guest`'s answer.
#[derive(ToSchema)]
pub struct GuestUpdated {
    /// Always `true`.
    pub success: bool,
    /// `Guest configuration updated`.
    pub message: String,
    /// The guest settings now in force.
    pub config: RuntimeConfig,
}

/// The frontend's `ApiKeysPayload`: keys to hand to the plugins. Empty strings are skipped (the
/// frontend sends `""` for keys left blank); unknown fields are refused, and so is a key with a
/// control character or over 4096 bytes (1024 characters always fit).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"anthropicApiKey": "", "groqApiKey": ""}))]
pub struct ApiKeysPayload {
    /// `ANTHROPIC_API_KEY`.
    #[schema(
        required = false,
        max_length = 1024,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub anthropic_api_key: Option<String>,
    /// `ASSEMBLYAI_API_KEY`.
    #[schema(
        required = false,
        max_length = 1024,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub assemblyai_api_key: Option<String>,
    /// `GROQ_API_KEY`.
    #[schema(
        required = false,
        max_length = 1024,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub groq_api_key: Option<String>,
    /// `GROK_API_KEY`.
    #[schema(
        required = false,
        max_length = 1024,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub grok_api_key: Option<String>,
    /// `TOGETHER_API_KEY`.
    #[schema(
        required = false,
        max_length = 1024,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub together_api_key: Option<String>,
    /// `OPENAI_API_KEY`.
    #[schema(
        required = false,
        max_length = 1024,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub openai_api_key: Option<String>,
}

/// `POST /api/config/keys`'s answer.
#[derive(ToSchema)]
pub struct KeysUpdated {
    /// Always `true`.
    pub success: bool,
    /// `API keys updated`.
    pub message: String,
    /// The fields whose keys were set (names only).
    pub updated: Vec<String>,
}

/// `POST /api/episodes`'s answer: a new episode and its links.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MintedEpisode {
    /// `ep-` and 26 base32 characters (128 random bits).
    #[schema(example = "ep-n2h36sy3cctr6reel4ikle7afm")]
    pub episode_id: String,
    /// When the tokens expire, ISO 8601 UTC.
    #[schema(example = "2026-12-03T10:00:00.000Z")]
    pub expires_at: String,
    /// The host's link: speaks and acts in the episode.
    pub host: EpisodeLink,
    /// The viewer's link: only receives.
    pub viewer: EpisodeLink,
}

/// One role's link to an episode.
#[derive(ToSchema)]
pub struct EpisodeLink {
    /// The console with the token in the URL fragment (never sent to a server).
    #[schema(example = "https://studio.example.com/#token=<jwt>")]
    pub url: String,
    /// The access token (JWT HS256) for Socket.IO `hello` or recording downloads.
    pub token: String,
}

/// The bytes of a file.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(Vec<u8>);

/// A short plain-text answer (a refusal from a layer or a missing file).
#[derive(ToSchema)]
#[schema(value_type = String)]
pub struct PlainText(String);

/// The refusals of every route behind the admin token (settings, episode minting, `/metrics`).
#[derive(IntoResponses)]
pub enum AdminRefusals {
    /// No admin bearer, or a wrong one
    #[response(status = 401, headers(("WWW-Authenticate" = String, description = "`Bearer`")))]
    Unauthorized(Refusal),
    /// The admin scope is off (no STUDIO_ADMIN_TOKEN on a server that needs one), or a browser
    /// page from an origin not in CORS_ORIGIN (state-changing requests)
    #[response(status = 403)]
    Forbidden(Refusal),
    /// Too many wrong admin tokens from this address
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds")))]
    LockedOut(Refusal),
}

/// The refusals of a request's JSON body, before the handler reads it.
#[derive(IntoResponses)]
pub enum JsonBodyRefusals {
    /// The body did not arrive within HTTP_BODY_TIMEOUT_SECONDS
    #[response(status = 408, content_type = "text/plain; charset=utf-8")]
    Late(PlainText),
    /// The body is over 1 MiB
    #[response(status = 413, content_type = "text/plain; charset=utf-8")]
    TooLarge(PlainText),
    /// The body is not sent as application/json
    #[response(status = 415)]
    NotJson(Refusal),
}
