//! Server configuration: environment variables and `.env`, parsed once into typed structs and
//! validated at start, so that nothing reads the environment later and a bad setting stops the
//! server before it accepts a connection.
//!
//! The variable names are the original Node backend's (PORT, CORS_ORIGIN, USE_REAL_ADAPTERS, ...)
//! so an existing `.env` keeps working; ours (PLUGINS_TOML, STUDIO_ADMIN_TOKEN, ...) are added.

mod client_limits;
mod connection_limits;
mod live;

pub use client_limits::{ClientLimits, EventRate};
pub use connection_limits::ConnectionLimits;
pub use live::{
    ApiKeyField, GuestProvider, KeyStatus, LiveConfig, RuntimeConfig, RuntimeConfigUpdate,
    SettingsError, TtsProvider, VoiceConfig, VoiceProvider,
};

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::plugins::RoleSlot;

/// A value that must never reach a log line, an event or a response: only whether it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value read from the environment or the settings API.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that hands it on (a plugin's `secret()` or an auth check).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `NODE_ENV`: production turns the unauthenticated settings API off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeEnv {
    /// Local work; the settings API is open unless STUDIO_ADMIN_TOKEN is set.
    Development,
    /// Deployed; the settings API needs STUDIO_ADMIN_TOKEN.
    Production,
    /// Test runs; behaves like development.
    Test,
}

impl NodeEnv {
    /// The variable's spelling of this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
            Self::Test => "test",
        }
    }
}

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
}

/// `LOG_FORMAT`: human-readable lines or one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where the HTTP + Socket.IO server listens and who may call it.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `HOST`: the address to bind.
    pub host: IpAddr,
    /// `PORT`: the TCP port (0 picks a free one; the banner shows which).
    pub port: u16,
    /// `NODE_ENV`.
    pub node_env: NodeEnv,
    /// `CORS_ORIGIN`, split on commas; `*` allows any origin.
    pub cors_origins: Vec<String>,
    /// `STUDIO_ADMIN_TOKEN`: when set, settings POSTs need `Authorization: Bearer <token>`.
    pub admin_token: Option<Secret>,
}

/// Which providers the real adapters use (the seed's selection variables).
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

/// Folders and files the server reads and writes.
#[derive(Debug, Clone)]
pub struct Folders {
    /// `RECORDING_DIR`: one folder per episode is written here (checked writable at start).
    pub recording_dir: PathBuf,
    /// `BRIEFINGS_DIR`: episode briefings (Markdown with front matter).
    pub briefings_dir: PathBuf,
    /// `PLUGINS_TOML`: the role map and per-plugin settings.
    pub plugins_toml: PathBuf,
    /// `PLUGIN_DIR`: overrides `[studio] plugin_dir` of plugins.toml.
    pub plugin_dir: Option<PathBuf>,
    /// `PLUGIN_CACHE_DIR`: compiled plugin code, keyed by content hash; unset: the plugin
    /// runtime's default (`<target>/plugin-cache`).
    pub plugin_cache_dir: Option<PathBuf>,
    /// `PLUGIN_CACHE_KEY_FILE`: the key that tags compile cache entries (outside the cache
    /// folder, mode 0600, created on first use); unset: `<cache folder>.key` beside it.
    pub plugin_cache_key_file: Option<PathBuf>,
    /// `PLUGINS_WATCH`: reload plugins.toml and plugin files when they change.
    pub watch_plugins: bool,
}

/// Studio lifetime settings.
#[derive(Debug, Clone)]
pub struct StudioConfig {
    /// `STUDIO_GRACE_SECONDS`: how long a studio outlives its last client (a reload rejoins).
    pub grace: Duration,
    /// `STUDIO_AUTOPILOT_MAX_TURNS`: most AI lines in a row in autopilot before the AIs wait for the human.
    pub autopilot_max_turns: u32,
    /// `STUDIO_TURN_GAP_MS`: the pause between one AI's line and the next AI's, so hand-offs sound natural.
    pub turn_gap: Duration,
    /// `STUDIO_WATCHDOG_MS`: a studio that has not answered its heartbeat for this long is
    /// reported and ended (clients get `error` `studio-stuck`); the rest of the server goes on.
    pub watchdog: Duration,
    /// `SHUTDOWN_DEADLINE_SECONDS`: after SIGTERM/SIGINT the process exits (code 1) when graceful
    /// shutdown has not finished within this, even if the async runtime is wedged.
    pub shutdown_deadline: Duration,
    /// `AUTOPILOT_LINES_PER_MINUTE`: autopilot AI lines a studio may start in any 60 s (default 12).
    pub autopilot_lines_per_minute: u32,
    /// `AUTOPILOT_LINES_PER_EPISODE`: autopilot AI lines a studio may start in its life (default
    /// 200); toggling autopilot does not reset it.
    pub autopilot_lines_per_episode: u32,
    /// `RECORDING_MIN_FREE_MB`: a studio opens a recording only with this much free space on the
    /// recording disk (MiB, default 512); below it the session goes on unrecorded.
    pub recording_min_free_mb: u64,
}

