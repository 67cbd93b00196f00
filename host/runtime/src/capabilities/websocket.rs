//! The `websocket` capability: client connections (tokio-tungstenite over rustls) to the plugin's
//! `allowed_hosts`, with handshake headers, text and binary messages, and close codes handed to
//! the plugin as they came.
//!
//! Every wait is bounded: the handshake by [`CONNECT_TIMEOUT`], a send by [`SEND_TIMEOUT`], a
//! receive by the plugin's timeout (clamped to [`MAX_PLUGIN_TIMEOUT`]), and all of them by the
//! call's cancel token (barge-in, session end), so a provider that goes silent never hangs a call
//! the host wants to end.
//!
//! The URL passes the same egress rule as `http` ([`crate::egress`]). The host resolves the name
//! itself, vets each address and opens the TCP connection to a vetted one, then runs TLS and the
//! upgrade over it with the original name (Host header, SNI): the address checked is the address
//! connected to. At most [`super::net::MAX_OPEN_WEBSOCKETS`] are open per instance.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::{Host, Url};
use wasmtime::component::Resource;

use super::super::bindings::types::PluginError;
use super::super::bindings::websocket::{self, CloseFrame as WitCloseFrame, Message};
use super::super::cancel::CallCancel;
use super::super::egress::{Egress, ResolveError};
use super::super::manifest::Capability;
use super::PluginView;
use super::net::{MAX_PLUGIN_TIMEOUT, OpenSlot, install_crypto_provider};

/// Time for TCP, TLS and the HTTP upgrade together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for one message to be written (a peer that stops reading).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the closing handshake when the plugin closes.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest message accepted from a provider.
const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// A client WebSocket stream, plain or TLS.
pub(crate) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open connection. `stream` is None only while `audio-input.next` waits on it.
pub struct WsConnection {
    pub(crate) stream: Option<WsStream>,
    /// Set once the plugin was told the connection closed: later receives are `unavailable`.
    closed: bool,
    /// The host the connection went to, for messages (never the query: it may hold a token).
    origin: String,
    /// Its place among the instance's open WebSockets, freed when the connection goes.
    _slot: OpenSlot,
}

impl WsConnection {
    /// Turns the next frame (or the end of the stream) into what the plugin sees; None for
    /// frames the plugin does not see (ping, pong).
    pub(crate) fn deliver(
        &mut self,
        frame: Option<Result<WsMessage, tungstenite::Error>>,
    ) -> Option<Result<Message, PluginError>> {
        if self.closed {
            return Some(Err(self.gone()));
        }
        let message = match frame {
            Some(Ok(WsMessage::Text(text))) => Message::Text(text.to_string()),
            Some(Ok(WsMessage::Binary(bytes))) => Message::Binary(bytes.to_vec()),
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => return None,
            Some(Ok(WsMessage::Close(frame))) => {
                self.closed = true;
                Message::Close(match frame {
                    Some(frame) => WitCloseFrame {
                        code: frame.code.into(),
                        reason: frame.reason.to_string(),
                    },
                    // A close without a code: RFC 6455 reports it as 1005.
                    None => WitCloseFrame {
                        code: 1005,
                        reason: String::new(),
                    },
                })
            }
            Some(Err(error)) => {
                self.closed = true;
                tracing::debug!(origin = %self.origin, "websocket dropped: {error}");
                Message::Close(WitCloseFrame {
                    code: 1006,
                    reason: format!("the connection dropped: {error}"),
                })
            }
            None => {
                self.closed = true;
                Message::Close(WitCloseFrame {
                    code: 1006,
                    reason: "the connection dropped without a close frame".into(),
                })
            }
        };
        Some(Ok(message))
    }

    /// Lends the stream out for a wait elsewhere (`audio-input.next`); put it back after.
    pub(crate) fn take_stream(&mut self) -> Result<WsStream, PluginError> {
        if self.closed {
            return Err(self.gone());
        }
        self.stream.take().ok_or_else(|| self.gone())
    }

    fn gone(&self) -> PluginError {
        PluginError::Unavailable(format!("the WebSocket to {} is closed", self.origin))
    }
}

