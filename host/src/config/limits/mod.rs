//! What one client or connection may take from the server. Two sections, as the banner and
//! `.env.example` group them: what a Socket.IO client may ask for ([`ClientLimits`]) and what a
//! TCP connection may hold ([`ConnectionLimits`]).

mod clients;
mod connections;

pub use clients::{ClientLimits, EventRate};
pub use connections::ConnectionLimits;
