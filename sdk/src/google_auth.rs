//! Google service-account auth for Google Cloud adapters (Speech-to-Text, Text-to-Speech).
//!
//! The plugin declares `GOOGLE_APPLICATION_CREDENTIALS` under `secret_files` in `plugins.toml`:
//! the host reads the file the variable names and [`config::secret`] returns its contents (the
//! service-account JSON). A [`TokenSource`] turns that into OAuth2 access tokens the way Google's
//! own client libraries do: a JWT signed with the account's key (RS256) exchanged at the
//! account's `token_uri` (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`). Tokens are
//! cached in the plugin instance until a minute before they expire.
//!
//! No error message or log line here ever carries the key or a token.

use std::sync::{Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha2::Sha256;

use crate::http::{self, Method, Request};
use crate::{PluginError, clock, config};

/// The secret holding the service-account JSON (its file path outside, its contents inside).
pub const CREDENTIALS_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// The scope every Google Cloud API accepts.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// How long a signed assertion is valid (Google's maximum).
const ASSERTION_LIFETIME_S: u64 = 3600;

/// A token is renewed this long before it expires, so a request never carries a stale one.
const RENEW_BEFORE_MS: u64 = 60_000;

/// The grant type of a JWT bearer assertion (RFC 7523).
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A Google service account: who signs, with which key, and where tokens come from.
pub struct ServiceAccount {
    client_email: String,
    token_uri: String,
    private_key_id: Option<String>,
    key: SigningKey<Sha256>,
}

impl std::fmt::Debug for ServiceAccount {
    // The key stays out of every debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .field("private_key_id", &self.private_key_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Parses a service-account JSON (`client_email`, `private_key` as PEM PKCS#8 or PKCS#1,
    /// `token_uri`, optional `private_key_id`). Anything wrong is a `config` error naming
    /// [`CREDENTIALS_VAR`]; the message never includes the key.
    pub fn from_json(text: &str) -> Result<Self, PluginError> {
        let bad = |why: &str| {
            PluginError::Config(format!(
                "{CREDENTIALS_VAR} does not hold a usable Google service-account key: {why}"
            ))
        };
        // serde's message may quote the input, which could be key material: keep only its position.
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            bad(&format!(
                "not JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let field = |name: &str| {
            json.get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        if let Some(kind) = field("type")
            && kind != "service_account"
        {
            return Err(bad(&format!(
                "its type is `{kind}`, a `service_account` key is needed"
            )));
        }
        let client_email = field("client_email").ok_or_else(|| bad("no `client_email`"))?;
        let token_uri = field("token_uri").ok_or_else(|| bad("no `token_uri`"))?;
        let pem = field("private_key").ok_or_else(|| bad("no `private_key`"))?;
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| bad("`private_key` is not an RSA private key in PEM"))?;
        Ok(Self {
            client_email: client_email.to_owned(),
            token_uri: token_uri.to_owned(),
            private_key_id: field("private_key_id").map(str::to_owned),
            key: SigningKey::<Sha256>::new(key),
        })
    }

    /// Reads and parses the [`CREDENTIALS_VAR`] secret; unset is a `config` error naming it.
    pub fn from_secret() -> Result<Self, PluginError> {
        Self::from_json(&config::require_secret(CREDENTIALS_VAR)?)
    }

    /// The account's e-mail (the JWT issuer).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// Where tokens are issued.
    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// The signed assertion for `scope`, issued at `now_s` (Unix seconds) and valid for an hour:
    /// `base64url(header).base64url(claims).base64url(RS256 signature)`.
    pub fn assertion(&self, scope: &str, now_s: u64) -> String {
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.private_key_id {
            header["kid"] = serde_json::Value::String(kid.clone());
        }
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": scope,
            "aud": self.token_uri,
            "iat": now_s,
            "exp": now_s + ASSERTION_LIFETIME_S,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        // PKCS#1 v1.5 signatures are deterministic: no randomness needed inside the sandbox.
        let signature = self.key.sign(signing_input.as_bytes()).to_bytes();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The form body that trades the assertion for an access token.
    pub fn token_request_body(&self, scope: &str, now_s: u64) -> String {
        format!(
            "grant_type={}&assertion={}",
            form_encode(JWT_BEARER_GRANT),
            form_encode(&self.assertion(scope, now_s))
        )
    }
}

/// An access token and when it stops working.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The bearer token.
    pub token: String,
    /// Wall-clock ms at which it expires.
    pub expires_at_ms: u64,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

impl AccessToken {
    /// Whether it is still good at `now_ms` with a minute to spare.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms + RENEW_BEFORE_MS < self.expires_at_ms
    }
}

/// Access tokens for one account and scope, fetched when needed and cached until shortly before
/// they expire.
#[derive(Debug)]
pub struct TokenSource {
    account: ServiceAccount,
    scope: String,
    timeout_ms: u32,
    cached: Option<AccessToken>,
}

impl TokenSource {
    /// Tokens for `account` with `scope`; each token request may take `timeout_ms`.
    pub fn new(account: ServiceAccount, scope: &str, timeout_ms: u32) -> Self {
        Self {
            account,
            scope: scope.to_owned(),
            timeout_ms,
            cached: None,
        }
    }

    /// The account the tokens are for.
    pub fn account(&self) -> &ServiceAccount {
        &self.account
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    /// Endpoint refusals are `auth` errors naming [`CREDENTIALS_VAR`]; 429 and 5xx keep their
    /// usual meaning, so the caller's retry policy applies to them.
    pub fn token(&mut self) -> Result<String, PluginError> {
        let now_ms = clock::wall_ms();
        if let Some(cached) = &self.cached
            && cached.is_fresh(now_ms)
        {
            return Ok(cached.token.clone());
        }
        let body = self.account.token_request_body(&self.scope, now_ms / 1000);
        let request = Request::new(Method::Post, self.account.token_uri.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body.into_bytes())
            .timeout_ms(self.timeout_ms);
        let response = http::send(&request)?;
        let status = response.status();
        let headers = response.headers();
        let body = http::read_to_end(&response, 64 * 1024)?;
        if !(200..300).contains(&status) {
            return Err(token_error(status, &headers, &body));
        }
        let token = parse_token_response(&body, now_ms)?;
        self.cached = Some(token.clone());
        Ok(token.token)
    }

    /// `Bearer <token>`, for the `authorization` header.
    pub fn authorization(&mut self) -> Result<String, PluginError> {
        Ok(format!("Bearer {}", self.token()?))
    }

    /// Forgets the cached token (after the API answered 401, for example).
    pub fn invalidate(&mut self) {
        self.cached = None;
    }
}

/// The instance-wide token cache behind [`authorization`]: the credentials it was made from
/// (a hash, not the key), and the source.
static SHARED: Mutex<Option<(Vec<u8>, String, TokenSource)>> = Mutex::new(None);

/// `Bearer <token>` for the account in the [`CREDENTIALS_VAR`] secret, from a cache shared by
/// every call of this plugin instance. New credentials (changed at run time) start a new cache.
pub fn authorization(scope: &str, timeout_ms: u32) -> Result<String, PluginError> {
    use sha2::Digest;
    let text = config::require_secret(CREDENTIALS_VAR)?;
    let fingerprint = Sha256::digest(text.as_bytes()).to_vec();
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    let reuse = matches!(&*shared, Some((f, s, _)) if *f == fingerprint && s == scope);
    if !reuse {
        let source = TokenSource::new(ServiceAccount::from_json(&text)?, scope, timeout_ms);
        *shared = Some((fingerprint, scope.to_owned(), source));
    }
    match &mut *shared {
        Some((_, _, source)) => source.authorization(),
        None => Err(PluginError::Internal("token cache is empty".into())),
    }
}

/// Drops the shared cached token, so the next [`authorization`] fetches a new one (call it when
/// the API refuses a token with 401).
pub fn invalidate() {
    if let Some((_, _, source)) = &mut *SHARED.lock().unwrap_or_else(PoisonError::into_inner) {
        source.invalidate();
    }
}

/// Reads the token endpoint's `{"access_token","expires_in","token_type"}` answer received at
/// `now_ms`. A missing token or a token type other than Bearer is a `protocol` error.
pub fn parse_token_response(body: &[u8], now_ms: u64) -> Result<AccessToken, PluginError> {
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        PluginError::Protocol("the Google token endpoint did not answer with JSON".into())
    })?;
    let token = json
        .get("access_token")
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            PluginError::Protocol(
                "the Google token endpoint answered without an access_token".into(),
            )
        })?;
    if let Some(kind) = json.get("token_type").and_then(serde_json::Value::as_str)
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(PluginError::Protocol(format!(
            "the Google token endpoint issued a `{kind}` token, not a Bearer token"
        )));
    }
    // Google issues hour-long tokens; without a lifetime, assume the shortest sensible one.
    let expires_in_s = json
        .get("expires_in")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(300);
    Ok(AccessToken {
        token: token.to_owned(),
        expires_at_ms: now_ms + expires_in_s * 1000,
    })
}

