//! Outbound network access: the checks that `http` and `websocket` share, and `http`.
//!
//! The check runs in one place, before anything leaves the host: the capability must be granted,
//! and the URL, parsed once, must pass the plugin's egress rule ([`crate::egress`]: scheme, host
//! and port in `allowed_hosts`, no user info, no inner address unless named literally). The parsed
//! URL is what is sent, and names resolve only through the rule's resolver, so what was checked is
//! what is reached, on every redirect hop too. Refusals are `denied` with the plugin's name and the
//! rule, and logged. HTTP is reqwest over rustls: streaming bodies, connect / idle / overall
//! timeouts (the plugin's clamped to [`MAX_PLUGIN_TIMEOUT`]), a size cap, at most
//! [`MAX_OPEN_RESPONSES`] open responses per instance, and reads that end when the call is cancelled.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use url::Url;
use wasmtime::component::Resource;

use super::super::bindings::http;
use super::super::bindings::types::PluginError;
use super::super::egress::{Egress, Refusal, VettedResolver};
use super::super::grant::Grant;
use super::super::manifest::{Capability, UrlOrigin};
use super::denied;
use super::{InstanceCtx, PluginView};

/// An HTTP response whose body streams in.
pub struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: BoxStream<'static, Result<Vec<u8>, PluginError>>,
    pub(crate) pending: VecDeque<u8>,
    /// Its place among the instance's open responses, freed when the response goes.
    _slot: OpenSlot,
}

/// Open HTTP responses one plugin instance may hold at once.
pub(crate) const MAX_OPEN_RESPONSES: usize = 16;
/// Open WebSockets one plugin instance may hold at once.
pub(crate) const MAX_OPEN_WEBSOCKETS: usize = 16;

/// The HTTP responses and WebSockets one plugin instance holds open, counted so a plugin that
/// opens without dropping cannot exhaust the host's sockets.
#[derive(Debug, Default)]
pub(crate) struct OpenNet {
    responses: Arc<AtomicUsize>,
    websockets: Arc<AtomicUsize>,
}

/// A place among an instance's open responses or WebSockets, held by the resource and freed when
/// it is dropped, however it goes (the plugin drops it, the host clears the table, the store ends).
#[derive(Debug)]
pub(crate) struct OpenSlot(Arc<AtomicUsize>);

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl OpenNet {
    /// A place for one more open HTTP response, or `denied` past [`MAX_OPEN_RESPONSES`].
    pub(crate) fn response(&self, plugin: &str) -> Result<OpenSlot, PluginError> {
        take_slot(
            &self.responses,
            MAX_OPEN_RESPONSES,
            plugin,
            "HTTP responses",
        )
    }

    /// A place for one more open WebSocket, or `denied` past [`MAX_OPEN_WEBSOCKETS`].
    pub(crate) fn websocket(&self, plugin: &str) -> Result<OpenSlot, PluginError> {
        take_slot(&self.websockets, MAX_OPEN_WEBSOCKETS, plugin, "WebSockets")
    }
}

fn take_slot(
    open: &Arc<AtomicUsize>,
    max: usize,
    plugin: &str,
    what: &str,
) -> Result<OpenSlot, PluginError> {
    match open.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
        (n < max).then_some(n + 1)
    }) {
        Ok(_) => Ok(OpenSlot(open.clone())),
        Err(_) => {
            tracing::warn!(plugin, limit = max, "plugin reached its cap on open {what}");
            Err(PluginError::Denied(format!(
                "{plugin} already holds {max} open {what}, the most one plugin instance may; drop one first"
            )))
        }
    }
}

impl InstanceCtx {
    /// Checks `capability`, then parses `url` once and checks it against the plugin's egress
    /// rule. The URL returned is the one to send; the origin is what messages may show of it.
    pub(crate) fn check_outbound(
        &mut self,
        capability: Capability,
        url: &str,
    ) -> Result<(Url, UrlOrigin), PluginError> {
        if !self.check(capability) {
            return Err(denied(self, capability.name()));
        }
        let url = match self.grant.egress.parse(capability, url) {
            Ok(url) => url,
            // The common refusal for anything outside the grant (logged, redacted, aware of a
            // revoked grant).
            Err(Refusal::NotAllowed { target, .. }) => return Err(denied(self, &target)),
            Err(refusal) => return Err(refusal.into_plugin_error()),
        };
        let origin = UrlOrigin::of(&url).ok_or_else(|| {
            PluginError::Config(format!(
                "the {capability} capability needs a URL with a host"
            ))
        })?;
        Ok((url, origin))
    }
}

impl http::Host for PluginView<'_> {
    async fn send(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<Resource<HttpResponse>, PluginError>> {
        let url = match self.check_outbound(Capability::Http, &request.url) {
            Ok((url, _)) => url,
            Err(refused) => return Ok(Err(refused)),
        };
        let slot = match self.open_net.response(self.plugin()) {
            Ok(slot) => slot,
            Err(full) => return Ok(Err(full)),
        };
        let grant = self.grant.clone();
        let cancel = self.cancel.clone();
        let sent = tokio::select! {
            sent = outbound_http(&grant, url, request, slot) => sent,
            () = cancel.cancelled() => Err(PluginError::Cancelled),
        };
        match sent {
            Ok(response) => Ok(Ok(self.table.push(response)?)),
            Err(error) => Ok(Err(error)),
        }
    }
}

