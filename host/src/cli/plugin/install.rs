//! `voice-studio plugin install FILE.wasm --name NAME` and `plugin remove NAME`: put a component
//! into the plugin folder and its `[plugins.NAME]` table into `plugins.toml`, or take them out.
//!
//! Install loads the component with the real runtime first (what `describe()` says: name,
//! version, role, the capabilities it asks for), shows what will be granted before granting it,
//! and writes both files atomically (a temporary file renamed over the old one), so a running
//! server's watcher sees each change once, complete, and hot-reloads it. `plugins.toml` is edited
//! through `toml_edit` (see [`edit`]), so the operator's comments and layout survive, and the
//! edited text is validated as the server would before anything is written.

mod edit;
mod files;

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use voice_studio::config::Config;
use voice_studio::plugins::{Capability, Manifest, PluginHost, PluginInfoSummary, RoleSlot};

use crate::cli::EXIT_CONFIG;
use files::Place;

/// The capabilities `--grant` accepts, in `plugins.toml`'s spelling.
const CAPABILITIES: [Capability; 6] = [
    Capability::Log,
    Capability::Clock,
    Capability::Config,
    Capability::Http,
    Capability::Websocket,
    Capability::Process,
];

/// `plugin install` options.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The component to install: a .wasm built against the plugin contract (any language).
    file: PathBuf,
    /// Its name in plugins.toml (`[plugins.NAME]`) and its file in the plugin folder (NAME.wasm):
    /// letters, digits, `-` and `_`.
    #[arg(long)]
    name: String,
    /// Also make it the plugin of this role: stt, tts, claude, guest or policy.
    #[arg(long, value_parser = parse_role)]
    role: Option<RoleSlot>,
    /// Grant a capability: log, clock, config, http, websocket or process; repeat for more.
    /// Without any, an existing table keeps its grants (a new one grants none).
    #[arg(long = "grant", value_name = "CAP", value_parser = parse_capability)]
    grants: Vec<Capability>,
    /// Let `http` and `websocket` connect to this origin (`https://api.example.com`, or a
    /// pattern plugins.toml accepts); repeat for more. Without any, an existing table keeps its list.
    #[arg(long = "allow-host", value_name = "H")]
    allow_hosts: Vec<String>,
    /// Grant what is shown without asking (required when standard input is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
}

/// `plugin remove` options.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The plugin's name in plugins.toml.
    name: String,
    /// Remove it even though a role or another plugin's fallback list names it (they lose it).
    #[arg(long)]
    force: bool,
}

/// Why a command stopped: its exit code (2 for a refusal the operator can fix) and the message.
#[derive(Debug)]
struct Stop {
    code: u8,
    message: String,
}

impl Stop {
    /// A refusal: exit 2.
    fn refuse(message: impl Into<String>) -> Stop {
        Stop {
            code: EXIT_CONFIG,
            message: message.into(),
        }
    }

    /// A failure while doing it (reading, writing): exit 1.
    fn fail(message: impl Into<String>) -> Stop {
        Stop {
            code: 1,
            message: message.into(),
        }
    }
}

pub fn install(args: &InstallArgs) -> ExitCode {
    finish("plugin install", || {
        let config = config()?;
        run_install(args, &config)
    })
}

pub fn remove(args: &RemoveArgs) -> ExitCode {
    finish("plugin remove", || {
        let config = config()?;
        run_remove(args, &config)
    })
}

fn finish(command: &str, run: impl FnOnce() -> Result<(), Stop>) -> ExitCode {
    crate::cli::init_quiet_tracing();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(stop) => {
            eprintln!("voice-studio {command}: {}", stop.message);
            ExitCode::from(stop.code)
        }
    }
}

fn config() -> Result<Config, Stop> {
    Config::load().map_err(|e| Stop::refuse(e.to_string()))
}

