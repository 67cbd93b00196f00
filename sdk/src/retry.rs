//! Bounded retries for provider calls, the same rules for every adapter:
//!
//! - `auth`, `config`, `protocol`, `denied`, `cancelled`, `internal`: never retried (retrying does
//!   not change the answer, or the host asked us to stop).
//! - `rate-limited`: retried after the provider's `retry-after` when that wait fits within
//!   [`RetryPolicy::max_retry_after_ms`]; a longer (or missing and over-budget) wait fails at once,
//!   so the host can fail over to the role's `fallback` instead of leaving the studio silent.
//! - `unavailable` (5xx, 529, a refused or dropped connection, a timeout): retried with
//!   exponential backoff (`base_delay_ms`, ×4 each time).
//!
//! Retry only what delivered nothing yet: wrap the request and the status check, not the part that
//! streams tokens or audio to the host. A live conversation cannot wait long, so the defaults are
//! small: 3 tries, 250 ms then 1 s backoff, at most 4 s of `retry-after`.

use crate::{PluginError, config, log};

/// How often and how long a plugin retries one provider call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (1 = no retry).
    pub attempts: u32,
    /// Backoff before the first retry of an `unavailable` error; ×4 for each further retry.
    pub base_delay_ms: u64,
    /// The longest `retry-after` honoured; a rate limit asking for more fails over instead.
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay_ms: 250,
            max_retry_after_ms: 4000,
        }
    }
}

/// What to do after a failed try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this many ms, then try again.
    RetryAfter(u64),
    /// Give up and return the error.
    GiveUp,
}

impl RetryPolicy {
    /// The default policy with the plugin's `retries` (retries after the first try),
    /// `retry_base_ms` and `retry_after_max_ms` settings applied.
    pub fn from_config() -> Self {
        let default = Self::default();
        Self {
            attempts: config::get_u32("retries", default.attempts - 1).saturating_add(1),
            base_delay_ms: u64::from(config::get_u32(
                "retry_base_ms",
                default.base_delay_ms as u32,
            )),
            max_retry_after_ms: u64::from(config::get_u32(
                "retry_after_max_ms",
                default.max_retry_after_ms as u32,
            )),
        }
    }

    /// What to do after try number `tried` (1 for the first) failed with `error`. Pure, so the
    /// rules are unit tested natively.
    pub fn next(&self, tried: u32, error: &PluginError) -> Next {
        if tried >= self.attempts {
            return Next::GiveUp;
        }
        match error {
            PluginError::Unavailable(_) => {
                let exponent = tried.saturating_sub(1).min(8);
                Next::RetryAfter(self.base_delay_ms.saturating_mul(4u64.pow(exponent)))
            }
            PluginError::RateLimited(limit) => match limit.retry_after_ms {
                Some(wait) if wait <= self.max_retry_after_ms => Next::RetryAfter(wait),
                Some(_) => Next::GiveUp,
                None => {
                    let exponent = tried.saturating_sub(1).min(8);
                    let wait = self.base_delay_ms.saturating_mul(4u64.pow(exponent));
                    if wait <= self.max_retry_after_ms {
                        Next::RetryAfter(wait)
                    } else {
                        Next::GiveUp
                    }
                }
            },
            _ => Next::GiveUp,
        }
    }

    /// Runs `attempt` (given the try number, from 1) until it succeeds or [`RetryPolicy::next`]
    /// gives up; `what` names the call in the log (never put a key in it).
    pub fn run<T>(
        &self,
        what: &str,
        mut attempt: impl FnMut(u32) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let mut tried = 0;
        loop {
            tried += 1;
            let error = match attempt(tried) {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            match self.next(tried, &error) {
                Next::GiveUp => return Err(error),
                Next::RetryAfter(ms) => {
                    log::warn(&format!(
                        "{what} failed (try {tried} of {}), retrying in {ms} ms: {error:?}",
                        self.attempts
                    ));
                    std::thread::sleep(std::time::Duration::from_millis(ms));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RateLimit;

    fn limited(ms: Option<u64>) -> PluginError {
        PluginError::RateLimited(RateLimit {
            retry_after_ms: ms,
            message: "slow down".into(),
        })
    }

    #[test]
    fn unavailable_backs_off_exponentially_then_gives_up() {
        let policy = RetryPolicy::default();
        let down = PluginError::Unavailable("502".into());
        assert_eq!(policy.next(1, &down), Next::RetryAfter(250));
        assert_eq!(policy.next(2, &down), Next::RetryAfter(1000));
        assert_eq!(policy.next(3, &down), Next::GiveUp);
    }

    #[test]
    fn rate_limits_wait_for_retry_after_within_the_bound() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.next(1, &limited(Some(1500))), Next::RetryAfter(1500));
        assert_eq!(policy.next(1, &limited(Some(30_000))), Next::GiveUp);
        assert_eq!(policy.next(1, &limited(None)), Next::RetryAfter(250));
        assert_eq!(policy.next(3, &limited(Some(10))), Next::GiveUp);
    }

    #[test]
    fn errors_that_retrying_cannot_fix_are_returned_at_once() {
        let policy = RetryPolicy::default();
        for error in [
            PluginError::Auth("401".into()),
            PluginError::Config("bad model".into()),
            PluginError::Protocol("not json".into()),
            PluginError::Cancelled,
            PluginError::Denied("host".into()),
            PluginError::Internal("bug".into()),
        ] {
            assert_eq!(policy.next(1, &error), Next::GiveUp, "{error:?}");
        }
    }

    #[test]
    fn one_attempt_means_no_retry() {
        let policy = RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        };
        assert_eq!(
            policy.next(1, &PluginError::Unavailable("x".into())),
            Next::GiveUp
        );
    }
}
