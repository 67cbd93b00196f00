//! `voice-studio serve` (and the bare command): loads the configuration, starts the plugin
//! runtime and serves the studio frontend (HTTP + Socket.IO) on one port until SIGINT/SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use voice_studio::briefings::BriefingStore;
use voice_studio::config::{Config, built_in};
use voice_studio::gateway::Gateway;
use voice_studio::plugins::PluginHost;

use super::EXIT_CONFIG;

/// Exit code when shutdown did not finish within its deadline (or a second signal came).
const EXIT_FORCED: i32 = 1;
/// How long the traces still queued at shutdown may take to reach the collector.
const TRACES_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// Today's server: configuration, plugins, the one port, until a signal.
pub fn run() -> ExitCode {
    let config = match super::load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    super::init_tracing(&config);
    // Traces of the AI lines (off unless OTEL_EXPORTER_OTLP_* names a collector): exported from
    // a thread of their own, flushed once the last studio has ended.
    let traces = match voice_studio::observe::traces::start(&config.traces) {
        Ok(traces) => traces,
        Err(e) => {
            eprintln!("voice-studio: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // The workers carry the live audio: they ask to run ahead of other processes.
    let nice = config.server.live_audio_nice;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(voice_studio::scheduling::runtime_thread_started)
        .on_thread_unpark(move || voice_studio::scheduling::live_audio_worker_unparked(nice))
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("voice-studio: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(serve(Arc::new(config)));
    if let Some(traces) = traces {
        traces.shutdown(TRACES_FLUSH_LIMIT);
    }
    match served {
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

async fn serve(config: Arc<Config>) -> Result<(), Failure> {
    let folders = &config.folders;
    if folders.built_in_plugins_toml {
        tracing::info!(
            "no plugins.toml in the working folder and PLUGINS_TOML unset: using the built-in plugins.toml (`voice-studio init` writes an editable copy)"
        );
    }
    let manifest = super::manifest_name(&config);
    let plugins = PluginHost::start(super::plugin_options(&config, folders.watch_plugins))
        .await
        .map_err(|e| {
            Failure::Config(format!(
                "PLUGINS_TOML: cannot start the plugins of {}: {e}. Fix: correct plugins.toml (or PLUGIN_DIR) and start again",
                manifest.display()
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
    let metrics_listener = match config.server.metrics_addr {
        Some(address) => Some(TcpListener::bind(address).await.map_err(|e| {
            Failure::Config(format!(
                "METRICS_ADDR: cannot listen on {address}: {e}. Fix: choose a free METRICS_ADDR (or unset it) and start again"
            ))
        })?),
        None => None,
    };

    let briefings = BriefingStore::open(&folders.briefings_dir).map_err(|e| {
        Failure::Config(format!(
            "BRIEFINGS_DIR: cannot open {}: {e}. Fix: point BRIEFINGS_DIR at a readable folder of briefings",
            folders.briefings_dir.display()
        ))
    })?;
    // No briefings folder (a fresh install): the example briefing, read-only.
    match briefings.offer_when_missing(built_in::EXAMPLE_BRIEFING_ID, built_in::EXAMPLE_BRIEFING) {
        Ok(true) => tracing::info!(
            episode = built_in::EXAMPLE_BRIEFING_ID,
            "no briefings folder: the built-in example briefing is offered read-only (`voice-studio init` writes an editable copy)"
        ),
        Ok(false) => {}
        Err(e) => tracing::warn!("the built-in example briefing does not parse: {e}"),
    }
    let store = open_store(&folders.data_dir, &folders.recording_dir)?;
    let gateway =
        Gateway::with_turn_loop(config.clone(), plugins.clone(), briefings, store.clone());
    // Signals are heard before the banner says the server is up: a SIGTERM sent the moment the
    // banner appears must reach the graceful path, not the default action.
    let (stop_tx, mut stop_rx) = watch::channel(false);
    watch_signals(stop_tx, config.studio.shutdown_deadline)
        .context("listening for SIGINT and SIGTERM")?;
    #[cfg(debug_assertions)]
    test_hooks::wedge_runtime_if_asked();
    println!("{}", super::banner::banner(&config, bound));
    println!("Health check:      http://{bound}/health");
    if let Some(listener) = metrics_listener {
        serve_metrics_alone(listener, &config, stop_rx.clone())?;
    }
    tracing::info!(%bound, ready = plugins.is_ready(), "voice-studio listening");

    let stop = async move {
        // An error means the sender is gone, which only happens once it sent.
        let _ = stop_rx.wait_for(|stop| *stop).await;
    };
    gateway
        .serve(listener, stop)
        .await
        .context("serving HTTP and Socket.IO")?;
    // The store's thread takes its writes on a beat: the ended studios' last ones (their end,
    // their last lines) reach the database before the process goes.
    let _ = tokio::task::spawn_blocking(move || store.flush()).await;
    // Plugin children (Piper...) must not outlive the server.
    voice_studio::plugins::kill_all_children();
    tracing::info!("voice-studio stopped");
    Ok(())
}

/// Serves `/metrics` without a token on `METRICS_ADDR` beside the studio, until the stop signal.
fn serve_metrics_alone(
    listener: TcpListener,
    config: &Config,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let bound = listener
        .local_addr()
        .context("reading the metrics address")?;
    println!("Metrics:           http://{bound}/metrics (no token: keep this address private)");
    let limits = config.connection_limits;
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        if let Err(e) = voice_studio::gateway::serve_metrics(listener, limits, stopped).await {
            tracing::error!(error = %e, "serving /metrics on METRICS_ADDR failed");
        }
    });
    Ok(())
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

/// Opens the episode store in `DATA_DIR` and brings it up to date with the disk: what a killed
/// process left live becomes interrupted, and recordings it does not know are read in.
fn open_store(
    data_dir: &std::path::Path,
    recording_dir: &std::path::Path,
) -> Result<voice_studio::store::EpisodeStore, Failure> {
    let store = voice_studio::store::EpisodeStore::open(data_dir).map_err(|e| {
        Failure::Config(format!(
            "DATA_DIR: {e}. Fix: point DATA_DIR at a writable folder on a local disk (or move the damaged studio.db aside; recordings are read in again)"
        ))
    })?;
    match store.recover(recording_dir) {
        Ok(recovery) => {
            for problem in &recovery.problems {
                tracing::warn!("episode store import: {problem}");
            }
            tracing::info!(
                db = %store.path().display(),
                interrupted = recovery.interrupted,
                imported = recovery.imported,
                "episode store ready"
            );
        }
        // The listing may miss old or interrupted episodes; studios still record and are kept.
        Err(e) => tracing::error!("episode store: recovery at start failed: {e}"),
    }
    Ok(store)
}
