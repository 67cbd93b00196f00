//! Server configuration: environment variables and `.env`, parsed once into typed structs and
//! validated at start, so that nothing reads the environment later and a bad setting stops the
//! server before it accepts a connection.
//!
//! Each section reads its variables through a [`Reader`], which records a [`ConfigProblem`]
//! naming the variable for every bad value and goes on with the default; [`Config::from_source`]
//! then reports all problems at once. The variable names follow the Node.js convention the
//! studio's frontend was first served with (PORT, CORS_ORIGIN, USE_REAL_ADAPTERS, ...), so an
//! existing `.env` keeps working; `.env.example` documents every one.
//!
//! - [`server`](ServerConfig): address, environment, CORS, download links, logging;
//! - [`access`](AccessConfig): open or token access, the token key, the admin token;
//! - [`providers`](ProviderSelection): provider selection, API keys, local providers;
//! - [`folders`](Folders): recordings, briefings, plugins;
//! - [`studio`](StudioConfig): a studio's lifetime and autopilot limits;
//! - [`limits`](ClientLimits): what a client or a connection may take;
//! - [`traces`](TraceConfig): OpenTelemetry traces (`OTEL_EXPORTER_OTLP_*`), off by default;
//! - [`live`](LiveConfig): the settings the settings API changes while the server runs.

mod access;
mod bucket;
pub mod built_in;
mod cluster;
mod folders;
mod limits;
mod live;
mod providers;
mod reader;
mod secret;
mod server;
mod source;
mod studio;
mod traces;

pub use access::{AccessConfig, AccessMode, MIN_ADMIN_TOKEN_CHARS, MIN_TOKEN_SECRET_BYTES};
pub use bucket::BucketConfig;
pub use cluster::ClusterConfig;
pub use folders::{Folders, default_plugin_cache_dir, ensure_writable_dir};
pub use limits::{ClientLimits, ConnectionLimits, EventRate};
pub use live::{
    ApiKeyField, GuestProvider, KeyStatus, LiveConfig, RuntimeConfig, RuntimeConfigUpdate,
    SettingsError, TtsProvider, VoiceConfig, VoiceProvider,
};
pub use providers::{API_KEY_VARIABLES, ApiKeys, LocalProviders, ProviderSelection, SttProvider};
pub use reader::{ConfigError, ConfigProblem, Reader};
pub use secret::Secret;
pub use server::{DoorConfig, LogConfig, LogFormat, NodeEnv, ServerConfig};
pub use source::ConfigSource;
pub use studio::StudioConfig;
pub use traces::{OtlpProtocol, TraceConfig};

use std::path::Path;

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
    /// OpenTelemetry traces of the AI lines (off unless an OTLP endpoint is set).
    pub traces: TraceConfig,
    /// Finished recordings copied to S3-compatible object storage (off unless
    /// `RECORDING_BUCKET` is set).
    pub bucket: BucketConfig,
    /// Several hosts behind one address, on Redis (off unless `CLUSTER_REDIS_URL` is set).
    pub cluster: ClusterConfig,
}

impl Config {
    /// Loads `.env` from the working directory under the process environment and validates it.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_source(&ConfigSource::from_env_and_dotenv(Path::new(".env"))?)
    }

    /// Parses and validates every variable, collecting all problems before failing.
    pub fn from_source(src: &ConfigSource) -> Result<Self, ConfigError> {
        let (config, problems) = Self::with_problems(src);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// Every variable read, with the default in place of each bad value, and every problem
    /// found: what `voice-studio check` needs to go on checking past a bad setting.
    pub fn with_problems(src: &ConfigSource) -> (Self, Vec<ConfigProblem>) {
        let mut r = Reader::new(src);
        // The order of the sections is the order in which problems are listed.
        let server = ServerConfig::read(&mut r);
        let access = AccessConfig::read(&mut r, &server);
        let doors = DoorConfig::read(&mut r);
        let providers = ProviderSelection::read(&mut r);
        let keys = ApiKeys::read(&r);
        providers.check_real_adapters(&mut r, &keys);
        let local = LocalProviders::read(&mut r);
        let folders = Folders::read(&mut r);
        let studio = StudioConfig::read(&mut r);
        let log = LogConfig::read(&mut r);
        let client_limits = ClientLimits::read(&mut r);
        let connection_limits = ConnectionLimits::read(&mut r);
        let traces = TraceConfig::read(&mut r);
        let bucket = BucketConfig::read(&mut r);
        let cluster = ClusterConfig::read(&mut r, bucket.enabled());

        let problems = r.into_problems();
        let config = Config {
            server,
            providers,
            keys,
            local,
            folders,
            studio,
            log,
            access,
            doors,
            client_limits,
            connection_limits,
            traces,
            bucket,
            cluster,
        };
        (config, problems)
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    pub(super) fn base(dir: &Path) -> Vec<(String, String)> {
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

    /// The configuration of `pairs` over a valid [`base`] in a temporary folder (never the
    /// working folder's `recordings/`).
    pub(super) fn config_of(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut vars = base(dir.path());
        vars.extend(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Config::from_source(&ConfigSource::from_pairs(vars))
    }

    /// What is wrong with the configuration of `pairs`, in one text (empty: nothing).
    pub(super) fn problems_of(pairs: &[(&str, &str)]) -> String {
        config_of(pairs)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
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

    #[test]
    fn problems_read_as_before_the_reader() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut vars = base(dir.path());
        for (variable, value) in [
            ("PORT", "99999"),
            ("NODE_ENV", "prod"),
            ("STUDIO_GRACE_SECONDS", "x"),
            ("STUDIO_WATCHDOG_MS", "5"),
            ("SHUTDOWN_DEADLINE_SECONDS", "0"),
            ("MIC_REALTIME_FACTOR", "0.5"),
        ] {
            vars.push((variable.into(), value.into()));
        }
        let found: Vec<String> = problems(Config::from_source(&ConfigSource::from_pairs(vars)))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "PORT: `99999` is not a TCP port. Fix: set PORT to a number from 0 to 65535, e.g. PORT=4000",
                "NODE_ENV: unknown environment `prod`. Fix: set NODE_ENV to development, production or test",
                "STUDIO_GRACE_SECONDS: `x` is not a number of seconds from 0 to 3600. Fix: set STUDIO_GRACE_SECONDS to e.g. 10",
                "STUDIO_WATCHDOG_MS: `5` is not a number of milliseconds from 100 to 600000. Fix: set STUDIO_WATCHDOG_MS to e.g. 10000",
                "SHUTDOWN_DEADLINE_SECONDS: `0` is not a number of seconds from 0.1 to 600. Fix: set SHUTDOWN_DEADLINE_SECONDS to e.g. 30",
                "MIC_REALTIME_FACTOR: `0.5` is not a factor from 1 to 100. Fix: set MIC_REALTIME_FACTOR to e.g. 1.25 (media seconds per wall second)",
            ]
        );
    }
}
