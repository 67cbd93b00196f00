//! The episode store (`studio.db`): fed by real sessions, read back over the listing API, kept
//! across restarts and kills of the real binary.

mod server;
mod sessions;
