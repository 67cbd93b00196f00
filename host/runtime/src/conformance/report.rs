//! What a conformance run found: one [`Check`] per line, each passed, warned, failed or skipped
//! with why, and the figures it measured. Printed for people or serialized as JSON.

use std::fmt::Write as _;

use serde::Serialize;

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The component does what the contract asks.
    Pass,
    /// It works, but something deserves a look (declared and unused capability, a limit nearly hit).
    Warn,
    /// It breaks the contract: the studio would fail or deny it.
    Fail,
    /// Not run, and why (a provider that cannot be reached, a check that needs a failing provider).
    Skipped,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "FAIL",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One measured figure of a check, e.g. `guest_cpu_ms = 3.2`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// A snake_case name with its unit as suffix (`_ms`, `_mib`, `_count`).
    pub name: String,
    /// The value.
    pub value: f64,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What was checked, e.g. `describe` or `tts cancellation`.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// What was seen, or why it failed or was skipped, in one sentence.
    pub detail: String,
    /// What it measured.
    pub figures: Vec<Figure>,
}

impl Check {
    /// A check; `detail` is cut to one line (a trap's backtrace is for the logs, not the report).
    pub(crate) fn new(
        name: impl Into<String>,
        outcome: Outcome,
        detail: impl Into<String>,
    ) -> Check {
        let detail = detail.into();
        let line = detail.lines().next().unwrap_or_default();
        let line = line
            .split_once(" (error while executing at wasm backtrace:")
            .map_or(line, |(head, _)| head);
        Check {
            name: name.into(),
            outcome,
            detail: line.trim_end().to_string(),
            figures: Vec::new(),
        }
    }

    pub(crate) fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Outcome::Pass, detail)
    }

    pub(crate) fn warn(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Outcome::Warn, detail)
    }

    pub(crate) fn fail(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Outcome::Fail, detail)
    }

    pub(crate) fn skipped(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Outcome::Skipped, detail)
    }

    /// Adds a figure (rounded to 0.1 for reading).
    pub(crate) fn figure(mut self, name: &str, value: f64) -> Check {
        self.figures.push(Figure {
            name: name.to_string(),
            value: (value * 10.0).round() / 10.0,
        });
        self
    }
}

/// Everything one run found about one component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The component's file.
    pub file: String,
    /// `describe()`'s name, version and role, when it answered.
    pub plugin: Option<PluginLine>,
    /// The checks in the order they ran.
    pub checks: Vec<Check>,
}

/// Who the component said it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginLine {
    /// Its own name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its role (`stt`, `tts`, `llm`, `policy`).
    pub role: String,
    /// The contract version it says it was built against.
    pub contract: String,
}

impl Report {
    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.count(Outcome::Fail) > 0
    }

    /// How many checks ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == outcome).count()
    }

    /// The check called `name`, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The report for people: a heading, one line per check with its figures, a summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match &self.plugin {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "{}: {} {} ({} plugin, contract {})",
                    self.file, p.name, p.version, p.role, p.contract
                );
            }
            None => {
                let _ = writeln!(out, "{}", self.file);
            }
        }
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for check in &self.checks {
            let _ = write!(
                out,
                "  {:<7}  {:<width$}  {}",
                check.outcome.label(),
                check.name,
                check.detail
            );
            if !check.figures.is_empty() {
                let figures: Vec<String> = check
                    .figures
                    .iter()
                    .map(|f| format!("{}={}", f.name, f.value))
                    .collect();
                let _ = write!(out, " [{}]", figures.join(", "));
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} passed, {} warnings, {} failed, {} skipped",
            self.count(Outcome::Pass),
            self.count(Outcome::Warn),
            self.count(Outcome::Fail),
            self.count(Outcome::Skipped)
        );
        out
    }
}
