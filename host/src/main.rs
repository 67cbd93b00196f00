//! `voice-studio`: loads the configuration, starts the plugin runtime and serves the studio
//! frontend (HTTP + Socket.IO) on one port until SIGINT/SIGTERM (`voice-studio` or
//! `voice-studio serve`); `--help` and `--version` answer without starting anything.
//!
//! Exit codes: 0 after a clean shutdown, 2 for a configuration the server cannot start with
//! (the message names the variable and the fix), 1 for anything else.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

use voice_studio::briefings::BriefingStore;
use voice_studio::config::{AccessMode, NodeEnv};
use voice_studio::config::{Config, LogFormat};
use voice_studio::gateway::Gateway;
use voice_studio::plugins::{PluginHost, PluginHostOptions, RoleSlot, catalog};

/// Exit code for configuration errors (distinct from crashes, so scripts can tell them apart).
const EXIT_CONFIG: u8 = 2;
/// Exit code when shutdown did not finish within its deadline (or a second signal came).
const EXIT_FORCED: i32 = 1;

/// The command line (clap): the server is the default subcommand.
#[derive(Debug, clap::Parser)]
#[command(
    name = "voice-studio",
    version,
    long_version = LONG_VERSION.as_str(),
    about = "The host server of a live three-way voice studio: one human, two AIs, WebAssembly provider plugins.",
    long_about = None,
    after_help = "Configuration comes from the environment and .env (see .env.example); plugins from plugins.toml."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Serve the studio on HOST:PORT until SIGINT or SIGTERM (what `voice-studio` alone does).
    Serve,
}

/// `--version`: the server's version, the plugin contract it speaks and the plugins built with it.
static LONG_VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let plugins: Vec<&str> = voice_studio::plugins::first_party_plugins().collect();
    format!(
        "{version}\nplugin contract: {contract}\nbuilt-in plugins ({version} each): {plugins}",
        version = env!("CARGO_PKG_VERSION"),
        contract = voice_studio::plugins::WIT_CONTRACT,
        plugins = plugins.join(", "),
    )
});

fn main() -> ExitCode {
    // `--help`, `--version` and usage errors print and exit here (usage errors with 2).
    let cli = <Cli as clap::Parser>::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
    }
}

/// Today's server: configuration, plugins, the one port, until a signal.
fn serve() -> ExitCode {
    let config = match Config::load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("voice-studio: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_tracing(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("voice-studio: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(Arc::new(config))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(message)) => {
            eprintln!("voice-studio: {message}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(Failure::Other(e)) => {
            eprintln!("voice-studio: {e:#}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Config(String),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Other(e)
    }
}

async fn run(config: Arc<Config>) -> Result<(), Failure> {
    let folders = &config.folders;
    let plugins = PluginHost::start(PluginHostOptions {
        manifest_path: folders.plugins_toml.clone(),
        plugin_dir_override: folders.plugin_dir.clone(),
        cache_dir: folders.plugin_cache_dir.clone(),
        cache_key_file: folders.plugin_cache_key_file.clone(),
        watch: folders.watch_plugins,
        role_overrides: real_adapter_roles(&config),
        environment: Some(Arc::new(config.plugin_environment())),
    })
    .await
    .map_err(|e| {
        Failure::Config(format!(
            "PLUGINS_TOML: cannot start the plugins of {}: {e}. Fix: correct plugins.toml (or PLUGIN_DIR) and start again",
            folders.plugins_toml.display()
        ))
    })?;
    for key in config.keys.by_variable.iter() {
        // Keys from the environment reach the plugins the same way as keys set at run time.
        plugins.set_secret(key.0, key.1.expose());
    }

    let address = std::net::SocketAddr::new(config.server.host, config.server.port);
    let listener = TcpListener::bind(address).await.map_err(|e| {
        Failure::Config(format!(
            "PORT: cannot listen on {address}: {e}. Fix: choose a free PORT (or HOST) and start again"
        ))
    })?;
    let bound = listener
        .local_addr()
        .context("reading the listening address")?;

    let briefings = BriefingStore::open(&folders.briefings_dir).map_err(|e| {
        Failure::Config(format!(
            "BRIEFINGS_DIR: cannot open {}: {e}. Fix: point BRIEFINGS_DIR at a readable folder of briefings",
            folders.briefings_dir.display()
        ))
    })?;
    let gateway = Gateway::with_turn_loop(config.clone(), plugins.clone(), briefings);
    // Signals are heard before the banner says the server is up: a SIGTERM sent the moment the
    // banner appears must reach the graceful path, not the default action.
    let (stop_tx, mut stop_rx) = watch::channel(false);
    watch_signals(stop_tx, config.studio.shutdown_deadline)
        .context("listening for SIGINT and SIGTERM")?;
    #[cfg(debug_assertions)]
    test_hooks::wedge_runtime_if_asked();
    println!("{}", banner(&config, bound));
    println!("Health check:      http://{bound}/health");
    tracing::info!(%bound, ready = plugins.is_ready(), "voice-studio listening");

    let stop = async move {
        // An error means the sender is gone, which only happens once it sent.
        let _ = stop_rx.wait_for(|stop| *stop).await;
    };
    gateway
        .serve(listener, stop)
        .await
        .context("serving HTTP and Socket.IO")?;
    // Plugin children (Piper...) must not outlive the server.
    voice_studio::plugins::kill_all_children();
    tracing::info!("voice-studio stopped");
    Ok(())
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

/// Hears SIGINT (Ctrl-C) and SIGTERM (container stop) on a plain thread, not on the async
/// runtime, so a runtime whose workers are all blocked still hears them: the first asks for a
/// graceful shutdown and arms the deadline; a second exits at once.
#[cfg(unix)]
fn watch_signals(stop: watch::Sender<bool>, deadline: Duration) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("shutdown-signals".into())
        .spawn(move || {
            let mut requested = false;
            for signal in signals.forever() {
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                if requested {
                    tracing::error!(signal = name, "second signal during shutdown; exiting now");
                    exit_now(&format!("second {name} during shutdown; exiting now"));
                }
                requested = true;
                tracing::info!(signal = name, "shutdown requested");
                if let Err(e) = arm_shutdown_deadline(deadline, force_exit) {
                    tracing::error!(error = %e, "cannot start the shutdown deadline thread");
                }
                // An error means the receiver is gone: the server already stopped.
                let _ = stop.send(true);
            }
        })?;
    Ok(())
}

/// Without Unix signals: Ctrl-C through the runtime (the deadline thread still does not need it).
#[cfg(not(unix))]
fn watch_signals(stop: watch::Sender<bool>, deadline: Duration) -> std::io::Result<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!(signal = "ctrl-c", "shutdown requested");
            if let Err(e) = arm_shutdown_deadline(deadline, force_exit) {
                tracing::error!(error = %e, "cannot start the shutdown deadline thread");
            }
            let _ = stop.send(true);
        }
    });
    Ok(())
}

