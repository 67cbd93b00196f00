//! The problem-collecting reader: each variable is read by a small typed reader that, on a bad
//! value, records a [`ConfigProblem`] naming the variable and carries on with the default. The
//! server then reports every problem at once instead of making the operator fix them one start
//! at a time.

use std::fmt;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::{ConfigSource, Secret};

/// One thing wrong with the configuration: the variable, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with its value.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}. Fix: {}", self.variable, self.message, self.fix)
    }
}

/// Why the configuration could not be loaded; every problem is reported at once.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `.env` exists but cannot be read or parsed.
    #[error("cannot read {path}: {reason}. Fix: correct the file or remove it")]
    DotEnv {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// One or more variables are invalid.
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ConfigProblem>),
}

/// Reads variables from a [`ConfigSource`], collecting a problem for each bad one.
#[derive(Debug)]
pub struct Reader<'a> {
    src: &'a ConfigSource,
    problems: Vec<ConfigProblem>,
}

impl<'a> Reader<'a> {
    /// A reader with no problems yet.
    pub fn new(src: &'a ConfigSource) -> Self {
        Self {
            src,
            problems: Vec::new(),
        }
    }

    /// The problems found so far, in the order they were found.
    pub fn into_problems(self) -> Vec<ConfigProblem> {
        self.problems
    }

    /// Records a problem with `variable`.
    pub fn problem(
        &mut self,
        variable: &'static str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.problems.push(ConfigProblem {
            variable,
            message: message.into(),
            fix: fix.into(),
        });
    }

    /// The trimmed value of `variable`; empty counts as unset.
    pub fn raw(&self, variable: &'static str) -> Option<&'a str> {
        self.src.get(variable)
    }

    /// Free text, or `default` when unset.
    pub fn text(&self, variable: &'static str, default: &str) -> String {
        self.raw(variable).unwrap_or(default).to_owned()
    }

    /// Free text, if set.
    pub fn optional_text(&self, variable: &'static str) -> Option<String> {
        self.raw(variable).map(str::to_owned)
    }

    /// A path, or `default` when unset.
    pub fn path(&self, variable: &'static str, default: &str) -> PathBuf {
        PathBuf::from(self.raw(variable).unwrap_or(default))
    }

    /// A path, if set.
    pub fn optional_path(&self, variable: &'static str) -> Option<PathBuf> {
        self.raw(variable).map(PathBuf::from)
    }

    /// A secret, if set; its value never appears in a problem.
    pub fn secret(&self, variable: &'static str) -> Option<Secret> {
        self.raw(variable).map(Secret::new)
    }

    /// A value `parse` accepts; otherwise the problem "`<raw>` is not <expected>" and `default`.
    pub fn parsed<T>(
        &mut self,
        variable: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Option<T>,
        expected: &str,
        fix: impl Into<String>,
    ) -> T {
        let Some(raw) = self.raw(variable) else {
            return default;
        };
        match parse(raw) {
            Some(value) => value,
            None => {
                self.problem(variable, format!("`{raw}` is not {expected}"), fix);
                default
            }
        }
    }

    /// One of a few spellings: `None` when unset; on an unknown spelling the problem
    /// "unknown <what> `<raw>`" and `Some(fallback)`.
    pub fn choice<T>(
        &mut self,
        variable: &'static str,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
        fallback: T,
        fix: impl Into<String>,
    ) -> Option<T> {
        let raw = self.raw(variable)?;
        Some(parse(raw).unwrap_or_else(|| {
            self.problem(variable, format!("unknown {what} `{raw}`"), fix);
            fallback
        }))
    }

    /// A number within `range`; `what` names its kind ("a whole number of seconds").
    pub fn number<T>(
        &mut self,
        variable: &'static str,
        default: T,
        range: RangeInclusive<T>,
        what: &str,
        fix: impl Into<String>,
    ) -> T
    where
        T: FromStr + PartialOrd + fmt::Display,
    {
        self.number_as(variable, default, range, what, fix, |n| n)
    }

    /// A whole number within `range`; the fix suggests the default.
    pub fn count<T>(&mut self, variable: &'static str, default: T, range: RangeInclusive<T>) -> T
    where
        T: FromStr + PartialOrd + fmt::Display,
    {
        let fix = format!("set {variable} to e.g. {default}");
        self.number(variable, default, range, "a whole number", fix)
    }

    /// A duration in seconds, fractions allowed, within `range`.
    pub fn seconds(
        &mut self,
        variable: &'static str,
        default: Duration,
        range: RangeInclusive<f64>,
        fix: impl Into<String>,
    ) -> Duration {
        let what = "a number of seconds";
        self.number_as(variable, default, range, what, fix, Duration::from_secs_f64)
    }

    /// A duration in whole seconds within `range`.
    pub fn whole_seconds(
        &mut self,
        variable: &'static str,
        default: Duration,
        range: RangeInclusive<u64>,
        fix: impl Into<String>,
    ) -> Duration {
        let what = "a whole number of seconds";
        self.number_as(variable, default, range, what, fix, Duration::from_secs)
    }

    /// A duration in whole milliseconds within `range`.
    pub fn millis(
        &mut self,
        variable: &'static str,
        default: Duration,
        range: RangeInclusive<u64>,
        fix: impl Into<String>,
    ) -> Duration {
        let what = "a number of milliseconds";
        self.number_as(variable, default, range, what, fix, Duration::from_millis)
    }

    /// A number within `range`, turned into the setting's type by `into`; on a bad value the
    /// problem "`<raw>` is not <what> from <start> to <end>" and `default`.
    fn number_as<N, T>(
        &mut self,
        variable: &'static str,
        default: T,
        range: RangeInclusive<N>,
        what: &str,
        fix: impl Into<String>,
        into: impl FnOnce(N) -> T,
    ) -> T
    where
        N: FromStr + PartialOrd + fmt::Display,
    {
        // Floats print without a trailing `.0` (`from 0 to 3600`), and NaN or infinity never
        // falls within a finite range.
        let expected = format!("{what} from {} to {}", range.start(), range.end());
        let parse = |raw: &str| {
            raw.parse::<N>()
                .ok()
                .filter(|n| range.contains(n))
                .map(into)
        };
        self.parsed(variable, default, parse, &expected, fix)
    }

    /// `true`/`1`/`yes` or `false`/`0`/`no`, any case.
    pub fn flag(&mut self, variable: &'static str, default: bool) -> bool {
        let Some(raw) = self.raw(variable) else {
            return default;
        };
        match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            other => {
                self.problem(
                    variable,
                    format!("`{other}` is not true or false"),
                    format!("set {variable}=true or {variable}=false"),
                );
                default
            }
        }
    }

    /// An http(s) URL, or `default` when unset.
    pub fn endpoint(&mut self, variable: &'static str, default: &str) -> String {
        let value = self.text(variable, default);
        if !(value.starts_with("http://") || value.starts_with("https://")) {
            self.problem(
                variable,
                format!("`{value}` is not an http(s) URL"),
                format!("set {variable} to a URL such as {default}"),
            );
        }
        value
    }
}
