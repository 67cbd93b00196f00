//! Configuration errors stop the real binary with exit code 2 and a message that names the
//! variable and the fix; `.env` is read and the environment wins over it.

use crate::support::server::ServerSetup;

fn fails_naming(setup: ServerSetup, variable: &str) -> String {
    let (status, stderr) = setup.run_to_exit();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(variable),
        "{variable} not named in: {stderr}"
    );
    assert!(stderr.contains("Fix:"), "no fix in: {stderr}");
    stderr
}

#[test]
fn a_bad_port_exits_2_naming_port() {
    fails_naming(ServerSetup::new().var("PORT", "forty"), "PORT");
    fails_naming(ServerSetup::new().var("PORT", "70000"), "PORT");
}

#[test]
fn an_unknown_provider_exits_2_naming_it() {
    let stderr = fails_naming(
        ServerSetup::new().var("STT_PROVIDER", "deepgram"),
        "STT_PROVIDER",
    );
    assert!(stderr.contains("assemblyai, google or whisper"), "{stderr}");
    fails_naming(
        ServerSetup::new().var("GUEST_PROVIDER", "mistral"),
        "GUEST_PROVIDER",
    );
    fails_naming(
        ServerSetup::new().var("TTS_PROVIDER", "espeak"),
        "TTS_PROVIDER",
    );
}

#[test]
fn real_adapters_without_their_keys_exit_2_naming_each_key() {
    let setup = ServerSetup::new()
        .var("USE_REAL_ADAPTERS", "true")
        .var("GUEST_PROVIDER", "together")
        .var("ASSEMBLYAI_API_KEY", "aai-key");
    let stderr = fails_naming(setup, "ANTHROPIC_API_KEY");
    assert!(stderr.contains("TOGETHER_API_KEY"), "{stderr}");
    assert!(!stderr.contains("ASSEMBLYAI_API_KEY"), "{stderr}");
    assert!(
        !stderr.contains("aai-key"),
        "a key value was printed: {stderr}"
    );
}

#[test]
fn an_unwritable_recording_folder_exits_2_naming_it() {
    let setup = ServerSetup::new();
    let blocker = setup.path().join("a-file");
    std::fs::write(&blocker, "x").expect("write file");
    let setup = setup.var(
        "RECORDING_DIR",
        blocker.join("recordings").display().to_string(),
    );
    fails_naming(setup, "RECORDING_DIR");
}

#[test]
fn a_missing_plugins_toml_exits_2_naming_it() {
    let setup = ServerSetup::new();
    let missing = setup.path().join("nowhere.toml").display().to_string();
    fails_naming(setup.var("PLUGINS_TOML", missing), "PLUGINS_TOML");
}

#[test]
fn a_port_in_use_exits_2_naming_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    fails_naming(ServerSetup::new().var("PORT", port.to_string()), "PORT");
}

#[test]
fn dotenv_is_read() {
    let setup = ServerSetup::new().dotenv("NODE_ENV=staging\n");
    // The test harness sets NODE_ENV nowhere, so the value can only come from .env.
    fails_naming(setup, "NODE_ENV");
}

#[test]
fn the_environment_wins_over_dotenv() {
    let setup = ServerSetup::new()
        .dotenv("STT_PROVIDER=deepgram\nGUEST_MODEL=from-dotenv\n")
        .var("STT_PROVIDER", "whisper");
    let server = setup.start();
    let config = server.get("/api/config").json();
    assert_eq!(config["sttProvider"], "whisper");
    assert_eq!(config["guestModel"], "from-dotenv");
}

#[test]
fn real_adapters_need_an_adapter_table_for_each_selected_provider() {
    // The test manifest declares no [plugins.anthropic] & co.: the roles cannot be filled.
    let setup = ServerSetup::new()
        .var("USE_REAL_ADAPTERS", "true")
        .var("STT_PROVIDER", "whisper")
        .var("TTS_PROVIDER", "piper")
        .var("ANTHROPIC_API_KEY", "sk-ant-x")
        .var("GROQ_API_KEY", "gsk-x");
    let stderr = fails_naming(setup, "PLUGINS_TOML");
    assert!(
        stderr.contains("USE_REAL_ADAPTERS=true puts `")
            && stderr.contains("there is no [plugins."),
        "{stderr}"
    );
    assert!(
        !stderr.contains("sk-ant-x"),
        "a key value was printed: {stderr}"
    );
}

#[test]
fn real_adapters_refuse_a_tts_provider_without_an_adapter() {
    let setup = ServerSetup::new()
        .var("USE_REAL_ADAPTERS", "true")
        .var("TTS_PROVIDER", "coqui")
        .var("ANTHROPIC_API_KEY", "sk-ant-x")
        .var("ASSEMBLYAI_API_KEY", "aai-x")
        .var("GROQ_API_KEY", "gsk-x");
    let stderr = fails_naming(setup, "TTS_PROVIDER");
    assert!(stderr.contains("coqui has no adapter"), "{stderr}");
}

#[test]
fn without_host_the_server_listens_on_loopback_only() {
    let mut setup = ServerSetup::new();
    setup.env.retain(|(k, _)| k != "HOST");
    let server = setup.start();
    assert_eq!(server.addr.ip(), std::net::Ipv4Addr::LOCALHOST);
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn another_interface_without_tokens_exits_2_naming_host() {
    let stderr = fails_naming(ServerSetup::new().var("HOST", "0.0.0.0"), "HOST");
    // The fix names both ways out: tokens, or open access asked for explicitly.
    assert!(stderr.contains("STUDIO_TOKEN_SECRET"), "{stderr}");
    assert!(stderr.contains("STUDIO_ACCESS=open"), "{stderr}");
}

#[test]
fn production_with_open_access_exits_2_naming_studio_access() {
    fails_naming(
        ServerSetup::new().var("NODE_ENV", "production"),
        "STUDIO_ACCESS",
    );
    fails_naming(
        ServerSetup::new()
            .var("NODE_ENV", "production")
            .var("STUDIO_ACCESS", "open"),
        "STUDIO_ACCESS",
    );
}

#[test]
fn token_access_without_a_good_secret_exits_2_naming_the_secret() {
    fails_naming(
        ServerSetup::new().var("STUDIO_ACCESS", "token"),
        "STUDIO_TOKEN_SECRET",
    );
    let short = "only-twenty-bytes-xx";
    let stderr = fails_naming(
        ServerSetup::new().var("STUDIO_TOKEN_SECRET", short),
        "STUDIO_TOKEN_SECRET",
    );
    assert!(!stderr.contains(short), "the secret was printed: {stderr}");
}

#[test]
fn bad_access_settings_exit_2_naming_each() {
    fails_naming(
        ServerSetup::new().var("STUDIO_ACCESS", "public"),
        "STUDIO_ACCESS",
    );
    fails_naming(
        ServerSetup::new().var("STUDIO_TOKEN_TTL_SECONDS", "5"),
        "STUDIO_TOKEN_TTL_SECONDS",
    );
}

#[test]
fn bad_client_limits_exit_2_naming_each() {
    for (variable, value) in [
        ("MAX_STUDIOS", "0"),
        ("MAX_STUDIOS_PER_IP", "-1"),
        ("HELLO_RATE", "fast"),
        ("CONTROL_EVENT_RATE", "10,0"),
        ("MIC_REALTIME_FACTOR", "0.5"),
    ] {
        fails_naming(ServerSetup::new().var(variable, value), variable);
    }
}
