//! Who may join, speak and act: `STUDIO_ACCESS`, `STUDIO_TOKEN_SECRET`,
//! `STUDIO_TOKEN_TTL_SECONDS` and `STUDIO_ADMIN_TOKEN`, with the refusals that keep an exposed
//! server from running open by accident. The gateway enforces them (`gateway::access`).

use std::time::Duration;

use super::{NodeEnv, Reader, Secret, ServerConfig};

/// Shortest accepted `STUDIO_TOKEN_SECRET`, in bytes (HS256 wants a key as long as its hash).
pub const MIN_TOKEN_SECRET_BYTES: usize = 32;

/// Shortest accepted `STUDIO_ADMIN_TOKEN`: 32 characters (e.g. 16 random bytes in hex) keep an
/// online guess hopeless even before the failure slow-down.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// `STUDIO_ACCESS`: who may join a studio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    /// Anyone who reaches the port is a host (a trusted machine or network only).
    Open,
    /// Joining needs a signed, expiring host or viewer token.
    Token,
}

impl AccessMode {
    /// The variable's spelling of this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Token => "token",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "open" => Some(Self::Open),
            "token" => Some(Self::Token),
            _ => None,
        }
    }
}

/// Who may join, speak and act (see `gateway::access` and docs/SECURITY.md).
#[derive(Debug, Clone)]
pub struct AccessConfig {
    /// `STUDIO_ACCESS`: `token` when `STUDIO_TOKEN_SECRET` is set, else `open`.
    pub mode: AccessMode,
    /// Whether `STUDIO_ACCESS` was set explicitly (open access on a non-loopback address needs it).
    pub mode_explicit: bool,
    /// `STUDIO_TOKEN_SECRET`: the key that signs tokens (>= 32 bytes); unset: a random key per process.
    pub token_secret: Option<Secret>,
    /// `STUDIO_TOKEN_TTL_SECONDS`: lifetime of minted host and viewer tokens (default 86400).
    pub token_ttl: Duration,
}

/// Suggested for every refusal that a token secret would cure.
const MAKE_A_SECRET: &str = "set STUDIO_TOKEN_SECRET to 32+ random bytes";

impl AccessConfig {
    /// Reads the access variables, refuses the combinations that would expose an open server,
    /// and checks the length of `server`'s admin token.
    pub(super) fn read(r: &mut Reader<'_>, server: &ServerConfig) -> Self {
        let token_secret = r.secret("STUDIO_TOKEN_SECRET");
        // An unknown mode counts as an explicit `token`, the safer reading, for the checks below.
        let explicit = r.choice(
            "STUDIO_ACCESS",
            "access mode",
            AccessMode::parse,
            AccessMode::Token,
            "set STUDIO_ACCESS to token (signed links) or open (a trusted machine only)",
        );
        let mode = explicit.unwrap_or(if token_secret.is_some() {
            AccessMode::Token
        } else {
            AccessMode::Open
        });
        check_token_secret(r, mode, token_secret.as_ref());
        if mode == AccessMode::Open {
            refuse_exposed_open_access(r, server, explicit.is_some());
        }
        let token_ttl = r.whole_seconds(
            "STUDIO_TOKEN_TTL_SECONDS",
            Duration::from_secs(86_400),
            60..=31_536_000,
            "set STUDIO_TOKEN_TTL_SECONDS to e.g. 86400 (one day)",
        );
        check_admin_token(r, server.admin_token.as_ref());
        Self {
            mode,
            mode_explicit: explicit.is_some(),
            token_secret,
            token_ttl,
        }
    }
}

/// A token secret must be long enough, and token access needs one.
fn check_token_secret(r: &mut Reader<'_>, mode: AccessMode, secret: Option<&Secret>) {
    if let Some(secret) = secret
        && secret.expose().len() < MIN_TOKEN_SECRET_BYTES
    {
        // Never echo the value: a too-short secret is still a secret.
        r.problem(
            "STUDIO_TOKEN_SECRET",
            format!(
                "is {} bytes; at least {MIN_TOKEN_SECRET_BYTES} are needed",
                secret.expose().len()
            ),
            format!("{MAKE_A_SECRET}, e.g. the output of `openssl rand -hex 32`"),
        );
    }
    if mode == AccessMode::Token && secret.is_none() {
        r.problem(
            "STUDIO_TOKEN_SECRET",
            "not set, but STUDIO_ACCESS=token signs and checks links with it",
            format!(
                "{MAKE_A_SECRET}, e.g. the output of `openssl rand -hex 32` (every host of a cluster uses the same)"
            ),
        );
    }
}

/// Open access is refused in production, and off loopback unless asked for by name.
fn refuse_exposed_open_access(r: &mut Reader<'_>, server: &ServerConfig, explicit: bool) {
    if server.node_env == NodeEnv::Production {
        r.problem(
            "STUDIO_ACCESS",
            "open access (anyone who reaches the port can join, speak and end any episode) is refused with NODE_ENV=production",
            format!(
                "{MAKE_A_SECRET} (token access), or NODE_ENV=development on a trusted machine"
            ),
        );
    } else if !server.host.is_loopback() && !explicit {
        r.problem(
            "HOST",
            format!(
                "`{}` is not loopback, and without STUDIO_TOKEN_SECRET anyone who reaches it could join, speak and end any episode",
                server.host
            ),
            format!(
                "{MAKE_A_SECRET} (token access), or STUDIO_ACCESS=open on a trusted network, or HOST=127.0.0.1"
            ),
        );
    }
}

/// `STUDIO_ADMIN_TOKEN` must be long enough to resist guessing.
fn check_admin_token(r: &mut Reader<'_>, token: Option<&Secret>) {
    let Some(token) = token else {
        return;
    };
    let chars = token.expose().chars().count();
    if chars < MIN_ADMIN_TOKEN_CHARS {
        // Never echo the value: a too-short token is still a secret.
        r.problem(
            "STUDIO_ADMIN_TOKEN",
            format!(
                "the token has {chars} characters; at least {MIN_ADMIN_TOKEN_CHARS} are required"
            ),
            "set STUDIO_ADMIN_TOKEN to a long random value, e.g. `openssl rand -hex 32`",
        );
    }
}
