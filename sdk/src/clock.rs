//! The studio's clocks (capability `clock`).

use crate::__bindings::stt_world::studio::plugin::clock as raw;

/// Milliseconds on the session clock (0 outside a session); every track and caption uses it.
pub fn session_ms() -> u64 {
    raw::session_ms()
}

/// Milliseconds since the Unix epoch.
pub fn wall_ms() -> u64 {
    raw::wall_ms()
}
