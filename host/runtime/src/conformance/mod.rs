//! The contract checks `voice-studio plugin check` and the SDK's harness run against one
//! component, whatever language it was written in: `describe()` and the contract version
//! ([`describe`]), streaming and cancellation per role ([`streaming`]), error mapping
//! ([`errors`]), limits ([`limits`]) and declared against imported capabilities
//! ([`capabilities`]). They load the component into a real [`PluginHost`] of its own (a
//! `plugins.toml` in a temporary folder) and call it through the same handles a studio uses, so
//! what passes here is what the studio runs.

mod audio;
mod capabilities;
mod describe;
mod errors;
mod limits;
mod report;
mod streaming;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use report::{Check, Figure, Outcome, PluginLine, Report};

use crate::call::CallFigures;
use crate::error::CallError;
use crate::host::{PluginHost, PluginHostOptions};
use crate::manifest::{Capability, PluginKind, RoleSlot};

/// The name the component gets in the checker's `plugins.toml`.
const UNDER_CHECK: &str = "under-check";
/// How long compiling and loading may take before the check gives up (a large component compiles
/// for tens of seconds the first time; the compile cache makes later runs fast).
const LOAD_DEADLINE: Duration = Duration::from_secs(300);

/// Every capability, for the first load (before `describe()` said what it needs).
const ALL_CAPABILITIES: [Capability; 6] = [
    Capability::Log,
    Capability::Clock,
    Capability::Config,
    Capability::Http,
    Capability::Websocket,
    Capability::Process,
];

/// What to check and what the component is granted while it is checked.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The component (`.wasm`).
    pub path: PathBuf,
    /// The role it must fill; `None` accepts the one `describe()` names.
    pub role: Option<PluginKind>,
    /// Its `config` table.
    pub config: toml::Table,
    /// The capabilities granted; `None` grants exactly what `describe()` declares.
    pub grants: Option<Vec<Capability>>,
    /// Where `http` and `websocket` may connect (`allowed_hosts` patterns).
    pub allowed_hosts: Vec<String>,
    /// What `process` may run (absolute paths).
    pub allowed_executables: Vec<String>,
    /// Secrets it may read, with their values.
    pub secrets: Vec<(String, String)>,
    /// `memory_limit_mb`, when not the default.
    pub memory_limit_mb: Option<u32>,
    /// `cpu_limit_ms`, when not the default.
    pub cpu_limit_ms: Option<u64>,
    /// The model an LLM is asked for (empty: the plugin's default).
    pub model: String,
    /// The compile cache folder (`None`: the runtime's default).
    pub cache_dir: Option<PathBuf>,
    /// The compile cache's key file (`None`: beside the folder).
    pub cache_key_file: Option<PathBuf>,
}

/// Why the checks could not run at all (as opposed to a check that failed).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The options cannot be used: no such file, a grant `plugins.toml` would refuse.
    #[error("{0}")]
    Usage(String),
    /// The checker's own setup failed (temporary folder, engine).
    #[error("{0}")]
    Setup(String),
}

/// One call a check made, for the error-mapping and limits checks.
pub(crate) struct CallRecord {
    what: &'static str,
    kind: PluginKind,
    outcome: Result<(), CallError>,
    wall: Duration,
    figures: Option<CallFigures>,
}

impl CallRecord {
    pub(crate) fn new(
        what: &'static str,
        kind: PluginKind,
        outcome: Result<(), CallError>,
        wall: Duration,
        figures: Option<CallFigures>,
    ) -> CallRecord {
        CallRecord {
            what,
            kind,
            outcome,
            wall,
            figures,
        }
    }
}

/// The contract versions this host serves, newest last.
pub fn supported_contracts() -> Vec<String> {
    describe::supported_contracts()
}