fn run_install(args: &InstallArgs, config: &Config) -> Result<(), Stop> {
    files::check_name(&args.name).map_err(Stop::refuse)?;
    files::check_component(&args.file).map_err(Stop::refuse)?;
    let place = Place::of(config).map_err(Stop::refuse)?;
    let info = describe(config, &args.file)?;
    if let Some(role) = args.role
        && role.kind() != info.kind
    {
        return Err(Stop::refuse(format!(
            "{} is a {} plugin; the {role} role takes a {} plugin",
            args.file.display(),
            info.kind,
            role.kind()
        )));
    }

    let text = place.read_manifest().map_err(Stop::fail)?;
    let mut doc = edit::parse(&text).map_err(|e| Stop::refuse(place.about(&e)))?;
    let target = place.plugin_file(&args.name);
    let path_value = place.path_value(&target);
    let granted = edit::install(
        &mut doc,
        &edit::Install {
            name: &args.name,
            path: &path_value,
            capabilities: (!args.grants.is_empty())
                .then(|| args.grants.iter().map(|c| c.name().to_string()).collect()),
            allowed_hosts: (!args.allow_hosts.is_empty()).then(|| args.allow_hosts.clone()),
            role: args.role,
        },
    )
    .map_err(|e| Stop::refuse(place.about(&e)))?;
    // Any role that names the plugin (given now or before) must take its kind.
    for role in edit::uses(&doc, &args.name).roles {
        if let Some(slot) = RoleSlot::ALL.into_iter().find(|s| s.name() == role)
            && slot.kind() != info.kind
        {
            return Err(Stop::refuse(format!(
                "[roles] {role} names {}, but the new file is a {} plugin; give the role another plugin first",
                args.name, info.kind
            )));
        }
    }
    let new_text = doc.to_string();
    // The file must be in place for the check to find it: validate the text as the server would,
    // with the new table pointing at where the component will be.
    validate(config, &place, &new_text)?;

    print_plan(args, &info, &place, &target, &granted);
    confirm(args.yes)?;

    let copied = files::copy_atomically(&args.file, &target).map_err(Stop::fail)?;
    let wrote = if new_text == text {
        false
    } else {
        files::write_atomically(place.manifest(), &new_text).map_err(Stop::fail)?;
        true
    };
    println!(
        "{} {} ({}) {}",
        if copied { "installed" } else { "unchanged" },
        target.display(),
        info.version,
        if wrote {
            format!("and updated {}", place.manifest().display())
        } else {
            format!("; {} already said so", place.manifest().display())
        }
    );
    println!(
        "A running server with PLUGINS_WATCH on (the default) loads it now; `voice-studio plugins` shows it."
    );
    Ok(())
}

