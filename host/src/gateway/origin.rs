//! The Origin door: a browser page may open a Socket.IO connection or change state over HTTP only
//! from an origin in `CORS_ORIGIN` or from this server's own pages.
//!
//! CORS alone does not protect state: a cross-site `POST` with a simple content type, and every
//! WebSocket handshake, reach the server without a preflight. Browsers always send `Origin` on
//! those, so the check is on the server side, before any handler or the Socket.IO layer runs.
//! Requests without `Origin` (python-socketio, socket.io-client in Node, curl) are not from a
//! browser page and pass; they have no ambient cookies or network position to abuse.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// How many distinct refused origins are logged at info level; later ones go to debug, so a
/// flood of made-up origins cannot flood the log.
const ORIGINS_SAID_AT_INFO: usize = 32;

/// Longest `Origin` value echoed back in a refusal.
const MAX_ECHOED_ORIGIN: usize = 200;

/// A web origin reduced to what browsers compare: scheme, lowercase host, port (defaults filled).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SiteOrigin {
    scheme: String,
    host: String,
    port: u16,
}

impl SiteOrigin {
    /// Parses `scheme://host[:port]` (a trailing `/` is tolerated); `None` for anything else,
    /// including the opaque origin `null`.
    fn parse(raw: &str) -> Option<Self> {
        let uri: Uri = raw.trim().trim_end_matches('/').parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority = uri.authority()?;
        if authority.as_str().contains('@') || !matches!(uri.path(), "" | "/") {
            return None;
        }
        Some(Self {
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(default_port),
            scheme,
        })
    }

    /// Whether `host_header` (the request's `Host`) names this origin's host and port, i.e. the
    /// page was served by this server under that name.
    fn is_host(&self, host_header: &str) -> bool {
        let Ok(authority) = host_header.trim().parse::<Authority>() else {
            return false;
        };
        let default_port = if self.scheme == "https" { 443 } else { 80 };
        authority.host().eq_ignore_ascii_case(&self.host)
            && authority.port_u16().unwrap_or(default_port) == self.port
    }
}

/// Whether `host` (as it appears in an authority, IPv6 in brackets) can only mean this machine.
fn is_local_name(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Which browser origins may open sockets and change state; built once from `CORS_ORIGIN`.
pub struct OriginPolicy {
    any: bool,
    allowed: Vec<SiteOrigin>,
    /// The server listens on loopback only: a same-origin page must then be named by a local
    /// name, so a DNS-rebound `evil.example` (resolving to 127.0.0.1) is not "same origin".
    loopback_only: bool,
    said: Mutex<HashSet<String>>,
}

impl OriginPolicy {
    /// The policy for `CORS_ORIGIN` (`*` allows any origin) on a server bound to `bind`.
    pub fn new(cors_origins: &[String], bind: IpAddr) -> Self {
        Self {
            any: cors_origins.iter().any(|o| o == "*"),
            allowed: cors_origins
                .iter()
                .filter_map(|o| SiteOrigin::parse(o))
                .collect(),
            loopback_only: bind.is_loopback(),
            said: Mutex::new(HashSet::new()),
        }
    }

    /// Whether a request with this `Origin` and `Host` may pass.
    fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        if self.any {
            return true;
        }
        let Some(site) = SiteOrigin::parse(origin) else {
            return false;
        };
        if self.allowed.contains(&site) {
            return true;
        }
        let same_origin = host.is_some_and(|h| site.is_host(h));
        same_origin && (!self.loopback_only || is_local_name(&site.host))
    }

    /// Logs a refusal: the first few distinct origins at info (an operator who forgot
    /// `CORS_ORIGIN` sees it), the rest at debug.
    fn say_refused(&self, origin: &str, peer: Option<SocketAddr>, path: &str) {
        let first_time = {
            let mut said = self.said.lock().unwrap_or_else(PoisonError::into_inner);
            said.len() < ORIGINS_SAID_AT_INFO && said.insert(origin.to_owned())
        };
        if first_time {
            tracing::info!(
                origin,
                ?peer,
                path,
                rule = "origin",
                "refused a request from an origin not in CORS_ORIGIN (said once per origin)"
            );
        } else {
            tracing::debug!(origin, ?peer, path, rule = "origin", "refused origin");
        }
    }
}

