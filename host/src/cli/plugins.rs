//! `voice-studio plugins`: which plugin serves each role and its fallbacks, and for every plugin
//! `plugins.toml` declares its version (from `describe()`), where it comes from (built into the
//! program, or a file), the sha256 of its code and what it is granted. Loads the plugins to ask
//! them; serves nothing.

use std::process::ExitCode;

use serde::Serialize;

use voice_studio::config::Config;
use voice_studio::plugins::manifest::PluginEntry;
use voice_studio::plugins::{Inspection, PluginHost, PluginStatus, RoleSlot, is_embedded};

/// `plugins` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON for scripts instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> ExitCode {
    super::init_quiet_tracing();
    let config = match super::load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let inspection = match inspect(&config) {
        Ok(inspection) => inspection,
        Err(message) => {
            eprintln!("voice-studio: {message}");
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    let report = Report::new(&config, &inspection);
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("voice-studio: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", report.tables());
    }
    ExitCode::SUCCESS
}

/// Loads `plugins.toml` and every plugin it declares, on a runtime of its own.
pub fn inspect(config: &Config) -> Result<Inspection, String> {
    let runtime = super::runtime().map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime
        .block_on(PluginHost::inspect(super::plugin_options(config, false)))
        .map_err(|e| {
            format!(
                "PLUGINS_TOML: cannot load {}: {e}. Fix: correct plugins.toml (or PLUGIN_DIR)",
                super::manifest_name(config).display()
            )
        })
}

