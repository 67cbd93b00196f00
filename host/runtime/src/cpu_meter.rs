//! Guest CPU accounting of one plugin instance: how much of its budget the current call used.
//! A leaf: the sandbox's call hook and epoch callback drive it, the capabilities credit it.

use std::time::{Duration, Instant};

/// Guest CPU time of the current call, kept in step by the call hook, and the budget it draws on.
///
/// The budget is a leaky bucket: a call starts with `cpu_limit_ms` and the work it serves (audio
/// read or pushed, text pushed) credits more, but never so much that more than `cpu_limit_ms`
/// lies unspent. A session-long STT call on live audio therefore never runs dry, while a plugin
/// that spins, serving nothing or burning more than it earns, is stopped within `cpu_limit_ms`
/// of guest time however long it served well before.
#[derive(Debug, Default)]
pub(crate) struct CpuMeter {
    used: Duration,
    running_since: Option<Instant>,
    /// Budget earned on top of the starting `cpu_limit_ms`; never more than `used`.
    credited: Duration,
}

impl CpuMeter {
    /// Adds `amount` to the budget, keeping at most `cpu_limit_ms` of it unspent.
    pub(crate) fn credit(&mut self, amount: Duration) {
        self.credited = (self.credited + amount).min(self.total());
    }

    /// Whether the guest time used passed the budget of a call that started with `limit`.
    pub(crate) fn overdrawn(&self, limit: Duration) -> bool {
        self.total() > limit + self.credited
    }

    /// Guest time the current call has used so far.
    pub(crate) fn used(&self) -> Duration {
        self.total()
    }

    pub(crate) fn resume(&mut self) {
        self.running_since = Some(Instant::now());
    }

    pub(crate) fn pause(&mut self) {
        if let Some(since) = self.running_since.take() {
            self.used += since.elapsed();
        }
    }

    fn total(&self) -> Duration {
        self.used
            + self
                .running_since
                .map_or(Duration::ZERO, |since| since.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_millis(20);
    /// What one 20 ms frame at 48 kHz earns at 200 ms per audio second.
    const FRAME_CREDIT: Duration = Duration::from_millis(4);

    /// A meter of a call that ran `used` of guest time (paused, as in a host call).
    fn spend(meter: &mut CpuMeter, used: Duration) {
        meter.used += used;
    }

    #[test]
    fn three_hours_of_audio_at_real_work_rates_never_overdraw_a_tiny_limit() {
        let mut meter = CpuMeter::default();
        // 3 h of 20 ms frames, each costing the plugin 300 us (ten times mock-stt), with a burst
        // of 15 ms (three quarters of the limit) once a minute.
        for frame in 0..(3 * 3600 * 50u64) {
            spend(&mut meter, Duration::from_micros(300));
            if frame % 3000 == 0 {
                spend(&mut meter, Duration::from_millis(15));
            }
            assert!(!meter.overdrawn(LIMIT), "overdrawn at frame {frame}");
            meter.credit(FRAME_CREDIT);
        }
    }

    #[test]
    fn a_spin_after_hours_of_good_service_is_stopped_within_the_limit() {
        let mut meter = CpuMeter::default();
        for _ in 0..(3600 * 50) {
            spend(&mut meter, Duration::from_micros(100));
            meter.credit(FRAME_CREDIT);
        }
        // Unspent budget never exceeds the limit: what was banked is at most 20 ms.
        assert!(!meter.overdrawn(LIMIT));
        spend(&mut meter, LIMIT);
        assert!(
            !meter.overdrawn(LIMIT),
            "exactly the limit is still allowed"
        );
        spend(&mut meter, Duration::from_micros(1));
        assert!(meter.overdrawn(LIMIT), "a spin past the limit is stopped");
    }

    #[test]
    fn a_plugin_burning_more_than_it_earns_is_stopped_after_limit_over_deficit() {
        let mut meter = CpuMeter::default();
        // 5 ms per frame against 4 ms earned: 1 ms short per frame, so the 20 ms of starting
        // budget lasts 20 frames.
        let mut frames = 0;
        while !meter.overdrawn(LIMIT) {
            spend(&mut meter, Duration::from_millis(5));
            meter.credit(FRAME_CREDIT);
            frames += 1;
            assert!(frames < 1000, "never stopped");
        }
        assert_eq!(frames, 21);
    }

    #[test]
    fn without_any_credit_the_budget_is_the_old_per_call_limit() {
        let mut meter = CpuMeter::default();
        spend(&mut meter, LIMIT);
        meter.credit(Duration::ZERO);
        assert!(!meter.overdrawn(LIMIT));
        spend(&mut meter, Duration::from_micros(1));
        assert!(meter.overdrawn(LIMIT));
    }
}
