//! `allowed_hosts` entries and the origins of URLs, both in the `url` crate's canonical form.

use std::fmt;

/// An `allowed_hosts` entry: `scheme://host[:port]`, where host may be `*` or start with `*.` and
/// port may be `*`.
///
/// The host is kept in the `url` crate's canonical form (lower case, punycode, IPv4 in dotted
/// decimal, IPv6 in brackets) and compared with the host of a URL parsed by the same crate, so
/// `http://0x7f.1` and `http://127.0.0.1` are one entry and no spelling of a URL slips past it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    scheme: String,
    host: PatternHost,
    /// `None` means any port (`:*`).
    port: Option<u16>,
    text: String,
}

/// The host part of an `allowed_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternHost {
    /// `*`: any host.
    Any,
    /// `*.example.com`: any name under `example.com` (not `example.com` itself); holds `.example.com`.
    Under(String),
    /// One host, in canonical form.
    Exact(String),
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl HostPattern {
    /// Parses one `allowed_hosts` entry.
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("`{text}` needs a scheme, e.g. `https://{text}`"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = default_port(&scheme)
            .ok_or_else(|| format!("`{text}`: scheme must be http, https, ws or wss"))?;
        let rest = rest.trim_end_matches('/');
        if rest.contains(['/', '\\', '?', '#']) {
            return Err(format!(
                "`{text}`: give only scheme, host and port, without a path"
            ));
        }
        if rest.contains('@') {
            return Err(format!(
                "`{text}`: user info (`user@`) is not allowed; give only scheme, host and port"
            ));
        }
        let (host, port) = split_host_port(rest);
        let port = match port {
            None => Some(default_port),
            Some("*") => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| format!("`{text}`: `{p}` is not a port"))?,
            ),
        };
        let host = match host {
            "" => return Err(format!("`{text}` has no host")),
            "*" => PatternHost::Any,
            wildcard if wildcard.starts_with("*.") => match canonical_host(&wildcard[2..]) {
                Some(url::Host::Domain(suffix)) => PatternHost::Under(format!(".{suffix}")),
                _ => return Err(format!("`{text}`: `*.` must be followed by a domain name")),
            },
            exact => PatternHost::Exact(
                canonical_host(exact)
                    .ok_or_else(|| format!("`{text}`: `{exact}` is not a valid host"))?
                    .to_string(),
            ),
        };
        Ok(HostPattern {
            scheme,
            host,
            port,
            text: text.to_string(),
        })
    }

    /// Whether `url` goes to a scheme, host and port this pattern allows.
    pub fn allows(&self, url: &url::Url) -> bool {
        if url.scheme() != self.scheme {
            return false;
        }
        let Some(host) = url.host_str() else {
            return false;
        };
        let host_ok = match &self.host {
            PatternHost::Any => true,
            PatternHost::Under(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
            PatternHost::Exact(exact) => exact == host,
        };
        host_ok
            && self
                .port
                .is_none_or(|p| url.port_or_known_default() == Some(p))
    }

    /// Whether this entry names `host` (canonical, as `url::Url::host_str` gives it) itself
    /// rather than through a wildcard: what lets a plugin reach a loopback or private address.
    pub fn names_host(&self, host: &str) -> bool {
        matches!(&self.host, PatternHost::Exact(exact) if exact == host)
    }

    /// The entry as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `host` (an IPv6 address without its brackets, an IPv4 address in any spelling, or a name) in
/// the `url` crate's canonical form; None when it is not a valid host.
fn canonical_host(host: &str) -> Option<url::Host<String>> {
    if host.contains(':') {
        url::Host::parse(&format!("[{host}]")).ok()
    } else {
        url::Host::parse(host).ok()
    }
}

/// Scheme, host and port of a URL: what `allowed_hosts` is about, and all that messages and logs
/// show of a URL (its path and query may carry a key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlOrigin {
    /// Lower-case scheme.
    pub scheme: String,
    /// The canonical host (IPv6 in brackets).
    pub host: String,
    /// The explicit port, or the scheme's default.
    pub port: u16,
}

impl UrlOrigin {
    /// The origin of a parsed http(s)/ws(s) URL; `None` for other schemes or without a host.
    pub fn of(url: &url::Url) -> Option<UrlOrigin> {
        let scheme = url.scheme();
        let default = default_port(scheme)?;
        Some(UrlOrigin {
            scheme: scheme.to_string(),
            host: url.host_str().filter(|h| !h.is_empty())?.to_string(),
            port: url.port().unwrap_or(default),
        })
    }

    /// Parses the origin of an absolute http(s)/ws(s) URL; `None` when it is not one.
    pub fn parse(url: &str) -> Option<UrlOrigin> {
        UrlOrigin::of(&url::Url::parse(url).ok()?)
    }
}

impl fmt::Display for UrlOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Splits `host:port`, `[v6]:port`, `host` or `[v6]`.
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => (rest, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}
