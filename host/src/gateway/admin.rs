//! The admin scope: the `STUDIO_ADMIN_TOKEN` bearer that guards the settings API, episode minting
//! and the detailed `/health` and `/ready`.
//!
//! The comparison is constant-time, the token has at least 32 characters (config refuses shorter),
//! and wrong guesses from one address slow down: after [`FAILURES_BEFORE_LOCKOUT`] failures in
//! [`FAILURE_WINDOW`], that address gets `429` with a `Retry-After` that doubles with each further
//! lockout, up to [`MAX_LOCKOUT`]. A success clears only its own address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::GatewayState;
use super::access::AccessMode;
use crate::config::NodeEnv;

/// Wrong tokens from one address within [`FAILURE_WINDOW`] before it is locked out.
pub const FAILURES_BEFORE_LOCKOUT: u32 = 5;
/// How long failures are remembered; an address quiet this long starts afresh.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// The longest lockout; the first is one second, each next one twice the last.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(60);
/// Addresses remembered at most; the stalest are forgotten first, so memory stays bounded.
const MAX_TRACKED_ADDRESSES: usize = 4096;

/// Failed admin attempts per client address (IPv6 per /64, which one client usually holds whole).
#[derive(Default)]
pub struct AdminLockout {
    strikes: Mutex<HashMap<IpAddr, Strikes>>,
}

#[derive(Debug, Clone, Copy)]
struct Strikes {
    /// Failures since the last lockout (or since the record began).
    failures: u32,
    /// Lockouts so far; the next one lasts `2^lockouts` seconds (capped).
    lockouts: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

impl AdminLockout {
    /// How long `peer` must still wait, if it is locked out now.
    fn wait_for(&self, peer: IpAddr, now: Instant) -> Option<Duration> {
        let strikes = self.lock();
        let until = strikes.get(&address_key(peer))?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// Counts a wrong token from `peer`; returns its count of failures since its last lockout.
    fn fail(&self, peer: IpAddr, now: Instant) -> u32 {
        let mut all = self.lock();
        let key = address_key(peer);
        if !all.contains_key(&key) && all.len() >= MAX_TRACKED_ADDRESSES {
            all.retain(|_, s| !s.is_stale(now));
            if all.len() >= MAX_TRACKED_ADDRESSES
                && let Some(stalest) = all
                    .iter()
                    .min_by_key(|(_, s)| s.last_failure)
                    .map(|(k, _)| *k)
            {
                all.remove(&stalest);
            }
        }
        let strikes = all.entry(key).or_insert(Strikes {
            failures: 0,
            lockouts: 0,
            last_failure: now,
            locked_until: None,
        });
        if strikes.is_stale(now) {
            *strikes = Strikes {
                failures: 0,
                lockouts: 0,
                last_failure: now,
                locked_until: None,
            };
        }
        strikes.failures += 1;
        strikes.last_failure = now;
        let counted = strikes.failures;
        if strikes.failures >= FAILURES_BEFORE_LOCKOUT || strikes.lockouts > 0 {
            // Once locked out, every further failure locks again, for twice as long.
            let seconds = 1u64 << strikes.lockouts.min(6);
            strikes.lockouts += 1;
            strikes.failures = 0;
            strikes.locked_until = Some(now + Duration::from_secs(seconds).min(MAX_LOCKOUT));
        }
        counted
    }

    /// Forgets `peer`'s failures after it presented the right token.
    fn succeed(&self, peer: IpAddr) {
        self.lock().remove(&address_key(peer));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Strikes>> {
        self.strikes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Strikes {
    /// Nothing to remember any more: no lockout running and the last failure is old.
    fn is_stale(&self, now: Instant) -> bool {
        // Measured from the end of the last lockout, so sitting out a lockout does not reset
        // the doubling.
        let quiet_since = self
            .locked_until
            .map_or(self.last_failure, |until| until.max(self.last_failure));
        quiet_since <= now && now.duration_since(quiet_since) >= FAILURE_WINDOW
    }
}

/// The address failures are counted under: IPv4 as is, IPv6 by its /64 prefix.
fn address_key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::from(segments)
            }
        },
    }
}

/// Whether admin actions are allowed without any token: only when none is configured, outside
/// production, with open access, on a server bound to loopback (a trusted machine: today's
/// development setup and the original frontend's settings dialog). Token access without an
/// admin token keeps the admin scope shut, since a loopback server may sit behind a proxy.
pub fn open_without_token(state: &GatewayState) -> bool {
    let server = &state.config.server;
    server.admin_token.is_none()
        && server.node_env != NodeEnv::Production
        && state.access.mode() == AccessMode::Open
        && server.host.is_loopback()
}

/// Whether the request presents an `Authorization` header at all (a caller asking for the
/// admin view, rather than an anonymous one).
pub fn presents_credentials(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION)
}

