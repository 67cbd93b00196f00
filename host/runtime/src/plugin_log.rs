//! What a plugin writes to the host log: its `log` capability calls and its WASI stdout/stderr.
//!
//! Both need the `log` capability, share one budget per instance (a token bucket of
//! [`LINES_PER_SECOND`] with a burst of [`BURST_LINES`]; the excess is dropped and counted in
//! one warning), are cut to [`MAX_LINE_BYTES`], have control characters escaped (a plugin
//! cannot forge log lines), and pass the secret redactor: a plugin cannot flood, forge or leak
//! through the log.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use super::grant::Grant;
use super::manifest::Capability;

/// Lines per second a plugin instance may log, on average.
pub const LINES_PER_SECOND: f64 = 50.0;
/// Lines a plugin instance may log at once before the average applies.
pub const BURST_LINES: f64 = 200.0;
/// Longest line kept; the rest is cut and its length noted.
pub const MAX_LINE_BYTES: usize = 2048;
/// A partial stdout line longer than this is logged without waiting for its newline.
const MAX_PARTIAL_BYTES: usize = 2 * MAX_LINE_BYTES;

/// Level of a plugin log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// The log of one plugin instance: its grant (for the `log` capability and the redactor) and
/// its line budget.
pub(crate) struct PluginLog {
    grant: Arc<Grant>,
    budget: Mutex<Budget>,
}

/// A token bucket of log lines.
#[derive(Debug)]
struct Budget {
    tokens: f64,
    refilled_at: Instant,
    /// Lines dropped since the last line that passed.
    dropped: u64,
    /// Whether output without the `log` capability was already reported.
    warned_unlogged: bool,
}

/// What the budget says about one line.
enum Admission {
    /// Log it, after reporting how many were dropped before it.
    Pass { dropped_before: u64 },
    /// Drop it; the first of a run is reported.
    Drop { first: bool },
}

impl Budget {
    fn admit(&mut self) -> Admission {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * LINES_PER_SECOND).min(BURST_LINES);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Admission::Pass {
                dropped_before: std::mem::take(&mut self.dropped),
            }
        } else {
            self.dropped += 1;
            Admission::Drop {
                first: self.dropped == 1,
            }
        }
    }
}

impl PluginLog {
    /// The log of a new instance under `grant`, with a full budget.
    pub(crate) fn new(grant: Arc<Grant>) -> PluginLog {
        PluginLog {
            grant,
            budget: Mutex::new(Budget {
                tokens: BURST_LINES,
                refilled_at: Instant::now(),
                dropped: 0,
                warned_unlogged: false,
            }),
        }
    }

    /// Logs one message of the plugin (`stream` is `log`, `stdout` or `stderr`), when it holds
    /// the `log` capability and its budget allows.
    pub(crate) fn line(&self, level: Level, stream: &'static str, message: &str) {
        let plugin = self.grant.name();
        let mut budget = self.budget.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.grant.entry.grants(Capability::Log) || self.grant.is_revoked() {
            // The `log` capability reports its own refusal; stdout and stderr are reported here.
            if stream != "log" && !std::mem::replace(&mut budget.warned_unlogged, true) {
                tracing::warn!(
                    plugin,
                    stream,
                    "plugin wrote to {stream} without the `log` capability; its output is dropped"
                );
            }
            return;
        }
        match budget.admit() {
            Admission::Drop { first: true } => {
                tracing::warn!(
                    plugin,
                    "plugin logs more than {LINES_PER_SECOND} lines/s; its lines are dropped until it slows down"
                );
                return;
            }
            Admission::Drop { first: false } => return,
            Admission::Pass { dropped_before } if dropped_before > 0 => {
                tracing::warn!(
                    plugin,
                    dropped = dropped_before,
                    "{dropped_before} log lines of the plugin were dropped (over {LINES_PER_SECOND} lines/s)"
                );
            }
            Admission::Pass { .. } => {}
        }
        drop(budget);
        let message = self.grant.secrets.redactor().redact(message);
        let message = printable(&message);
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, stream, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, stream, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, stream, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, stream, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, stream, "{message}"),
        }
    }
}

impl Drop for PluginLog {
    fn drop(&mut self) {
        let budget = self
            .budget
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if budget.dropped > 0 {
            tracing::warn!(
                plugin = self.grant.name(),
                dropped = budget.dropped,
                "{} log lines of the plugin were dropped (over {LINES_PER_SECOND} lines/s)",
                budget.dropped
            );
        }
    }
}

/// `text` cut to [`MAX_LINE_BYTES`] with control characters escaped, so one plugin line is one
/// log line.
fn printable(text: &str) -> String {
    let mut end = text.len().min(MAX_LINE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + 32);
    for c in text[..end].chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if end < text.len() {
        out.push_str(&format!(" [cut: {} more bytes]", text.len() - end));
    }
    out
}

/// A plugin's stdout or stderr: complete lines go to its [`PluginLog`].
#[derive(Clone)]
pub(crate) struct PluginOutput {
    log: Arc<PluginLog>,
    stream: &'static str,
    /// The start of a line whose newline has not come yet.
    partial: Arc<Mutex<Vec<u8>>>,
}

impl PluginOutput {
    /// `stream` (`stdout` or `stderr`) of the instance whose log is `log`.
    pub(crate) fn new(log: Arc<PluginLog>, stream: &'static str) -> PluginOutput {
        PluginOutput {
            log,
            stream,
            partial: Arc::default(),
        }
    }

    fn emit(&self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches('\r');
        if !text.trim().is_empty() {
            self.log.line(Level::Info, self.stream, text);
        }
    }
}

impl IsTerminal for PluginOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for PluginOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for PluginOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut partial = self.partial.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rest = buf;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            if partial.is_empty() {
                self.emit(&rest[..newline]);
            } else {
                partial.extend_from_slice(&rest[..newline]);
                let line = std::mem::take(&mut *partial);
                self.emit(&line);
            }
            rest = &rest[newline + 1..];
        }
        partial.extend_from_slice(rest);
        if partial.len() > MAX_PARTIAL_BYTES {
            let line = std::mem::take(&mut *partial);
            self.emit(&line);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let line =
            std::mem::take(&mut *self.partial.lock().unwrap_or_else(PoisonError::into_inner));
        if !line.is_empty() {
            self.emit(&line);
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_control_characters_escaped() {
        let line = printable(&format!("a\nb\u{1b}[31m{}", "x".repeat(3000)));
        assert!(line.starts_with("a\\nb\\u{1b}[31m"), "{line}");
        // 3008 bytes in: 2048 kept, 960 cut.
        assert!(line.ends_with(" [cut: 960 more bytes]"), "{line}");
        let short = printable("é".repeat(1500).as_str());
        assert!(short.ends_with("more bytes]"), "cut on a char boundary");
    }

    #[test]
    fn the_budget_passes_a_burst_then_drops_and_counts() {
        let mut budget = Budget {
            tokens: BURST_LINES,
            refilled_at: Instant::now(),
            dropped: 0,
            warned_unlogged: false,
        };
        let mut passed = 0;
        let mut dropped = 0;
        for _ in 0..10_000 {
            match budget.admit() {
                Admission::Pass { .. } => passed += 1,
                Admission::Drop { .. } => dropped += 1,
            }
        }
        // Refill during the loop is at most a few lines on any machine; the bound is loose.
        assert!((200..1_000).contains(&passed), "{passed}");
        assert_eq!(passed + dropped, 10_000);
        assert_eq!(budget.dropped, dropped);
    }
}