/// Logging.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `LOG_FORMAT`.
    pub format: LogFormat,
    /// `RUST_LOG`: a tracing filter.
    pub filter: String,
}

/// `STUDIO_ACCESS`: who may join a studio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    /// Anyone who reaches the port is a host (a trusted machine or network only).
    Open,
    /// Joining needs a signed, expiring host or viewer token.
    Token,
}

impl AccessMode {
    /// The variable's spelling of this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Token => "token",
        }
    }
}

/// Who may join, speak and act (see `gateway::access` and docs/SECURITY.md).
#[derive(Debug, Clone)]
pub struct AccessConfig {
    /// `STUDIO_ACCESS`: `token` when `STUDIO_TOKEN_SECRET` is set, else `open`.
    pub mode: AccessMode,
    /// Whether `STUDIO_ACCESS` was set explicitly (open access on a non-loopback address needs it).
    pub mode_explicit: bool,
    /// `STUDIO_TOKEN_SECRET`: the key that signs tokens (>= 32 bytes); unset: a random key per process.
    pub token_secret: Option<Secret>,
    /// `STUDIO_TOKEN_TTL_SECONDS`: lifetime of minted host and viewer tokens (default 86400).
    pub token_ttl: Duration,
}

/// Shortest accepted `STUDIO_TOKEN_SECRET`, in bytes (HS256 wants a key as long as its hash).
pub const MIN_TOKEN_SECRET_BYTES: usize = 32;

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listening address and access rules.
    pub server: ServerConfig,
    /// Provider selection.
    pub providers: ProviderSelection,
    /// Provider API keys from the environment.
    pub keys: ApiKeys,
    /// Local provider endpoints and paths.
    pub local: LocalProviders,
    /// Folders and files.
    pub folders: Folders,
    /// Studio lifetime.
    pub studio: StudioConfig,
    /// Logging.
    pub log: LogConfig,
    /// Access model: open or token, and the token key.
    pub access: AccessConfig,
    /// The HTTP doors: signed download links.
    pub doors: DoorConfig,
    /// Limits: clients: studios per address and in total, event rates, microphone speed.
    pub client_limits: ClientLimits,
    /// Limits: connections: open connections per address and in total, request timeouts,
    /// message sizes.
    pub connection_limits: ConnectionLimits,
}

/// Shortest accepted `STUDIO_ADMIN_TOKEN`: 32 characters (e.g. 16 random bytes in hex) keep an
/// online guess hopeless even before the failure slow-down.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// The HTTP doors besides the access model: how long a signed recording link lives.
#[derive(Debug, Clone)]
pub struct DoorConfig {
    /// `DOWNLOAD_URL_TTL_SECONDS`: lifetime of the signed URLs in `recording.ready` (default 3600).
    pub download_url_ttl: Duration,
}

/// One thing wrong with the configuration: the variable, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with its value.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}. Fix: {}", self.variable, self.message, self.fix)
    }
}

/// Why the configuration could not be loaded; every problem is reported at once.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `.env` exists but cannot be read or parsed.
    #[error("cannot read {path}: {reason}. Fix: correct the file or remove it")]
    DotEnv {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// One or more variables are invalid.
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ConfigProblem>),
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

/// The variables read from the process environment and `.env` (the environment wins).
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    vars: HashMap<String, String>,
    /// Every variable name looked up, so a test can hold `.env.example` to the code.
    read: std::cell::RefCell<std::collections::BTreeSet<&'static str>>,
}

