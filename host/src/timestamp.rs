//! ISO-8601 timestamps: the one formatter behind `/health`, minted episodes and `session.yml`.
//!
//! The format is JavaScript's `Date.prototype.toISOString()`: UTC, always milliseconds, a `Z`
//! suffix (`2026-11-26T09:22:26.123Z`), so browsers and Node compare our times as their own.
//! Times before 1970 are written as 1970-01-01T00:00:00.000Z: the studio never records any.

use std::time::{SystemTime, UNIX_EPOCH};

/// `time` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn iso8601_utc(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    iso8601_ms(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), without a date crate.
pub fn iso8601_ms(epoch_ms: u64) -> String {
    let days = i64::try_from(epoch_ms / 86_400_000).unwrap_or(i64::MAX / 2);
    let ms_of_day = epoch_ms % 86_400_000;
    // Civil date from days since 1970-01-01 (Howard Hinnant's days-to-civil algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps_match_javascripts_to_iso_string() {
        assert_eq!(iso8601_utc(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(iso8601_utc(t), "2024-02-29T12:34:56.789Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_798_761_599);
        assert_eq!(iso8601_utc(t), "2026-12-31T23:59:59.000Z");
        // Before the epoch: clamped, never a panic.
        let t = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(iso8601_utc(t), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn epoch_milliseconds_format_known_instants() {
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        // A century leap day.
        assert_eq!(iso8601_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601_ms(1_795_684_946_123), "2026-11-26T09:22:26.123Z");
    }
}
