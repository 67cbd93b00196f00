//! What the program carries so it can start from an empty folder: the repository's
//! `plugins.toml` (used when there is none), the example briefing (offered when there is no
//! briefings folder) and `.env.example`. `voice-studio init` writes editable copies of all three.

/// The repository's `plugins.toml`: the offline mock plugins in every role, and a table for each
/// real adapter. Its empty `plugin_dir` means the plugins built into the program.
pub const PLUGINS_TOML: &str = include_str!("../../../plugins.toml");

/// The example briefing's episode id (its file is `briefings/<id>.md`).
pub const EXAMPLE_BRIEFING_ID: &str = "cars-in-city-centres";

/// The example briefing's Markdown.
pub const EXAMPLE_BRIEFING: &str = include_str!("../../../briefings/cars-in-city-centres.md");

/// `.env.example`: every variable the server reads, with its default and what it does.
pub const ENV_EXAMPLE: &str = include_str!("../../../.env.example");

/// How the banner, the log and `check` name the built-in `plugins.toml`.
pub const PLUGINS_TOML_NAME: &str = "(built-in) plugins.toml";
