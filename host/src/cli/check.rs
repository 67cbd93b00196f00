//! `voice-studio check`: what an operator runs before a deploy. Checks the environment and
//! `.env` (every problem the configuration reader collects), `plugins.toml`, each plugin's load
//! and `describe()`, the roles, the folders (recordings writable with enough free space,
//! briefings readable and valid, the compile cache writable) and that the port can be bound
//! (bound and released at once). Prints every problem with its fix, then what is fine.
//! Exit 0 when all is well, 2 when anything is wrong. Starts no server.

use std::path::Path;
use std::process::ExitCode;

use voice_studio::briefings::{Briefing, MAX_BRIEFING_BYTES};
use voice_studio::config::{Config, ConfigError, ConfigSource, built_in, ensure_writable_dir};
use voice_studio::plugins::{Inspection, RoleSlot, is_embedded};
use voice_studio::recording::free_bytes;

/// One thing wrong: what, and how to fix it.
struct Problem {
    what: String,
    message: String,
    fix: String,
}

/// The report as it is built: problems, and lines for what passed.
#[derive(Default)]
struct Report {
    problems: Vec<Problem>,
    ok: Vec<String>,
}

impl Report {
    fn problem(
        &mut self,
        what: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.problems.push(Problem {
            what: what.into(),
            message: message.into(),
            fix: fix.into(),
        });
    }

    fn ok(&mut self, line: impl Into<String>) {
        self.ok.push(line.into());
    }

    /// Whether a problem names `what` (later checks that depend on it are skipped).
    fn has(&self, what: &str) -> bool {
        self.problems.iter().any(|p| p.what == what)
    }
}

pub fn run() -> ExitCode {
    super::init_quiet_tracing();
    let mut report = Report::default();
    let config = configuration(&mut report);
    plugins(&config, &mut report);
    folders(&config, &mut report);
    bucket(&config, &mut report);
    cluster(&config, &mut report);
    port(&config, &mut report);

    for p in &report.problems {
        println!("problem: {}: {}. Fix: {}", p.what, p.message, p.fix);
    }
    for line in &report.ok {
        println!("ok: {line}");
    }
    if report.problems.is_empty() {
        println!("voice-studio check: all is well");
        ExitCode::SUCCESS
    } else {
        println!(
            "voice-studio check: {} problem{} found",
            report.problems.len(),
            if report.problems.len() == 1 { "" } else { "s" }
        );
        ExitCode::from(super::EXIT_CONFIG)
    }
}

/// `.env` and the environment: every problem the reader collects; the configuration goes on
/// with defaults in place of bad values so the later checks still run.
fn configuration(report: &mut Report) -> Config {
    let dotenv = Path::new(".env");
    let source = match ConfigSource::from_env_and_dotenv(dotenv) {
        Ok(source) => source,
        Err(e) => {
            let message = match &e {
                ConfigError::DotEnv { reason, .. } => reason.clone(),
                other => other.to_string(),
            };
            report.problem(
                ".env",
                format!("cannot be read: {message}"),
                "correct the file or remove it",
            );
            ConfigSource::from_pairs(std::env::vars())
        }
    };
    let (config, problems) = Config::with_problems(&source);
    let count = problems.len();
    for p in problems {
        report.problem(p.variable, p.message, p.fix);
    }
    if count == 0 {
        report.ok(format!(
            "configuration: the environment{} ({} mode)",
            if dotenv.is_file() {
                " and .env"
            } else {
                " (no .env)"
            },
            if config.providers.use_real_adapters {
                "real adapters"
            } else {
                "offline mock"
            }
        ));
    }
    config
}

