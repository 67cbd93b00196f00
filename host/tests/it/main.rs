//! The host's integration tests, in one binary: each test links wasmtime and the whole server, so
//! one binary links them once (a binary per file took minutes of linking and gigabytes of disk).
//!
//! Areas, one folder each (`cargo test -p voice-studio --test it <area>::` runs one):
//! - `adapters`: the provider plugins against local fakes speaking each provider's wire format;
//! - `plugins`: the plugin runtime: sandbox, capabilities, deadlines, reloads, secrets;
//! - `recording`: tracks, captions, the event log and crash safety;
//! - `server`: the real server process over HTTP and Socket.IO: access, doors, limits, config;
//! - `session`: the studio's turn loop and its limits;
//! - `store`: the episode store (`studio.db`) fed by sessions, over the listing API, across restarts;
//! - `studio`: whole episodes end to end;
//! - `support`: what the areas share (servers, plugin hosts, recordings, speech, the fuzzer).

mod adapters;
mod plugins;
mod recording;
mod server;
mod session;
mod store;
mod studio;
mod support;
