//! How a studio reaches its clients without knowing how they are connected: the studio names
//! clients by [`ClientId`] and sends [`ServerEvent`]s to one of them or to everyone in its room
//! through an [`Audience`]. The gateway implements it over Socket.IO (a room per episode id);
//! [`NoClients`] drops everything, for studios driven without a server.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::gateway::protocol::ServerEvent;

/// A client connection, named by whoever connected it: 16 opaque bytes the studio keys its
/// clients by. The gateway uses its connection's own id, so logs on both sides agree.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId([u8; 16]);

/// Marks the ids [`ClientId::unique`] makes: the gateway's are printable text, these are not.
const UNIQUE_MARK: u8 = 0xff;

impl ClientId {
    /// The client named by `bytes`.
    pub const fn from_bytes(bytes: [u8; 16]) -> ClientId {
        ClientId(bytes)
    }

    /// The bytes that name the client.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// A fresh id that no gateway connection has, for clients named outside the gateway (tests,
    /// tools driving a studio directly).
    pub fn unique() -> ClientId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut bytes = [0u8; 16];
        bytes[0] = UNIQUE_MARK;
        bytes[8..].copy_from_slice(&n.to_be_bytes());
        ClientId(bytes)
    }
}

impl fmt::Display for ClientId {
    /// The gateway's text id as it is; any other id as `client-<hex>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(text) if self.0.iter().all(u8::is_ascii_graphic) => f.write_str(text),
            _ => {
                f.write_str("client-")?;
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({self})")
    }
}

/// A send in flight to a studio's room; it borrows the event, not the sender.
pub type Delivery<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The clients of every studio, as the studios see them. A studio's room is named by its episode
/// id; the gateway puts a client into it when the client joins. Sending never fails from the
/// studio's side: a client that is gone is skipped, and the implementation logs what it could
/// not deliver.
pub trait Audience: Send + Sync + 'static {
    /// Sends `event` to one client.
    fn send(&self, client: ClientId, event: &ServerEvent<'_>);

    /// Sends `event` to every client in the room `episode`. The future does not borrow the
    /// audience, so a studio may await it while it holds parts of itself.
    fn broadcast<'a>(&self, episode: &str, event: ServerEvent<'a>) -> Delivery<'a>;

    /// The clients in the room `episode` now.
    fn members(&self, episode: &str) -> Vec<ClientId>;

    /// Takes one client out of the room `episode` (it stays connected).
    fn leave(&self, client: ClientId, episode: &str);

    /// Takes every client out of the room `episode`: its studio ended, and whoever says hello
    /// again joins a fresh one.
    fn close(&self, episode: &str) -> Delivery<'static>;
}

/// An audience nobody is in: every event is dropped. For studios driven without a server.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClients;

impl Audience for NoClients {
    fn send(&self, _client: ClientId, _event: &ServerEvent<'_>) {}

    fn broadcast<'a>(&self, _episode: &str, _event: ServerEvent<'a>) -> Delivery<'a> {
        Box::pin(std::future::ready(()))
    }

    fn members(&self, _episode: &str) -> Vec<ClientId> {
        Vec::new()
    }

    fn leave(&self, _client: ClientId, _episode: &str) {}

    fn close(&self, _episode: &str) -> Delivery<'static> {
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_ids_differ_and_print_apart_from_text_ids() {
        let (a, b) = (ClientId::unique(), ClientId::unique());
        assert_ne!(a, b);
        assert!(a.to_string().starts_with("client-ff"), "{a}");
        let text = ClientId::from_bytes(*b"AbCdEfGhIjKl-_01");
        assert_eq!(text.to_string(), "AbCdEfGhIjKl-_01");
        assert_eq!(ClientId::from_bytes(text.to_bytes()), text);
    }
}