/// Whether the Origin rule applies: the Socket.IO handshake and polling (any method) and every
/// state-changing method.
fn is_guarded(method: &Method, path: &str) -> bool {
    path == "/socket.io"
        || path.starts_with("/socket.io/")
        || matches!(
            *method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        )
}

/// The middleware: refuses a guarded request whose `Origin` is neither allowed nor same-origin
/// with 403 naming the origin and `CORS_ORIGIN`.
pub async fn check_origin(
    State(policy): State<Arc<OriginPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    if !is_guarded(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let Some(origin) = headers.get(header::ORIGIN) else {
        return next.run(request).await;
    };
    let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
    if policy.allows(&origin, host_header(headers)) {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    policy.say_refused(&origin, peer, request.uri().path());
    refusal(&origin)
}

fn host_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|v| v.to_str().ok())
}

fn refusal(origin: &str) -> Response {
    let shown: String = origin.chars().take(MAX_ECHOED_ORIGIN).collect();
    (
        StatusCode::FORBIDDEN,
        Json(json!({
            "success": false,
            "code": "forbidden",
            "origin": shown,
            "error": format!(
                "origin {shown} is not allowed to connect or change settings: add it to CORS_ORIGIN on the server (comma-separated origins, e.g. CORS_ORIGIN=http://localhost:3000,{shown})"
            ),
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(list: &[&str], bind: [u8; 4]) -> OriginPolicy {
        let list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
        OriginPolicy::new(&list, IpAddr::from(bind))
    }

    #[test]
    fn listed_origins_match_after_normalisation() {
        let p = policy(
            &["http://localhost:3000", "https://studio.test"],
            [0, 0, 0, 0],
        );
        assert!(p.allows("http://localhost:3000", None));
        assert!(p.allows("HTTP://LocalHost:3000/", None));
        assert!(p.allows("https://studio.test:443", None));
        assert!(!p.allows("http://studio.test", None));
        assert!(!p.allows("http://localhost:3001", None));
        assert!(!p.allows("http://localhost:3000.evil.test", None));
        assert!(!p.allows("null", None));
        assert!(!p.allows("http://user@localhost:3000", None));
    }

    #[test]
    fn a_wildcard_allows_any_origin() {
        let p = policy(&["*"], [127, 0, 0, 1]);
        assert!(p.allows("http://evil.test", None));
        assert!(p.allows("null", None));
    }

    #[test]
    fn same_origin_means_the_host_header_names_the_origin() {
        let p = policy(&["http://localhost:3000"], [0, 0, 0, 0]);
        assert!(p.allows("http://studio.example:4000", Some("studio.example:4000")));
        assert!(p.allows("https://studio.example", Some("studio.example")));
        assert!(p.allows("https://studio.example", Some("studio.example:443")));
        assert!(!p.allows("https://studio.example", Some("studio.example:80")));
        assert!(!p.allows("http://evil.example:4000", Some("studio.example:4000")));
        assert!(!p.allows("http://studio.example:4001", Some("studio.example:4000")));
        assert!(!p.allows("http://studio.example:4000", None));
    }

    #[test]
    fn on_loopback_a_rebound_name_is_not_same_origin() {
        let p = policy(&["http://localhost:3000"], [127, 0, 0, 1]);
        assert!(p.allows("http://127.0.0.1:4000", Some("127.0.0.1:4000")));
        assert!(p.allows("http://localhost:4000", Some("localhost:4000")));
        assert!(p.allows("http://[::1]:4000", Some("[::1]:4000")));
        assert!(!p.allows("http://evil.example:4000", Some("evil.example:4000")));
    }

    #[test]
    fn sockets_and_state_changes_are_guarded_reads_are_not() {
        assert!(is_guarded(&Method::GET, "/socket.io/"));
        assert!(is_guarded(&Method::POST, "/socket.io/"));
        assert!(is_guarded(&Method::POST, "/api/config/keys"));
        assert!(is_guarded(&Method::DELETE, "/anything"));
        assert!(!is_guarded(&Method::GET, "/health"));
        assert!(!is_guarded(&Method::OPTIONS, "/api/config/keys"));
        assert!(!is_guarded(&Method::GET, "/socket.io.js"));
    }
}