/// `plugins.toml`, every plugin it declares (loaded, `describe()` called) and every role.
fn plugins(config: &Config, report: &mut Report) {
    if report.has("PLUGINS_TOML") || report.has("PLUGIN_DIR") {
        return; // Already reported; loading would only repeat it.
    }
    let inspection = match super::plugins::inspect(config) {
        Ok(inspection) => inspection,
        Err(message) => {
            let message = message.trim_start_matches("PLUGINS_TOML: ").to_owned();
            report.problem(
                "PLUGINS_TOML",
                message,
                "correct plugins.toml and run check again",
            );
            return;
        }
    };
    report.ok(format!(
        "plugins.toml: {} ({} plugins, {} roles)",
        super::manifest_name(config).display(),
        inspection.manifest.plugins.len(),
        inspection.manifest.roles.len()
    ));
    plugin_lines(&inspection, report);
    roles(&inspection, report);
    let cache = &inspection.cache_dir;
    match ensure_writable_dir(cache) {
        Ok(()) => report.ok(format!("plugin compile cache {} is writable", cache.display())),
        Err(reason) => report.problem(
            "PLUGIN_CACHE_DIR",
            format!("`{}` is not a writable folder ({reason})", cache.display()),
            "point PLUGIN_CACHE_DIR at a folder this user owns (plugins are compiled at every start without it)",
        ),
    }
}

fn plugin_lines(inspection: &Inspection, report: &mut Report) {
    for p in &inspection.plugins {
        let source = if is_embedded(&p.path) {
            "built in".to_owned()
        } else {
            p.path.display().to_string()
        };
        match (&p.last_error, &p.info) {
            (Some(error), _) => report.problem(
                format!("plugin {}", p.name),
                format!("{source} did not load: {error}"),
                "fix its [plugins.NAME] path (or PLUGIN_DIR), or rebuild it against wit/",
            ),
            (None, Some(info)) => report.ok(format!(
                "plugin {} {} ({}, {source}, sha256 {}): describe() says \"{}\"",
                p.name,
                info.version,
                info.kind,
                p.sha256.as_deref().map_or("-", |s| &s[..12.min(s.len())]),
                info.summary
            )),
            (None, None) => {}
        }
    }
}

