//! `[plugins.NAME.process]`: the declared shape of what a plugin with the `process` capability may
//! run: the arguments (literal words and typed placeholders), the names of the environment
//! variables it may set, and the limits its children run under.
//!
//! ```toml
//! [plugins.piper.process]
//! args = [
//!   "--model", "${PIPER_MODEL_PATH}",          # a literal (variables expand at load)
//!   "{--output-raw|--output_raw}",             # one of these literals
//!   { optional = ["--speaker", "{integer}"] }, # a group that may be left out
//!   { optional = ["--length_scale", "{number}"] },
//! ]
//! env = ["ESPEAK_DATA_PATH"]                   # names the plugin may set
//! cpu_seconds = 300
//! memory_mb = 2048
//! file_size_mb = 64
//! max_processes = 64
//! max_children = 4
//! uid = 65534                                  # only when the host runs as root
//! gid = 65534
//! ```
//!
//! Each element of `args` matches exactly one argument, in order: a string is a literal, unless
//! the whole string is a placeholder in braces (`{integer}`, `{number}`, `{a|b|c}`); an inline
//! table `{ optional = [...] }` is a group of such elements that is either present as a whole or
//! left out (taken whenever the next arguments match it). Nothing else may follow. A plugin with
//! the `process` capability and no `args` may run its executables with no arguments at all.

use std::fmt;

use serde::Deserialize;

/// CPU seconds a child process may use (`RLIMIT_CPU`) unless `cpu_seconds` says otherwise.
pub const DEFAULT_CPU_SECONDS: u64 = 300;
/// Address space of a child process (`RLIMIT_AS`) unless `memory_mb` says otherwise.
pub const DEFAULT_MEMORY_MB: u64 = 2048;
/// Largest file a child may write (`RLIMIT_FSIZE`) unless `file_size_mb` says otherwise.
pub const DEFAULT_FILE_SIZE_MB: u64 = 64;
/// Processes a child's group may hold unless `max_processes` says otherwise.
pub const DEFAULT_MAX_PROCESSES: u64 = 64;
/// Children one plugin instance may have alive at once unless `max_children` says otherwise.
pub const DEFAULT_MAX_CHILDREN: u32 = 4;
/// The unprivileged user (`nobody`) children run as when the host runs as root.
pub const DEFAULT_CHILD_ID: u32 = 65_534;

/// Environment variables that change how a program is loaded or which code an interpreter runs:
/// never passed to a child, even when declared (the manifest refuses to declare them).
const FORBIDDEN_ENV: &[&str] = &[
    "BASH_ENV",
    "BASHOPTS",
    "CDPATH",
    "ENV",
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "IFS",
    "JAVA_TOOL_OPTIONS",
    "LOCALDOMAIN",
    "LOCPATH",
    "MALLOC_TRACE",
    "NIS_PATH",
    "NLSPATH",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PERL5DB",
    "PERL5LIB",
    "PERL5OPT",
    "PERLLIB",
    "PS4",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "RUBYLIB",
    "RUBYOPT",
    "SHELLOPTS",
    "TMPDIR",
    "TZDIR",
];
/// Prefixes of the same family: the dynamic loaders (`LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT`,
/// macOS `DYLD_*`), bash exported functions, Python's start-up hooks.
const FORBIDDEN_ENV_PREFIXES: &[&str] = &["LD_", "DYLD_", "BASH_FUNC_", "PYTHON"];

/// Why a variable may never be set for a child, or `None` when it may be (if declared).
pub fn forbidden_env(name: &str) -> Option<&'static str> {
    if FORBIDDEN_ENV.contains(&name)
        || FORBIDDEN_ENV_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
    {
        Some("it changes how programs are loaded or what code they run")
    } else {
        None
    }
}

/// One element of a declared argument list: matches exactly one argument.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgWord {
    /// This exact text.
    Literal(String),
    /// One of these exact texts (`{a|b}`).
    OneOf(Vec<String>),
    /// A decimal integer, optionally signed (`{integer}`).
    Integer,
    /// A decimal number such as `0.9` or `-2`, no exponent (`{number}`).
    Number,
}

impl ArgWord {
    fn matches(&self, arg: &str) -> bool {
        match self {
            ArgWord::Literal(text) => arg == text,
            ArgWord::OneOf(texts) => texts.iter().any(|t| t == arg),
            ArgWord::Integer => is_integer(arg),
            ArgWord::Number => match arg.split_once('.') {
                Some((whole, fraction)) => {
                    is_integer(whole)
                        && !fraction.is_empty()
                        && fraction.bytes().all(|b| b.is_ascii_digit())
                }
                None => is_integer(arg),
            },
        }
    }
}

fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Display for ArgWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgWord::Literal(text) => write!(f, "`{text}`"),
            ArgWord::OneOf(texts) => write!(f, "{{{}}}", texts.join("|")),
            ArgWord::Integer => f.write_str("{integer}"),
            ArgWord::Number => f.write_str("{number}"),
        }
    }
}

/// One element of `args`: a single word, or an optional group of words.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgPattern {
    /// Must be there.
    Word(ArgWord),
    /// Either all of these, in order, or none.
    Optional(Vec<ArgWord>),
}

/// The limits a child process runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessLimits {
    /// `RLIMIT_CPU`, seconds.
    pub cpu_seconds: u64,
    /// `RLIMIT_AS`, MiB.
    pub memory_mb: u64,
    /// `RLIMIT_FSIZE`, MiB.
    pub file_size_mb: u64,
    /// Processes in the child's group; past it the group is killed (and, for a child running as
    /// its own user, the kernel refuses forks past twice it).
    pub max_processes: u64,
}

/// What a plugin may run through `process`, beyond which executables (`allowed_executables`).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessRules {
    /// The argument shape every command line must match.
    pub args: Vec<ArgPattern>,
    /// Names of the environment variables the plugin may set.
    pub env: Vec<String>,
    /// Limits of each child.
    pub limits: ProcessLimits,
    /// Children one plugin instance may have alive at once.
    pub max_children: u32,
    /// User id children run as when the host runs as root (0 keeps root).
    pub uid: u32,
    /// Group id children run as when the host runs as root.
    pub gid: u32,
}

impl Default for ProcessRules {
    fn default() -> Self {
        ProcessRules {
            args: Vec::new(),
            env: Vec::new(),
            limits: ProcessLimits {
                cpu_seconds: DEFAULT_CPU_SECONDS,
                memory_mb: DEFAULT_MEMORY_MB,
                file_size_mb: DEFAULT_FILE_SIZE_MB,
                max_processes: DEFAULT_MAX_PROCESSES,
            },
            max_children: DEFAULT_MAX_CHILDREN,
            uid: DEFAULT_CHILD_ID,
            gid: DEFAULT_CHILD_ID,
        }
    }
}

/// Where a command line left the declared shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgMismatch {
    /// 1-based position of the refused argument.
    pub position: usize,
    /// The refused argument, cut to 80 characters.
    pub argument: String,
    /// What the shape allowed there.
    pub expected: String,
}

impl fmt::Display for ArgMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "argument {} `{}` (expected {})",
            self.position, self.argument, self.expected
        )
    }
}

impl ProcessRules {
    /// Checks a command line (without the program) against the declared shape.
    pub fn check_args(&self, args: &[String]) -> Result<(), ArgMismatch> {
        let mut at = 0;
        let mismatch = |at: usize, expected: String| ArgMismatch {
            position: at + 1,
            argument: args
                .get(at)
                .map(|a| a.chars().take(80).collect())
                .unwrap_or_default(),
            expected,
        };
        for pattern in &self.args {
            match pattern {
                ArgPattern::Word(word) => match args.get(at) {
                    Some(arg) if word.matches(arg) => at += 1,
                    Some(_) => return Err(mismatch(at, word.to_string())),
                    None => {
                        return Err(ArgMismatch {
                            position: at + 1,
                            argument: String::new(),
                            expected: format!("{word}, but the command line ended"),
                        });
                    }
                },
                ArgPattern::Optional(words) => {
                    let rest = args.get(at..).unwrap_or_default();
                    if rest.len() >= words.len()
                        && words.iter().zip(rest).all(|(word, arg)| word.matches(arg))
                    {
                        at += words.len();
                    }
                }
            }
        }
        if at < args.len() {
            let expected = if self.args.is_empty() {
                "no arguments: [plugins.NAME.process] declares no `args`".to_string()
            } else {
                "nothing more".to_string()
            };
            return Err(mismatch(at, expected));
        }
        Ok(())
    }

    /// Whether the plugin may set `name` for its child: `Err` says why not.
    pub fn check_env(&self, name: &str) -> Result<(), String> {
        if let Some(why) = forbidden_env(name) {
            return Err(format!("never allowed: {why}"));
        }
        if self.env.iter().any(|declared| declared == name) {
            Ok(())
        } else {
            Err("not declared in `env`".to_string())
        }
    }
}

