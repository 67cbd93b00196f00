//! Limits: the memory peak against `memory_limit_mb`, the guest CPU of each call against
//! `cpu_limit_ms`, and each call's wall time against its deadline. A limit hit fails; a peak
//! above [`NEAR`] of its limit warns (the studio's own calls are longer than the checker's).

use std::time::Duration;

use super::CallRecord;
use super::report::Check;
use crate::error::CallError;
use crate::manifest::{PluginEntry, PluginKind};

/// The share of a limit above which the check warns.
const NEAR: f64 = 0.75;

/// The `limits` check, over every call the other checks made.
pub(crate) fn check(records: &[CallRecord], entry: &PluginEntry) -> Check {
    let memory_limit = f64::from(entry.memory_limit_mb);
    let cpu_limit = entry.cpu_limit_ms as f64;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let peak_mib = records
        .iter()
        .filter_map(|r| r.figures)
        .map(|f| f.memory_peak_bytes as f64 / f64::from(1u32 << 20))
        .fold(0.0, f64::max);
    let cpu_ms = records
        .iter()
        .filter_map(|r| r.figures)
        .map(|f| ms(f.guest_cpu))
        .fold(0.0, f64::max);
    // STT calls have an idle deadline, not a whole-call one: their wall time is not compared.
    let mut worst: Option<(f64, f64, &str)> = None;
    for record in records.iter().filter(|r| r.kind != PluginKind::Stt) {
        let deadline = entry.budget.deadlines.ms(record.kind) as f64;
        let share = ms(record.wall) / deadline;
        if worst.is_none_or(|(s, _, _)| share > s) {
            worst = Some((share, deadline, record.what));
        }
    }
    let wall_ms = records.iter().map(|r| ms(r.wall)).fold(0.0, f64::max);
    let figures = |check: Check| {
        check
            .figure("memory_peak_mib", peak_mib)
            .figure("memory_limit_mib", memory_limit)
            .figure("guest_cpu_max_ms", cpu_ms)
            .figure("cpu_limit_ms", cpu_limit)
            .figure("wall_max_ms", wall_ms)
    };
    for record in records {
        let hit = match &record.outcome {
            Err(
                e @ (CallError::CpuLimit { .. }
                | CallError::MemoryLimit { .. }
                | CallError::Deadline { .. }),
            ) => e.to_string(),
            _ => continue,
        };
        return figures(Check::fail("limits", format!("{}: {hit}", record.what)));
    }
    if records.iter().all(|r| r.figures.is_none()) {
        return Check::skipped("limits", "no call reached the plugin, nothing was measured");
    }
    let summary = format!(
        "memory peak {peak_mib:.1} of {memory_limit:.0} MiB, guest CPU at most {cpu_ms:.1} of {cpu_limit:.0} ms a call"
    );
    let mut near = Vec::new();
    if peak_mib > NEAR * memory_limit {
        near.push(format!(
            "memory peak {peak_mib:.1} MiB is near memory_limit_mb = {memory_limit:.0}"
        ));
    }
    if cpu_ms > NEAR * cpu_limit {
        near.push(format!(
            "a call used {cpu_ms:.1} ms of guest CPU, near cpu_limit_ms = {cpu_limit:.0}"
        ));
    }
    if let Some((share, deadline, what)) = worst
        && share > NEAR
    {
        near.push(format!(
            "{what} took {:.0}% of its {deadline:.0} ms deadline",
            share * 100.0
        ));
    }
    figures(if near.is_empty() {
        Check::pass("limits", summary)
    } else {
        Check::warn("limits", format!("{}; {summary}", near.join("; ")))
    })
}