/// Each role's plugin and fallbacks: loaded, and of the role's kind.
fn roles(inspection: &Inspection, report: &mut Report) {
    let manifest = &inspection.manifest;
    for slot in RoleSlot::ALL {
        let chain = manifest.chain(slot);
        if chain.is_empty() {
            continue;
        }
        let mut fine = true;
        for name in &chain {
            let Some(status) = inspection.plugins.iter().find(|p| &p.name == name) else {
                continue;
            };
            match status.kind {
                None => fine = false, // Reported with the plugin.
                Some(kind) if kind != slot.kind() => {
                    fine = false;
                    report.problem(
                        format!("role {slot}"),
                        format!(
                            "needs a {} plugin, but {name} is a {kind} plugin",
                            slot.kind()
                        ),
                        format!(
                            "pick a {} plugin for {slot} in [roles] (or its fallback)",
                            slot.kind()
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        if fine {
            report.ok(format!("role {slot}: {}", chain.join(" -> ")));
        }
    }
}

/// Recordings (writable, free space), briefings (readable, valid).
fn folders(config: &Config, report: &mut Report) {
    let f = &config.folders;
    if !report.has("RECORDING_DIR") {
        let min_mb = config.studio.recording_min_free_mb;
        match free_bytes(&f.recording_dir) {
            Ok(free) if free / (1024 * 1024) < min_mb => report.problem(
                "RECORDING_MIN_FREE_MB",
                format!(
                    "{} has {} MiB free, less than the {min_mb} MiB a recording needs to start",
                    f.recording_dir.display(),
                    free / (1024 * 1024)
                ),
                "free space on that disk, point RECORDING_DIR elsewhere, or lower RECORDING_MIN_FREE_MB",
            ),
            Ok(free) => report.ok(format!(
                "recordings folder {} is writable, {} MiB free (at least {min_mb} needed)",
                f.recording_dir.display(),
                free / (1024 * 1024)
            )),
            Err(e) => report.problem(
                "RECORDING_DIR",
                format!("cannot read the free space of {}: {e}", f.recording_dir.display()),
                "point RECORDING_DIR at a folder on a local disk",
            ),
        }
    }
    if report.has("BRIEFINGS_DIR") {
        return;
    }
    if !f.briefings_dir.exists() {
        report.ok(format!(
            "briefings folder {} does not exist: the built-in example briefing `{}` is offered read-only (`voice-studio init` writes it)",
            f.briefings_dir.display(),
            built_in::EXAMPLE_BRIEFING_ID
        ));
        return;
    }
    let entries = match std::fs::read_dir(&f.briefings_dir) {
        Ok(entries) => entries,
        Err(e) => {
            report.problem(
                "BRIEFINGS_DIR",
                format!("`{}` cannot be read: {e}", f.briefings_dir.display()),
                "give the server's user read access to the briefings folder",
            );
            return;
        }
    };
    let mut good = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        match briefing(&path) {
            Ok(()) => good += 1,
            Err(message) => report.problem(
                format!("briefing {}", path.display()),
                message,
                "correct the file (see briefings/cars-in-city-centres.md for the format)",
            ),
        }
    }
    report.ok(format!(
        "briefings folder {}: {good} valid briefing{}",
        f.briefings_dir.display(),
        if good == 1 { "" } else { "s" }
    ));
}

/// One briefing file: readable, small enough for a prompt, and valid.
fn briefing(path: &Path) -> Result<(), String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_BRIEFING_BYTES {
        return Err(format!(
            "{size} bytes, more than the {MAX_BRIEFING_BYTES} a prompt takes"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot be read: {e}"))?;
    Briefing::parse(&text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// HOST:PORT can be bound now (and is released at once).
/// `RECORDING_BUCKET`: a small object written and deleted again, which proves the address, the
/// keys and the right to write, within [`BUCKET_CHECK_WITHIN`].
fn bucket(config: &Config, report: &mut Report) {
    if report.has("RECORDING_BUCKET") || report.has("AWS_ENDPOINT_URL") {
        return;
    }
    let bucket = match voice_studio::recording::RecordingBucket::from_config(&config.bucket) {
        Ok(Some(bucket)) => bucket,
        Ok(None) => return,
        Err(error) => {
            report.problem(
                "RECORDING_BUCKET",
                error.to_string(),
                "correct RECORDING_BUCKET and the AWS variables",
            );
            return;
        }
    };
    let probe = async {
        let bucket = &bucket;
        tokio::time::timeout(BUCKET_CHECK_WITHIN, bucket.probe()).await
    };
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| match runtime.block_on(probe) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!(
                "no answer within {} s",
                BUCKET_CHECK_WITHIN.as_secs()
            )),
        });
    let url = config.bucket.url.as_deref().unwrap_or_default();
    match outcome {
        Ok(()) => report.ok(format!("recording bucket {url} takes writes")),
        Err(message) => report.problem(
            "RECORDING_BUCKET",
            format!("`{url}` cannot be written ({message})"),
            "check AWS_ENDPOINT_URL, the keys and that the bucket exists, or unset RECORDING_BUCKET to keep recordings on the local disk only",
        ),
    }
}

/// `CLUSTER_REDIS_URL`: Redis answers `PING` within the leases' deadlines.
fn cluster(config: &Config, report: &mut Report) {
    if report.has("CLUSTER_REDIS_URL") || report.has("CLUSTER_ADVERTISE_URL") {
        return;
    }
    let (Some(redis), Some(me)) = (&config.cluster.redis_url, &config.cluster.advertise_url) else {
        return;
    };
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| {
            runtime.block_on(async {
                let leases = voice_studio::cluster::leases::Leases::new(
                    redis.expose(),
                    me,
                    config.cluster.lease,
                )
                .map_err(|e| e.to_string())?;
                leases.ping().await.map_err(|e| e.to_string())
            })
        });
    match outcome {
        Ok(()) => report.ok(format!("cluster Redis answers; this host is {me}")),
        Err(message) => report.problem(
            "CLUSTER_REDIS_URL",
            format!("Redis does not answer ({message})"),
            "check CLUSTER_REDIS_URL (host, port, password) and that Redis runs, or unset it to serve alone",
        ),
    }
}

/// How long `check` waits for the bucket.
const BUCKET_CHECK_WITHIN: std::time::Duration = std::time::Duration::from_secs(20);

fn port(config: &Config, report: &mut Report) {
    if report.has("PORT") || report.has("HOST") {
        return;
    }
    let address = std::net::SocketAddr::new(config.server.host, config.server.port);
    match std::net::TcpListener::bind(address) {
        Ok(listener) => {
            drop(listener);
            report.ok(format!("{address} can be bound"));
        }
        Err(e) => report.problem(
            "PORT",
            format!("cannot listen on {address}: {e}"),
            "stop what holds the port, or choose a free PORT (or HOST)",
        ),
    }
}
