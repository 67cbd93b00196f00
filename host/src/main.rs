//! `voice-studio`: loads the configuration, starts the plugin runtime and serves the studio
//! frontend (HTTP + Socket.IO) on one port until SIGINT/SIGTERM.
//!
//! Exit codes: 0 after a clean shutdown, 2 for a configuration the server cannot start with
//! (the message names the variable and the fix), 1 for anything else.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

use voice_studio::briefings::BriefingStore;
use voice_studio::config::{Config, LogFormat};
use voice_studio::gateway::Gateway;
use voice_studio::plugins::{PluginHost, PluginHostOptions};

/// Exit code for configuration errors (distinct from crashes, so scripts can tell them apart).
const EXIT_CONFIG: u8 = 2;
/// Shutdown must finish within this; after it the process exits anyway.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
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
        watch: folders.watch_plugins,
        role_overrides: config.real_adapter_roles(),
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
    println!("{}", config.banner(bound));
    println!("Health check:      http://{bound}/health");
    tracing::info!(%bound, ready = plugins.is_ready(), "voice-studio listening");

    let (stop_tx, mut stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        let signal = shutdown_signal().await;
        tracing::info!(signal, "shutdown requested");
        let _ = stop_tx.send(true);
        // A studio or connection that does not let go must not keep the process alive.
        tokio::time::sleep(SHUTDOWN_DEADLINE).await;
        eprintln!("voice-studio: shutdown took longer than {SHUTDOWN_DEADLINE:?}; exiting");
        // Plugin children (Piper...) must not outlive the server.
        voice_studio::plugins::kill_all_children();
        std::process::exit(1);
    });
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

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (container stop), naming which.
async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => "SIGINT",
        () = terminate => "SIGTERM",
    }
}

fn init_tracing(config: &Config) {
    // The filter was validated with the rest of the configuration.
    let filter = EnvFilter::try_new(&config.log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr so stdout carries only the banner (scripts read the address from it).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