impl ConfigSource {
    /// A source from explicit pairs (tests, embedding).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            read: Default::default(),
        }
    }

    /// The process environment layered over `dotenv` (if that file exists): the environment wins,
    /// like dotenv in the original backend, so a deployment can override a checked-in `.env`.
    pub fn from_env_and_dotenv(dotenv: &Path) -> Result<Self, ConfigError> {
        let mut vars = HashMap::new();
        match dotenvy::from_path_iter(dotenv) {
            Ok(iter) => {
                for item in iter {
                    let (key, value) = item.map_err(|e| ConfigError::DotEnv {
                        path: dotenv.to_path_buf(),
                        reason: e.to_string(),
                    })?;
                    vars.insert(key, value);
                }
            }
            Err(e) if e.not_found() => {}
            Err(e) => {
                return Err(ConfigError::DotEnv {
                    path: dotenv.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        }
        // Non-UTF-8 values cannot be any of our settings; they are skipped rather than fatal.
        for (key, value) in std::env::vars_os() {
            if let (Some(k), Some(v)) = (key.to_str(), value.to_str()) {
                vars.insert(k.to_owned(), v.to_owned());
            }
        }
        Ok(Self {
            vars,
            read: Default::default(),
        })
    }

    /// The names of the variables looked up so far.
    pub fn variables_read(&self) -> Vec<&'static str> {
        self.read.borrow().iter().copied().collect()
    }

    /// The value of `name`, treating an empty value as unset (as the seed's `||` defaults did).
    fn get(&self, name: &'static str) -> Option<&str> {
        self.read.borrow_mut().insert(name);
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

impl Config {
    /// With `USE_REAL_ADAPTERS=true`, the plugin each role uses (over `plugins.toml`'s `[roles]`,
    /// which serves the offline mock mode): the adapters `STT_PROVIDER` and `TTS_PROVIDER` name,
    /// `anthropic` for claude and `openai-compat` for the guest. Empty in mock mode.
    pub fn real_adapter_roles(&self) -> BTreeMap<RoleSlot, String> {
        if !self.providers.use_real_adapters {
            return BTreeMap::new();
        }
        let stt = match self.providers.stt {
            SttProvider::AssemblyAi => "assemblyai",
            SttProvider::Google => "google-stt",
            SttProvider::Whisper => "whisper",
        };
        let tts = match self.providers.tts {
            TtsProvider::Google => "google-tts",
            // Rejected at load; named so the manifest error is clear if it ever gets here.
            TtsProvider::Coqui => "coqui",
            TtsProvider::Piper => "piper",
        };
        [
            (RoleSlot::Stt, stt),
            (RoleSlot::Tts, tts),
            (RoleSlot::Claude, "anthropic"),
            (RoleSlot::Guest, "openai-compat"),
        ]
        .into_iter()
        .map(|(slot, name)| (slot, name.to_string()))
        .collect()
    }

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

    /// Loads `.env` from the working directory under the process environment and validates it.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_source(&ConfigSource::from_env_and_dotenv(Path::new(".env"))?)
    }

    /// Parses and validates every variable, collecting all problems before failing.
    pub fn from_source(src: &ConfigSource) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut problem = |variable: &'static str, message: String, fix: String| {
            problems.push(ConfigProblem {
                variable,
                message,
                fix,
            })
        };

        let port = match src.get("PORT") {
            None => 4000,
            Some(raw) => raw.parse::<u16>().unwrap_or_else(|_| {
                problem(
                    "PORT",
                    format!("`{raw}` is not a TCP port"),
                    "set PORT to a number from 0 to 65535, e.g. PORT=4000".into(),
                );
                4000
            }),
        };
        // Loopback by default: exposing the server is a decision (see `parse_access`).
        let host = match src.get("HOST") {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                problem(
                    "HOST",
                    format!("`{raw}` is not an IP address"),
                    "set HOST to an address such as 127.0.0.1 or 0.0.0.0".into(),
                );
                IpAddr::from([127, 0, 0, 1])
            }),
        };
        let node_env = match src.get("NODE_ENV") {
            None | Some("development") => NodeEnv::Development,
            Some("production") => NodeEnv::Production,
            Some("test") => NodeEnv::Test,
            Some(other) => {
                problem(
                    "NODE_ENV",
                    format!("unknown environment `{other}`"),
                    "set NODE_ENV to development, production or test".into(),
                );
                NodeEnv::Development
            }
        };
        let cors_origins: Vec<String> = src
            .get("CORS_ORIGIN")
            .unwrap_or("http://localhost:3000")
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        for origin in &cors_origins {
            let valid = origin == "*"
                || ((origin.starts_with("http://") || origin.starts_with("https://"))
                    && axum::http::HeaderValue::from_str(origin).is_ok());
            if !valid {
                problem(
                    "CORS_ORIGIN",
                    format!("`{origin}` is not an origin"),
                    "list origins like http://localhost:3000, separated by commas (or *)".into(),
                );
            }
        }
        let admin_token = src.get("STUDIO_ADMIN_TOKEN").map(Secret::new);
        let access = parse_access(src, host, node_env, &mut problem);
        if let Some(token) = &admin_token
            && token.expose().chars().count() < MIN_ADMIN_TOKEN_CHARS
        {
            // Never echo the value: a too-short token is still a secret.
            problem(
                "STUDIO_ADMIN_TOKEN",
                format!(
                    "the token has {} characters; at least {MIN_ADMIN_TOKEN_CHARS} are required",
                    token.expose().chars().count()
                ),
                "set STUDIO_ADMIN_TOKEN to a long random value, e.g. `openssl rand -hex 32`".into(),
            );
        }
        let download_url_ttl = match src.get("DOWNLOAD_URL_TTL_SECONDS") {
            None => Duration::from_secs(3600),
            Some(raw) => match raw.parse::<u64>() {
                Ok(secs) if (1..=604_800).contains(&secs) => Duration::from_secs(secs),
                _ => {
                    problem(
                        "DOWNLOAD_URL_TTL_SECONDS",
                        format!("`{raw}` is not a whole number of seconds from 1 to 604800"),
                        "set DOWNLOAD_URL_TTL_SECONDS to e.g. 3600 (one hour)".into(),
                    );
                    Duration::from_secs(3600)
                }
            },
        };

        let use_real_adapters = parse_bool(src, "USE_REAL_ADAPTERS", false, &mut problem);
        let stt = match src.get("STT_PROVIDER") {
            None | Some("assemblyai") => SttProvider::AssemblyAi,
            Some("google") => SttProvider::Google,
            Some("whisper") => SttProvider::Whisper,
            Some(other) => {
                problem(
                    "STT_PROVIDER",
                    format!("unknown provider `{other}`"),
                    "set STT_PROVIDER to assemblyai, google or whisper".into(),
                );
                SttProvider::AssemblyAi
            }
        };
        let tts = match src.get("TTS_PROVIDER") {
            None => TtsProvider::Google,
            Some(raw) => TtsProvider::parse(raw).unwrap_or_else(|| {
                problem(
                    "TTS_PROVIDER",
                    format!("unknown provider `{raw}`"),
                    "set TTS_PROVIDER to google, coqui or piper".into(),
                );
                TtsProvider::Google
            }),
        };
        let guest = match src.get("GUEST_PROVIDER") {
            None => GuestProvider::Groq,
            Some(raw) => GuestProvider::parse(raw).unwrap_or_else(|| {
                problem(
                    "GUEST_PROVIDER",
                    format!("unknown provider `{raw}`"),
                    "set GUEST_PROVIDER to groq, grok, together, openai or local".into(),
                );
                GuestProvider::Groq
            }),
        };
        let guest_model = src.get("GUEST_MODEL").map(str::to_owned);

        let mut keys = ApiKeys::default();
        for variable in API_KEY_VARIABLES {
            if let Some(value) = src.get(variable) {
                keys.by_variable.insert(variable, Secret::new(value));
            }
        }

        if use_real_adapters {
            let mut require = |variable: &'static str, why: &str| {
                if keys.get(variable).is_none() {
                    problem(
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
            match stt {
                SttProvider::AssemblyAi => require("ASSEMBLYAI_API_KEY", "STT_PROVIDER=assemblyai"),
                SttProvider::Google => {
                    require("GOOGLE_APPLICATION_CREDENTIALS", "STT_PROVIDER=google")
                }
                SttProvider::Whisper => {}
            }
            if tts == TtsProvider::Google {
                require("GOOGLE_APPLICATION_CREDENTIALS", "TTS_PROVIDER=google");
            }

            if let Some(variable) = guest.key_variable() {
                require(variable, &format!("GUEST_PROVIDER={}", guest.as_str()));
            }
            if tts == TtsProvider::Coqui {
                problem(
                    "TTS_PROVIDER",
                    "coqui has no adapter plugin in this studio".into(),
                    "set TTS_PROVIDER to google or piper, or USE_REAL_ADAPTERS=false".into(),
                );
            }
        }

        let whisper_endpoint = endpoint(
            src,
            "WHISPER_ENDPOINT",
            "http://localhost:8001/transcribe",
            &mut problem,
        );
        let local_llama_endpoint = endpoint(
            src,
            "LOCAL_LLAMA_ENDPOINT",
            "http://localhost:8080/v1",
            &mut problem,
        );
        let piper_path = PathBuf::from(src.get("PIPER_PATH").unwrap_or("piper"));
        let piper_model_path = PathBuf::from(
            src.get("PIPER_MODEL_PATH")
                .unwrap_or("./models/en_US-lessac-medium.onnx"),
        );

        let recording_dir = PathBuf::from(src.get("RECORDING_DIR").unwrap_or("recordings"));
        if let Err(reason) = ensure_writable_dir(&recording_dir) {
            problem(
                "RECORDING_DIR",
                format!(
                    "`{}` is not a writable folder ({reason})",
                    recording_dir.display()
                ),
                "point RECORDING_DIR at a folder this user can create and write".into(),
            );
        }
        let briefings_dir = PathBuf::from(src.get("BRIEFINGS_DIR").unwrap_or("briefings"));
        if briefings_dir.exists() && !briefings_dir.is_dir() {
            problem(
                "BRIEFINGS_DIR",
                format!("`{}` is not a folder", briefings_dir.display()),
                "point BRIEFINGS_DIR at a folder of Markdown briefings".into(),
            );
        }
        let plugins_toml = PathBuf::from(src.get("PLUGINS_TOML").unwrap_or("plugins.toml"));
        if !plugins_toml.is_file() {
            problem(
                "PLUGINS_TOML",
                format!("`{}` does not exist", plugins_toml.display()),
                "set PLUGINS_TOML to the path of plugins.toml (the role map), or start the server from the folder that holds it".into(),
            );
        }
        let plugin_dir = src.get("PLUGIN_DIR").map(PathBuf::from);
        if let Some(dir) = &plugin_dir
            && !dir.is_dir()
        {
            problem(
                "PLUGIN_DIR",
                format!("`{}` is not a folder", dir.display()),
                "set PLUGIN_DIR to the folder holding the plugin .wasm files, or unset it".into(),
            );
        }
        let plugin_cache_dir = src.get("PLUGIN_CACHE_DIR").map(PathBuf::from);
        let plugin_cache_key_file = src.get("PLUGIN_CACHE_KEY_FILE").map(PathBuf::from);
        let watch_plugins = parse_bool(src, "PLUGINS_WATCH", true, &mut problem);

        let grace = match src.get("STUDIO_GRACE_SECONDS") {
            None => Duration::from_secs(10),
            Some(raw) => match raw.parse::<f64>() {
                Ok(secs) if secs.is_finite() && (0.0..=3600.0).contains(&secs) => {
                    Duration::from_secs_f64(secs)
                }
                _ => {
                    problem(
                        "STUDIO_GRACE_SECONDS",
                        format!("`{raw}` is not a number of seconds from 0 to 3600"),
                        "set STUDIO_GRACE_SECONDS to e.g. 10".into(),
                    );
                    Duration::from_secs(10)
                }
            },
        };

        let autopilot_max_turns = match src.get("STUDIO_AUTOPILOT_MAX_TURNS") {
            None => 6,
            Some(raw) => match raw.parse::<u32>() {
                Ok(turns) if (1..=1000).contains(&turns) => turns,
                _ => {
                    problem(
                        "STUDIO_AUTOPILOT_MAX_TURNS",
                        format!("`{raw}` is not a whole number from 1 to 1000"),
                        "set STUDIO_AUTOPILOT_MAX_TURNS to e.g. 6".into(),
                    );
                    6
                }
            },
        };
        let turn_gap = match src.get("STUDIO_TURN_GAP_MS") {
            None => Duration::from_millis(300),
            Some(raw) => match raw.parse::<u64>() {
                Ok(ms) if ms <= 10_000 => Duration::from_millis(ms),
                _ => {
                    problem(
                        "STUDIO_TURN_GAP_MS",
                        format!("`{raw}` is not a number of milliseconds from 0 to 10000"),
                        "set STUDIO_TURN_GAP_MS to e.g. 300".into(),
                    );
                    Duration::from_millis(300)
                }
            },
        };

        let watchdog = match src.get("STUDIO_WATCHDOG_MS") {
            None => Duration::from_secs(10),
            Some(raw) => match raw.parse::<u64>() {
                Ok(ms) if (100..=600_000).contains(&ms) => Duration::from_millis(ms),
                _ => {
                    problem(
                        "STUDIO_WATCHDOG_MS",
                        format!("`{raw}` is not a number of milliseconds from 100 to 600000"),
                        "set STUDIO_WATCHDOG_MS to e.g. 10000".into(),
                    );
                    Duration::from_secs(10)
                }
            },
        };
        let shutdown_deadline = match src.get("SHUTDOWN_DEADLINE_SECONDS") {
            None => Duration::from_secs(30),
            Some(raw) => match raw.parse::<f64>() {
                Ok(secs) if secs.is_finite() && (0.1..=600.0).contains(&secs) => {
                    Duration::from_secs_f64(secs)
                }
                _ => {
                    problem(
                        "SHUTDOWN_DEADLINE_SECONDS",
                        format!("`{raw}` is not a number of seconds from 0.1 to 600"),
                        "set SHUTDOWN_DEADLINE_SECONDS to e.g. 30".into(),
                    );
                    Duration::from_secs(30)
                }
            },
        };

        let autopilot_lines_per_minute = parse_count(
            src,
            "AUTOPILOT_LINES_PER_MINUTE",
            crate::session::DEFAULT_AUTOPILOT_LINES_PER_MINUTE,
            1..=600,
            &mut problem,
        );
        let autopilot_lines_per_episode = parse_count(
            src,
            "AUTOPILOT_LINES_PER_EPISODE",
            crate::session::DEFAULT_AUTOPILOT_LINES_PER_EPISODE,
            1..=1_000_000,
            &mut problem,
        );
        let recording_min_free_mb = match src.get("RECORDING_MIN_FREE_MB") {
            None => crate::session::DEFAULT_RECORDING_MIN_FREE_MB,
            Some(raw) => match raw.parse::<u64>() {
                Ok(mb) if mb <= 1_000_000_000_000 => mb,
                _ => {
                    problem(
                        "RECORDING_MIN_FREE_MB",
                        format!("`{raw}` is not a whole number of MiB from 0 to 1000000000000"),
                        "set RECORDING_MIN_FREE_MB to e.g. 512 (0 turns the check off)".into(),
                    );
                    crate::session::DEFAULT_RECORDING_MIN_FREE_MB
                }
            },
        };

        let format = match src.get("LOG_FORMAT") {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                problem(
                    "LOG_FORMAT",
                    format!("unknown format `{other}`"),
                    "set LOG_FORMAT to text or json".into(),
                );
                LogFormat::Text
            }
        };
        let filter = src.get("RUST_LOG").unwrap_or("info").to_owned();
        if tracing_subscriber::EnvFilter::try_new(&filter).is_err() {
            problem(
                "RUST_LOG",
                format!("`{filter}` is not a log filter"),
                "set RUST_LOG to a level or directives, e.g. info or voice_studio=debug,info"
                    .into(),
            );
        }
        let client_limits = ClientLimits::from_source(src, &mut problem);
        let connection_limits = ConnectionLimits::from_source(src, &mut problem);

        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        Ok(Config {
            server: ServerConfig {
                host,
                port,
                node_env,
                cors_origins,
                admin_token,
            },
            providers: ProviderSelection {
                use_real_adapters,
                stt,
                tts,
                guest,
                guest_model,
            },
            keys,
            local: LocalProviders {
                whisper_endpoint,
                local_llama_endpoint,
                piper_path,
                piper_model_path,
            },
            folders: Folders {
                recording_dir,
                briefings_dir,
                plugins_toml,
                plugin_dir,
                plugin_cache_dir,
                plugin_cache_key_file,
                watch_plugins,
            },
            studio: StudioConfig {
                grace,
                autopilot_max_turns,
                turn_gap,
                watchdog,
                shutdown_deadline,
                autopilot_lines_per_minute,
                autopilot_lines_per_episode,
                recording_min_free_mb,
            },
            log: LogConfig { format, filter },
            access,
            doors: DoorConfig { download_url_ttl },
            client_limits,
            connection_limits,
        })
    }

    /// The banner's access lines: the mode, and on loopback how to expose the server safely.
    fn access_banner(&self) -> Vec<String> {
        let access = &self.access;
        let mut lines = vec![format!(
            "Access:            {}",
            match access.mode {
                AccessMode::Token => format!(
                    "token (signed links, valid {} s; mint them with POST /api/episodes)",
                    access.token_ttl.as_secs()
                ),
                AccessMode::Open => {
                    "open: anyone who reaches the port is a host (trusted machine only)".to_owned()
                }
            }
        )];
        if self.server.host.is_loopback() {
            lines.push(
                "Expose:            this machine only; to serve others set HOST=0.0.0.0 with \
                 STUDIO_TOKEN_SECRET=<32+ random bytes> (or STUDIO_ACCESS=open on a trusted network)"
                    .to_owned(),
            );
        }
        lines
    }

    /// The startup banner: address, mode, providers and folders, like the original backend's.
    pub fn banner(&self, bound: std::net::SocketAddr) -> String {
        let rule = "=".repeat(60);
        let p = &self.providers;
        let mut lines = vec![
            rule.clone(),
            format!("voice-studio {}", env!("CARGO_PKG_VERSION")),
            rule.clone(),
            format!("Listening on:      http://{bound}"),
            format!("Environment:       {}", self.server.node_env.as_str()),
            format!("CORS Origins:      {}", self.server.cors_origins.join(", ")),
            format!(
                "Mode:              {}",
                if p.use_real_adapters {
                    "real adapters"
                } else {
                    "offline mock plugins"
                }
            ),
        ];
        if p.use_real_adapters {
            lines.push(format!("STT Provider:      {}", p.stt.as_str()));
            lines.push(format!("TTS Provider:      {}", p.tts.as_str()));
            lines.push(format!("Guest Provider:    {}", p.guest.as_str()));
            if let Some(model) = &p.guest_model {
                lines.push(format!("Guest Model:       {model}"));
            }
        }
        let f = &self.folders;
        lines.push(format!("Plugins:           {}", f.plugins_toml.display()));
        if let Some(dir) = &f.plugin_dir {
            lines.push(format!("Plugin Dir:        {}", dir.display()));
        }
        lines.push(format!("Recording Dir:     {}", f.recording_dir.display()));
        lines.push(format!("Briefings Dir:     {}", f.briefings_dir.display()));
        lines.extend(self.access_banner());
        lines.push(format!(
            "Settings API:      {}",
            match (&self.server.admin_token, self.server.node_env) {
                (Some(_), _) => "token required",
                (None, NodeEnv::Production) => "disabled (set STUDIO_ADMIN_TOKEN)",
                (None, _) => "open (development)",
            }
        ));
        lines.push(format!(
            "Connections:       {}",
            self.connection_limits.summary()
        ));
        lines.push(rule);
        lines.join("\n")
    }
}