/// Runs `on_expiry` on a plain thread once `deadline` has passed, unless the process has exited
/// by then. A thread, not a tokio timer: a studio or plugin call that blocks every async worker
/// must not keep the process alive past its deadline.
fn arm_shutdown_deadline(
    deadline: Duration,
    on_expiry: impl FnOnce(Duration) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("shutdown-deadline".into())
        .spawn(move || {
            std::thread::sleep(deadline);
            on_expiry(deadline);
        })
}

/// The deadline passed: one last log line, then exit non-zero without waiting for anything.
fn force_exit(deadline: Duration) {
    tracing::error!(
        ?deadline,
        "shutdown took longer than SHUTDOWN_DEADLINE_SECONDS; exiting without finishing"
    );
    exit_now(&format!("shutdown took longer than {deadline:?}; exiting"));
}

/// Exits at once with [`EXIT_FORCED`], taking the plugins' child processes along.
fn exit_now(message: &str) -> ! {
    eprintln!("voice-studio: {message}");
    // Plugin children (Piper...) must not outlive the server.
    voice_studio::plugins::kill_all_children();
    std::process::exit(EXIT_FORCED);
}

/// Hooks for tests of the binary, only in debug builds.
#[cfg(debug_assertions)]
mod test_hooks {
    use std::time::Duration;

    /// With `VOICE_STUDIO_TEST_WEDGE_RUNTIME=1`, blocks every async worker thread for an hour
    /// (as a plugin call or disk write that never returns would), so a test can prove that
    /// shutdown still ends the process by its deadline.
    pub(super) fn wedge_runtime_if_asked() {
        if std::env::var_os("VOICE_STUDIO_TEST_WEDGE_RUNTIME").is_none_or(|v| v != "1") {
            return;
        }
        let runtime = tokio::runtime::Handle::current();
        let workers = runtime.metrics().num_workers();
        tracing::warn!(workers, "test hook: blocking every async worker");
        // Spawned from a plain thread, the tasks go to the shared queue that every idle worker
        // takes from; one more than needed, so each worker surely gets one.
        let spawned = std::thread::Builder::new()
            .name("wedge-runtime".into())
            .spawn(move || {
                for _ in 0..=workers {
                    runtime.spawn(async { std::thread::sleep(Duration::from_secs(3600)) });
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "test hook: cannot start");
        }
    }
}

/// The startup banner on stdout: address, mode, providers, folders, access and limits. Scripts
/// and tests read the address from its `Listening on:` line.
fn banner(config: &Config, bound: std::net::SocketAddr) -> String {
    let rule = "=".repeat(60);
    let p = &config.providers;
    let mut lines = vec![
        rule.clone(),
        format!("voice-studio {}", env!("CARGO_PKG_VERSION")),
        rule.clone(),
        format!("Listening on:      http://{bound}"),
        format!("Environment:       {}", config.server.node_env.as_str()),
        format!(
            "CORS Origins:      {}",
            config.server.cors_origins.join(", ")
        ),
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
    let f = &config.folders;
    lines.push(format!("Plugins:           {}", f.plugins_toml.display()));
    if let Some(dir) = &f.plugin_dir {
        lines.push(format!("Plugin Dir:        {}", dir.display()));
    }
    lines.push(format!("Recording Dir:     {}", f.recording_dir.display()));
    lines.push(format!("Briefings Dir:     {}", f.briefings_dir.display()));
    lines.extend(access_banner(config));
    lines.push(format!(
        "Settings API:      {}",
        match (&config.server.admin_token, config.server.node_env) {
            (Some(_), _) => "token required",
            (None, NodeEnv::Production) => "disabled (set STUDIO_ADMIN_TOKEN)",
            (None, _) => "open (development)",
        }
    ));
    lines.push(format!(
        "Connections:       {}",
        config.connection_limits.summary()
    ));
    lines.push(rule);
    lines.join("\n")
}

/// The banner's access lines: the mode, and on loopback how to expose the server safely.
fn access_banner(config: &Config) -> Vec<String> {
    let access = &config.access;
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
    if config.server.host.is_loopback() {
        lines.push(
            "Expose:            this machine only; to serve others set HOST=0.0.0.0 with \
             STUDIO_TOKEN_SECRET=<32+ random bytes> (or STUDIO_ACCESS=open on a trusted network)"
                .to_owned(),
        );
    }
    lines
}

fn init_tracing(config: &Config) {
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
