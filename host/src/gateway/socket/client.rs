//! A connected client as the handlers see it: what it carries in its socket's extensions (its
//! place in a studio, its handshake token, its rate gate) and how it is answered.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ConnectInfo;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{Event, TryData};
use socketioxide::handler::{FromMessageParts, Value};
use socketioxide::socket::Socket;

use crate::gateway::access::Role;
use crate::gateway::protocol::{ErrorCode, ErrorPayload, InputFormat, server_events};
use crate::gateway::rate::{Admission, ClientGate, EventKind};
use crate::session::{ClientId, StudioCommand, StudioHandle, StudioSendError};

/// A connected client as the in-order handlers see it.
pub(super) type Client = Arc<Socket<LocalAdapter>>;

/// The studio a client joined with `hello`, kept in the socket's extensions.
#[derive(Debug, Clone)]
pub(super) struct JoinedStudio {
    pub(super) studio: StudioHandle,
    pub(super) input_format: InputFormat,
    /// What the client may do there (a viewer only watches).
    pub(super) role: Role,
}

/// The access token a client presented when it connected: the handshake `auth.token`, else the
/// handshake query's `?token=` (how the original frontend carries one in its backend URL).
#[derive(Debug, Clone)]
pub(super) struct HandshakeToken(pub(super) String);

/// Whether the client got its greeting (`server.ack connected` and the empty state).
#[derive(Debug, Clone, Default)]
pub(super) struct Greeted(pub(super) Arc<std::sync::atomic::AtomicBool>);

/// Passes an event of `kind` through the client's token bucket; `false`: drop it. The client
/// hears `rate-limited` at most once a second, so a flood is not answered with a flood.
pub(super) fn admit(socket: &Client, kind: EventKind) -> bool {
    let Some(gate) = socket.extensions.get::<Arc<ClientGate>>() else {
        return true;
    };
    match gate.event(kind, Instant::now()) {
        Admission::Admit => true,
        Admission::Drop => false,
        Admission::DropAndTell(message) => {
            tracing::info!(client = %socket.id, peer = ?peer_address(socket), ?kind, "events over the rate dropped");
            send_error(socket, ErrorCode::RateLimited, &message);
            false
        }
    }
}

/// The client's address, from the connection that opened its Socket.IO session.
pub(super) fn peer_address(socket: &Client) -> Option<IpAddr> {
    socket
        .req_parts()
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

pub(super) fn studio_unreachable(socket: &Client, e: StudioSendError) {
    match e {
        StudioSendError::Busy => send_error(socket, ErrorCode::StudioBusy, &e.to_string()),
        StudioSendError::Ended => {
            // Forget the ended studio so the next event says "send hello" instead of repeating.
            // The client stays in the studio's room: a studio that is ending still sends it
            // `recording.ready` and `session.end` there (audio sent after `client.end-session`
            // must not make it miss them), then empties the room itself.
            socket.extensions.remove::<JoinedStudio>();
            send_error(socket, ErrorCode::StudioEnded, &e.to_string());
        }
    }
}

/// Delivers a leave even when the studio's queue is momentarily full; a lost leave would keep a
/// studio alive forever.
pub(super) async fn leave(studio: &StudioHandle, client: ClientId) {
    if let Err(e) = studio.deliver(StudioCommand::Leave { client }).await {
        tracing::debug!(%client, error = %e, "leave not delivered: studio already ended");
    }
}

pub(super) fn send_error(socket: &Socket<LocalAdapter>, code: ErrorCode, message: &str) {
    tracing::debug!(client = %socket.id, ?code, message, "client error");
    emit(
        socket,
        server_events::ERROR,
        &ErrorPayload::new(code, message),
    );
}

pub(super) fn emit<T: serde::Serialize + ?Sized>(
    socket: &Socket<LocalAdapter>,
    event: &str,
    data: &T,
) {
    if let Err(e) = socket.emit(event, data) {
        tracing::debug!(client = %socket.id, event, error = %e, "could not send to client");
    }
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(
    socket: &Client,
    value: &mut Value,
) -> Result<T, String> {
    let TryData(result) = match TryData::<T>::from_message_parts(socket, value, &None) {
        Ok(data) => data,
        Err(never) => match never {},
    };
    result.map_err(|e| e.to_string())
}

pub(super) fn decode_event(socket: &Client, value: &mut Value) -> Option<String> {
    Event::from_message_parts(socket, value, &None)
        .ok()
        .map(|Event(name)| name)
}
