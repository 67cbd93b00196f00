//! How a studio lives: its grace period, autopilot limits, pacing, watchdog, the shutdown
//! deadline, and the free space a recording needs.

use std::time::Duration;

use super::Reader;
use crate::session::{
    DEFAULT_AUTOPILOT_LINES_PER_EPISODE, DEFAULT_AUTOPILOT_LINES_PER_MINUTE,
    DEFAULT_RECORDING_MIN_FREE_MB,
};

/// Studio lifetime settings.
#[derive(Debug, Clone)]
pub struct StudioConfig {
    /// `STUDIO_GRACE_SECONDS`: how long a studio outlives its last client (a reload rejoins).
    pub grace: Duration,
    /// `STUDIO_AUTOPILOT_MAX_TURNS`: most AI lines in a row in autopilot before the AIs wait for the human.
    pub autopilot_max_turns: u32,
    /// `STUDIO_TURN_GAP_MS`: the pause between one AI's line and the next AI's, so hand-offs sound natural.
    pub turn_gap: Duration,
    /// `STUDIO_WATCHDOG_MS`: a studio that has not answered its heartbeat for this long is
    /// reported and ended (clients get `error` `studio-stuck`); the rest of the server goes on.
    pub watchdog: Duration,
    /// `SHUTDOWN_DEADLINE_SECONDS`: after SIGTERM/SIGINT the process exits (code 1) when graceful
    /// shutdown has not finished within this, even if the async runtime is wedged.
    pub shutdown_deadline: Duration,
    /// `AUTOPILOT_LINES_PER_MINUTE`: autopilot AI lines a studio may start in any 60 s (default 12).
    pub autopilot_lines_per_minute: u32,
    /// `AUTOPILOT_LINES_PER_EPISODE`: autopilot AI lines a studio may start in its life (default
    /// 200); toggling autopilot does not reset it.
    pub autopilot_lines_per_episode: u32,
    /// `RECORDING_MIN_FREE_MB`: a studio opens a recording only with this much free space on the
    /// recording disk (MiB, default 512); below it the session goes on unrecorded.
    pub recording_min_free_mb: u64,
}

impl StudioConfig {
    /// Reads the studio variables.
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        Self {
            grace: r.seconds(
                "STUDIO_GRACE_SECONDS",
                Duration::from_secs(10),
                0.0..=3600.0,
                "set STUDIO_GRACE_SECONDS to e.g. 10",
            ),
            autopilot_max_turns: r.count("STUDIO_AUTOPILOT_MAX_TURNS", 6, 1..=1000),
            turn_gap: r.millis(
                "STUDIO_TURN_GAP_MS",
                Duration::from_millis(300),
                0..=10_000,
                "set STUDIO_TURN_GAP_MS to e.g. 300",
            ),
            watchdog: r.millis(
                "STUDIO_WATCHDOG_MS",
                Duration::from_secs(10),
                100..=600_000,
                "set STUDIO_WATCHDOG_MS to e.g. 10000",
            ),
            shutdown_deadline: r.seconds(
                "SHUTDOWN_DEADLINE_SECONDS",
                Duration::from_secs(30),
                0.1..=600.0,
                "set SHUTDOWN_DEADLINE_SECONDS to e.g. 30",
            ),
            autopilot_lines_per_minute: r.count(
                "AUTOPILOT_LINES_PER_MINUTE",
                DEFAULT_AUTOPILOT_LINES_PER_MINUTE,
                1..=600,
            ),
            autopilot_lines_per_episode: r.count(
                "AUTOPILOT_LINES_PER_EPISODE",
                DEFAULT_AUTOPILOT_LINES_PER_EPISODE,
                1..=1_000_000,
            ),
            recording_min_free_mb: r.number(
                "RECORDING_MIN_FREE_MB",
                DEFAULT_RECORDING_MIN_FREE_MB,
                0..=1_000_000_000_000,
                "a whole number of MiB",
                "set RECORDING_MIN_FREE_MB to e.g. 512 (0 turns the check off)",
            ),
        }
    }
}