/// What `plugins --json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `plugins.toml`'s path, or `(built-in) plugins.toml`.
    manifest: String,
    /// Whether that is the copy built into the program.
    built_in_manifest: bool,
    /// The folder plugin paths are resolved in (`<built-in>` for the embedded plugins).
    plugin_dir: String,
    /// Each configured role, in the order stt, tts, claude, guest, policy.
    roles: Vec<RoleReport>,
    /// Each declared plugin, by name.
    plugins: Vec<PluginReport>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RoleReport {
    role: String,
    plugin: String,
    version: Option<String>,
    sha256: Option<String>,
    /// The plugin, then the fallbacks tried in order when it fails.
    chain: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PluginReport {
    name: String,
    kind: Option<String>,
    roles: Vec<String>,
    version: Option<String>,
    contract: Option<String>,
    summary: Option<String>,
    /// `embedded` (built into the program) or `file`.
    source: &'static str,
    path: String,
    sha256: Option<String>,
    /// Why it did not load, if it did not.
    error: Option<String>,
    fallback: Vec<String>,
    grants: Grants,
}

/// What `plugins.toml` grants a plugin.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Grants {
    capabilities: Vec<String>,
    allowed_hosts: Vec<String>,
    secrets: Vec<String>,
    secret_files: Vec<String>,
    env: Vec<String>,
    allowed_executables: Vec<String>,
    /// The rules of its child processes, when it may start any.
    process: Option<ProcessGrant>,
    memory_limit_mb: u32,
    cpu_limit_ms: u64,
    cpu_per_audio_second_ms: u64,
    cpu_per_event_ms: u64,
    /// The wall-clock deadline of one call of its kind, ms.
    deadline_ms: Option<u64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProcessGrant {
    env: Vec<String>,
    max_children: u32,
    cpu_seconds: u64,
    memory_mb: u64,
    file_size_mb: u64,
    max_processes: u64,
}

impl Report {
    pub fn new(config: &Config, inspection: &Inspection) -> Self {
        let manifest = &inspection.manifest;
        let status = |name: &str| inspection.plugins.iter().find(|p| p.name == name);
        let roles = RoleSlot::ALL
            .into_iter()
            .filter_map(|slot| {
                let plugin = manifest.roles.get(&slot)?;
                let loaded = status(plugin);
                Some(RoleReport {
                    role: slot.to_string(),
                    plugin: plugin.clone(),
                    version: loaded.and_then(|p| p.version.clone()),
                    sha256: loaded.and_then(|p| p.sha256.clone()),
                    chain: manifest.chain(slot),
                })
            })
            .collect();
        let plugins = inspection
            .plugins
            .iter()
            .filter_map(|p| Some(plugin_report(p, manifest.plugins.get(&p.name)?)))
            .collect();
        Report {
            manifest: super::manifest_name(config).display().to_string(),
            built_in_manifest: config.folders.built_in_plugins_toml,
            plugin_dir: manifest.plugin_dir.display().to_string(),
            roles,
            plugins,
        }
    }

    /// The roles table, then the plugins table with each one's grants.
    fn tables(&self) -> String {
        let mut out = format!(
            "plugins.toml: {}\nplugin folder: {}\n\n",
            self.manifest,
            if is_embedded(std::path::Path::new(&self.plugin_dir)) {
                "built into this program".to_owned()
            } else {
                self.plugin_dir.clone()
            }
        );
        let mut roles = vec![["ROLE", "PLUGIN", "VERSION", "FALLBACK CHAIN"].map(str::to_owned)];
        for role in &self.roles {
            roles.push([
                role.role.clone(),
                role.plugin.clone(),
                role.version.clone().unwrap_or_else(|| "NOT LOADED".into()),
                role.chain.join(" -> "),
            ]);
        }
        out.push_str(&render_table(&roles));
        out.push('\n');
        let mut plugins =
            vec![["PLUGIN", "KIND", "VERSION", "SOURCE", "SHA256", "GRANTS"].map(str::to_owned)];
        for p in &self.plugins {
            plugins.push([
                p.name.clone(),
                p.kind.clone().unwrap_or_else(|| "?".into()),
                p.version.clone().unwrap_or_else(|| "NOT LOADED".into()),
                match p.source {
                    "embedded" => "built in".to_owned(),
                    _ => p.path.clone(),
                },
                p.sha256
                    .as_deref()
                    .map_or("-".to_owned(), |s| s[..12.min(s.len())].to_owned()),
                p.grants.summary(),
            ]);
        }
        out.push_str(&render_table(&plugins));
        for p in self.plugins.iter().filter(|p| p.error.is_some()) {
            out.push_str(&format!(
                "\n{} did not load: {}",
                p.name,
                p.error.as_deref().unwrap_or_default()
            ));
        }
        if self.plugins.iter().any(|p| p.error.is_some()) {
            out.push('\n');
        }
        out
    }
}

impl Grants {
    /// One cell: capabilities, then hosts, secrets, variables, programs and the limits.
    fn summary(&self) -> String {
        let mut parts = vec![self.capabilities.join(",")];
        let list = |label: &str, items: &[String]| {
            (!items.is_empty()).then(|| format!("{label} {}", items.join(",")))
        };
        parts.extend(list("hosts", &self.allowed_hosts));
        parts.extend(list("secrets", &self.secrets));
        parts.extend(list("secret files", &self.secret_files));
        parts.extend(list("env", &self.env));
        parts.extend(list("runs", &self.allowed_executables));
        parts.push(format!(
            "{} MiB, {} ms CPU{}",
            self.memory_limit_mb,
            self.cpu_limit_ms,
            self.deadline_ms
                .map(|ms| format!(", deadline {ms} ms"))
                .unwrap_or_default()
        ));
        parts.join("; ")
    }
}

fn plugin_report(status: &PluginStatus, entry: &PluginEntry) -> PluginReport {
    let strings = |items: &[String]| items.to_vec();
    let process = entry
        .grants(voice_studio::plugins::Capability::Process)
        .then(|| ProcessGrant {
            env: entry.process.env.clone(),
            max_children: entry.process.max_children,
            cpu_seconds: entry.process.limits.cpu_seconds,
            memory_mb: entry.process.limits.memory_mb,
            file_size_mb: entry.process.limits.file_size_mb,
            max_processes: entry.process.limits.max_processes,
        });
    PluginReport {
        name: status.name.clone(),
        kind: status.kind.map(|k| k.to_string()),
        roles: status.roles.iter().map(ToString::to_string).collect(),
        version: status.version.clone(),
        contract: status.contract.clone(),
        summary: status.info.as_ref().map(|i| i.summary.clone()),
        source: if is_embedded(&status.path) {
            "embedded"
        } else {
            "file"
        },
        path: status.path.display().to_string(),
        sha256: status.sha256.clone(),
        error: status.last_error.clone(),
        fallback: status.fallback.clone(),
        grants: Grants {
            capabilities: entry.capabilities.iter().map(ToString::to_string).collect(),
            allowed_hosts: entry
                .allowed_hosts
                .iter()
                .map(ToString::to_string)
                .collect(),
            secrets: strings(&entry.secrets),
            secret_files: strings(&entry.secret_files),
            env: strings(&entry.env),
            allowed_executables: entry
                .allowed_executables
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            process,
            memory_limit_mb: entry.memory_limit_mb,
            cpu_limit_ms: entry.cpu_limit_ms,
            cpu_per_audio_second_ms: entry.budget.cpu_per_audio_second_ms,
            cpu_per_event_ms: entry.budget.cpu_per_event_ms,
            deadline_ms: status.kind.map(|kind| entry.budget.deadlines.ms(kind)),
        },
    }
}

/// Rows as left-aligned columns two spaces apart (the first row is the header).
pub fn render_table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
