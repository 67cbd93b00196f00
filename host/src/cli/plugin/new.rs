//! `voice-studio plugin new NAME --role ROLE [--lang rust|python|js] [--dir PATH] [--sdk PATH]`:
//! writes a standalone plugin project that builds, passes its tests and explains itself in its
//! README (build, test, `plugin check`, `plugin install`, trying it in a studio).
//!
//! The templates are files under `templates/` (one folder per language, `common/` for what every
//! language shares), embedded in the binary. A Rust project depends on this checkout's SDK by
//! path (the binary knows its checkout from where it was built; `--sdk` overrides), and its
//! component test runs this program's `plugin check`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod files;

use files::{foreign_values, js_files, python_files, rust_files};

/// `plugin new` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin's name, also its package name: lowercase letters, digits, `-` and `_`, starting
    /// with a letter (for example `parrot` or `acme-stt`).
    name: String,
    /// The role it serves in a studio.
    #[arg(long, value_enum)]
    role: Role,
    /// The language of the project.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
    /// Where to write the project (default: ./NAME); it must not exist or be empty.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The voice-studio SDK folder (`sdk/` of a checkout) a Rust project depends on; default: the
    /// checkout this program was built from.
    #[arg(long)]
    sdk: Option<PathBuf>,
}

/// The plugin roles, as the contract names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Speech to text.
    Stt,
    /// Text to speech.
    Tts,
    /// A language model (writes claude's or guest's lines).
    Llm,
    /// A turn-taking policy.
    Policy,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Stt => "stt",
            Role::Tts => "tts",
            Role::Llm => "llm",
            Role::Policy => "policy",
        }
    }

    /// The `[roles]` key of `plugins.toml` the plugin is installed for.
    fn slot(self) -> &'static str {
        match self {
            Role::Llm => "claude",
            other => other.name(),
        }
    }

    /// What `describe()` asks for by default, so what the tests and the install grant.
    fn capabilities(self) -> &'static [&'static str] {
        match self {
            Role::Policy => &["log"],
            _ => &["log", "config"],
        }
    }

    fn description(self) -> &'static str {
        match self {
            Role::Stt => "Speech to text: transcribes each utterance as how long it was.",
            Role::Tts => "Text to speech: speaks each word as a short tone.",
            Role::Llm => "A language model that repeats the last line it was told.",
            Role::Policy => {
                "Turn policy: the named AI answers, else the one that did not answer last."
            }
        }
    }

    fn try_it(self) -> &'static str {
        match self {
            Role::Stt => include_str!("templates/common/try-stt.md"),
            Role::Tts => include_str!("templates/common/try-tts.md"),
            Role::Llm => include_str!("templates/common/try-llm.md"),
            Role::Policy => include_str!("templates/common/try-policy.md"),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The project languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust with the SDK (`studio-plugin-sdk`).
    Rust,
    /// Python with componentize-py.
    Python,
    /// JavaScript with jco / componentize-js.
    Js,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
        })
    }
}

pub fn run(args: &Args) -> ExitCode {
    match scaffold(args) {
        Ok(dir) => {
            print!("{}", next_steps(args, &dir));
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("voice-studio plugin new: {message}");
            ExitCode::from(super::super::EXIT_CONFIG)
        }
    }
}

