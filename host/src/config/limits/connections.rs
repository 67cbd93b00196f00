//! `Limits: connections`: what one TCP connection may hold of the server: how many may be open
//! (per peer address and in total), how long a request's head and body may take to arrive, and
//! how large one WebSocket message, frame, long-polling payload or set of Socket.IO binary
//! attachments may be. The gateway enforces them (see `gateway::connections` and
//! docs/SECURITY.md).

use std::time::Duration;

use crate::config::Reader;

/// Connection-level limits, parsed from the environment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionLimits {
    /// `MAX_CONNECTIONS`: open TCP connections on this server (default 1000); one more is
    /// answered `503` and closed.
    pub max_connections: usize,
    /// `MAX_CONNECTIONS_PER_IP`: open TCP connections from one peer address (default 32); one
    /// more is answered `429` and closed.
    pub max_connections_per_ip: usize,
    /// `HTTP_HEADER_TIMEOUT_SECONDS`: time for a request's head (request line and headers) to
    /// arrive, counted from the connection's start or its last response (default 10 s).
    pub header_timeout: Duration,
    /// `HTTP_BODY_TIMEOUT_SECONDS`: time for a whole request body to arrive, counted from the
    /// end of its head (default 10 s).
    pub body_timeout: Duration,
    /// `MAX_MESSAGE_BYTES`: largest WebSocket message and frame, long-polling payload, and sum
    /// of one Socket.IO event's binary attachments (default 1 MiB).
    pub max_message_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 1000,
            max_connections_per_ip: 32,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_message_bytes: 1024 * 1024,
        }
    }
}

/// Largest accepted connection count: beyond it a limit is no limit.
const MAX_COUNT: usize = 1_000_000;
/// Smallest accepted `MAX_MESSAGE_BYTES`: a full 1 s audio chunk, base64 in JSON, must fit, so an
/// oversized chunk gets its `error` event instead of a dropped connection.
pub const MIN_MESSAGE_BYTES: usize = 256 * 1024;
/// Largest accepted `MAX_MESSAGE_BYTES` (socketioxide's own default, 64 MiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

impl ConnectionLimits {
    /// Reads the variables of this section; each bad value is recorded as a problem naming its
    /// variable and replaced by its default.
    pub fn read(r: &mut Reader<'_>) -> Self {
        let defaults = Self::default();
        let seconds = |r: &mut Reader<'_>, variable: &'static str, default: Duration| {
            let fix = format!("set {variable} to e.g. {}", default.as_secs());
            r.seconds(variable, default, 0.1..=3600.0, fix)
        };
        Self {
            max_connections: r.count("MAX_CONNECTIONS", defaults.max_connections, 1..=MAX_COUNT),
            max_connections_per_ip: r.count(
                "MAX_CONNECTIONS_PER_IP",
                defaults.max_connections_per_ip,
                1..=MAX_COUNT,
            ),
            header_timeout: seconds(r, "HTTP_HEADER_TIMEOUT_SECONDS", defaults.header_timeout),
            body_timeout: seconds(r, "HTTP_BODY_TIMEOUT_SECONDS", defaults.body_timeout),
            max_message_bytes: r.number(
                "MAX_MESSAGE_BYTES",
                defaults.max_message_bytes,
                MIN_MESSAGE_BYTES..=MAX_MESSAGE_BYTES,
                "a whole number of bytes",
                format!(
                    "set MAX_MESSAGE_BYTES to e.g. {} (1 MiB)",
                    defaults.max_message_bytes
                ),
            ),
        }
    }

    /// The banner's line: the caps at a glance.
    pub fn summary(&self) -> String {
        format!(
            "{} total, {} per IP; headers {}s, body {}s; messages <= {} bytes",
            self.max_connections,
            self.max_connections_per_ip,
            self.header_timeout.as_secs_f64(),
            self.body_timeout.as_secs_f64(),
            self.max_message_bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSource;

    fn parse(pairs: &[(&str, &str)]) -> (ConnectionLimits, Vec<&'static str>) {
        let src = ConfigSource::from_pairs(pairs.iter().copied());
        let mut reader = Reader::new(&src);
        let limits = ConnectionLimits::read(&mut reader);
        let bad = reader.into_problems().iter().map(|p| p.variable).collect();
        (limits, bad)
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        assert_eq!(parse(&[]), (ConnectionLimits::default(), vec![]));
    }

    #[test]
    fn set_values_are_read() {
        let (limits, bad) = parse(&[
            ("MAX_CONNECTIONS", "50"),
            ("MAX_CONNECTIONS_PER_IP", "3"),
            ("HTTP_HEADER_TIMEOUT_SECONDS", "0.5"),
            ("HTTP_BODY_TIMEOUT_SECONDS", "2"),
            ("MAX_MESSAGE_BYTES", "524288"),
        ]);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(limits.max_connections, 50);
        assert_eq!(limits.max_connections_per_ip, 3);
        assert_eq!(limits.header_timeout, Duration::from_millis(500));
        assert_eq!(limits.body_timeout, Duration::from_secs(2));
        assert_eq!(limits.max_message_bytes, 524_288);
    }

    #[test]
    fn bad_values_are_reported_by_variable() {
        let (_, bad) = parse(&[
            ("MAX_CONNECTIONS", "0"),
            ("MAX_CONNECTIONS_PER_IP", "many"),
            ("HTTP_HEADER_TIMEOUT_SECONDS", "-1"),
            ("HTTP_BODY_TIMEOUT_SECONDS", "inf"),
            ("MAX_MESSAGE_BYTES", "1000"),
        ]);
        assert_eq!(
            bad,
            vec![
                "MAX_CONNECTIONS",
                "MAX_CONNECTIONS_PER_IP",
                "HTTP_HEADER_TIMEOUT_SECONDS",
                "HTTP_BODY_TIMEOUT_SECONDS",
                "MAX_MESSAGE_BYTES",
            ]
        );
    }
}
