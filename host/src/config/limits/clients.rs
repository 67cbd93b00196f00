//! `Limits: clients`: what one Socket.IO client may ask of the server: studios it may open (per
//! peer address and in total), `hello` and control events per second, and how much faster than
//! real time its microphone audio may arrive. The gateway enforces them (see
//! `gateway::rate` and docs/SECURITY.md).

use crate::config::Reader;

/// A token bucket's settings: a steady rate and the burst a client may spend at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventRate {
    /// Events per second, refilled continuously.
    pub per_second: f64,
    /// Events a client may send at once after a quiet spell.
    pub burst: u32,
}

impl EventRate {
    /// The variable's spelling of this rate (`2,5`).
    pub fn spelled(&self) -> String {
        format!("{},{}", self.per_second, self.burst)
    }
}

/// Per-client limits of the gateway, parsed from the environment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientLimits {
    /// `MAX_STUDIOS`: running studios on this server (default 100).
    pub max_studios: usize,
    /// `MAX_STUDIOS_PER_IP`: running studios one peer address (an IPv6 /64) may have opened
    /// (default 4); joining a running studio does not count.
    pub max_studios_per_ip: usize,
    /// `HELLO_RATE`: `hello` events per client (default 2 per second, bursts of 5).
    pub hello_rate: EventRate,
    /// `CONTROL_EVENT_RATE`: `client.toggle-autopilot`, `client.request-state`,
    /// `client.end-session` and unknown events per client (default 10 per second, bursts of 20).
    pub control_event_rate: EventRate,
    /// `MIC_REALTIME_FACTOR`: microphone audio per client, in media seconds per wall second
    /// (default 1.25); the excess is dropped.
    pub mic_realtime_factor: f64,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            max_studios: 100,
            max_studios_per_ip: 4,
            hello_rate: EventRate {
                per_second: 2.0,
                burst: 5,
            },
            control_event_rate: EventRate {
                per_second: 10.0,
                burst: 20,
            },
            mic_realtime_factor: 1.25,
        }
    }
}

/// Largest accepted count or burst: beyond it a limit is no limit, and the arithmetic stays small.
const MAX_COUNT: usize = 1_000_000;

impl ClientLimits {
    /// Reads the variables of this section; each bad value is recorded as a problem naming its
    /// variable and replaced by its default.
    pub fn read(r: &mut Reader<'_>) -> Self {
        let defaults = Self::default();
        Self {
            max_studios: r.count("MAX_STUDIOS", defaults.max_studios, 1..=MAX_COUNT),
            max_studios_per_ip: r.count(
                "MAX_STUDIOS_PER_IP",
                defaults.max_studios_per_ip,
                1..=MAX_COUNT,
            ),
            hello_rate: event_rate(r, "HELLO_RATE", defaults.hello_rate),
            control_event_rate: event_rate(r, "CONTROL_EVENT_RATE", defaults.control_event_rate),
            // Below 1 a client speaking in real time would lose audio.
            mic_realtime_factor: r.number(
                "MIC_REALTIME_FACTOR",
                defaults.mic_realtime_factor,
                1.0..=100.0,
                "a factor",
                "set MIC_REALTIME_FACTOR to e.g. 1.25 (media seconds per wall second)",
            ),
        }
    }

    /// One line for the startup banner.
    pub fn summary(&self) -> String {
        format!(
            "{} studios ({} per address), hello {}/s (burst {}), control {}/s (burst {}), microphone {}x real time",
            self.max_studios,
            self.max_studios_per_ip,
            self.hello_rate.per_second,
            self.hello_rate.burst,
            self.control_event_rate.per_second,
            self.control_event_rate.burst,
            self.mic_realtime_factor
        )
    }
}

/// `<per second>[,<burst>]`; without a burst, twice the rate (at least 1).
fn event_rate(r: &mut Reader<'_>, variable: &'static str, default: EventRate) -> EventRate {
    let Some(raw) = r.raw(variable) else {
        return default;
    };
    let (rate, burst) = match raw.split_once(',') {
        Some((rate, burst)) => (rate.trim(), Some(burst.trim())),
        None => (raw, None),
    };
    let per_second = rate
        .parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite() && (0.01..=MAX_COUNT as f64).contains(rate));
    let burst = match (per_second, burst) {
        (Some(rate), None) => u32::try_from((2.0 * rate).ceil() as u64)
            .ok()
            .map(|b| b.max(1)),
        (_, Some(b)) => b
            .parse::<u32>()
            .ok()
            .filter(|b| (1..=MAX_COUNT as u32).contains(b)),
        (None, None) => None,
    };
    match (per_second, burst) {
        (Some(per_second), Some(burst)) => EventRate { per_second, burst },
        _ => {
            r.problem(
                variable,
                format!(
                    "`{raw}` is not `<events per second>[,<burst>]` with a rate from 0.01 to {MAX_COUNT} and a burst from 1 to {MAX_COUNT}"
                ),
                format!("set {variable} to e.g. {}", default.spelled()),
            );
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSource;

    fn parse(pairs: &[(&str, &str)]) -> (ClientLimits, Vec<&'static str>) {
        let src = ConfigSource::from_pairs(pairs.iter().copied());
        let mut reader = Reader::new(&src);
        let limits = ClientLimits::read(&mut reader);
        let bad = reader.into_problems().iter().map(|p| p.variable).collect();
        (limits, bad)
    }

    #[test]
    fn unset_variables_give_the_documented_defaults() {
        let (limits, bad) = parse(&[]);
        assert!(bad.is_empty());
        assert_eq!(limits, ClientLimits::default());
        assert_eq!(limits.max_studios, 100);
        assert_eq!(limits.max_studios_per_ip, 4);
        assert_eq!(limits.hello_rate.spelled(), "2,5");
        assert_eq!(limits.control_event_rate.spelled(), "10,20");
        assert_eq!(limits.mic_realtime_factor, 1.25);
    }

    #[test]
    fn rates_take_an_optional_burst() {
        let (limits, bad) = parse(&[("HELLO_RATE", "3"), ("CONTROL_EVENT_RATE", "0.5, 7")]);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(
            limits.hello_rate,
            EventRate {
                per_second: 3.0,
                burst: 6
            }
        );
        assert_eq!(
            limits.control_event_rate,
            EventRate {
                per_second: 0.5,
                burst: 7
            }
        );
    }

    #[test]
    fn each_bad_value_is_reported_naming_its_variable() {
        let (_, bad) = parse(&[
            ("MAX_STUDIOS", "0"),
            ("MAX_STUDIOS_PER_IP", "four"),
            ("HELLO_RATE", "2,0"),
            ("CONTROL_EVENT_RATE", "inf"),
            ("MIC_REALTIME_FACTOR", "0.9"),
        ]);
        assert_eq!(
            bad,
            [
                "MAX_STUDIOS",
                "MAX_STUDIOS_PER_IP",
                "HELLO_RATE",
                "CONTROL_EVENT_RATE",
                "MIC_REALTIME_FACTOR"
            ]
        );
    }
}
