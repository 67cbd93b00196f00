//! Who may join, speak and act: signed, expiring access tokens (JWT, HS256) with a role and an
//! episode, verified with the server's `STUDIO_TOKEN_SECRET` so any host of a future cluster
//! that shares the secret accepts the same links.
//!
//! A token's claims: `role` (`host` | `viewer` | `admin`), `ep` (its episode; absent for admin),
//! `exp` and `iat` (unix seconds), `iss` (`voice-studio`) and `jti` (random, so two links minted
//! in the same second differ). See `docs/SECURITY.md`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::AccessConfig;
pub use crate::config::AccessMode;

/// The `iss` claim of every token this server mints and accepts.
pub const ISSUER: &str = "voice-studio";
/// Clock skew tolerated on `exp` between hosts of a cluster.
pub const LEEWAY_SECONDS: u64 = 5;
/// Longest token accepted; a longer string is refused before any parsing.
pub const MAX_TOKEN_CHARS: usize = 4096;
/// Bytes of the random per-process key used when no `STUDIO_TOKEN_SECRET` is set.
const RANDOM_KEY_BYTES: usize = 32;

/// What a token lets its holder do in its episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Microphone, autopilot, thinking mode, ending the episode.
    Host,
    /// Sees and hears; cannot act.
    Viewer,
    /// The admin scope: settings and episode creation; acts as a host in any episode.
    Admin,
}

impl Role {
    /// The claim's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Viewer => "viewer",
            Self::Admin => "admin",
        }
    }

    /// Whether this role may act (microphone, autopilot, end the episode), not only watch.
    pub fn may_act(self) -> bool {
        !matches!(self, Self::Viewer)
    }
}

/// What a verified token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The holder's role.
    pub role: Role,
    /// The episode the grant is for; `None` for admin (every episode) and for open access.
    pub episode_id: Option<String>,
    /// When the token expires (unix seconds); `u64::MAX` for open access without a token.
    pub expires_at: u64,
}

impl Grant {
    /// Open access without a token: a host of any episode.
    pub fn open_host() -> Self {
        Self {
            role: Role::Host,
            episode_id: None,
            expires_at: u64::MAX,
        }
    }

    /// The episode a `hello` asking for `requested` joins under this grant: the token's episode
    /// when none is asked for, the asked one when the grant allows it.
    pub fn episode_for<'a>(
        &'a self,
        requested: Option<&'a str>,
    ) -> Result<Option<&'a str>, AccessError> {
        match (self.episode_id.as_deref(), requested) {
            (Some(own), None) => Ok(Some(own)),
            (Some(own), Some(asked)) if own == asked => Ok(Some(own)),
            (Some(_), Some(_)) => Err(AccessError::WrongEpisode),
            (None, asked) => Ok(asked),
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// No token was presented where one is required.
    #[error(
        "this server needs an access token: open the host or viewer link the producer sent you (or ask them for one)"
    )]
    Missing,
    /// The token is malformed, not signed by this server's secret, or not ours.
    #[error(
        "the access token is not valid on this server: ask the producer for a new host or viewer link"
    )]
    Invalid,
    /// The token's lifetime has passed.
    #[error("this link has expired: ask the producer for a new host or viewer link")]
    Expired,
    /// The token is for another episode than the one asked for.
    #[error(
        "this link is for another episode: say hello without episodeId to join the link's episode"
    )]
    WrongEpisode,
}

/// The claims of a token, as signed.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ep: Option<String>,
    exp: u64,
    iat: u64,
    iss: String,
    jti: String,
}

/// The access model of a running server: its mode and its signing key.
pub struct Access {
    mode: AccessMode,
    key: Vec<u8>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    token_ttl: Duration,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("mode", &self.mode)
            .field("key", &"***")
            .field("token_ttl", &self.token_ttl)
            .finish()
    }
}