/// A TCP connection to an address of `url`'s host that the egress rule allows: an IP literal is
/// vetted as it is, a name is resolved by the rule, which returns only vetted addresses.
async fn connect_vetted(
    egress: &Egress,
    url: &Url,
    origin: &str,
) -> Result<TcpStream, PluginError> {
    let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
        return Err(PluginError::Config(
            "the websocket capability needs a URL with a host".into(),
        ));
    };
    // An IP literal was vetted with the URL; vetting it again here keeps this function the one
    // place where what is connected to is decided.
    let literal = |ip: IpAddr| {
        egress
            .vet(
                Capability::Websocket,
                url.host_str().unwrap_or_default(),
                ip,
                Some(url),
            )
            .map(|()| vec![SocketAddr::new(ip, port)])
            .map_err(|refusal| refusal.into_plugin_error())
    };
    let addresses = match host {
        Host::Ipv4(v4) => literal(IpAddr::V4(v4))?,
        Host::Ipv6(v6) => literal(IpAddr::V6(v6))?,
        Host::Domain(name) => egress
            .resolve(Capability::Websocket, name, port, Some(url))
            .await
            .map_err(|error| match error {
                ResolveError::Refused(refusal) => refusal.into_plugin_error(),
                ResolveError::Unresolved(error) => PluginError::Unavailable(format!(
                    "cannot open a WebSocket to {origin}: {error}"
                )),
            })?,
    };
    let mut failure = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => {
                // Audio frames are small and latency-bound: no Nagle delay.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(error) => failure = Some(error),
        }
    }
    Err(PluginError::Unavailable(format!(
        "cannot open a WebSocket to {origin}: {}",
        failure.map_or_else(|| "no address".to_string(), |e| e.to_string())
    )))
}

/// Opens a connection to `url`, which passed the egress check, over a vetted TCP connection.
async fn open(
    egress: &Egress,
    mut url: Url,
    headers: Vec<(String, String)>,
    origin: String,
    slot: OpenSlot,
) -> Result<WsConnection, PluginError> {
    install_crypto_provider();
    url.set_fragment(None);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| PluginError::Config(format!("invalid WebSocket URL: {}", strip_url(&e))))?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| PluginError::Config(format!("invalid header name `{name}`")))?;
        // The value may be a key: it never goes into a message.
        let value = HeaderValue::from_str(&value)
            .map_err(|_| PluginError::Config(format!("invalid value for header `{name}`")))?;
        request.headers_mut().append(name, value);
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let connect = async {
        let tcp = connect_vetted(egress, &url, &origin).await?;
        // TLS (for wss) and the upgrade run over the vetted connection, with the URL's name for
        // SNI and the Host header.
        Ok(tokio_tungstenite::client_async_tls_with_config(request, tcp, Some(config), None).await)
    };
    let handshake = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Err(refused_or_unreachable)) => return Err(refused_or_unreachable),
        Ok(Ok(handshake)) => Ok(handshake),
        Err(elapsed) => Err(elapsed),
    };
    let (stream, _response) = match handshake {
        Err(_) => {
            return Err(PluginError::Unavailable(format!(
                "the WebSocket handshake with {origin} took over {} s",
                CONNECT_TIMEOUT.as_secs()
            )));
        }
        Ok(Err(tungstenite::Error::Http(response))) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .map(|b| {
                    String::from_utf8_lossy(b)
                        .chars()
                        .take(300)
                        .collect::<String>()
                })
                .unwrap_or_default();
            let message = format!(
                "{origin} refused the WebSocket handshake with HTTP {status}: {}",
                body.trim()
            );
            return Err(match status {
                401 | 403 => PluginError::Auth(message),
                429 => PluginError::RateLimited(super::super::bindings::types::RateLimit {
                    retry_after_ms: None,
                    message,
                }),
                _ => PluginError::Unavailable(message),
            });
        }
        Ok(Err(error)) => {
            return Err(PluginError::Unavailable(format!(
                "cannot open a WebSocket to {origin}: {}",
                strip_url(&error)
            )));
        }
        Ok(Ok(pair)) => pair,
    };
    Ok(WsConnection {
        stream: Some(stream),
        closed: false,
        origin,
        _slot: slot,
    })
}

/// An error's text without anything after a `?` (a query may carry a token).
fn strip_url(error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    match text.split_once('?') {
        Some((before, _)) => format!("{before}?…"),
        None => text,
    }
}