impl http::HostResponse for PluginView<'_> {
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
        let cancel = self.cancel.clone();
        let response = self.table.get_mut(&response)?;
        let max = usize::try_from(max_bytes.max(1)).unwrap_or(usize::MAX);
        while response.pending.is_empty() {
            // A provider that stalls mid-body must not hold a call the host wants to end.
            let next = tokio::select! {
                next = response.body.next() => next,
                () = cancel.cancelled() => return Ok(Err(PluginError::Cancelled)),
            };
            match next {
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
/// Longest whole-exchange limit a plugin may ask for: a larger `timeout-ms` is cut to this.
pub(crate) const MAX_PLUGIN_TIMEOUT: Duration = Duration::from_secs(120);
/// Redirect hops followed at most.
const MAX_REDIRECTS: usize = 5;

/// The whole-exchange limit of a request: the plugin's `timeout-ms`, cut to
/// [`MAX_PLUGIN_TIMEOUT`] so a plugin cannot ask for days, or [`DEFAULT_TIMEOUT`] when it gives none.
pub(crate) fn exchange_timeout(timeout_ms: Option<u32>) -> Duration {
    timeout_ms.map_or(DEFAULT_TIMEOUT, |ms| {
        Duration::from_millis(u64::from(ms)).min(MAX_PLUGIN_TIMEOUT)
    })
}

/// Makes ring the process's TLS crypto provider. reqwest and tungstenite are built without a
/// bundled provider (their default, aws-lc, needs cmake to build). Installing twice is harmless:
/// the first provider stays.
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client of one grant. Every hop obeys the grant's egress rule: names resolve only
/// through [`VettedResolver`] (so only vetted addresses are connected to), a redirect's URL is
/// checked like the plugin's own, and no proxy from the environment stands in between (a proxy
/// would resolve names itself, past the rule).
fn http_client(egress: Arc<Egress>) -> Result<reqwest::Client, PluginError> {
    install_crypto_provider();
    let hops = egress.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match hops.check(Capability::Http, attempt.url()) {
            Ok(()) => attempt.follow(),
            // Outside allowed_hosts: not followed, the plugin gets the 3xx response itself.
            Err(Refusal::NotAllowed { target, .. }) => {
                tracing::info!(plugin = %hops.plugin(), %target, "redirect outside allowed_hosts not followed");
                attempt.stop()
            }
            Err(refusal) => attempt.error(refusal),
        }
    });
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(IDLE_TIMEOUT)
        .redirect(redirects)
        .dns_resolver(Arc::new(VettedResolver::new(egress)))
        .no_proxy()
        .build()
        .map_err(|e| PluginError::Internal(format!("the host's HTTP client could not start: {e}")))
}

/// Maps a client error to the contract's error cases. The URL is dropped from the message: it
/// may carry a key in its query. A refusal of the egress rule (from the resolver or a redirect)
/// is `denied` with its own message.
fn classify(error: reqwest::Error) -> PluginError {
    let error = error.without_url();
    if let Some(refusal) = Refusal::find_in(&error) {
        return refusal.clone().into_plugin_error();
    }
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

/// Sends an allowed request (`url` is the checked parse of `request.url`) with the grant's
/// client; the body streams as the server sends it.
async fn outbound_http(
    grant: &Grant,
    url: Url,
    request: http::Request,
    slot: OpenSlot,
) -> Result<HttpResponse, PluginError> {
    let client = match grant.http.get() {
        Some(client) => client.clone(),
        None => {
            let client = http_client(grant.egress.clone())?;
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
    let timeout = exchange_timeout(request.timeout_ms);
    let mut builder = client.request(method, url).timeout(timeout);
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
        _slot: slot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_timeout_is_clamped_to_the_host_maximum() {
        assert_eq!(exchange_timeout(None), DEFAULT_TIMEOUT);
        assert_eq!(exchange_timeout(Some(5_000)), Duration::from_secs(5));
        assert_eq!(exchange_timeout(Some(u32::MAX)), MAX_PLUGIN_TIMEOUT);
    }

    #[test]
    fn open_responses_are_capped_and_a_dropped_one_frees_its_place() {
        let open = OpenNet::default();
        let held: Vec<OpenSlot> = (0..MAX_OPEN_RESPONSES)
            .map(|_| open.response("tester").expect("under the cap"))
            .collect();
        let Err(PluginError::Denied(message)) = open.response("tester") else {
            panic!("past the cap");
        };
        assert!(
            message.starts_with(&format!(
                "tester already holds {MAX_OPEN_RESPONSES} open HTTP responses"
            )),
            "{message}"
        );
        assert!(open.websocket("tester").is_ok(), "WebSockets count apart");
        drop(held);
        assert!(open.response("tester").is_ok());
    }
}