impl Access {
    /// The access model `config` describes; without `STUDIO_TOKEN_SECRET` a random key of this
    /// process signs (links and download URLs then work until the server restarts).
    pub fn from_config(config: &AccessConfig) -> Self {
        let key = match &config.token_secret {
            Some(secret) => secret.expose().as_bytes().to_vec(),
            None => random_key(),
        };
        Self::with_key(config.mode, key, config.token_ttl)
    }

    /// An access model with an explicit key (tests, tools).
    pub fn with_key(mode: AccessMode, key: Vec<u8>, token_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.validate_exp = true;
        Self {
            mode,
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            key,
            validation,
            token_ttl,
        }
    }

    /// Open or token access.
    pub fn mode(&self) -> AccessMode {
        self.mode
    }

    /// The lifetime of minted host and viewer tokens (`STUDIO_TOKEN_TTL_SECONDS`).
    pub fn token_ttl(&self) -> Duration {
        self.token_ttl
    }

    /// Checks `token`'s signature, issuer and expiry and returns what it grants.
    pub fn verify(&self, token: &str) -> Result<Grant, AccessError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AccessError::Missing);
        }
        if token.len() > MAX_TOKEN_CHARS {
            return Err(AccessError::Invalid);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AccessError::Expired,
                _ => AccessError::Invalid,
            })?;
        let claims = data.claims;
        // A host or viewer token without an episode would be a key to every studio.
        if claims.role != Role::Admin
            && !claims
                .ep
                .as_deref()
                .is_some_and(crate::session::is_valid_episode_id)
        {
            return Err(AccessError::Invalid);
        }
        Ok(Grant {
            role: claims.role,
            episode_id: if claims.role == Role::Admin {
                None
            } else {
                claims.ep
            },
            expires_at: claims.exp,
        })
    }

    /// What a client presenting `token` (or none) may do: in open mode a host unless it shows a
    /// valid token (a bad one is ignored there); in token mode only what a valid token grants.
    pub fn admit(&self, token: Option<&str>) -> Result<Grant, AccessError> {
        let presented = token.map(str::trim).filter(|t| !t.is_empty());
        match (self.mode, presented) {
            (AccessMode::Open, None) => Ok(Grant::open_host()),
            (AccessMode::Open, Some(token)) => Ok(self.verify(token).unwrap_or_else(|e| {
                tracing::debug!(error = %e, "open access: ignoring a token that does not verify");
                Grant::open_host()
            })),
            (AccessMode::Token, None) => Err(AccessError::Missing),
            (AccessMode::Token, Some(token)) => self.verify(token),
        }
    }

    /// A signed token for `role` in `episode_id` (none for admin), valid for `ttl`.
    pub fn mint(&self, role: Role, episode_id: Option<&str>, ttl: Duration) -> String {
        let iat = unix_now();
        let claims = Claims {
            role,
            ep: episode_id.map(str::to_owned),
            exp: iat.saturating_add(ttl.as_secs()),
            iat,
            iss: ISSUER.to_owned(),
            jti: random_id(16),
        };
        // Serializing these plain claims and an HMAC signature cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The server's signing key, for other HMAC-SHA256 signatures (signed download URLs).
    pub fn signing_key(&self) -> &[u8] {
        &self.key
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `bytes` random bytes as lowercase base32 (RFC 4648 alphabet, no padding): unguessable ids.
pub fn random_id(bytes: usize) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut raw = vec![0u8; bytes];
    fill_random(&mut raw);
    let mut out = String::with_capacity(bytes * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in raw {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn random_key() -> Vec<u8> {
    let mut key = vec![0u8; RANDOM_KEY_BYTES];
    fill_random(&mut key);
    key
}

fn fill_random(buf: &mut [u8]) {
    // The operating system's generator; without it no token could be trusted, so stop.
    getrandom::fill(buf).expect("the operating system's random generator is unavailable");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(mode: AccessMode) -> Access {
        Access::with_key(mode, vec![7; 32], Duration::from_secs(600))
    }

    #[test]
    fn a_minted_token_verifies_with_its_role_and_episode() {
        let a = access(AccessMode::Token);
        let t = a.mint(Role::Viewer, Some("ep-x"), Duration::from_secs(60));
        let grant = a.verify(&t).expect("verifies");
        assert_eq!(grant.role, Role::Viewer);
        assert_eq!(grant.episode_id.as_deref(), Some("ep-x"));
        assert!(grant.expires_at >= unix_now() + 59);
    }

    #[test]
    fn a_token_signed_with_another_key_is_invalid() {
        let theirs = Access::with_key(AccessMode::Token, vec![8; 32], Duration::from_secs(60));
        let t = theirs.mint(Role::Host, Some("ep-x"), Duration::from_secs(60));
        assert_eq!(
            access(AccessMode::Token).verify(&t),
            Err(AccessError::Invalid)
        );
    }

    #[test]
    fn an_expired_token_is_expired_not_invalid() {
        let a = access(AccessMode::Token);
        let claims = Claims {
            role: Role::Host,
            ep: Some("ep-x".into()),
            exp: unix_now() - 60,
            iat: unix_now() - 120,
            iss: ISSUER.into(),
            jti: random_id(16),
        };
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &a.encoding)
            .expect("encodes");
        assert_eq!(a.verify(&t), Err(AccessError::Expired));
    }

    #[test]
    fn unsigned_and_foreign_issuer_tokens_are_invalid() {
        let a = access(AccessMode::Token);
        let t = a.mint(Role::Host, Some("ep-x"), Duration::from_secs(60));
        let mut parts: Vec<&str> = t.split('.').collect();
        // alg "none" with the same claims and no signature.
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        parts[0] = none_header;
        parts[2] = "";
        assert_eq!(a.verify(&parts.join(".")), Err(AccessError::Invalid));
        assert_eq!(a.verify("not a token"), Err(AccessError::Invalid));
        assert_eq!(a.verify(""), Err(AccessError::Missing));
        let foreign = Claims {
            role: Role::Host,
            ep: Some("ep-x".into()),
            exp: unix_now() + 60,
            iat: unix_now(),
            iss: "someone-else".into(),
            jti: random_id(16),
        };
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &foreign, &a.encoding)
            .expect("encodes");
        assert_eq!(a.verify(&t), Err(AccessError::Invalid));
        // A host token without an episode would open every studio.
        let t = a.mint(Role::Host, None, Duration::from_secs(60));
        assert_eq!(a.verify(&t), Err(AccessError::Invalid));
    }

    #[test]
    fn a_host_token_binds_hello_to_its_episode() {
        let a = access(AccessMode::Token);
        let grant = a
            .verify(&a.mint(Role::Host, Some("ep-x"), Duration::from_secs(60)))
            .expect("verifies");
        assert_eq!(grant.episode_for(None), Ok(Some("ep-x")));
        assert_eq!(grant.episode_for(Some("ep-x")), Ok(Some("ep-x")));
        assert_eq!(
            grant.episode_for(Some("ep-y")),
            Err(AccessError::WrongEpisode)
        );
    }

    #[test]
    fn open_access_admits_everyone_as_host_unless_a_viewer_token_says_otherwise() {
        let a = access(AccessMode::Open);
        assert_eq!(a.admit(None).map(|g| g.role), Ok(Role::Host));
        assert_eq!(a.admit(Some("garbage")).map(|g| g.role), Ok(Role::Host));
        let viewer = a.mint(Role::Viewer, Some("ep-x"), Duration::from_secs(60));
        assert_eq!(a.admit(Some(&viewer)).map(|g| g.role), Ok(Role::Viewer));
        let t = access(AccessMode::Token);
        assert_eq!(t.admit(None), Err(AccessError::Missing));
    }

    #[test]
    fn random_ids_are_long_and_differ() {
        let a = random_id(16);
        assert_eq!(a.len(), 26);
        assert_ne!(a, random_id(16));
        assert!(crate::session::is_valid_episode_id(&format!("ep-{a}")));
    }
}
