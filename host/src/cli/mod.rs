//! The binary's commands, one module each, and what they share: reading the configuration,
//! the plugin runtime's options, logging and the async runtime.

pub mod banner;
pub mod check;
pub mod episodes;
pub mod init;
pub mod plugin;
pub mod plugins;
pub mod serve;
pub mod stems;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tracing_subscriber::EnvFilter;

use voice_studio::config::{Config, LogFormat, built_in};
use voice_studio::plugins::{PluginHostOptions, RoleSlot, catalog};

/// Exit code for configuration errors (distinct from crashes, so scripts can tell them apart);
/// also `check`'s "some problem found".
pub const EXIT_CONFIG: u8 = 2;

/// `--version`: the server's version, the plugin contract it speaks (and every contract version it
/// loads) and the plugins built into it.
pub static LONG_VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let plugins: Vec<&str> = voice_studio::plugins::embedded_plugins()
        .map(|p| p.name)
        .collect();
    format!(
        "{version}\nplugin contract: {contract} (loads versions {supported})\nbuilt-in plugins ({version} each): {plugins}",
        version = env!("CARGO_PKG_VERSION"),
        contract = voice_studio::plugins::WIT_CONTRACT,
        supported = voice_studio::plugins::SUPPORTED_CONTRACTS.join(", "),
        plugins = plugins.join(", "),
    )
});

/// The configuration from the environment and `.env`, or its problems printed and exit 2.
pub fn load_config() -> Result<Config, ExitCode> {
    Config::load().map_err(|e| {
        eprintln!("voice-studio: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// How the plugin runtime starts for `config`: `plugins.toml` (or the built-in copy), the plugin
/// folder override, the compile cache, and with `USE_REAL_ADAPTERS=true` the real adapters.
pub fn plugin_options(config: &Config, watch: bool) -> PluginHostOptions {
    let folders = &config.folders;
    PluginHostOptions {
        manifest_path: manifest_name(config),
        built_in_manifest: folders
            .built_in_plugins_toml
            .then_some(built_in::PLUGINS_TOML),
        plugin_dir_override: folders.plugin_dir.clone(),
        cache_dir: folders.plugin_cache_dir.clone(),
        cache_key_file: folders.plugin_cache_key_file.clone(),
        watch,
        role_overrides: real_adapter_roles(config),
        environment: Some(Arc::new(config.plugin_environment())),
    }
}

/// `plugins.toml`'s path, or the built-in copy's name.
pub fn manifest_name(config: &Config) -> PathBuf {
    if config.folders.built_in_plugins_toml {
        PathBuf::from(built_in::PLUGINS_TOML_NAME)
    } else {
        config.folders.plugins_toml.clone()
    }
}

/// With `USE_REAL_ADAPTERS=true`, the adapter plugin each role uses (over `plugins.toml`'s
/// `[roles]`, which serves the offline mock mode); empty in mock mode.
fn real_adapter_roles(config: &Config) -> BTreeMap<RoleSlot, String> {
    let providers = &config.providers;
    if !providers.use_real_adapters {
        return BTreeMap::new();
    }
    catalog::real_adapter_roles(providers.stt.as_str(), providers.tts.as_str())
}

/// The server's logging: `RUST_LOG`/`LOG_FORMAT` as configured, on stderr, through the redactor.
pub fn init_tracing(config: &Config) {
    // The filter was validated with the rest of the configuration.
    let filter = EnvFilter::try_new(&config.log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr so stdout carries only the banner (scripts read the address from it).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        // Every record passes the plugins' secret redactor, whoever logged it.
        .with_writer(voice_studio::plugins::RedactedLog::new(std::io::stderr));
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The operator commands' logging: warnings and errors only (their report is the output), or
/// what `RUST_LOG` asks for.
pub fn init_quiet_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(voice_studio::plugins::RedactedLog::new(std::io::stderr))
        .init();
}

/// A small async runtime for a command that loads plugins.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
