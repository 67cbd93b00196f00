//! The names `plugins.toml` uses: capabilities, plugin kinds and the `[roles]` slots.

use std::fmt;

use serde::Deserialize;

/// A host capability a plugin can be granted (`capabilities = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// Write to the host log.
    Log,
    /// Read the session and wall clocks.
    Clock,
    /// Read its own settings and declared secrets.
    Config,
    /// Outbound HTTP(S) to `allowed_hosts`.
    Http,
    /// Outbound WebSocket to `allowed_hosts`.
    Websocket,
    /// Run `allowed_executables`.
    Process,
}

impl Capability {
    /// The name used in `plugins.toml` and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Config => "config",
            Capability::Http => "http",
            Capability::Websocket => "websocket",
            Capability::Process => "process",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind of plugin a role needs; each is its own WIT world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PluginKind {
    /// `stt-plugin`.
    Stt,
    /// `tts-plugin`.
    Tts,
    /// `llm-plugin`.
    Llm,
    /// `policy-plugin`.
    Policy,
}

impl PluginKind {
    /// The WIT world's role name (`stt`, `tts`, `llm`, `policy`).
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Stt => "stt",
            PluginKind::Tts => "tts",
            PluginKind::Llm => "llm",
            PluginKind::Policy => "policy",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A seat in the studio that a plugin fills (`[roles]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoleSlot {
    /// Speech to text for the human.
    Stt,
    /// Text to speech for both AIs.
    Tts,
    /// The LLM writing claude's lines.
    Claude,
    /// The LLM writing guest's lines.
    Guest,
    /// Turn taking.
    Policy,
}

impl RoleSlot {
    /// Every slot, in `[roles]` order.
    pub const ALL: [RoleSlot; 5] = [
        RoleSlot::Stt,
        RoleSlot::Tts,
        RoleSlot::Claude,
        RoleSlot::Guest,
        RoleSlot::Policy,
    ];

    /// The key in `[roles]`.
    pub fn name(self) -> &'static str {
        match self {
            RoleSlot::Stt => "stt",
            RoleSlot::Tts => "tts",
            RoleSlot::Claude => "claude",
            RoleSlot::Guest => "guest",
            RoleSlot::Policy => "policy",
        }
    }

    /// The kind of plugin this slot takes.
    pub fn kind(self) -> PluginKind {
        match self {
            RoleSlot::Stt => PluginKind::Stt,
            RoleSlot::Tts => PluginKind::Tts,
            RoleSlot::Claude | RoleSlot::Guest => PluginKind::Llm,
            RoleSlot::Policy => PluginKind::Policy,
        }
    }
}

impl fmt::Display for RoleSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
