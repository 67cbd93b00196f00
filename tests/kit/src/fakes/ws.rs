//! WebSocket endpoints for axum routers, with the API of axum's `extract::ws` (an upgrade
//! extractor, `on_upgrade`, a socket with `recv` and `send`).
//!
//! axum's own `ws` feature is not used: it brings tokio-tungstenite 0.29, while socketioxide and
//! the host use 0.30, and two versions would be compiled and linked. This module answers the
//! handshake itself and runs tokio-tungstenite 0.30 over the connection hyper hands over.

use std::future::Future;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{self, Role};
use tokio_tungstenite::tungstenite::{self, Bytes};

pub use tokio_tungstenite::tungstenite::{Error, Utf8Bytes};

/// A WebSocket message, as axum's `ws::Message` (control frames other than close are answered by
/// the socket itself and still shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A UTF-8 text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (the pong goes out on its own).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close, with its code and reason when the peer gave one.
    Close(Option<CloseFrame>),
}

/// The code and reason of a close message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code (1000 normal, 4000-4999 for applications).
    pub code: u16,
    /// Why, in a few words.
    pub reason: Utf8Bytes,
}

/// The upgrade of a request that asked for a WebSocket; extracting it refuses other requests with
/// 400.
pub struct WebSocketUpgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        let asks_websocket = parts
            .headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        let key = parts.headers.get(header::SEC_WEBSOCKET_KEY).cloned();
        let on_upgrade = parts.extensions.remove::<OnUpgrade>();
        match (asks_websocket, key, on_upgrade) {
            (true, Some(key), Some(on_upgrade)) => Ok(WebSocketUpgrade { key, on_upgrade }),
            _ => Err((StatusCode::BAD_REQUEST, "expected a WebSocket upgrade").into_response()),
        }
    }
}

impl WebSocketUpgrade {
    /// Accepts the upgrade (101) and runs `callback` on the socket once hyper hands over the
    /// connection.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Ok(accept) = HeaderValue::try_from(derive_accept_key(self.key.as_bytes())) else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let stream =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            callback(WebSocket { stream }).await;
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        response
    }
}

/// An accepted WebSocket.
pub struct WebSocket {
    stream: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>,
}

impl WebSocket {
    /// The next message; `None` once the connection is closed.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        loop {
            let message = match self.stream.next().await? {
                Ok(message) => message,
                Err(e) => return Some(Err(e)),
            };
            let message = match message {
                tungstenite::Message::Text(text) => Message::Text(text),
                tungstenite::Message::Binary(bytes) => Message::Binary(bytes),
                tungstenite::Message::Ping(bytes) => Message::Ping(bytes),
                tungstenite::Message::Pong(bytes) => Message::Pong(bytes),
                tungstenite::Message::Close(frame) => Message::Close(frame.map(|f| CloseFrame {
                    code: u16::from(f.code),
                    reason: f.reason,
                })),
                // Raw frames only show up when writing; reading yields whole messages.
                tungstenite::Message::Frame(_) => continue,
            };
            return Some(Ok(message));
        }
    }

    /// Sends one message.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        let message = match message {
            Message::Text(text) => tungstenite::Message::Text(text),
            Message::Binary(bytes) => tungstenite::Message::Binary(bytes),
            Message::Ping(bytes) => tungstenite::Message::Ping(bytes),
            Message::Pong(bytes) => tungstenite::Message::Pong(bytes),
            Message::Close(frame) => {
                tungstenite::Message::Close(frame.map(|f| protocol::CloseFrame {
                    code: CloseCode::from(f.code),
                    reason: f.reason,
                }))
            }
        };
        self.stream.send(message).await
    }
}
