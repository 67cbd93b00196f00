//! Every child process group the plugins have alive in this host process: the watchdog thread
//! that kills a group past its `max_processes` (a fork loop), and the shutdown hook that kills
//! them all.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, LazyLock, Mutex, Once, OnceLock, PoisonError};
use std::time::Duration;

/// How often the watchdog counts the processes of each live group.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// A group the watchdog keeps count of, and the shutdown hook kills.
pub(super) struct LiveGroup {
    pub(super) plugin: String,
    pub(super) program: String,
    pub(super) max_processes: u64,
    pub(super) stopped: Arc<OnceLock<String>>,
}

/// Every live child group of this host process, by process group id.
struct Registry {
    groups: Mutex<HashMap<i32, LiveGroup>>,
    /// Wakes the watchdog when the first group arrives.
    added: Condvar,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry {
    groups: Mutex::new(HashMap::new()),
    added: Condvar::new(),
});

pub(super) fn live_groups() -> std::sync::MutexGuard<'static, HashMap<i32, LiveGroup>> {
    REGISTRY
        .groups
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn register(pgid: i32, group: LiveGroup) {
    static WATCHDOG: Once = Once::new();
    WATCHDOG.call_once(|| {
        let started = std::thread::Builder::new()
            .name("process-watchdog".into())
            .spawn(watch_groups);
        if let Err(error) = started {
            tracing::error!("the child process watchdog could not start: {error}");
        }
    });
    live_groups().insert(pgid, group);
    REGISTRY.added.notify_one();
}

/// SIGKILL to a whole process group; a group that is already gone is fine.
pub(super) fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: killpg has no memory-safety preconditions; a stale group yields ESRCH.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
}

/// Kills every child process group the plugins have alive (host shutdown: children must not
/// outlive the studio). Returns how many groups were signalled.
pub fn kill_all_children() -> usize {
    let groups = live_groups();
    for pgid in groups.keys() {
        kill_group(*pgid);
    }
    groups.len()
}

/// The watchdog: counts the processes of each live group and kills a group past its cap.
fn watch_groups() {
    loop {
        let watched: Vec<(i32, u64)> = {
            let mut groups = live_groups();
            while groups.is_empty() {
                groups = REGISTRY
                    .added
                    .wait(groups)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            groups
                .iter()
                .map(|(pgid, group)| (*pgid, group.max_processes))
                .collect()
        };
        let counts = count_group_members(watched.iter().map(|(pgid, _)| *pgid));
        for (pgid, max) in watched {
            let count = counts.get(&pgid).copied().unwrap_or(0);
            if count <= max {
                continue;
            }
            if let Some(group) = live_groups().get(&pgid) {
                let reason = format!(
                    "{}'s child process {} was killed: its process group passed max_processes = {max} ([plugins.{}.process])",
                    group.plugin, group.program, group.plugin
                );
                if group.stopped.set(reason).is_ok() {
                    tracing::warn!(
                        plugin = group.plugin,
                        program = group.program,
                        processes = count,
                        max_processes = max,
                        "child process group passed its process cap; killed"
                    );
                }
            }
            kill_group(pgid);
        }
        std::thread::sleep(WATCH_EVERY);
    }
}

/// How many processes (zombies included: they still hold a slot) are in each of `groups`.
fn count_group_members(groups: impl Iterator<Item = i32>) -> HashMap<i32, u64> {
    let mut counts: HashMap<i32, u64> = groups.map(|pgid| (pgid, 0)).collect();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return counts;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some(pgrp) = stat_pgrp(&stat)
            && let Some(count) = counts.get_mut(&pgrp)
        {
            *count += 1;
        }
    }
    counts
}

/// The process group field of `/proc/PID/stat` (the fifth; the command name before it may hold
/// spaces and parentheses, so count from the last `)`).
fn stat_pgrp(stat: &str) -> Option<i32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_is_read_past_a_command_name_with_spaces_and_parens() {
        let stat = "4242 (a (weird) name) S 1 4240 4240 0 -1 4194560 100";
        assert_eq!(stat_pgrp(stat), Some(4240));
        assert_eq!(stat_pgrp("garbage"), None);
    }
}
