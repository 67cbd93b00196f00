//! `voice-studio plugin check FILE.wasm`: runs its role's contract against a component, whatever
//! language it was written in, and prints one line per check (pass, warn, FAIL, skipped, with why
//! and the figures measured). The checks themselves are the runtime's
//! ([`voice_studio::plugins::conformance`]), shared with the SDK's test harness.
//!
//! Exit status: 0 when nothing failed, 1 when a check failed, 2 for bad usage (no such file, a
//! malformed option).

use std::path::PathBuf;
use std::process::ExitCode;

use voice_studio::config::default_plugin_cache_dir;
use voice_studio::plugins::conformance::{self, CheckError, CheckOptions};
use voice_studio::plugins::{Capability, PluginKind};

/// `plugin check` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The component to check (`.wasm`).
    file: PathBuf,
    /// The role it must fill (default: the one its describe() names).
    #[arg(long, value_enum)]
    role: Option<Role>,
    /// A `config` value, `key=value` (numbers and true/false are typed); repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_config)]
    config: Vec<(String, toml::Value)>,
    /// Grant exactly these capabilities (default: what its describe() declares); repeatable.
    #[arg(long = "grant", value_enum, value_name = "CAP")]
    grant: Vec<Cap>,
    /// Let `http`/`websocket` reach this origin pattern (`allowed_hosts`), e.g. `http://127.0.0.1:*`.
    #[arg(long = "allow-host", value_name = "PATTERN")]
    allow_host: Vec<String>,
    /// Let `process` run this executable (absolute path).
    #[arg(long = "allow-exec", value_name = "PATH")]
    allow_exec: Vec<String>,
    /// Give it the secret NAME, read from this environment (never from the command line).
    #[arg(long = "secret", value_name = "NAME")]
    secret: Vec<String>,
    /// `memory_limit_mb` while checked (default: the runtime's).
    #[arg(long, value_name = "MB")]
    memory_limit_mb: Option<u32>,
    /// `cpu_limit_ms` while checked (default: the runtime's).
    #[arg(long, value_name = "MS")]
    cpu_limit_ms: Option<u64>,
    /// The model an LLM is asked for (default: empty, the plugin's own).
    #[arg(long, default_value = "")]
    model: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Role {
    Stt,
    Tts,
    Llm,
    Policy,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Cap {
    Log,
    Clock,
    Config,
    Http,
    Websocket,
    Process,
}

/// `key=value`, the value typed as TOML would read it unquoted: integer, float, boolean, else a
/// string.
fn parse_config(text: &str) -> Result<(String, toml::Value), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    if key.trim().is_empty() {
        return Err(format!("{text:?} has an empty key"));
    }
    let value = if let Ok(n) = value.parse::<i64>() {
        toml::Value::Integer(n)
    } else if let Ok(x) = value.parse::<f64>() {
        toml::Value::Float(x)
    } else if let Ok(b) = value.parse::<bool>() {
        toml::Value::Boolean(b)
    } else {
        toml::Value::String(value.to_string())
    };
    Ok((key.trim().to_string(), value))
}

pub fn run(args: &Args) -> ExitCode {
    let mut secrets = Vec::new();
    for name in &args.secret {
        match std::env::var(name) {
            Ok(value) => secrets.push((name.clone(), value)),
            Err(_) => {
                eprintln!("voice-studio: --secret {name}: {name} is not set in the environment");
                return ExitCode::from(2);
            }
        }
    }
    let options = CheckOptions {
        path: args.file.clone(),
        role: args.role.map(|r| match r {
            Role::Stt => PluginKind::Stt,
            Role::Tts => PluginKind::Tts,
            Role::Llm => PluginKind::Llm,
            Role::Policy => PluginKind::Policy,
        }),
        config: args.config.iter().cloned().collect(),
        grants: (!args.grant.is_empty()).then(|| {
            args.grant
                .iter()
                .map(|c| match c {
                    Cap::Log => Capability::Log,
                    Cap::Clock => Capability::Clock,
                    Cap::Config => Capability::Config,
                    Cap::Http => Capability::Http,
                    Cap::Websocket => Capability::Websocket,
                    Cap::Process => Capability::Process,
                })
                .collect()
        }),
        allowed_hosts: args.allow_host.clone(),
        allowed_executables: args.allow_exec.clone(),
        secrets,
        memory_limit_mb: args.memory_limit_mb,
        cpu_limit_ms: args.cpu_limit_ms,
        model: args.model.clone(),
        cache_dir: std::env::var_os("PLUGIN_CACHE_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(default_plugin_cache_dir),
        cache_key_file: std::env::var_os("PLUGIN_CACHE_KEY_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
    };
    let runtime = match super::super::runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("voice-studio: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = match runtime.block_on(conformance::check(&options)) {
        Ok(report) => report,
        Err(CheckError::Usage(message)) => {
            eprintln!("voice-studio: plugin check: {message}");
            return ExitCode::from(2);
        }
        Err(CheckError::Setup(message)) => {
            eprintln!("voice-studio: plugin check could not run: {message}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("voice-studio: cannot write the report as JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", report.render());
    }
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