fn run_remove(args: &RemoveArgs, config: &Config) -> Result<(), Stop> {
    files::check_name(&args.name).map_err(Stop::refuse)?;
    let place = Place::of(config).map_err(Stop::refuse)?;
    let text = place.read_manifest().map_err(Stop::fail)?;
    let mut doc = edit::parse(&text).map_err(|e| Stop::refuse(place.about(&e)))?;
    let Some(path) = edit::path_of(&doc, &args.name) else {
        return Err(Stop::refuse(format!(
            "{} has no [plugins.{}] table; `voice-studio plugins` lists the installed ones",
            place.manifest().display(),
            args.name
        )));
    };
    let file = path.and_then(|p| place.installed_file(p));
    let used = edit::uses(&doc, &args.name);
    if !args.force && (!used.roles.is_empty() || !used.fallback_of.is_empty()) {
        let mut what = Vec::new();
        if !used.roles.is_empty() {
            let verb = if used.roles.len() == 1 { "uses" } else { "use" };
            what.push(format!("[roles] {} {verb} it", used.roles.join(", ")));
        }
        if !used.fallback_of.is_empty() {
            what.push(format!(
                "the fallback list of {} names it",
                used.fallback_of.join(", ")
            ));
        }
        return Err(Stop::refuse(format!(
            "{} is in use: {}. Give the role another plugin first, or pass --force to remove it anyway",
            args.name,
            what.join("; ")
        )));
    }
    edit::remove(&mut doc, &args.name);
    let new_text = doc.to_string();
    validate(config, &place, &new_text)?;
    files::write_atomically(place.manifest(), &new_text).map_err(Stop::fail)?;
    println!(
        "removed [plugins.{}] from {}",
        args.name,
        place.manifest().display()
    );
    for role in &used.roles {
        println!("the {role} role is now unset; give it a plugin in [roles]");
    }
    // The file goes after the table, so a running server never sees a table without its file;
    // only a copy install made (in the plugin folder, under this name) that no other table uses.
    match file {
        Some(file) if !files::referenced_elsewhere(&doc, &place, &file) => {
            match std::fs::remove_file(&file) {
                Ok(()) => println!("deleted {}", file.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Stop::fail(format!("cannot delete {}: {e}", file.display())));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// What the component says about itself, from `describe()` on the real runtime (compiled through
/// the server's compile cache, so the server's load of it is a cache hit).
fn describe(config: &Config, file: &Path) -> Result<PluginInfoSummary, Stop> {
    let absolute = std::fs::canonicalize(file)
        .map_err(|e| Stop::refuse(format!("cannot read {}: {e}", file.display())))?;
    let path = absolute.to_str().ok_or_else(|| {
        Stop::refuse(format!(
            "{} is not a UTF-8 path; rename it",
            absolute.display()
        ))
    })?;
    // Every capability, so describe() is not warned about any it asks for; with no host or
    // program allowed, none of them reaches anything.
    let manifest = format!(
        "[plugins.candidate]\npath = {}\ncapabilities = [{}]\n",
        toml_edit::Value::from(path),
        CAPABILITIES.map(|c| format!("\"{c}\"")).join(", ")
    );
    let mut options = crate::cli::plugin_options(config, false);
    // The options take a 'static text (the built-in manifest); this command runs once and exits.
    options.built_in_manifest = Some(Box::leak(manifest.into_boxed_str()));
    options.manifest_path = PathBuf::from("(plugin install)");
    options.plugin_dir_override = None;
    options.role_overrides = BTreeMap::new();
    let runtime = crate::cli::runtime()
        .map_err(|e| Stop::fail(format!("cannot start the async runtime: {e}")))?;
    let inspection = runtime
        .block_on(PluginHost::inspect(options))
        .map_err(|e| Stop::fail(e.to_string()))?;
    let status = inspection
        .plugins
        .into_iter()
        .next()
        .ok_or_else(|| Stop::fail("the runtime reported no plugin"))?;
    status.info.ok_or_else(|| {
        Stop::refuse(format!(
            "{} is not a plugin this studio can load: {}",
            file.display(),
            status
                .last_error
                .unwrap_or_else(|| "describe() did not answer".into())
        ))
    })
}

/// Refuses `text` unless the server would accept it as `plugins.toml`.
fn validate(config: &Config, place: &Place, text: &str) -> Result<(), Stop> {
    let environment = config.plugin_environment();
    Manifest::parse_with_environment(
        text,
        place.manifest(),
        config.folders.plugin_dir.as_deref(),
        &|name| environment.get(name).cloned(),
    )
    .map(|_| ())
    .map_err(|e| {
        Stop::refuse(format!(
            "the edit would break plugins.toml, nothing written: {e}"
        ))
    })
}

/// Prints what will be installed and granted, and what the plugin asks for but will not get.
fn print_plan(
    args: &InstallArgs,
    info: &PluginInfoSummary,
    place: &Place,
    target: &Path,
    granted: &edit::Granted,
) {
    let none = |list: &[String]| {
        if list.is_empty() {
            "(none)".to_string()
        } else {
            list.join(", ")
        }
    };
    println!(
        "plugin:        {} {} ({} plugin, contract {})",
        info.name, info.version, info.kind, info.contract
    );
    if !info.summary.is_empty() {
        println!("               {}", info.summary);
    }
    println!("file:          {}", target.display());
    println!(
        "plugins.toml:  {} [plugins.{}]{}",
        place.manifest().display(),
        args.name,
        if granted.new_table {
            " (new)"
        } else {
            " (updated)"
        }
    );
    if let Some(role) = args.role {
        println!("role:          {role}");
    }
    println!("grants:        {}", none(&granted.capabilities));
    println!("allowed hosts: {}", none(&granted.allowed_hosts));
    let asked: Vec<String> = info
        .capabilities
        .iter()
        .map(|c| c.name().to_string())
        .filter(|c| !granted.capabilities.contains(c))
        .collect();
    if !asked.is_empty() {
        println!(
            "not granted:   {} (describe() asks for {them}; add --grant {} to grant {them})",
            asked.join(", "),
            asked.join(" --grant "),
            them = if asked.len() == 1 { "it" } else { "them" },
        );
    }
    let unasked: Vec<&String> = granted
        .capabilities
        .iter()
        .filter(|c| !info.capabilities.iter().any(|a| a.name() == c.as_str()))
        .collect();
    if !unasked.is_empty() {
        let names: Vec<&str> = unasked.iter().map(|c| c.as_str()).collect();
        println!(
            "note:          describe() does not ask for {}",
            names.join(", ")
        );
    }
    let wants_network = granted
        .capabilities
        .iter()
        .any(|c| c == "http" || c == "websocket");
    if wants_network && granted.allowed_hosts.is_empty() {
        println!("note:          http/websocket without --allow-host can reach no host");
    }
}

/// Asks on a terminal, unless `--yes`; refuses when it cannot ask.
fn confirm(yes: bool) -> Result<(), Stop> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Stop::refuse(
            "not confirmed: standard input is not a terminal, so nothing can be asked; pass --yes to grant what is shown above",
        ));
    }
    print!("Install it with these grants? [y/N] ");
    std::io::stdout()
        .flush()
        .map_err(|e| Stop::fail(e.to_string()))?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Stop::fail(e.to_string()))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Stop::refuse("not confirmed; nothing was changed")),
    }
}

fn parse_role(text: &str) -> Result<RoleSlot, String> {
    RoleSlot::ALL
        .into_iter()
        .find(|slot| slot.name() == text)
        .ok_or_else(|| format!("`{text}` is not a role; one of: stt, tts, claude, guest, policy"))
}

fn parse_capability(text: &str) -> Result<Capability, String> {
    CAPABILITIES
        .into_iter()
        .find(|c| c.name() == text)
        .ok_or_else(|| {
            format!(
                "`{text}` is not a capability; one of: log, clock, config, http, websocket, process"
            )
        })
}