/// Runs every check against `options.path`. A component that cannot be loaded is a report with
/// a failed `load` check; only unusable options or a broken setup are errors.
pub async fn check(options: &CheckOptions) -> Result<Report, CheckError> {
    let path = options
        .path
        .canonicalize()
        .map_err(|e| CheckError::Usage(format!("{}: {e}", options.path.display())))?;
    if !path.is_file() {
        return Err(CheckError::Usage(format!(
            "{} is not a file",
            path.display()
        )));
    }
    let mut report = Report {
        file: options.path.display().to_string(),
        plugin: None,
        checks: Vec::new(),
    };
    let folder =
        tempfile::tempdir().map_err(|e| CheckError::Setup(format!("temporary folder: {e}")))?;
    let manifest = folder.path().join("plugins.toml");
    let write = |grants: &[Capability], role: Option<PluginKind>| {
        let text = manifest_text(options, &path, grants, role)?;
        std::fs::write(&manifest, text)
            .map_err(|e| CheckError::Setup(format!("writing {}: {e}", manifest.display())))
    };

    // First load: what is it? Everything is granted so that the grant lists validate.
    write(options.grants.as_deref().unwrap_or(&ALL_CAPABILITIES), None)?;
    let host_options = PluginHostOptions {
        manifest_path: manifest.clone(),
        cache_dir: options.cache_dir.clone(),
        cache_key_file: options.cache_key_file.clone(),
        watch: false,
        environment: Some(Arc::new(Default::default())),
        ..Default::default()
    };
    let started = Instant::now();
    let host = match tokio::time::timeout(LOAD_DEADLINE, PluginHost::start(host_options)).await {
        Err(_) => {
            report.checks.push(Check::fail(
                "load",
                format!(
                    "it did not compile, load and describe itself within {} s",
                    LOAD_DEADLINE.as_secs()
                ),
            ));
            return Ok(report);
        }
        Ok(Err(crate::error::PluginHostError::Manifest(e))) => {
            return Err(CheckError::Usage(e.to_string()));
        }
        Ok(Err(e)) => return Err(CheckError::Setup(e.to_string())),
        Ok(Ok(host)) => host,
    };
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = host.plugins().into_iter().find(|p| p.name == UNDER_CHECK);
    let Some(info) = status.as_ref().and_then(|s| s.info.clone()) else {
        let why = status
            .and_then(|s| s.last_error)
            .unwrap_or_else(|| "the host did not load it".into());
        report
            .checks
            .push(Check::fail("load", why).figure("load_ms", load_ms));
        return Ok(report);
    };
    report.plugin = Some(PluginLine {
        name: info.name.clone(),
        version: info.version.clone(),
        role: info.kind.name().to_string(),
        contract: info.contract.clone(),
    });
    report.checks.push(
        Check::pass(
            "load",
            "a WebAssembly component of the contract, compiled and linked",
        )
        .figure("load_ms", load_ms),
    );

    // Second load, now compiled: the grants it asks for (or those given) and its role. Timed, it
    // bounds what `describe()` takes at each hot reload.
    let grants = options
        .grants
        .clone()
        .unwrap_or_else(|| info.capabilities.clone());
    write(&grants, Some(info.kind))?;
    let started = Instant::now();
    let reloaded = tokio::time::timeout(LOAD_DEADLINE, host.reload()).await;
    let describe_time = started.elapsed();
    match reloaded {
        Ok(events) => {
            if let Some(error) = events.into_iter().find_map(|e| e.error) {
                report.checks.push(Check::fail("describe", error));
                return Ok(report);
            }
        }
        Err(_) => {
            report.checks.push(Check::fail(
                "describe",
                "describe() did not answer on reload",
            ));
            return Ok(report);
        }
    }
    for (name, value) in &options.secrets {
        host.set_secret(name, value.clone());
    }
    let described = describe::check(&info, options.role, describe_time);
    let wrong_role = options.role.is_some_and(|r| r != info.kind);
    report.checks.extend(described);

    let bytes =
        std::fs::read(&path).map_err(|e| CheckError::Usage(format!("{}: {e}", path.display())))?;
    report.checks.push(
        match capabilities::imports(host.engine(), Arc::new(bytes)).await {
            Ok(imports) => {
                capabilities::check(&imports, &info.capabilities, options.grants.as_deref())
            }
            Err(e) => Check::fail("capabilities", e),
        },
    );

    if wrong_role {
        report.checks.push(Check::skipped(
            "streaming",
            format!(
                "not run: the component is not the {} plugin asked for",
                options.role.map_or("", |r| r.name())
            ),
        ));
        return Ok(report);
    }
    let mut records = Vec::new();
    report
        .checks
        .extend(streaming::check(&host, info.kind, &options.model, &mut records).await);
    report.checks.push(errors::check(&records));
    let setup = host.snapshot();
    if let Some(entry) = setup.manifest.plugins.get(UNDER_CHECK) {
        report.checks.push(limits::check(&records, entry));
    }
    Ok(report)
}

/// The checker's `plugins.toml`: the component under [`UNDER_CHECK`] with the options' grants,
/// and its role once known.
fn manifest_text(
    options: &CheckOptions,
    path: &std::path::Path,
    grants: &[Capability],
    role: Option<PluginKind>,
) -> Result<String, CheckError> {
    use toml::Value;
    let strings =
        |items: &mut dyn Iterator<Item = String>| Value::Array(items.map(Value::String).collect());
    let mut plugin = toml::Table::new();
    plugin.insert("path".into(), Value::String(path.display().to_string()));
    plugin.insert(
        "capabilities".into(),
        strings(&mut grants.iter().map(|c| c.name().to_string())),
    );
    let networked = grants.contains(&Capability::Http) || grants.contains(&Capability::Websocket);
    if !options.allowed_hosts.is_empty() && networked {
        plugin.insert(
            "allowed_hosts".into(),
            strings(&mut options.allowed_hosts.iter().cloned()),
        );
    }
    if !options.allowed_executables.is_empty() && grants.contains(&Capability::Process) {
        plugin.insert(
            "allowed_executables".into(),
            strings(&mut options.allowed_executables.iter().cloned()),
        );
    }
    if !options.secrets.is_empty() {
        plugin.insert(
            "secrets".into(),
            strings(&mut options.secrets.iter().map(|(n, _)| n.clone())),
        );
    }
    if let Some(mb) = options.memory_limit_mb {
        plugin.insert("memory_limit_mb".into(), Value::Integer(i64::from(mb)));
    }
    if let Some(ms) = options.cpu_limit_ms {
        let ms = i64::try_from(ms)
            .map_err(|_| CheckError::Usage(format!("cpu limit {ms} is too large")))?;
        plugin.insert("cpu_limit_ms".into(), Value::Integer(ms));
    }
    if !options.config.is_empty() {
        plugin.insert("config".into(), Value::Table(options.config.clone()));
    }
    let mut plugins = toml::Table::new();
    plugins.insert(UNDER_CHECK.into(), Value::Table(plugin));
    let mut root = toml::Table::new();
    if let Some(kind) = role {
        let slot = match kind {
            PluginKind::Stt => RoleSlot::Stt,
            PluginKind::Tts => RoleSlot::Tts,
            PluginKind::Llm => RoleSlot::Claude,
            PluginKind::Policy => RoleSlot::Policy,
        };
        let mut roles = toml::Table::new();
        roles.insert(slot.name().into(), Value::String(UNDER_CHECK.into()));
        root.insert("roles".into(), Value::Table(roles));
    }
    root.insert("plugins".into(), Value::Table(plugins));
    toml::to_string(&root).map_err(|e| CheckError::Setup(format!("plugins.toml: {e}")))
}