/// Waits for the next message the plugin sees, up to `timeout` (None: until one comes), or until
/// the call is cancelled. Ok(None) on timeout.
async fn receive(
    connection: &mut WsConnection,
    timeout: Option<Duration>,
    cancel: &CallCancel,
) -> Result<Option<Message>, PluginError> {
    if connection.closed {
        return Err(connection.gone());
    }
    let Some(mut stream) = connection.stream.take() else {
        return Err(connection.gone());
    };
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let outcome = loop {
        let next = async {
            match deadline {
                Some(at) => tokio::time::timeout_at(at, stream.next()).await.ok(),
                None => Some(stream.next().await),
            }
        };
        let frame = tokio::select! {
            frame = next => frame,
            () = cancel.cancelled() => break Err(PluginError::Cancelled),
        };
        let Some(frame) = frame else {
            break Ok(None);
        };
        match connection.deliver(frame) {
            Some(result) => break result.map(Some),
            None => continue,
        }
    };
    connection.stream = Some(stream);
    outcome
}

impl websocket::Host for PluginView<'_> {
    async fn connect(
        &mut self,
        url: String,
        headers: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<Resource<WsConnection>, PluginError>> {
        let (url, origin) = match self.check_outbound(Capability::Websocket, &url) {
            Ok(checked) => checked,
            Err(refused) => return Ok(Err(refused)),
        };
        let slot = match self.open_net.websocket(self.plugin()) {
            Ok(slot) => slot,
            Err(full) => return Ok(Err(full)),
        };
        let cancel = self.cancel.clone();
        let egress = self.grant.egress.clone();
        let opened = tokio::select! {
            opened = open(&egress, url, headers, origin.to_string(), slot) => opened,
            () = cancel.cancelled() => Err(PluginError::Cancelled),
        };
        match opened {
            Ok(connection) => Ok(Ok(self.table.push(connection)?)),
            Err(error) => {
                tracing::warn!(plugin = self.plugin(), %origin, "websocket connect failed: {error:?}");
                Ok(Err(error))
            }
        }
    }
}

impl websocket::HostConnection for PluginView<'_> {
    async fn send(
        &mut self,
        connection: Resource<WsConnection>,
        message: Message,
    ) -> wasmtime::Result<Result<(), PluginError>> {
        let cancel = self.cancel.clone();
        let connection = self.table.get_mut(&connection)?;
        let frame = match message {
            Message::Text(text) => WsMessage::text(text),
            Message::Binary(bytes) => WsMessage::binary(bytes),
            Message::Close(frame) => WsMessage::Close(Some(CloseFrame {
                code: CloseCode::from(frame.code),
                reason: frame.reason.into(),
            })),
        };
        if connection.closed {
            return Ok(Err(connection.gone()));
        }
        let Some(stream) = connection.stream.as_mut() else {
            return Ok(Err(connection.gone()));
        };
        let sent = tokio::select! {
            sent = tokio::time::timeout(SEND_TIMEOUT, stream.send(frame)) => sent,
            () = cancel.cancelled() => return Ok(Err(PluginError::Cancelled)),
        };
        Ok(match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                connection.closed = true;
                Err(PluginError::Unavailable(format!(
                    "sending on the WebSocket to {} failed: {error}",
                    connection.origin
                )))
            }
            Err(_) => Err(PluginError::Unavailable(format!(
                "the WebSocket to {} took over {} s to take a message",
                connection.origin,
                SEND_TIMEOUT.as_secs()
            ))),
        })
    }

    async fn receive(
        &mut self,
        connection: Resource<WsConnection>,
        timeout_ms: Option<u32>,
    ) -> wasmtime::Result<Result<Option<Message>, PluginError>> {
        let cancel = self.cancel.clone();
        let connection = self.table.get_mut(&connection)?;
        // A plugin may not ask for days: its wait is cut to the host's maximum.
        let timeout =
            timeout_ms.map(|ms| Duration::from_millis(u64::from(ms)).min(MAX_PLUGIN_TIMEOUT));
        Ok(receive(connection, timeout, &cancel).await)
    }

    async fn close(
        &mut self,
        connection: Resource<WsConnection>,
        code: u16,
        reason: String,
    ) -> wasmtime::Result<()> {
        let connection = self.table.get_mut(&connection)?;
        if let Some(mut stream) = connection.stream.take() {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            };
            // Best effort: send our close and wait briefly for the peer's.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, stream.close(Some(frame))).await;
        }
        connection.closed = true;
        Ok(())
    }

    async fn drop(&mut self, connection: Resource<WsConnection>) -> wasmtime::Result<()> {
        // Dropping the stream closes the TCP connection.
        self.table.delete(connection)?;
        Ok(())
    }
}
