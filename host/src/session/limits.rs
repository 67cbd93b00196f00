//! What one studio may spend: autopilot AI lines per minute and per episode (each line is a paid
//! LLM and TTS call nobody asked for), and the free disk space a new recording needs.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::StudioConfig;

/// Default `AUTOPILOT_LINES_PER_MINUTE`.
pub const DEFAULT_AUTOPILOT_LINES_PER_MINUTE: u32 = 12;
/// Default `AUTOPILOT_LINES_PER_EPISODE`.
pub const DEFAULT_AUTOPILOT_LINES_PER_EPISODE: u32 = 200;
/// Default `RECORDING_MIN_FREE_MB`.
pub const DEFAULT_RECORDING_MIN_FREE_MB: u64 = 512;

/// The window of the per-minute count.
const MINUTE: Duration = Duration::from_secs(60);

/// The limits every studio of a registry runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StudioLimits {
    /// `AUTOPILOT_LINES_PER_MINUTE`: autopilot AI lines in any 60 s.
    pub autopilot_lines_per_minute: u32,
    /// `AUTOPILOT_LINES_PER_EPISODE`: autopilot AI lines in the studio's whole life.
    pub autopilot_lines_per_episode: u32,
    /// `RECORDING_MIN_FREE_MB`: a new recording folder needs this much free space (MiB).
    pub recording_min_free_mb: u64,
}

impl Default for StudioLimits {
    fn default() -> Self {
        Self {
            autopilot_lines_per_minute: DEFAULT_AUTOPILOT_LINES_PER_MINUTE,
            autopilot_lines_per_episode: DEFAULT_AUTOPILOT_LINES_PER_EPISODE,
            recording_min_free_mb: DEFAULT_RECORDING_MIN_FREE_MB,
        }
    }
}

impl From<&StudioConfig> for StudioLimits {
    fn from(config: &StudioConfig) -> Self {
        Self {
            autopilot_lines_per_minute: config.autopilot_lines_per_minute,
            autopilot_lines_per_episode: config.autopilot_lines_per_episode,
            recording_min_free_mb: config.recording_min_free_mb,
        }
    }
}

/// Which autopilot limit a line ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutopilotLimit {
    /// `AUTOPILOT_LINES_PER_MINUTE`.
    PerMinute(u32),
    /// `AUTOPILOT_LINES_PER_EPISODE`.
    PerEpisode(u32),
}

impl AutopilotLimit {
    /// What the clients read in `error autopilot-limit`.
    pub fn message(self) -> String {
        match self {
            Self::PerMinute(n) => format!(
                "autopilot reached {n} AI lines in a minute (AUTOPILOT_LINES_PER_MINUTE); the AIs wait for the human, or go on in a minute"
            ),
            Self::PerEpisode(n) => format!(
                "autopilot reached {n} AI lines in this episode (AUTOPILOT_LINES_PER_EPISODE); the AIs only answer the human from now on"
            ),
        }
    }
}

/// A refused autopilot line: which limit, and whether the clients must be told (once per
/// episode for the per-episode limit; once each time the per-minute limit closes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutopilotRefusal {
    /// The limit reached.
    pub limit: AutopilotLimit,
    /// Tell the clients now (the first refusal of its kind).
    pub tell: bool,
}

/// Counts a studio's autopilot lines. Lives as long as the studio: toggling autopilot does not
/// reset it (only the "lines in a row" cap restarts then).
#[derive(Debug)]
pub struct AutopilotBudget {
    per_minute: u32,
    per_episode: u32,
    /// When each line of the last minute started, oldest first (at most `per_minute`).
    recent: VecDeque<Instant>,
    spent: u32,
    told_minute: bool,
    told_episode: bool,
}

impl AutopilotBudget {
    /// A fresh budget under `limits`.
    pub fn new(limits: &StudioLimits) -> Self {
        Self {
            per_minute: limits.autopilot_lines_per_minute,
            per_episode: limits.autopilot_lines_per_episode,
            recent: VecDeque::new(),
            spent: 0,
            told_minute: false,
            told_episode: false,
        }
    }

    /// Spends one line at `now`, or says which limit refuses it.
    pub fn take(&mut self, now: Instant) -> Result<(), AutopilotRefusal> {
        if self.spent >= self.per_episode {
            let tell = !self.told_episode;
            self.told_episode = true;
            return Err(AutopilotRefusal {
                limit: AutopilotLimit::PerEpisode(self.per_episode),
                tell,
            });
        }
        while self
            .recent
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= MINUTE)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.per_minute as usize {
            let tell = !self.told_minute;
            self.told_minute = true;
            return Err(AutopilotRefusal {
                limit: AutopilotLimit::PerMinute(self.per_minute),
                tell,
            });
        }
        self.told_minute = false;
        self.recent.push_back(now);
        self.spent += 1;
        Ok(())
    }

    /// Lines spent in this episode.
    pub fn spent(&self) -> u32 {
        self.spent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(per_minute: u32, per_episode: u32) -> AutopilotBudget {
        AutopilotBudget::new(&StudioLimits {
            autopilot_lines_per_minute: per_minute,
            autopilot_lines_per_episode: per_episode,
            recording_min_free_mb: 0,
        })
    }

    #[test]
    fn lines_beyond_the_minute_limit_wait_for_the_window_and_are_told_once() {
        let mut b = budget(3, 100);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(b.take(t0 + Duration::from_secs(i)), Ok(()));
        }
        let refused = b.take(t0 + Duration::from_secs(10));
        assert_eq!(
            refused,
            Err(AutopilotRefusal {
                limit: AutopilotLimit::PerMinute(3),
                tell: true
            })
        );
        assert_eq!(
            b.take(t0 + Duration::from_secs(20)).map_err(|r| r.tell),
            Err(false),
            "said once while the limit holds"
        );
        // The first line leaves the window 60 s after it started.
        assert_eq!(b.take(t0 + Duration::from_secs(60)), Ok(()));
        assert_eq!(b.spent(), 4);
        assert_eq!(
            b.take(t0 + Duration::from_secs(60)).map_err(|r| r.tell),
            Err(true),
            "a new closing of the window is told again"
        );
    }

    #[test]
    fn the_episode_limit_holds_for_the_whole_episode_and_is_told_once() {
        let mut b = budget(100, 3);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(b.take(t0 + Duration::from_secs(i * 120)), Ok(()));
        }
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(
            b.take(later),
            Err(AutopilotRefusal {
                limit: AutopilotLimit::PerEpisode(3),
                tell: true
            })
        );
        for hours in 2..5 {
            assert_eq!(
                b.take(t0 + Duration::from_secs(3600 * hours)),
                Err(AutopilotRefusal {
                    limit: AutopilotLimit::PerEpisode(3),
                    tell: false
                })
            );
        }
        assert_eq!(b.spent(), 3);
    }

    #[test]
    fn limit_messages_name_their_variable() {
        assert!(
            AutopilotLimit::PerMinute(12)
                .message()
                .contains("AUTOPILOT_LINES_PER_MINUTE")
        );
        assert!(
            AutopilotLimit::PerEpisode(200)
                .message()
                .contains("AUTOPILOT_LINES_PER_EPISODE")
        );
    }
}