/// `STUDIO_ACCESS`, `STUDIO_TOKEN_SECRET`, `STUDIO_TOKEN_TTL_SECONDS`, and the refusals that keep
/// an exposed server from running open by accident.
fn parse_access(
    src: &ConfigSource,
    host: IpAddr,
    node_env: NodeEnv,
    problem: &mut impl FnMut(&'static str, String, String),
) -> AccessConfig {
    let token_secret = src.get("STUDIO_TOKEN_SECRET").map(Secret::new);
    let explicit = match src.get("STUDIO_ACCESS") {
        None => None,
        Some("open") => Some(AccessMode::Open),
        Some("token") => Some(AccessMode::Token),
        Some(other) => {
            problem(
                "STUDIO_ACCESS",
                format!("unknown access mode `{other}`"),
                "set STUDIO_ACCESS to token (signed links) or open (a trusted machine only)".into(),
            );
            Some(AccessMode::Token)
        }
    };
    let mode = explicit.unwrap_or(if token_secret.is_some() {
        AccessMode::Token
    } else {
        AccessMode::Open
    });
    if let Some(secret) = &token_secret
        && secret.expose().len() < MIN_TOKEN_SECRET_BYTES
    {
        // Never echo the value: a too-short secret is still a secret.
        problem(
            "STUDIO_TOKEN_SECRET",
            format!(
                "is {} bytes; at least {MIN_TOKEN_SECRET_BYTES} are needed",
                secret.expose().len()
            ),
            "set STUDIO_TOKEN_SECRET to 32+ random bytes, e.g. the output of `openssl rand -hex 32`"
                .into(),
        );
    }
    if mode == AccessMode::Token && token_secret.is_none() {
        problem(
            "STUDIO_TOKEN_SECRET",
            "not set, but STUDIO_ACCESS=token signs and checks links with it".into(),
            "set STUDIO_TOKEN_SECRET to 32+ random bytes, e.g. the output of `openssl rand -hex 32` (every host of a cluster uses the same)".into(),
        );
    }
    if mode == AccessMode::Open {
        if node_env == NodeEnv::Production {
            problem(
                "STUDIO_ACCESS",
                "open access (anyone who reaches the port can join, speak and end any episode) is refused with NODE_ENV=production".into(),
                "set STUDIO_TOKEN_SECRET to 32+ random bytes (token access), or NODE_ENV=development on a trusted machine".into(),
            );
        } else if !host.is_loopback() && explicit.is_none() {
            problem(
                "HOST",
                format!(
                    "`{host}` is not loopback, and without STUDIO_TOKEN_SECRET anyone who reaches it could join, speak and end any episode"
                ),
                "set STUDIO_TOKEN_SECRET to 32+ random bytes (token access), or STUDIO_ACCESS=open on a trusted network, or HOST=127.0.0.1".into(),
            );
        }
    }
    let token_ttl = match src.get("STUDIO_TOKEN_TTL_SECONDS") {
        None => Duration::from_secs(86_400),
        Some(raw) => match raw.parse::<u64>() {
            Ok(secs) if (60..=31_536_000).contains(&secs) => Duration::from_secs(secs),
            _ => {
                problem(
                    "STUDIO_TOKEN_TTL_SECONDS",
                    format!("`{raw}` is not a whole number of seconds from 60 to 31536000"),
                    "set STUDIO_TOKEN_TTL_SECONDS to e.g. 86400 (one day)".into(),
                );
                Duration::from_secs(86_400)
            }
        },
    };
    AccessConfig {
        mode,
        mode_explicit: explicit.is_some(),
        token_secret,
        token_ttl,
    }
}

fn parse_bool(
    src: &ConfigSource,
    variable: &'static str,
    default: bool,
    problem: &mut impl FnMut(&'static str, String, String),
) -> bool {
    match src.get(variable).map(str::to_ascii_lowercase).as_deref() {
        None => default,
        Some("true" | "1" | "yes") => true,
        Some("false" | "0" | "no") => false,
        Some(other) => {
            problem(
                variable,
                format!("`{other}` is not true or false"),
                format!("set {variable}=true or {variable}=false"),
            );
            default
        }
    }
}

/// A whole number within `range`, or the default with a problem naming the variable.
fn parse_count(
    src: &ConfigSource,
    variable: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
    problem: &mut impl FnMut(&'static str, String, String),
) -> u32 {
    let Some(raw) = src.get(variable) else {
        return default;
    };
    match raw.parse::<u32>() {
        Ok(n) if range.contains(&n) => n,
        _ => {
            problem(
                variable,
                format!(
                    "`{raw}` is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
                format!("set {variable} to e.g. {default}"),
            );
            default
        }
    }
}

fn endpoint(
    src: &ConfigSource,
    variable: &'static str,
    default: &str,
    problem: &mut impl FnMut(&'static str, String, String),
) -> String {
    let value = src.get(variable).unwrap_or(default);
    if !(value.starts_with("http://") || value.starts_with("https://")) {
        problem(
            variable,
            format!("`{value}` is not an http(s) URL"),
            format!("set {variable} to a URL such as {default}"),
        );
    }
    value.to_owned()
}

/// Creates `dir` if needed and proves it is writable by creating and removing a probe file; the
/// recorder must not discover an unwritable folder only when the first episode ends.
pub fn ensure_writable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let probe = dir.join(format!(".voice-studio-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").map_err(|e| e.to_string())?;
    std::fs::remove_file(&probe).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(dir: &Path) -> Vec<(String, String)> {
        let toml = dir.join("plugins.toml");
        std::fs::write(&toml, "").ok();
        vec![
            ("PLUGINS_TOML".into(), toml.display().to_string()),
            (
                "RECORDING_DIR".into(),
                dir.join("rec").display().to_string(),
            ),
        ]
    }

    fn problems(result: Result<Config, ConfigError>) -> Vec<ConfigProblem> {
        match result {
            Err(ConfigError::Invalid(p)) => p,
            other => panic!("expected invalid config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_original_backend() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config::from_source(&ConfigSource::from_pairs(base(dir.path())))
            .expect("defaults are valid");
        assert_eq!(config.server.port, 4000);
        assert_eq!(config.server.cors_origins, vec!["http://localhost:3000"]);
        assert!(!config.providers.use_real_adapters);
        assert_eq!(config.providers.stt, SttProvider::AssemblyAi);
        assert_eq!(config.providers.guest, GuestProvider::Groq);
        assert_eq!(config.studio.grace, Duration::from_secs(10));
        assert_eq!(config.folders.briefings_dir, PathBuf::from("briefings"));
    }

    #[test]
    fn every_bad_variable_is_reported_with_its_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut vars = base(dir.path());
        vars.push(("PORT".into(), "99999".into()));
        vars.push(("STT_PROVIDER".into(), "deepgram".into()));
        vars.push(("USE_REAL_ADAPTERS".into(), "true".into()));
        vars.push(("GUEST_PROVIDER".into(), "openai".into()));
        let found = problems(Config::from_source(&ConfigSource::from_pairs(vars)));
        let names: Vec<_> = found.iter().map(|p| p.variable).collect();
        assert!(names.contains(&"PORT"), "{names:?}");
        assert!(names.contains(&"STT_PROVIDER"), "{names:?}");
        assert!(names.contains(&"ANTHROPIC_API_KEY"), "{names:?}");
        assert!(names.contains(&"OPENAI_API_KEY"), "{names:?}");
    }

    #[test]
    fn cors_origin_is_split_on_commas() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut vars = base(dir.path());
        vars.push((
            "CORS_ORIGIN".into(),
            "http://a.test, https://b.test/".into(),
        ));
        let config = Config::from_source(&ConfigSource::from_pairs(vars)).expect("valid");
        assert_eq!(
            config.server.cors_origins,
            vec!["http://a.test", "https://b.test"]
        );
    }

    #[test]
    fn a_file_where_the_recording_folder_should_be_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").expect("write");
        let mut vars = base(dir.path());
        vars.push(("RECORDING_DIR".into(), file.display().to_string()));
        let found = problems(Config::from_source(&ConfigSource::from_pairs(vars)));
        assert_eq!(found[0].variable, "RECORDING_DIR");
    }

    #[test]
    fn env_example_documents_every_variable_the_server_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = ConfigSource::from_pairs(base(dir.path()));
        Config::from_source(&src).expect("valid");
        let example = include_str!("../../../.env.example");
        let documented: Vec<&str> = example
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
            .collect();
        let read = src.variables_read();
        assert!(read.len() > 25, "{read:?}");
        for variable in read {
            assert!(
                documented.contains(&variable),
                "{variable} is read but not in .env.example"
            );
        }
    }

    #[test]
    fn access_defaults_to_loopback_open_and_to_tokens_once_a_secret_is_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config::from_source(&ConfigSource::from_pairs(base(dir.path())))
            .expect("defaults are valid");
        assert_eq!(config.server.host, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(config.access.mode, AccessMode::Open);
        let mut vars = base(dir.path());
        vars.push(("STUDIO_TOKEN_SECRET".into(), "k".repeat(32)));
        vars.push(("HOST".into(), "0.0.0.0".into()));
        let config = Config::from_source(&ConfigSource::from_pairs(vars)).expect("valid");
        assert_eq!(config.access.mode, AccessMode::Token);
        assert!(!format!("{config:?}").contains(&"k".repeat(32)));
    }

    #[test]
    fn open_access_on_another_interface_is_allowed_only_when_asked_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut vars = base(dir.path());
        vars.push(("HOST".into(), "0.0.0.0".into()));
        let found = problems(Config::from_source(&ConfigSource::from_pairs(vars.clone())));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].variable, "HOST");
        vars.push(("STUDIO_ACCESS".into(), "open".into()));
        let config = Config::from_source(&ConfigSource::from_pairs(vars)).expect("valid");
        assert_eq!(config.access.mode, AccessMode::Open);
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut vars = base(dir.path());
        vars.push(("ANTHROPIC_API_KEY".into(), "sk-ant-very-secret".into()));
        let config = Config::from_source(&ConfigSource::from_pairs(vars)).expect("valid");
        assert!(!format!("{config:?}").contains("very-secret"));
    }
}
