//! The studios' [`Audience`] over Socket.IO: a studio's room is the Socket.IO room of its episode
//! id in namespace `/`, and a [`ClientId`] is the text of the connection's Socket.IO id.

use std::str::FromStr;

use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Sid;

use crate::gateway::protocol::ServerEvent;
use crate::session::{Audience, ClientId, Delivery};

/// The studios' clients, reached through the Socket.IO server `io`.
#[derive(Clone)]
pub struct SocketAudience {
    io: SocketIo,
}

impl SocketAudience {
    /// The audience of the clients connected to `io`.
    pub fn new(io: SocketIo) -> Self {
        Self { io }
    }

    /// The namespace studios live in. socketioxide's `io.to()` and `io.get_socket()` panic when
    /// `/` is not registered; this returns `None` instead, so a studio never panics over it.
    fn namespace(&self) -> Option<BroadcastOperators> {
        self.io.of("/")
    }

    fn socket(&self, client: ClientId) -> Option<SocketRef> {
        self.namespace()?.get_socket(sid_of(client)?)
    }
}

/// The studio's name for the connection `sid`.
pub fn client_id(sid: Sid) -> ClientId {
    let mut bytes = [0u8; 16];
    for (byte, text) in bytes.iter_mut().zip(sid.as_str().bytes()) {
        *byte = text;
    }
    ClientId::from_bytes(bytes)
}

/// The connection a studio's client id names; `None` for an id the gateway did not make.
fn sid_of(client: ClientId) -> Option<Sid> {
    let bytes = client.to_bytes();
    Sid::from_str(std::str::from_utf8(&bytes).ok()?).ok()
}

impl Audience for SocketAudience {
    fn send(&self, client: ClientId, event: &ServerEvent<'_>) {
        if let Some(socket) = self.socket(client)
            && let Err(e) = socket.emit(event.name(), event)
        {
            tracing::debug!(%client, event = event.name(), error = %e, "could not send to client");
        }
    }

    fn broadcast<'a>(&self, episode: &str, event: ServerEvent<'a>) -> Delivery<'a> {
        let room = self.namespace().map(|ns| ns.to(episode.to_owned()));
        let episode = episode.to_owned();
        Box::pin(async move {
            let Some(room) = room else {
                return;
            };
            if let Err(e) = room.emit(event.name(), &event).await {
                tracing::debug!(%episode, event = event.name(), error = %e, "broadcast failed");
            }
        })
    }

    fn members(&self, episode: &str) -> Vec<ClientId> {
        self.namespace()
            .map(|ns| ns.to(episode.to_owned()).sockets())
            .unwrap_or_default()
            .into_iter()
            .map(|socket| client_id(socket.id))
            .collect()
    }

    fn leave(&self, client: ClientId, episode: &str) {
        if let Some(socket) = self.socket(client) {
            socket.leave(episode.to_owned());
        }
    }

    fn close(&self, episode: &str) -> Delivery<'static> {
        let room = self.namespace().map(|ns| ns.to(episode.to_owned()));
        let episode = episode.to_owned();
        Box::pin(async move {
            let Some(room) = room else {
                return;
            };
            if let Err(e) = room.leave(episode.clone()).await {
                tracing::warn!(%episode, error = %e, "could not empty the studio's room");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_id_survives_the_round_trip() {
        let sid = Sid::new();
        assert_eq!(sid_of(client_id(sid)), Some(sid));
        assert_eq!(client_id(sid).to_string(), sid.as_str());
        assert_eq!(sid_of(ClientId::unique()), None);
    }
}
