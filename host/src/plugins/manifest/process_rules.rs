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
mod tests {
    use super::*;

    fn rules(args: &str, env: &str) -> Result<ProcessRules, String> {
        let raw: RawProcess =
            toml::from_str(&format!("args = {args}\nenv = {env}")).map_err(|e| e.to_string())?;
        validate("piper", raw, &|text| {
            Ok(text.replace("${PIPER_MODEL_PATH}", "/voices/a.onnx"))
        })
    }

    fn line(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    const PIPER: &str = r#"["--model", "${PIPER_MODEL_PATH}", "{--output-raw|--output_raw}",
        { optional = ["--speaker", "{integer}"] }, { optional = ["--length_scale", "{number}"] }]"#;

    #[test]
    fn a_declared_shape_takes_its_command_lines_and_nothing_else() {
        let piper = rules(PIPER, "[]").expect("valid");
        for ok in [
            &["--model", "/voices/a.onnx", "--output-raw"][..],
            &[
                "--model",
                "/voices/a.onnx",
                "--output_raw",
                "--speaker",
                "3",
            ],
            &[
                "--model",
                "/voices/a.onnx",
                "--output-raw",
                "--speaker",
                "0",
                "--length_scale",
                "0.9",
            ],
            &[
                "--model",
                "/voices/a.onnx",
                "--output-raw",
                "--length_scale",
                "1",
            ],
        ] {
            assert_eq!(piper.check_args(&line(ok)), Ok(()), "{ok:?}");
        }
        let refused = |args: &[&str]| piper.check_args(&line(args)).expect_err("refused");
        let other_model = refused(&["--model", "/etc/shadow", "--output-raw"]);
        assert_eq!(other_model.position, 2);
        assert_eq!(other_model.expected, "`/voices/a.onnx`");
        let extra = refused(&["--model", "/voices/a.onnx", "--output-raw", "--debug"]);
        assert_eq!(
            extra.to_string(),
            "argument 4 `--debug` (expected nothing more)"
        );
        refused(&[
            "--model",
            "/voices/a.onnx",
            "--output-raw",
            "--speaker",
            "x",
        ]);
        refused(&[
            "--model",
            "/voices/a.onnx",
            "--output-raw",
            "--length_scale",
            "1e9",
        ]);
        refused(&[
            "--model",
            "/voices/a.onnx",
            "--output-raw",
            "--length_scale",
            "1.",
        ]);
        refused(&["--model", "/voices/a.onnx"]);
        // Optional groups keep their order.
        refused(&[
            "--model",
            "/voices/a.onnx",
            "--output-raw",
            "--length_scale",
            "1",
            "--speaker",
            "2",
        ]);
    }

    #[test]
    fn no_declared_args_means_no_arguments() {
        let bare = ProcessRules::default();
        assert_eq!(bare.check_args(&[]), Ok(()));
        let refused = bare.check_args(&line(&["-c", "id"])).expect_err("refused");
        assert!(refused.expected.contains("declares no `args`"), "{refused}");
    }

    #[test]
    fn bad_placeholders_and_groups_are_named() {
        let err = rules(r#"["{float}"]"#, "[]").expect_err("unknown placeholder");
        assert!(
            err.starts_with(
                "[plugins.piper.process] args, element 1: `{float}` is not a placeholder"
            ),
            "{err}"
        );
        let err = rules(r#"["a", { optional = [] }]"#, "[]").expect_err("empty group");
        assert!(err.contains("args, element 2"), "{err}");
        let err = rules(r#"[{ optional = ["a"], extra = 1 }]"#, "[]").expect_err("extra key");
        assert!(err.contains("one non-empty `optional` list"), "{err}");
        let err = rules(r#"[{ optional = [{ optional = ["a"] }] }]"#, "[]").expect_err("nested");
        assert!(err.contains("no nested groups"), "{err}");
        let err = rules("[3]", "[]").expect_err("a number");
        assert!(err.contains("found integer"), "{err}");
        let err = rules(r#"["{a||b}"]"#, "[]").expect_err("empty alternative");
        assert!(err.contains("empty alternative"), "{err}");
    }

    #[test]
    fn loader_variables_cannot_be_declared() {
        for name in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "DYLD_INSERT_LIBRARIES",
            "BASH_ENV",
            "PYTHONPATH",
            "GCONV_PATH",
        ] {
            let err = rules("[]", &format!("[\"{name}\"]")).expect_err(name);
            assert_eq!(
                err,
                format!(
                    "[plugins.piper.process] env: `{name}` is never passed to a child (it changes how programs are loaded or what code they run); remove it"
                )
            );
        }
        let err = rules("[]", r#"["A-B"]"#).expect_err("bad name");
        assert!(err.contains("`A-B` is not a variable name"), "{err}");
        let ok = rules("[]", r#"["ESPEAK_DATA_PATH"]"#).expect("declared");
        assert_eq!(ok.check_env("ESPEAK_DATA_PATH"), Ok(()));
        assert_eq!(ok.check_env("HOME"), Err("not declared in `env`".into()));
        assert!(ok.check_env("LD_PRELOAD").is_err());
    }

    #[test]
    fn the_table_needs_the_process_capability_and_knows_its_keys() {
        let manifest = |capabilities: &str, table: &str| {
            let text = format!(
                "[plugins.x]\npath = \"x.wasm\"\ncapabilities = {capabilities}\n[plugins.x.process]\n{table}\n"
            );
            super::super::Manifest::parse(&text, std::path::Path::new("/p/plugins.toml"), None)
        };
        let err = manifest(r#"["log"]"#, r#"args = ["-v"]"#).expect_err("no capability");
        assert!(
            err.to_string().contains(
                "[plugins.x.process] is set but [plugins.x] lacks the `process` capability"
            ),
            "{err}"
        );
        let err = manifest(r#"["process"]"#, "argz = []").expect_err("unknown key");
        assert!(err.to_string().contains("argz"), "{err}");
        let err = manifest(r#"["process"]"#, r#"env = ["LD_PRELOAD"]"#).expect_err("loader");
        assert!(
            err.to_string()
                .contains("[plugins.x.process] env: `LD_PRELOAD` is never passed to a child"),
            "{err}"
        );
        let ok = manifest(r#"["process"]"#, r#"args = ["{integer}"]"#).expect("valid");
        assert_eq!(
            ok.plugins["x"].process.args,
            [ArgPattern::Word(ArgWord::Integer)]
        );
        let default = manifest(r#"["process"]"#, "").expect("valid");
        assert_eq!(default.plugins["x"].process, ProcessRules::default());
    }

    #[test]
    fn limits_have_defaults_and_refuse_zero() {
        let raw: RawProcess = toml::from_str("cpu_seconds = 5\nmax_processes = 8").expect("toml");
        let rules = validate("x", raw, &|t| Ok(t.to_string())).expect("valid");
        assert_eq!(rules.limits.cpu_seconds, 5);
        assert_eq!(rules.limits.max_processes, 8);
        assert_eq!(rules.limits.memory_mb, DEFAULT_MEMORY_MB);
        assert_eq!(rules.max_children, DEFAULT_MAX_CHILDREN);
        assert_eq!((rules.uid, rules.gid), (65_534, 65_534));
        let raw: RawProcess = toml::from_str("memory_mb = 0").expect("toml");
        let err = validate("x", raw, &|t| Ok(t.to_string())).expect_err("zero");
        assert_eq!(err, "[plugins.x.process] memory_mb must be at least 1");
    }
}
