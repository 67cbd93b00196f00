//! The first-party adapter plugins and the provider each one serves. With real adapters on,
//! the server's provider selection (`STT_PROVIDER`, `TTS_PROVIDER`) picks a plugin per role here,
//! over `plugins.toml`'s `[roles]` (which names the offline mock plugins); claude always talks to
//! Anthropic and the guest to an OpenAI-compatible API.
//!
//! Providers are passed by their configuration spelling (`assemblyai`, `google`, ...) so this
//! module needs nothing from the configuration.

use std::collections::BTreeMap;

use super::RoleSlot;

/// The plugin that serves claude with real adapters.
pub const CLAUDE_ADAPTER: &str = "anthropic";

/// The plugin that serves the guest with real adapters (every guest provider speaks the
/// OpenAI chat API).
pub const GUEST_ADAPTER: &str = "openai-compat";

/// The plugin for a speech-to-text provider, if there is one.
pub fn stt_adapter(provider: &str) -> Option<&'static str> {
    match provider {
        "assemblyai" => Some("assemblyai"),
        "google" => Some("google-stt"),
        "whisper" => Some("whisper"),
        _ => None,
    }
}

/// The plugin for a speech-synthesis provider, if there is one (`coqui` has none).
pub fn tts_adapter(provider: &str) -> Option<&'static str> {
    match provider {
        "google" => Some("google-tts"),
        "piper" => Some("piper"),
        _ => None,
    }
}

/// The plugin each role uses with real adapters. A provider without an adapter keeps its own
/// name, so the manifest's error names it (the configuration refuses such a provider first).
pub fn real_adapter_roles(stt_provider: &str, tts_provider: &str) -> BTreeMap<RoleSlot, String> {
    [
        (
            RoleSlot::Stt,
            stt_adapter(stt_provider).unwrap_or(stt_provider),
        ),
        (
            RoleSlot::Tts,
            tts_adapter(tts_provider).unwrap_or(tts_provider),
        ),
        (RoleSlot::Claude, CLAUDE_ADAPTER),
        (RoleSlot::Guest, GUEST_ADAPTER),
    ]
    .into_iter()
    .map(|(slot, name)| (slot, name.to_owned()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_selectable_provider_maps_to_its_adapter() {
        let roles = real_adapter_roles("google", "piper");
        assert_eq!(roles[&RoleSlot::Stt], "google-stt");
        assert_eq!(roles[&RoleSlot::Tts], "piper");
        assert_eq!(roles[&RoleSlot::Claude], "anthropic");
        assert_eq!(roles[&RoleSlot::Guest], "openai-compat");
        assert_eq!(tts_adapter("coqui"), None);
        assert_eq!(
            real_adapter_roles("whisper", "coqui")[&RoleSlot::Tts],
            "coqui"
        );
    }
}
