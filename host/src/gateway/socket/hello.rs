//! `hello`: joining a studio. The client's token decides its role and which episodes it may
//! join; saying hello again moves it from one studio to another.

use std::sync::Arc;

use socketioxide::handler::Value;

use super::audience::client_id;
use super::checks::{CheckedHello, check_hello, join_error_code};
use super::client::{
    Client, HandshakeToken, JoinedStudio, admit, decode, emit, leave, peer_address, send_error,
};
use super::greet_once;
use crate::gateway::access::{Access, AccessError, Grant};
use crate::gateway::protocol::{ErrorCode, Hello, server_events};
use crate::gateway::rate::{ClientGate, EventKind, address_key};
use crate::session::{Participant, StudioCommand, StudioRegistry};

/// `hello`: checks it, admits its token, leaves the client's old studio if it names another,
/// and joins (or opens) the studio it asks for.
pub(super) fn on_hello(
    socket: &Client,
    value: &mut Value,
    registry: &StudioRegistry,
    access: &Access,
) {
    greet_once(socket);
    if !admit(socket, EventKind::Hello) {
        return;
    }
    let hello = match decode::<Hello>(socket, value) {
        Ok(hello) => hello,
        Err(e) => {
            return send_error(
                socket,
                ErrorCode::BadHello,
                &format!(
                    "hello needs {{episodeId?: string, participantName?: string, inputFormat?: {{encoding, sampleRate, channels}}}}: {e}"
                ),
            );
        }
    };
    let CheckedHello {
        name,
        input_format,
        episode_id: _,
    } = match check_hello(&hello) {
        Ok(checked) => checked,
        Err(message) => return send_error(socket, ErrorCode::BadHello, &message),
    };

    // The episode named in the hello, else the one the connection's URL names
    // (`?episodeId=`, how a cluster routes a connection to its episode's host).
    let connected_to = crate::cluster::relay::query_episode(socket.req_parts().uri.query());
    let asked = hello.episode_id.as_deref().or(connected_to.as_deref());
    let Some((grant, episode)) = authorize(socket, access, &hello, asked) else {
        return;
    };

    emit(socket, server_events::ACK, &format!("hello {name}"));
    // A client moves between studios by saying hello again; it leaves the old one first.
    if let Some(old) = socket.extensions.get::<JoinedStudio>() {
        let room = old.studio.episode_id().to_owned();
        if episode.as_deref() != Some(room.as_str()) {
            socket.leave(room);
            if old
                .studio
                .send(StudioCommand::Leave {
                    client: client_id(socket.id),
                })
                .is_err()
            {
                // The old studio is full or gone; deliver the leave off the receive loop.
                let studio = old.studio.clone();
                let client = client_id(socket.id);
                tokio::spawn(async move { leave(&studio, client).await });
            }
        }
    }
    let participant = Participant {
        name: name.clone(),
        input_format,
    };
    let creator = peer_address(socket).map(address_key);
    match registry.join_from(
        episode.as_deref(),
        client_id(socket.id),
        participant,
        creator,
    ) {
        Ok(studio) => {
            socket.join(studio.episode_id().to_owned());
            tracing::info!(client = %socket.id, name = %name, episode = studio.episode_id(), "hello");
            if let Some(gate) = socket.extensions.get::<Arc<ClientGate>>() {
                // A new studio hears about too-fast audio once more; the budget carries over.
                gate.joined();
            }
            socket.extensions.insert(JoinedStudio {
                studio,
                input_format,
                role: grant.role,
            });
        }
        Err(e) => {
            socket.extensions.remove::<JoinedStudio>();
            send_error(socket, join_error_code(&e), &e.to_string());
        }
    }
}

/// Decides what a `hello` may join: the grant of the token it carries (in `hello`, else from the
/// handshake) and the episode to join (`asked`, if the grant allows). `None`: refused, and the
/// client was told why.
fn authorize(
    socket: &Client,
    access: &Access,
    hello: &Hello,
    asked: Option<&str>,
) -> Option<(Grant, Option<String>)> {
    let handshake = socket.extensions.get::<HandshakeToken>();
    let token = hello
        .token
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .or(handshake.as_ref().map(|HandshakeToken(t)| t.as_str()));
    let grant = match access.admit(token) {
        Ok(grant) => grant,
        Err(e) => {
            let code = match e {
                AccessError::Expired => ErrorCode::TokenExpired,
                AccessError::WrongEpisode => ErrorCode::Forbidden,
                AccessError::Missing | AccessError::Invalid => ErrorCode::Unauthorized,
            };
            tracing::info!(client = %socket.id, peer = ?peer_address(socket), rule = "access-token", error = %e, "hello refused");
            send_error(socket, code, &e.to_string());
            return None;
        }
    };
    match grant.episode_for(asked) {
        Ok(episode) => {
            let episode = episode.map(str::to_owned);
            Some((grant, episode))
        }
        Err(e) => {
            tracing::info!(client = %socket.id, peer = ?peer_address(socket), rule = "token-episode", asked = ?asked, "hello refused");
            send_error(socket, ErrorCode::Forbidden, &e.to_string());
            None
        }
    }
}