/// Writes the project; returns its folder.
fn scaffold(args: &Args) -> Result<PathBuf, String> {
    validate_name(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    check_empty(&dir)?;
    let mut values = vec![
        ("name", args.name.clone()),
        ("crate", args.name.replace('-', "_")),
        ("role", args.role.name().to_owned()),
        ("slot", args.role.slot().to_owned()),
        ("description", args.role.description().to_owned()),
        ("grants_list", grants_list(args.role)),
        ("grant_flags", grant_flags(args.role)),
        ("try_it", args.role.try_it().trim_end().to_owned()),
    ];
    let files = match args.lang {
        Lang::Rust => {
            let sdk = find_sdk(args.sdk.as_deref())?;
            let checkout = sdk.parent().unwrap_or(&sdk).to_path_buf();
            values.push(("sdk", toml_string(&sdk)?));
            values.push(("checkout", checkout.display().to_string()));
            rust_files(args.role)
        }
        Lang::Python => {
            values.extend(foreign_values(args.role, args.lang, &args.name));
            python_files(args.role)
        }
        Lang::Js => {
            values.extend(foreign_values(args.role, args.lang, &args.name));
            js_files(args.role)
        }
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    // The README's install command runs in the studio's folder: it names the project absolutely.
    let project = std::fs::canonicalize(&dir)
        .map_err(|e| format!("could not resolve {}: {e}", dir.display()))?;
    values.push(("project", project.display().to_string()));
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("could not create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, fill(f.text, &values))
            .map_err(|e| format!("could not write {}: {e}", path.display()))?;
        if f.path.ends_with(".sh") {
            make_executable(&path)?;
        }
    }
    Ok(dir)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("could not make {} executable: {e}", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// Replaces every `{{key}}` in `template`.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut text = template.to_owned();
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    text
}

/// A name that works as a Cargo package, a Python module (dashes become underscores), an npm
/// package and a `plugins.toml` table key.
fn validate_name(name: &str) -> Result<(), String> {
    const RESERVED: &[&str] = &[
        "std",
        "core",
        "alloc",
        "test",
        "proc_macro",
        "proc-macro",
        "self",
        "super",
        "crate",
        "build",
        "deps",
        "examples",
        "incremental",
    ];
    let rule =
        "a plugin name is 1-64 lowercase letters, digits, `-` or `_`, starting with a letter";
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !starts_well || !rest_ok || name.len() > 64 {
        return Err(format!("`{name}` is not a valid name: {rule}"));
    }
    if name.ends_with(['-', '_']) {
        return Err(format!(
            "`{name}` is not a valid name: it ends with `-` or `_`"
        ));
    }
    if RESERVED.contains(&name) {
        return Err(format!(
            "`{name}` is reserved (Cargo or Rust use it); pick another name"
        ));
    }
    Ok(())
}

/// The project folder must be new or empty: never write over someone's files.
fn check_empty(dir: &Path) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(format!(
                    "{} exists and is not empty; pick a new folder with --dir",
                    dir.display()
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(format!("{} exists and is a file", dir.display()))
        }
        Err(e) => Err(format!("could not read {}: {e}", dir.display())),
    }
}

/// The SDK folder: `--sdk`, else `sdk/` of the checkout this binary was built from.
fn find_sdk(given: Option<&Path>) -> Result<PathBuf, String> {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    let (sdk, how) = match given {
        Some(path) => (path.to_path_buf(), "given with --sdk"),
        None => (built_from, "of the checkout this program was built from"),
    };
    let is_sdk = std::fs::read_to_string(sdk.join("Cargo.toml"))
        .is_ok_and(|manifest| manifest.contains("name = \"studio-plugin-sdk\""));
    if !is_sdk {
        return Err(format!(
            "the voice-studio plugin SDK was not found at {} ({how}).\n\
             Point at the `sdk` folder of a voice-studio checkout:\n  \
             voice-studio plugin new NAME --role ROLE --sdk /path/to/voice-studio/sdk",
            sdk.display()
        ));
    }
    std::fs::canonicalize(&sdk).map_err(|e| format!("could not resolve {}: {e}", sdk.display()))
}

/// A path as a TOML string (JSON's string syntax is valid TOML for it).
fn toml_string(path: &Path) -> Result<String, String> {
    let text = path
        .to_str()
        .ok_or_else(|| format!("{} is not valid UTF-8", path.display()))?;
    serde_json::to_string(text).map_err(|e| e.to_string())
}

fn grants_list(role: Role) -> String {
    role.capabilities()
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// `plugin install`'s flags that grant what the default `describe()` asks for.
fn grant_flags(role: Role) -> String {
    role.capabilities()
        .iter()
        .map(|c| format!("--grant {c}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What to do next, printed after the project is written.
fn next_steps(args: &Args, dir: &Path) -> String {
    let name = &args.name;
    let role = args.role;
    let (build, test, wasm) = match args.lang {
        Lang::Rust => (
            "cargo build --release --target wasm32-wasip2",
            "cargo test",
            format!(
                "target/wasm32-wasip2/release/{}.wasm",
                name.replace('-', "_")
            ),
        ),
        Lang::Python => (
            "python3 -m venv .venv && .venv/bin/pip install componentize-py==0.25.1\
             \n  ./build.sh",
            "python3 -m unittest discover -s tests -t .",
            format!("dist/{name}.wasm"),
        ),
        Lang::Js => (
            "npm install && npm run build",
            "npm test",
            format!("dist/{name}.wasm"),
        ),
    };
    format!(
        "Wrote the {role} plugin `{name}` ({lang}) into {dir}. Next (its README explains each step):\n\
         \n  cd {dir}\
         \n  {build}\
         \n  {test}\
         \n  voice-studio plugin check {wasm} --role {role}\
         \n  voice-studio plugin install {dir_abs}/{wasm} --name {name} --role {slot} {grants}\
         \n  (the last one in the studio's folder: `voice-studio init studio` makes one)\n",
        lang = args.lang,
        dir = dir.display(),
        dir_abs = std::fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .display(),
        slot = role.slot(),
        grants = grant_flags(role),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_fit_every_package_manager() {
        for good in ["parrot", "acme-stt", "tts_2"] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        for bad in [
            "", "Parrot", "2tts", "-x", "x-", "a b", "a/b", "café", "std", "test",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn fill_replaces_every_placeholder() {
        let values = [("name", "parrot".to_owned()), ("role", "llm".to_owned())];
        assert_eq!(
            fill("{{name}} is an {{role}}; {{name}}!", &values),
            "parrot is an llm; parrot!"
        );
    }

    #[test]
    fn templates_leave_no_placeholder_behind() {
        for role in [Role::Stt, Role::Tts, Role::Llm, Role::Policy] {
            let values: Vec<(&str, String)> = [
                "name",
                "crate",
                "role",
                "slot",
                "description",
                "grants_list",
                "grant_flags",
                "project",
                "try_it",
                "sdk",
                "checkout",
                "logic",
                "settings_note",
                "websocket_note",
            ]
            .into_iter()
            .map(|k| (k, "x".to_owned()))
            .collect();
            let mut files = rust_files(role);
            files.extend(python_files(role));
            files.extend(js_files(role));
            let mut values = values.clone();
            values.extend(foreign_values(role, Lang::Python, "x"));
            for f in files {
                let text = fill(f.text, &values);
                assert!(!text.contains("{{"), "{role} {}: {text}", f.path);
            }
        }
    }
}
