//! `fault-injector`: an `llm-plugin` whose behaviour is chosen by the request's `model`, so the host's
//! tests can make a real plugin trap, spin, hog memory, sleep or reach for what it was not granted.
//!
//! Written with raw `wit-bindgen` rather than the SDK: it also proves that the WIT contract works on
//! its own. The source is shared with `fault-injector-next` (a second version for hot-reload tests),
//! which includes this file with a different `VERSION`.

/// The version `describe()` reports.
const VERSION: &str = "1.0.0";

include!("plugin.rs");
