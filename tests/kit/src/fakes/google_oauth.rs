//! A fake Google OAuth2 token endpoint for service accounts, and the test service account to use
//! with it.
//!
//! [`start`] generates an RSA key at run time (no key is ever committed), serves `POST /token`
//! the way `https://oauth2.googleapis.com/token` does for the JWT bearer grant, and VERIFIES each
//! assertion: the RS256 signature against the test key's public half, `iss` (the account's
//! e-mail), `aud` (this endpoint's URL), `scope`, and `iat`/`exp` (at most an hour, not expired).
//! A bad assertion gets Google's `400 {"error":"invalid_grant","error_description":...}`; a good
//! one gets `{"access_token","expires_in","token_type":"Bearer"}` with a fresh token that
//! [`FakeGoogleOAuth::issued`] lists, so a provider fake's test can check the adapter used it.
//! [`FakeGoogleOAuth::write_credentials`] writes the credentials JSON whose `token_uri` points here.
//!
//! Faults ([`Fault`] queue): `Unauthorized` is the 400 `invalid_grant` of a revoked key, the
//! others as for every fake (429, 500, 503, a cut body, a non-JSON body, a slow first byte).

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::signature::Verifier;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::json;
use sha2::Sha256;

use crate::fakes::{
    Control, FakeServer, Fault, Recorded, cut_off, json_error, serve, with_retry_after,
};

/// The service account's e-mail in the generated credentials.
pub const CLIENT_EMAIL: &str = "voice-studio-test@fake-project.iam.gserviceaccount.com";

/// The key id in the generated credentials (sent as the JWT's `kid`).
pub const PRIVATE_KEY_ID: &str = "fake-key-1";

/// The scope the fake expects unless told otherwise.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The test key, generated once per test process (2048-bit RSA takes a moment).
pub fn test_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("generate the test RSA key")
    })
}

/// A running fake token endpoint.
#[derive(Debug)]
pub struct FakeGoogleOAuth {
    server: FakeServer,
    state: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    control: Control,
    public_key: RsaPublicKey,
    token_uri: OnceLock<String>,
    scope: Mutex<String>,
    expires_in_s: AtomicU64,
    issued: Mutex<Vec<String>>,
}

/// Starts the fake with a freshly generated (per process) test key.
pub async fn start() -> FakeGoogleOAuth {
    let control = Control::default();
    let state = Arc::new(Shared {
        control: control.clone(),
        public_key: test_key().to_public_key(),
        token_uri: OnceLock::new(),
        scope: Mutex::new(CLOUD_PLATFORM_SCOPE.to_owned()),
        expires_in_s: AtomicU64::new(3599),
        issued: Mutex::new(Vec::new()),
    });
    let router = Router::new().fallback(token).with_state(state.clone());
    let server = serve(router, control).await;
    let _ = state.token_uri.set(format!("{}/token", server.base_url()));
    FakeGoogleOAuth { server, state }
}

impl FakeGoogleOAuth {
    /// `http://127.0.0.1:PORT/token`, the credentials' `token_uri` and the JWT's expected `aud`.
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.server.base_url())
    }

    /// The service-account JSON (as Google's console downloads it) for the test key, pointing here.
    pub fn credentials_json(&self) -> String {
        let pem = test_key()
            .to_pkcs8_pem(LineEnding::LF)
            .expect("encode the test key")
            .to_string();
        json!({
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": PRIVATE_KEY_ID,
            "private_key": pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri(),
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        })
        .to_string()
    }

    /// Writes [`FakeGoogleOAuth::credentials_json`] to `dir/service-account.json` and returns its path
    /// (what GOOGLE_APPLICATION_CREDENTIALS names).
    pub fn write_credentials(&self, dir: &Path) -> PathBuf {
        let path = dir.join("service-account.json");
        std::fs::write(&path, self.credentials_json()).expect("write the credentials JSON");
        path
    }

    /// Writes credentials for the same account but with ANOTHER key (generated now) to
    /// `dir/foreign-service-account.json`: the fake must refuse its signatures.
    pub fn write_foreign_credentials(&self, dir: &Path) -> PathBuf {
        let foreign =
            RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("generate a foreign key");
        let pem = foreign
            .to_pkcs8_pem(LineEnding::LF)
            .expect("encode the foreign key")
            .to_string();
        let mut credentials: serde_json::Value =
            serde_json::from_str(&self.credentials_json()).expect("our own JSON");
        credentials["private_key"] = pem.into();
        let path = dir.join("foreign-service-account.json");
        std::fs::write(&path, credentials.to_string()).expect("write the credentials JSON");
        path
    }

    /// The scope assertions must ask for (default: cloud-platform).
    pub fn expect_scope(&self, scope: &str) {
        *self
            .state
            .scope
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = scope.to_owned();
    }

    /// The `expires_in` of issued tokens, in seconds (default 3599).
    pub fn set_expires_in(&self, seconds: u64) {
        self.state.expires_in_s.store(seconds, Ordering::SeqCst);
    }

    /// Every access token issued so far, oldest first.
    pub fn issued(&self) -> Vec<String> {
        self.state
            .issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether `authorization` is `Bearer <a token this fake issued>`.
    pub fn is_issued_bearer(&self, authorization: &str) -> bool {
        authorization
            .strip_prefix("Bearer ")
            .is_some_and(|token| self.issued().iter().any(|t| t == token))
    }
}

