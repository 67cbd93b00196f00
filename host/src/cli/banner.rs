//! The startup banner on stdout: address, mode, providers, folders (and which built-in
//! defaults are in use), access and limits.

use voice_studio::config::{AccessMode, Config, NodeEnv, built_in};

/// The startup banner on stdout: address, mode, providers, folders, access and limits. Scripts
/// and tests read the address from its `Listening on:` line.
pub fn banner(config: &Config, bound: std::net::SocketAddr) -> String {
    let rule = "=".repeat(60);
    let p = &config.providers;
    let mut lines = vec![
        rule.clone(),
        format!("voice-studio {}", env!("CARGO_PKG_VERSION")),
        rule.clone(),
        format!("Listening on:      http://{bound}"),
        format!("Environment:       {}", config.server.node_env.as_str()),
        format!(
            "CORS Origins:      {}",
            config.server.cors_origins.join(", ")
        ),
        format!(
            "Mode:              {}",
            if p.use_real_adapters {
                "real adapters"
            } else {
                "offline mock plugins"
            }
        ),
    ];
    if p.use_real_adapters {
        lines.push(format!("STT Provider:      {}", p.stt.as_str()));
        lines.push(format!("TTS Provider:      {}", p.tts.as_str()));
        lines.push(format!("Guest Provider:    {}", p.guest.as_str()));
        if let Some(model) = &p.guest_model {
            lines.push(format!("Guest Model:       {model}"));
        }
    }
    let f = &config.folders;
    if f.built_in_plugins_toml {
        lines.push(format!(
            "Plugins:           built-in plugins.toml (no {} here; `voice-studio init` writes one)",
            f.plugins_toml.display()
        ));
    } else {
        lines.push(format!("Plugins:           {}", f.plugins_toml.display()));
    }
    match &f.plugin_dir {
        Some(dir) => lines.push(format!("Plugin Dir:        {}", dir.display())),
        None => lines.push(format!(
            "Plugin Dir:        {} (unless plugins.toml sets [studio] plugin_dir)",
            default_plugins()
        )),
    }
    lines.push(format!("Recording Dir:     {}", f.recording_dir.display()));
    if f.briefings_dir.is_dir() {
        lines.push(format!("Briefings Dir:     {}", f.briefings_dir.display()));
    } else {
        lines.push(format!(
            "Briefings Dir:     {} missing: the built-in example briefing `{}` is offered read-only",
            f.briefings_dir.display(),
            built_in::EXAMPLE_BRIEFING_ID
        ));
    }
    lines.extend(access_banner(config));
    lines.push(format!(
        "Settings API:      {}",
        match (&config.server.admin_token, config.server.node_env) {
            (Some(_), _) => "token required",
            (None, NodeEnv::Production) => "disabled (set STUDIO_ADMIN_TOKEN)",
            (None, _) => "open (development)",
        }
    ));
    lines.push(format!(
        "Connections:       {}",
        config.connection_limits.summary()
    ));
    lines.push(rule);
    lines.join("\n")
}

/// The banner's access lines: the mode, and on loopback how to expose the server safely.
fn access_banner(config: &Config) -> Vec<String> {
    let access = &config.access;
    let mut lines = vec![format!(
        "Access:            {}",
        match access.mode {
            AccessMode::Token => format!(
                "token (signed links, valid {} s; mint them with POST /api/episodes)",
                access.token_ttl.as_secs()
            ),
            AccessMode::Open => {
                "open: anyone who reaches the port is a host (trusted machine only)".to_owned()
            }
        }
    )];
    if config.server.host.is_loopback() {
        lines.push(
            "Expose:            this machine only; to serve others set HOST=0.0.0.0 with \
             STUDIO_TOKEN_SECRET=<32+ random bytes> (or STUDIO_ACCESS=open on a trusted network)"
                .to_owned(),
        );
    }
    lines
}

/// What an empty plugin folder setting means for this program: built in, or the build's folder.
fn default_plugins() -> String {
    let dir = voice_studio::plugins::default_plugin_dir();
    if voice_studio::plugins::is_embedded(dir) {
        "the plugins built into this program".to_owned()
    } else {
        format!("{} (this checkout's build)", dir.display())
    }
}
