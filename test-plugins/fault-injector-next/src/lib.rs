//! `fault-injector-next`: the same plugin as `fault-injector`, reporting version 2.0.0, so that a
//! hot-reload test can swap one file for the other and see which version served each call.

/// The version `describe()` reports.
const VERSION: &str = "2.0.0";

include!("../../fault-injector/src/plugin.rs");