/// `[plugins.NAME.process]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProcess {
    #[serde(default)]
    args: Vec<toml::Value>,
    #[serde(default)]
    env: Vec<String>,
    cpu_seconds: Option<u64>,
    memory_mb: Option<u64>,
    file_size_mb: Option<u64>,
    max_processes: Option<u64>,
    max_children: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
}

/// Validates `[plugins.NAME.process]`; `expand` expands `${VAR}` in a literal. Errors name the
/// table and the key.
pub(super) fn validate(
    name: &str,
    raw: RawProcess,
    expand: &dyn Fn(&str) -> Result<String, String>,
) -> Result<ProcessRules, String> {
    let table = format!("[plugins.{name}.process]");
    let mut args = Vec::new();
    for (index, value) in raw.args.iter().enumerate() {
        let position = index + 1;
        let pattern = match value {
            toml::Value::String(text) => ArgPattern::Word(
                parse_word(text, expand)
                    .map_err(|e| format!("{table} args, element {position}: {e}"))?,
            ),
            toml::Value::Table(group) => {
                let words = match (group.len(), group.get("optional")) {
                    (1, Some(toml::Value::Array(words))) if !words.is_empty() => words,
                    _ => {
                        return Err(format!(
                            "{table} args, element {position}: a table must be `{{ optional = [\"--flag\", \"{{integer}}\"] }}` (one non-empty `optional` list)"
                        ));
                    }
                };
                let mut parsed = Vec::new();
                for word in words {
                    let toml::Value::String(text) = word else {
                        return Err(format!(
                            "{table} args, element {position}: `optional` holds strings only (no nested groups)"
                        ));
                    };
                    parsed.push(
                        parse_word(text, expand)
                            .map_err(|e| format!("{table} args, element {position}: {e}"))?,
                    );
                }
                ArgPattern::Optional(parsed)
            }
            other => {
                return Err(format!(
                    "{table} args, element {position}: expected a string or `{{ optional = [...] }}`, found {}",
                    other.type_str()
                ));
            }
        };
        args.push(pattern);
    }
    let mut env = Vec::new();
    for variable in raw.env {
        let valid = variable
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && variable
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "{table} env: `{variable}` is not a variable name (letters, digits and `_`)"
            ));
        }
        if let Some(why) = forbidden_env(&variable) {
            return Err(format!(
                "{table} env: `{variable}` is never passed to a child ({why}); remove it"
            ));
        }
        env.push(variable);
    }
    let defaults = ProcessRules::default();
    let at_least_one = |key: &str, value: Option<u64>, default: u64| match value {
        Some(0) => Err(format!("{table} {key} must be at least 1")),
        Some(value) => Ok(value),
        None => Ok(default),
    };
    let limits = ProcessLimits {
        cpu_seconds: at_least_one("cpu_seconds", raw.cpu_seconds, defaults.limits.cpu_seconds)?,
        memory_mb: at_least_one("memory_mb", raw.memory_mb, defaults.limits.memory_mb)?,
        file_size_mb: at_least_one(
            "file_size_mb",
            raw.file_size_mb,
            defaults.limits.file_size_mb,
        )?,
        max_processes: at_least_one(
            "max_processes",
            raw.max_processes,
            defaults.limits.max_processes,
        )?,
    };
    let max_children = u32::try_from(at_least_one(
        "max_children",
        raw.max_children.map(u64::from),
        u64::from(defaults.max_children),
    )?)
    .unwrap_or(u32::MAX);
    Ok(ProcessRules {
        args,
        env,
        limits,
        max_children,
        uid: raw.uid.unwrap_or(defaults.uid),
        gid: raw.gid.unwrap_or(defaults.gid),
    })
}

/// One `args` word: a placeholder when the whole text is in braces, else a literal.
fn parse_word(
    text: &str,
    expand: &dyn Fn(&str) -> Result<String, String>,
) -> Result<ArgWord, String> {
    let Some(inner) = text
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
    else {
        return Ok(ArgWord::Literal(expand(text)?));
    };
    match inner {
        "integer" => Ok(ArgWord::Integer),
        "number" => Ok(ArgWord::Number),
        _ if inner.contains('|') => {
            let mut texts = Vec::new();
            for alternative in inner.split('|') {
                let alternative = expand(alternative)?;
                if alternative.is_empty() {
                    return Err(format!("`{text}` has an empty alternative"));
                }
                texts.push(alternative);
            }
            Ok(ArgWord::OneOf(texts))
        }
        _ => Err(format!(
            "`{text}` is not a placeholder; use {{integer}}, {{number}} or {{one|of|these}} (a literal cannot be wholly in braces)"
        )),
    }
}

#[cfg(test)]
mod tests;