/// Whether the request holds the admin scope (an open development server on loopback, or the
/// `STUDIO_ADMIN_TOKEN` bearer), checked without counting a miss: for doors that admit other
/// proofs too, where a bearer that is not the admin token (a host's link token) is no guess.
pub fn holds_admin(state: &GatewayState, headers: &HeaderMap) -> bool {
    if open_without_token(state) {
        return true;
    }
    let Some(token) = &state.config.server.admin_token else {
        return false;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|presented| {
            constant_time_eq(presented.trim().as_bytes(), token.expose().as_bytes())
        })
}

/// Admits the request to the admin scope or answers why not: `401` (missing or wrong bearer),
/// `429` (too many wrong ones from `peer`), `403` (no `STUDIO_ADMIN_TOKEN` where one is needed).
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the finished response, built only for a refused request"
)]
pub fn require_admin(
    state: &GatewayState,
    headers: &HeaderMap,
    peer: IpAddr,
) -> Result<(), Response> {
    let Some(token) = &state.config.server.admin_token else {
        if open_without_token(state) {
            return Ok(());
        }
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "forbidden",
            "admin actions are disabled on this server: set STUDIO_ADMIN_TOKEN (at least 32 characters) and send Authorization: Bearer <token>".into(),
        ));
    };
    let lockout = &state.admin_lockout;
    let now = Instant::now();
    if let Some(wait) = lockout.wait_for(peer, now) {
        tracing::debug!(%peer, rule = "admin-lockout", "admin request refused while locked out");
        return Err(too_many(wait));
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = presented else {
        // Not a guess: nothing to count.
        return Err(unauthorized());
    };
    if constant_time_eq(presented.as_bytes(), token.expose().as_bytes()) {
        lockout.succeed(peer);
        return Ok(());
    }
    let failures = lockout.fail(peer, now);
    // The failure that starts a lockout is still answered 401 (it is a wrong token); the
    // requests during the lockout get 429.
    tracing::info!(%peer, failures, rule = "admin-token", "wrong admin token");
    Err(unauthorized())
}

fn unauthorized() -> Response {
    let mut response = refusal(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing or wrong token: send Authorization: Bearer <STUDIO_ADMIN_TOKEN>".into(),
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn too_many(wait: Duration) -> Response {
    // Whole seconds, rounded up, at least one.
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = refusal(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        format!("too many wrong admin tokens from this address: retry after {seconds} s"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn refusal(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({"success": false, "code": code, "error": message})),
    )
        .into_response()
}

/// Compares without an early exit, so response timing does not reveal how much of a guess matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 9));

    #[test]
    fn five_failures_lock_an_address_out_and_each_lockout_doubles() {
        let lockout = AdminLockout::default();
        let t0 = Instant::now();
        for _ in 0..FAILURES_BEFORE_LOCKOUT - 1 {
            lockout.fail(PEER, t0);
            assert_eq!(lockout.wait_for(PEER, t0), None);
        }
        lockout.fail(PEER, t0);
        assert_eq!(lockout.wait_for(PEER, t0), Some(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(lockout.wait_for(PEER, t1), None);
        lockout.fail(PEER, t1);
        assert_eq!(lockout.wait_for(PEER, t1), Some(Duration::from_secs(2)));
        let mut t = t1 + Duration::from_secs(2);
        for _ in 0..10 {
            lockout.fail(PEER, t);
            let wait = lockout.wait_for(PEER, t).expect("locked");
            assert!(wait <= MAX_LOCKOUT);
            t += wait;
        }
        assert_eq!(lockout.wait_for(PEER, t - MAX_LOCKOUT), Some(MAX_LOCKOUT));
    }

    #[test]
    fn a_success_clears_only_its_own_address() {
        let lockout = AdminLockout::default();
        let other = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 8));
        let t0 = Instant::now();
        for _ in 0..FAILURES_BEFORE_LOCKOUT {
            lockout.fail(PEER, t0);
            lockout.fail(other, t0);
        }
        lockout.succeed(other);
        assert_eq!(lockout.wait_for(other, t0), None);
        assert!(lockout.wait_for(PEER, t0).is_some());
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let lockout = AdminLockout::default();
        let t0 = Instant::now();
        for _ in 0..FAILURES_BEFORE_LOCKOUT - 1 {
            lockout.fail(PEER, t0);
        }
        assert_eq!(lockout.fail(PEER, t0 + FAILURE_WINDOW), 1);
        assert_eq!(lockout.wait_for(PEER, t0 + FAILURE_WINDOW), None);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
    }

    #[test]
    fn token_comparison_needs_an_exact_match() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
