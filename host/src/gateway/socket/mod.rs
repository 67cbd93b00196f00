//! Socket.IO handlers of namespace `/`: validate every client event and hand it to the client's
//! studio. Bad input gets an `error {code, message}` event and the connection goes on.
//!
//! The handlers run inline in the connection's receive loop (see [`InOrder`]) rather than as
//! spawned tasks, so a client's events reach its studio in the order they were sent: audio chunks
//! must not overtake each other, and `hello` must land before the `client.request-state` after it.
//!
//! - this file: registering the namespace, the greeting, the handshake token;
//! - [`hello`]: joining a studio (access, the studio to join, moving between studios);
//! - [`events`]: the events of a client in a studio (audio, autopilot, state, end, typed lines,
//!   unknown);
//! - [`checks`]: the pure checks of client input, shared with the fuzz bench;
//! - [`client`]: what a connected client carries and how it is answered;
//! - [`in_order`]: the handler wrapper that keeps events in arrival order.
//! - [`audience`]: how the studios reach their clients (a Socket.IO room per episode).

mod audience;
mod checks;
mod client;
mod events;
mod hello;
mod in_order;

pub use audience::{SocketAudience, client_id};
pub use checks::{
    CheckedHello, CheckedSay, MAX_AUDIO_CHUNK_BYTES, MAX_PARTICIPANT_NAME_CHARS, MAX_SAY_CHARS,
    check_audio_chunk, check_hello, check_text_say,
};
pub use in_order::{InOrder, InOrderMarker};

use std::sync::Arc;

use socketioxide::SocketIo;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::{ConnectHandler, Value};
use socketioxide::socket::Socket;

use super::access::Access;
use super::protocol::{StudioSnapshot, client_events, server_events};
use super::rate::ClientGate;
use crate::config::ClientLimits;
use crate::session::StudioRegistry;
use client::{Client, Greeted, HandshakeToken, JoinedStudio, emit, leave};

/// The handshake `auth` payload: `{token}`; anything else in it is ignored.
#[derive(Debug, Default, serde::Deserialize)]
struct HandshakeAuth {
    #[serde(default)]
    token: Option<String>,
}

/// Registers the namespace `/` and its handlers on `io`; every client gets its own buckets of
/// `limits`.
pub fn register(
    io: &SocketIo,
    registry: StudioRegistry,
    limits: ClientLimits,
    access: Arc<Access>,
) {
    // The handlers are installed by a connect middleware, which socketioxide runs before it
    // answers the connect packet: a plain connect handler runs as a task spawned after that
    // answer, so a `hello` sent at once on `connect` (what socket.io-client does) could arrive
    // before `hello` had a handler and be dropped without a word (seen under load).
    let install = move |socket: SocketRef, TryData(auth): TryData<HandshakeAuth>| {
        let registry = registry.clone();
        let access = access.clone();
        async move {
            remember_handshake_token(&socket, auth.ok());
            install_handlers(socket, registry, limits, access);
            Ok::<(), std::convert::Infallible>(())
        }
    };
    io.ns("/", greet.with(install));
}

/// Once connected: the greeting the frontend waits for (`server.ack`) and the empty studio's state.
async fn greet(socket: SocketRef) {
    tracing::info!(client = %socket.id, "client connected");
    greet_once(&socket);
}

/// Sends the greeting unless it was sent: a `hello` handled before [`greet`] ran sends it first,
/// so the empty state never arrives after the studio's own.
pub(super) fn greet_once(socket: &Socket<LocalAdapter>) {
    let first = socket
        .extensions
        .get::<Greeted>()
        .is_none_or(|g| !g.0.swap(true, std::sync::atomic::Ordering::AcqRel));
    if first {
        emit(socket, server_events::ACK, "connected");
        // Not in a studio yet: the empty studio's state, which the frontend expects on connect.
        emit(
            socket,
            server_events::STATE_SNAPSHOT,
            &StudioSnapshot::default(),
        );
    }
}

/// Keeps the handshake's token (from `auth`, else from the query) for the client's `hello`s.
fn remember_handshake_token(socket: &SocketRef, auth: Option<HandshakeAuth>) {
    let from_auth = auth.and_then(|a| a.token);
    let from_query = || {
        let query = socket.req_parts().uri.query()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "token")
            .map(|(_, value)| value.into_owned())
    };
    if let Some(token) = from_auth
        .filter(|t| !t.trim().is_empty())
        .or_else(from_query)
    {
        socket.extensions.insert(HandshakeToken(token));
    }
}

fn install_handlers(
    socket: SocketRef,
    registry: StudioRegistry,
    limits: ClientLimits,
    access: Arc<Access>,
) {
    // Before any handler can run: every event of this client passes its gate.
    socket.extensions.insert(Arc::new(ClientGate::new(&limits)));
    socket.extensions.insert(Greeted::default());
    crate::metrics::client_connected();

    let reg = registry.clone();
    socket.on(
        client_events::HELLO,
        InOrder::new(move |s: &Client, v: &mut Value| hello::on_hello(s, v, &reg, &access)),
    );
    socket.on(
        client_events::AUDIO_CHUNK,
        InOrder::new(events::on_audio_chunk),
    );
    socket.on(
        client_events::TOGGLE_AUTOPILOT,
        InOrder::new(events::on_toggle_autopilot),
    );
    socket.on(
        client_events::REQUEST_STATE,
        InOrder::new(events::on_request_state),
    );
    socket.on(
        client_events::END_SESSION,
        InOrder::new(events::on_end_session),
    );
    socket.on(client_events::TEXT_SAY, InOrder::new(events::on_text_say));
    socket.on_fallback(InOrder::new(events::on_unknown_event));
    socket.on_disconnect(async |socket: SocketRef| {
        tracing::info!(client = %socket.id, "client disconnected");
        crate::metrics::client_disconnected();
        if let Some(gate) = socket.extensions.get::<Arc<ClientGate>>() {
            let dropped = gate.audio_dropped();
            if !dropped.is_zero() {
                tracing::info!(client = %socket.id, dropped_ms = dropped.as_millis(), rule = "MIC_REALTIME_FACTOR", "audio over the rate dropped");
            }
        }
        if let Some(joined) = socket.extensions.get::<JoinedStudio>() {
            leave(&joined.studio, client_id(socket.id)).await;
        }
    });
}
