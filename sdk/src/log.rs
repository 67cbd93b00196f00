//! Logging to the host's log, tagged with the plugin's name (capability `log`).
//!
//! Use the macros like `format!`: `studio_plugin::log::info!("connected to {url}")`.

use crate::__bindings::stt_world::studio::plugin::log as raw;

pub use raw::Level;

/// Logs one message at `level`. Without the `log` capability the host drops it.
pub fn write(level: Level, message: &str) {
    raw::log(level, message);
}

/// Logs at `trace`.
pub fn trace(message: &str) {
    write(Level::Trace, message);
}

/// Logs at `debug`.
pub fn debug(message: &str) {
    write(Level::Debug, message);
}

/// Logs at `info`.
pub fn info(message: &str) {
    write(Level::Info, message);
}

/// Logs at `warn`.
pub fn warn(message: &str) {
    write(Level::Warn, message);
}

/// Logs at `error`.
pub fn error(message: &str) {
    write(Level::Error, message);
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_trace { ($($arg:tt)*) => { $crate::log::trace(&::std::format!($($arg)*)) }; }
#[doc(hidden)]
#[macro_export]
macro_rules! __log_debug { ($($arg:tt)*) => { $crate::log::debug(&::std::format!($($arg)*)) }; }
#[doc(hidden)]
#[macro_export]
macro_rules! __log_info { ($($arg:tt)*) => { $crate::log::info(&::std::format!($($arg)*)) }; }
#[doc(hidden)]
#[macro_export]
macro_rules! __log_warn { ($($arg:tt)*) => { $crate::log::warn(&::std::format!($($arg)*)) }; }
#[doc(hidden)]
#[macro_export]
macro_rules! __log_error { ($($arg:tt)*) => { $crate::log::error(&::std::format!($($arg)*)) }; }

/// Logs a formatted message at `debug`.
pub use crate::__log_debug as debug;
/// Logs a formatted message at `error`.
pub use crate::__log_error as error;
/// Logs a formatted message at `info`.
pub use crate::__log_info as info;
/// Logs a formatted message at `trace`.
pub use crate::__log_trace as trace;
/// Logs a formatted message at `warn`.
pub use crate::__log_warn as warn;
