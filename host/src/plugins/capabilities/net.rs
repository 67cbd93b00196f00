//! Outbound network access: the allow-list check that `http` and `websocket` share, and `http`.
//!
//! The check runs in one place, before anything leaves the host: the capability must be granted,
//! and the URL's scheme, host and port must match one of the plugin's `allowed_hosts`. Refusals are
//! `denied` with the plugin's name and the target, and logged. HTTP is reqwest over rustls:
//! streaming bodies, connect / idle / overall timeouts, a size cap, redirects only to allowed hosts.

use std::collections::VecDeque;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use wasmtime::component::Resource;

use super::super::bindings::http;
use super::super::bindings::types::PluginError;
use super::super::manifest::{Capability, HostPattern, UrlOrigin};
use super::super::sandbox::{Grant, PluginState};
use super::denied;

/// An HTTP response whose body streams in.
pub struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: BoxStream<'static, Result<Vec<u8>, PluginError>>,
    pub(crate) pending: VecDeque<u8>,
}

impl PluginState {
    /// Checks `capability` and the URL's origin against `allowed_hosts`.
    pub(crate) fn check_outbound(
        &mut self,
        capability: Capability,
        url: &str,
    ) -> Result<UrlOrigin, PluginError> {
        if !self.check(capability) {
            return Err(denied(self, capability.name()));
        }
        let Some(origin) = UrlOrigin::parse(url) else {
            return Err(PluginError::Config(format!(
                "`{url}` is not an absolute http(s) or ws(s) URL"
            )));
        };
        if !self
            .grant
            .entry
            .allowed_hosts
            .iter()
            .any(|pattern| pattern.allows(url))
        {
            return Err(denied(self, &format!("{capability}/{origin}")));
        }
        Ok(origin)
    }
}

impl http::Host for PluginState {
    async fn send(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<Resource<HttpResponse>, PluginError>> {
        if let Err(refused) = self.check_outbound(Capability::Http, &request.url) {
            return Ok(Err(refused));
        }
        let grant = self.grant.clone();
        match outbound_http(&grant, request).await {
            Ok(response) => Ok(Ok(self.table.push(response)?)),
            Err(error) => Ok(Err(error)),
        }
    }
}

impl http::HostResponse for PluginState {
    async fn status(&mut self, response: Resource<HttpResponse>) -> wasmtime::Result<u16> {
        Ok(self.table.get(&response)?.status)
    }

    async fn headers(
        &mut self,
        response: Resource<HttpResponse>,
    ) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self.table.get(&response)?.headers.clone())
    }

    async fn read(
        &mut self,
        response: Resource<HttpResponse>,
        max_bytes: u32,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, PluginError>> {
        let response = self.table.get_mut(&response)?;
        let max = usize::try_from(max_bytes.max(1)).unwrap_or(usize::MAX);
        while response.pending.is_empty() {
            match response.body.next().await {
                Some(Ok(piece)) => response.pending.extend(piece),
                Some(Err(error)) => return Ok(Err(error)),
                None => return Ok(Ok(None)),
            }
        }
        let take = max.min(response.pending.len());
        Ok(Ok(Some(response.pending.drain(..take).collect())))
    }

    async fn drop(&mut self, response: Resource<HttpResponse>) -> wasmtime::Result<()> {
        self.table.delete(response)?;
        Ok(())
    }
}

/// Largest response body a plugin may read; past it the body fails with `protocol`.
const MAX_RESPONSE_BYTES: usize = 32 << 20;
/// Time to establish a connection (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the status line and headers (the provider's first byte).
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest silence while reading a response before it counts as dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Whole-exchange limit when the plugin gives none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Redirect hops followed at most.
const MAX_REDIRECTS: usize = 5;

/// Makes ring the process's TLS crypto provider. reqwest and tungstenite are built without a
/// bundled provider (their default, aws-lc, needs cmake to build). Installing twice is harmless:
/// the first provider stays.
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client of one grant: its redirect policy follows only that plugin's `allowed_hosts`.
fn http_client(allowed: &[HostPattern]) -> Result<reqwest::Client, PluginError> {
    install_crypto_provider();
    let allowed = allowed.to_vec();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        let url = attempt.url().as_str().to_string();
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if allowed.iter().any(|p| p.allows(&url)) {
            attempt.follow()
        } else {
            // Not followed: the plugin gets the 3xx response itself.
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(IDLE_TIMEOUT)
        .redirect(redirects)
        .build()
        .map_err(|e| PluginError::Internal(format!("the host's HTTP client could not start: {e}")))
}

/// Maps a client error to the contract's error cases. The URL is dropped from the message: it
/// may carry a key in its query.
fn classify(error: reqwest::Error) -> PluginError {
    let error = error.without_url();
    if error.is_timeout() {
        PluginError::Unavailable(format!("timed out: {error}"))
    } else if error.is_connect() {
        PluginError::Unavailable(format!("cannot connect: {error}"))
    } else if error.is_builder() {
        PluginError::Config(format!("invalid request: {error}"))
    } else {
        PluginError::Unavailable(error.to_string())
    }
}

/// Sends an allowed request with the grant's client; the body streams as the server sends it.
async fn outbound_http(grant: &Grant, request: http::Request) -> Result<HttpResponse, PluginError> {
    let client = match grant.http.get() {
        Some(client) => client.clone(),
        None => {
            let client = http_client(&grant.entry.allowed_hosts)?;
            // A concurrent first use may have set one already; either is fine.
            let _ = grant.http.set(client.clone());
            client
        }
    };
    let method = match request.method {
        http::Method::Get => reqwest::Method::GET,
        http::Method::Head => reqwest::Method::HEAD,
        http::Method::Post => reqwest::Method::POST,
        http::Method::Put => reqwest::Method::PUT,
        http::Method::Patch => reqwest::Method::PATCH,
        http::Method::Delete => reqwest::Method::DELETE,
    };
    let timeout = request
        .timeout_ms
        .map_or(DEFAULT_TIMEOUT, |ms| Duration::from_millis(u64::from(ms)));
    let mut builder = client.request(method, &request.url).timeout(timeout);
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body);
    }
    let first_byte = timeout.min(FIRST_BYTE_TIMEOUT);
    let response = tokio::time::timeout(first_byte, builder.send())
        .await
        .map_err(|_| {
            PluginError::Unavailable(format!("no response within {} ms", first_byte.as_millis()))
        })?
        .map_err(classify)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut received = 0usize;
    let body = response
        .bytes_stream()
        .map(move |piece| match piece {
            Ok(bytes) => {
                received += bytes.len();
                if received > MAX_RESPONSE_BYTES {
                    Err(PluginError::Protocol(format!(
                        "the response is larger than {} MiB",
                        MAX_RESPONSE_BYTES >> 20
                    )))
                } else {
                    Ok(bytes.to_vec())
                }
            }
            Err(error) => Err(classify(error)),
        })
        .boxed();
    Ok(HttpResponse {
        status,
        headers,
        body,
        pending: VecDeque::new(),
    })
}
