//! Where a plugin's network traffic may go: one rule for `http`, its redirects and `websocket`.
//!
//! A URL is parsed once, with the `url` crate (the parser reqwest itself uses), and that parsed
//! value is what gets sent, so the check and the request cannot read it two ways (`\` in the
//! authority, decimal or hex IPv4, user info). Its scheme, host and port must match the plugin's
//! `allowed_hosts`, and it may not carry user info.
//!
//! Then the address: every address a connection goes to passes [`Egress::vet`], whether the URL
//! named it (an IP literal) or our resolver found it (a name). Names are resolved only by
//! [`Egress::resolve`] (reqwest gets it as its DNS resolver; the WebSocket capability connects to
//! what it returns), so a name that resolves, or re-resolves, to an inner address cannot reach
//! it: no DNS rebinding. Loopback, private, shared (CGNAT), link-local, unique-local, unspecified,
//! broadcast, multicast, reserved and cloud-metadata addresses (and IPv6 forms that embed one)
//! are refused unless `allowed_hosts` names that host literally: the address itself
//! (`http://127.0.0.1:8080`), or `localhost` for loopback. A local Whisper or llama server stays
//! possible; a wildcard never reaches inside.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

use super::bindings::types::PluginError;
use super::manifest::{Capability, HostPattern, UrlOrigin};

/// What an address is, as far as the egress rule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressClass {
    /// Anywhere on the internet.
    Public,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16.
    Private,
    /// 100.64.0.0/10, carrier-grade NAT: inside a provider's network.
    Shared,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// fc00::/7 (and the deprecated site-local fec0::/10).
    UniqueLocal,
    /// 0.0.0.0/8, ::: connecting there reaches this machine.
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 240.0.0.0/4, 192.0.0.0/24, 198.18.0.0/15: not for ordinary traffic.
    Reserved,
    /// Cloud instance metadata (AWS, GCP, Azure, Oracle, Alibaba, ECS): credentials live there.
    Metadata,
}

impl AddressClass {
    /// How a refusal message names the class.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            AddressClass::Public => "a public address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private address",
            AddressClass::Shared => "a shared (carrier-grade NAT) address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::UniqueLocal => "a unique-local address",
            AddressClass::Unspecified => "an unspecified address",
            AddressClass::Broadcast => "a broadcast address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Reserved => "a reserved address",
            AddressClass::Metadata => "a cloud metadata address",
        }
    }
}

/// Cloud metadata services, checked before the ranges they sit in so the message says what they are.
const METADATA_V4: [Ipv4Addr; 5] = [
    // AWS, GCP, Azure, DigitalOcean, OpenStack.
    Ipv4Addr::new(169, 254, 169, 254),
    // AWS ECS task metadata.
    Ipv4Addr::new(169, 254, 170, 2),
    // Alibaba Cloud.
    Ipv4Addr::new(100, 100, 100, 200),
    // Oracle Cloud.
    Ipv4Addr::new(192, 0, 0, 192),
    // Azure's host endpoint (WireServer), a public-looking address only reachable from inside.
    Ipv4Addr::new(168, 63, 129, 16),
];
/// AWS's IPv6 metadata endpoint.
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Classifies `ip`; IPv6 addresses that embed an IPv4 one (mapped, compatible, NAT64, 6to4) take
/// the class of the IPv4 address, since that is where the traffic can end up.
pub(crate) fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    if METADATA_V4.contains(&ip) {
        return AddressClass::Metadata;
    }
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, ..) => AddressClass::Unspecified,
        (127, ..) => AddressClass::Loopback,
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => AddressClass::Private,
        (100, 64..=127, _) => AddressClass::Shared,
        (169, 254, _) => AddressClass::LinkLocal,
        (224..=239, ..) => AddressClass::Multicast,
        _ if ip.is_broadcast() => AddressClass::Broadcast,
        (240..=255, ..) | (192, 0, 0) | (198, 18..=19, _) => AddressClass::Reserved,
        _ => AddressClass::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if ip == METADATA_V6 {
        return AddressClass::Metadata;
    }
    if ip.is_unspecified() {
        return AddressClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let first = ip.segments()[0];
    match first {
        _ if first & 0xffc0 == 0xfe80 => AddressClass::LinkLocal,
        _ if first & 0xffc0 == 0xfec0 => AddressClass::UniqueLocal,
        _ if first & 0xfe00 == 0xfc00 => AddressClass::UniqueLocal,
        _ if first & 0xff00 == 0xff00 => AddressClass::Multicast,
        _ => AddressClass::Public,
    }
}