/// The error for a failed token request: a refused grant (400 `invalid_grant`, `invalid_client`,
/// `unauthorized_client`, or 401/403) is `auth` naming [`CREDENTIALS_VAR`]; the rest as
/// [`http::status_error`].
pub fn token_error(status: u16, headers: &[(String, String)], body: &[u8]) -> PluginError {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = json
        .get("error")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let description = json
        .get("error_description")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let refused = matches!(status, 401 | 403)
        || (status == 400
            && matches!(
                code,
                "invalid_grant" | "invalid_client" | "unauthorized_client"
            ));
    if refused {
        let detail: String = format!("{code} {description}")
            .trim()
            .chars()
            .take(200)
            .collect();
        return PluginError::Auth(format!(
            "Google refused the service account in {CREDENTIALS_VAR} (HTTP {status}): {detail}"
        ));
    }
    match http::status_error(status, headers, body) {
        PluginError::Config(message) => {
            PluginError::Config(format!("the Google token endpoint failed: {message}"))
        }
        PluginError::Unavailable(message) => {
            PluginError::Unavailable(format!("the Google token endpoint failed: {message}"))
        }
        other => other,
    }
}

/// `application/x-www-form-urlencoded` escaping of one value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'*') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    use rsa::signature::Verifier;
    use std::sync::OnceLock;

    /// One test key per run (keygen is slow), never committed.
    fn test_key() -> &'static RsaPrivateKey {
        static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
        KEY.get_or_init(|| {
            RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("generate a test key")
        })
    }

    fn credentials(kid: Option<&str>) -> String {
        let pem = test_key()
            .to_pkcs8_pem(LineEnding::LF)
            .expect("encode key")
            .to_string();
        let mut json = serde_json::json!({
            "type": "service_account",
            "project_id": "test",
            "client_email": "studio@test.iam.gserviceaccount.com",
            "private_key": pem,
            "token_uri": "http://127.0.0.1:9/token",
        });
        if let Some(kid) = kid {
            json["private_key_id"] = kid.into();
        }
        json.to_string()
    }

    fn decode_json(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
    }

    #[test]
    fn the_assertion_carries_the_claims_google_checks() {
        let account = ServiceAccount::from_json(&credentials(Some("k1"))).expect("parse");
        let jwt = account.assertion(CLOUD_PLATFORM_SCOPE, 1_700_000_000);
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            decode_json(parts[0]),
            serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "k1"})
        );
        assert_eq!(
            decode_json(parts[1]),
            serde_json::json!({
                "iss": "studio@test.iam.gserviceaccount.com",
                "scope": CLOUD_PLATFORM_SCOPE,
                "aud": "http://127.0.0.1:9/token",
                "iat": 1_700_000_000u64,
                "exp": 1_700_003_600u64,
            })
        );
        assert!(!jwt.contains('='), "base64url without padding");
    }

    #[test]
    fn the_signature_verifies_with_the_public_key_and_is_deterministic() {
        let account = ServiceAccount::from_json(&credentials(None)).expect("parse");
        let jwt = account.assertion("scope-a", 42);
        assert_eq!(jwt, account.assertion("scope-a", 42));
        let (signed, signature) = jwt.rsplit_once('.').expect("three parts");
        let signature = Signature::try_from(
            URL_SAFE_NO_PAD
                .decode(signature)
                .expect("base64url")
                .as_slice(),
        )
        .expect("signature bytes");
        let verifier = VerifyingKey::<Sha256>::new(test_key().to_public_key());
        verifier
            .verify(signed.as_bytes(), &signature)
            .expect("RS256 signature verifies");
        assert!(verifier.verify(b"tampered", &signature).is_err());
        assert!(
            decode_json(jwt.split('.').next().unwrap_or(""))
                .get("kid")
                .is_none()
        );
    }

    #[test]
    fn the_token_request_is_a_form_with_the_jwt_bearer_grant() {
        let account = ServiceAccount::from_json(&credentials(None)).expect("parse");
        let body = account.token_request_body("s", 7);
        let (grant, assertion) = body.split_once('&').expect("two fields");
        assert_eq!(
            grant,
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
        );
        assert_eq!(
            assertion,
            format!("assertion={}", account.assertion("s", 7))
        );
    }

    #[test]
    fn bad_credentials_are_config_errors_without_the_key() {
        let pem_marker = "MIIEvQ-secret-bits";
        let cases = [
            "not json".to_owned(),
            format!("{{\"private_key\": \"{pem_marker}\""),
            serde_json::json!({"client_email": "a@b", "token_uri": "http://t", "private_key": pem_marker}).to_string(),
            serde_json::json!({"client_email": "a@b", "private_key": "x"}).to_string(),
            serde_json::json!({"type": "authorized_user", "client_email": "a@b"}).to_string(),
        ];
        for case in cases {
            match ServiceAccount::from_json(&case) {
                Err(PluginError::Config(message)) => {
                    assert!(message.contains(CREDENTIALS_VAR), "{message}");
                    assert!(!message.contains(pem_marker), "{message}");
                }
                other => panic!("expected config for {case}, got {other:?}"),
            }
        }
    }

    #[test]
    fn pkcs1_keys_are_accepted_too() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let pem = test_key().to_pkcs1_pem(LineEnding::LF).expect("pkcs1");
        let json = serde_json::json!({
            "client_email": "a@b", "token_uri": "http://t", "private_key": pem.to_string()
        });
        assert!(ServiceAccount::from_json(&json.to_string()).is_ok());
    }

    #[test]
    fn token_answers_parse_and_expire_a_minute_early() {
        let token = parse_token_response(
            br#"{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}"#,
            1_000,
        )
        .expect("parse");
        assert_eq!(token.token, "ya29.x");
        assert_eq!(token.expires_at_ms, 1_000 + 3_599_000);
        assert!(token.is_fresh(1_000 + 3_599_000 - 61_000));
        assert!(!token.is_fresh(1_000 + 3_599_000 - 59_000));
        assert!(!format!("{token:?}").contains("ya29"));
        assert!(matches!(
            parse_token_response(b"{}", 0),
            Err(PluginError::Protocol(_))
        ));
        assert!(matches!(
            parse_token_response(b"<html>", 0),
            Err(PluginError::Protocol(_))
        ));
        assert!(matches!(
            parse_token_response(br#"{"access_token":"a","token_type":"MAC"}"#, 0),
            Err(PluginError::Protocol(_))
        ));
    }

    #[test]
    fn refused_grants_are_auth_errors_naming_the_variable() {
        let body = br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#;
        for status in [400, 401] {
            match token_error(status, &[], body) {
                PluginError::Auth(message) => {
                    assert!(message.contains(CREDENTIALS_VAR), "{message}");
                    assert!(message.contains("Invalid JWT Signature"), "{message}");
                }
                other => panic!("expected auth, got {other:?}"),
            }
        }
        assert!(matches!(
            token_error(400, &[], br#"{"error":"unsupported_grant_type"}"#),
            PluginError::Config(_)
        ));
        assert!(matches!(
            token_error(503, &[], b""),
            PluginError::Unavailable(_)
        ));
        assert!(matches!(
            token_error(429, &[("retry-after".into(), "1".into())], b""),
            PluginError::RateLimited(_)
        ));
    }
}