impl Deref for FakeGoogleOAuth {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Google's answer to a grant it refuses.
fn invalid_grant(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        json!({"error": "invalid_grant", "error_description": description}).to_string(),
    )
        .into_response()
}

fn form_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks one assertion; `Err` is the `error_description` Google would give.
fn verify(state: &Shared, assertion: &str) -> Result<(), String> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header_b64, claims_b64, signature_b64] = parts[..] else {
        return Err(
            "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe".into(),
        );
    };
    let decode_json = |part: &str| -> Result<serde_json::Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| "Invalid JWT: not base64url".to_owned())?;
        serde_json::from_slice(&bytes).map_err(|_| "Invalid JWT: not JSON".to_owned())
    };
    let header = decode_json(header_b64)?;
    if header["alg"] != "RS256" {
        return Err(format!("Invalid JWT: alg {} is not RS256", header["alg"]));
    }
    if header.get("kid").is_some_and(|kid| kid != PRIVATE_KEY_ID) {
        return Err("Invalid JWT: unknown kid".into());
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| "Invalid JWT Signature.".to_owned())?;
    let signature = Signature::try_from(signature.as_slice())
        .map_err(|_| "Invalid JWT Signature.".to_owned())?;
    VerifyingKey::<Sha256>::new(state.public_key.clone())
        .verify(format!("{header_b64}.{claims_b64}").as_bytes(), &signature)
        .map_err(|_| "Invalid JWT Signature.".to_owned())?;
    let claims = decode_json(claims_b64)?;
    if claims["iss"] != CLIENT_EMAIL {
        return Err(format!(
            "Invalid JWT: iss {} is not the account",
            claims["iss"]
        ));
    }
    let aud = state.token_uri.get().cloned().unwrap_or_default();
    if claims["aud"] != aud.as_str() {
        return Err(format!("Invalid JWT: aud {} is not {aud}", claims["aud"]));
    }
    let scope = state
        .scope
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let scopes = claims["scope"].as_str().unwrap_or("");
    if !scopes.split(' ').any(|s| s == scope) {
        return Err(format!("Invalid JWT: scope `{scopes}` lacks {scope}"));
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_u64(), claims["exp"].as_u64()) else {
        return Err("Invalid JWT: iat and exp must be numbers".into());
    };
    let now = now_s();
    if exp <= now || iat > now + 60 || exp <= iat || exp - iat > 3600 {
        return Err(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
                .into(),
        );
    }
    Ok(())
}

async fn token(State(state): State<Arc<Shared>>, recorded: Recorded) -> Response {
    state.control.record(recorded.clone());

    match state.control.next_fault() {
        Some(Fault::Unauthorized) => {
            return invalid_grant("Invalid JWT Signature.");
        }
        Some(Fault::RateLimited { retry_after_s }) => {
            let body =
                json!({"error": "rate_limit_exceeded", "error_description": "Too many requests"});
            return with_retry_after(json_error(429, &body), Some(retry_after_s));
        }
        Some(Fault::ServerError) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "internal_failure", "error_description": "Backend Error"})
                    .to_string(),
            )
                .into_response();
        }
        Some(Fault::Overloaded) => {
            return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
        }
        Some(Fault::DropMidStream) => return cut_off(b"{\"access_token\":\"ya29."),
        Some(Fault::Malformed) => {
            return (
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Login</body></html>",
            )
                .into_response();
        }
        Some(Fault::SlowFirstByte { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        None => {}
    }

    if recorded.method != "POST" || recorded.path != "/token" {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    let form_type = recorded.header("content-type").unwrap_or("");
    if !form_type.starts_with("application/x-www-form-urlencoded") {
        return (
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "Bad Request"}).to_string(),
        )
            .into_response();
    }
    let text = String::from_utf8_lossy(&recorded.body);
    let field = |name: &str| {
        text.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| form_decode(v))
    };
    if field("grant_type").as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return (
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
                .to_string(),
        )
            .into_response();
    }
    let Some(assertion) = field("assertion") else {
        return invalid_grant("Missing required parameter: assertion");
    };
    if let Err(description) = verify(&state, &assertion) {
        return invalid_grant(&description);
    }
    let token = {
        let mut issued = state.issued.lock().unwrap_or_else(PoisonError::into_inner);
        let token = format!("ya29.fake-token-{}-{}", issued.len() + 1, now_s());
        issued.push(token.clone());
        token
    };
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        json!({
            "access_token": token,
            "expires_in": state.expires_in_s.load(Ordering::SeqCst),
            "token_type": "Bearer",
        })
        .to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::form_decode;

    #[test]
    fn form_values_decode() {
        assert_eq!(
            form_decode("urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        );
        assert_eq!(form_decode("a+b%2"), "a b%2");
    }
}