/// The IPv4 address an IPv6 one carries: `::ffff:a.b.c.d` (mapped), `::a.b.c.d` (compatible),
/// `64:ff9b::a.b.c.d` (NAT64), `2002:aabb:ccdd::/48` (6to4).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0, 0, ..] | [0x64, 0xff9b, 0, 0, 0, 0, ..] => {
            Some(tail())
        }
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// Why a plugin's URL or address was not let through.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum Refusal {
    /// Not an absolute URL of the capability's schemes.
    #[error("{0}")]
    NotAUrl(String),
    /// Scheme, host and port are not in `allowed_hosts`.
    #[error("{message}")]
    NotAllowed {
        /// What the plugin is told (names the plugin and the target).
        message: String,
        /// `capability/origin`, for the log.
        target: String,
    },
    /// User info in the URL, or an address the rule refuses; the message names plugin and rule.
    #[error("{0}")]
    Denied(String),
}

impl Refusal {
    /// The error the plugin sees.
    pub(crate) fn into_plugin_error(self) -> PluginError {
        match self {
            Refusal::NotAUrl(message) => PluginError::Config(message),
            Refusal::NotAllowed { message, .. } | Refusal::Denied(message) => {
                PluginError::Denied(message)
            }
        }
    }

    /// The refusal somewhere in `error`'s chain of sources, when there is one (a resolver or
    /// redirect refusal comes back from reqwest wrapped in its own errors).
    pub(crate) fn find_in<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e Refusal> {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(refusal) = error.downcast_ref::<Refusal>() {
                return Some(refusal);
            }
            current = error.source();
        }
        None
    }
}

/// A name that could not be resolved (not a refusal: the network said no, not the rule).
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {name}: {source}")]
pub(crate) struct Unresolved {
    name: String,
    source: std::io::Error,
}

/// A failed [`Egress::resolve`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveError {
    /// Every address the name has is refused by the rule.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The name did not resolve.
    #[error(transparent)]
    Unresolved(#[from] Unresolved),
}

/// The egress rule of one plugin: its name (for messages) and its `allowed_hosts`.
#[derive(Debug)]
pub(crate) struct Egress {
    plugin: Arc<str>,
    allowed: Vec<HostPattern>,
}

impl Egress {
    /// The rule for `plugin` with these `allowed_hosts`.
    pub(crate) fn new(plugin: &str, allowed: &[HostPattern]) -> Egress {
        Egress {
            plugin: Arc::from(plugin),
            allowed: allowed.to_vec(),
        }
    }

    /// The plugin the rule belongs to.
    pub(crate) fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Parses `url` once and checks it for `capability`: the value returned is what must be sent.
    pub(crate) fn parse(&self, capability: Capability, url: &str) -> Result<Url, Refusal> {
        let parsed = Url::parse(url).map_err(|_| not_a_url(capability))?;
        self.check(capability, &parsed)?;
        Ok(parsed)
    }

    /// Checks a parsed URL (a plugin's, or a redirect's): scheme of the capability, no user info,
    /// scheme/host/port in `allowed_hosts`, and, for an IP literal, the address rule. A name's
    /// addresses are checked when it is resolved ([`Egress::resolve`]).
    pub(crate) fn check(&self, capability: Capability, url: &Url) -> Result<(), Refusal> {
        let schemes: &[&str] = match capability {
            Capability::Websocket => &["ws", "wss"],
            _ => &["http", "https"],
        };
        if !schemes.contains(&url.scheme()) {
            return Err(not_a_url(capability));
        }
        let (Some(origin), Some(host)) = (UrlOrigin::of(url), url.host()) else {
            return Err(not_a_url(capability));
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(self.deny(
                capability,
                &format!("{origin} with user info"),
                "credentials in a URL (`user:pass@host`) are refused; send them in a header",
            ));
        }
        if !self.allowed.iter().any(|pattern| pattern.allows(url)) {
            // Logged by the caller: the plugin's own URL through `denied`, a redirect where it
            // is stopped.
            let target = format!("{capability}/{origin}");
            return Err(Refusal::NotAllowed {
                message: format!("{} is not granted {target} in plugins.toml", self.plugin),
                target,
            });
        }
        let ip = match host {
            Host::Ipv4(v4) => IpAddr::V4(v4),
            Host::Ipv6(v6) => IpAddr::V6(v6),
            Host::Domain(_) => return Ok(()),
        };
        self.vet(capability, &origin.host, ip, Some(url))
    }

    /// Whether a connection for `capability` to `host` may go to `ip` (one of its addresses, or
    /// the address it spells). `host` is canonical (`url::Url::host_str`). With `url`, only an
    /// entry that also allows that URL (scheme and port) counts as naming the host: naming
    /// `http://127.0.0.1:8080` does not open every port of 127.0.0.1 through a `*` entry.
    pub(crate) fn vet(
        &self,
        capability: Capability,
        host: &str,
        ip: IpAddr,
        url: Option<&Url>,
    ) -> Result<(), Refusal> {
        let class = classify(ip);
        if class == AddressClass::Public {
            return Ok(());
        }
        let literal = host.parse::<IpAddr>().is_ok() || host.starts_with('[');
        let named = self
            .allowed
            .iter()
            .any(|pattern| pattern.names_host(host) && url.is_none_or(|url| pattern.allows(url)));
        if literal {
            if named {
                return Ok(());
            }
            return Err(self.deny(
                capability,
                host,
                &format!(
                    "{}; name it literally in allowed_hosts to allow it",
                    class.describe()
                ),
            ));
        }
        if named && class == AddressClass::Loopback && is_localhost(host) {
            return Ok(());
        }
        Err(self.deny(
            capability,
            host,
            &format!(
                "it resolves to {ip}, {}; name the address literally in allowed_hosts (or `localhost` for loopback) to allow it",
                class.describe()
            ),
        ))
    }

    /// Resolves `name` with the system resolver and keeps the addresses the rule allows for it,
    /// with `port`; a refusal when it has addresses but none is allowed.
    /// `url`, when known, narrows which entries name the host (see [`Egress::vet`]).
    pub(crate) async fn resolve(
        &self,
        capability: Capability,
        name: &str,
        port: u16,
        url: Option<&Url>,
    ) -> Result<Vec<SocketAddr>, ResolveError> {
        // The name as the allow-list compared it (the URL parser lower-cases domains), so
        // `localhost` matches a `localhost` entry and nothing else does.
        let host = name.to_ascii_lowercase();
        let found: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
            .await
            .map_err(|source| Unresolved {
                name: name.to_string(),
                source,
            })?
            .collect();
        let mut vetted = Vec::with_capacity(found.len());
        let mut refused = None;
        for address in found {
            match self.vet(capability, &host, address.ip(), url) {
                Ok(()) => vetted.push(address),
                Err(refusal) => {
                    refused.get_or_insert(refusal);
                }
            }
        }
        match (vetted.is_empty(), refused) {
            (false, refused) => {
                if refused.is_some() {
                    tracing::debug!(plugin = %self.plugin, %name, "some addresses of the name are refused; using the others");
                }
                Ok(vetted)
            }
            (true, Some(refusal)) => Err(refusal.into()),
            (true, None) => Err(Unresolved {
                name: name.to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"),
            }
            .into()),
        }
    }

    /// A refusal naming the plugin, the target and the rule; logged here, once.
    fn deny(&self, capability: Capability, target: &str, rule: &str) -> Refusal {
        tracing::warn!(
            plugin = %self.plugin,
            %capability,
            refused = %target,
            rule,
            "plugin network access refused"
        );
        Refusal::Denied(format!(
            "{} is not granted {capability} to {target} ({rule})",
            self.plugin
        ))
    }
}

/// `localhost` and names under `.localhost` (RFC 6761: they are loopback by definition).
fn is_localhost(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

fn not_a_url(capability: Capability) -> Refusal {
    // The URL itself stays out of the message: its query may carry a key.
    let schemes = match capability {
        Capability::Websocket => "ws(s)",
        _ => "http(s)",
    };
    Refusal::NotAUrl(format!(
        "the {capability} capability needs an absolute {schemes} URL with a host"
    ))
}

/// reqwest's DNS resolver for one plugin's HTTP client: names resolve through [`Egress::resolve`],
/// so the client only ever connects to addresses the rule allowed.
#[derive(Debug, Clone)]
pub(crate) struct VettedResolver {
    egress: Arc<Egress>,
}

impl VettedResolver {
    /// A resolver applying `egress` for the `http` capability.
    pub(crate) fn new(egress: Arc<Egress>) -> VettedResolver {
        VettedResolver { egress }
    }
}

impl reqwest::dns::Resolve for VettedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let egress = self.egress.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port on the addresses it gets.
            let addresses = egress
                .resolve(Capability::Http, &name, 0, None)
                .await
                .map_err(|error| -> Box<dyn std::error::Error + Send + Sync> {
                    match error {
                        ResolveError::Refused(refusal) => Box::new(refusal),
                        ResolveError::Unresolved(unresolved) => Box::new(unresolved),
                    }
                })?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests;
