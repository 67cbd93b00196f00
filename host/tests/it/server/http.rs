//! The real server binary over real HTTP: `/health`, `/ready`, CORS, the settings API (auth,
//! validation, live apply) and graceful shutdown.

use crate::support;
use crate::support::server::ServerSetup;
use serde_json::json;

#[test]
fn health_has_the_original_shape_and_lists_the_loaded_plugins() {
    let server = ServerSetup::new().start();
    let health = server.get("/health");
    assert_eq!(health.status, 200);
    let body = health.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        body["adapters"],
        json!({"enabled": false, "stt": "assemblyai", "tts": "google", "guest": "groq"})
    );
    let timestamp = body["timestamp"].as_str().expect("timestamp string");
    assert_eq!(
        timestamp.len(),
        "2026-11-26T09:22:26.123Z".len(),
        "{timestamp}"
    );
    assert!(timestamp.ends_with('Z'));

    let plugins = body["plugins"].as_array().expect("plugins array");
    let stt = plugins
        .iter()
        .find(|p| p["name"] == "frame-counter")
        .expect("frame-counter listed");
    assert_eq!(stt["role"], "stt");
    assert_eq!(stt["lastError"], serde_json::Value::Null);
    let sha = stt["sha256"].as_str().expect("sha256");
    assert_eq!(sha.len(), 64);
    assert!(sha.chars().all(|c| c.is_ascii_hexdigit()));
    let llm = plugins
        .iter()
        .find(|p| p["name"] == "fault-injector")
        .expect("fault-injector listed");
    assert_eq!(llm["role"], "claude,guest");
    assert!(!llm["version"].as_str().unwrap_or_default().is_empty());
}

#[test]
fn ready_needs_loaded_plugins_and_a_writable_recording_folder() {
    let server = ServerSetup::new().start();
    let ready = server.get("/ready");
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json(), json!({"status": "ready"}));

    // The recording folder disappears and a file takes its place: recordings cannot be written.
    let dir = server.setup.recording_dir();
    std::fs::remove_dir_all(&dir).expect("remove recording dir");
    std::fs::write(&dir, "not a folder").expect("put a file there");
    let not_ready = server.get("/ready");
    assert_eq!(not_ready.status, 503);
    let body = not_ready.json();
    assert_eq!(body["status"], "not-ready");
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("RECORDING_DIR"),
        "{body}"
    );
}

#[test]
fn cors_answers_the_frontends_preflight_for_its_origin_only() {
    let server = ServerSetup::new()
        .var("CORS_ORIGIN", "http://localhost:3000,http://studio.test")
        .start();
    let preflight = |origin: &str| {
        support::server::http(
            server.addr,
            "OPTIONS",
            "/api/config/keys",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            None,
        )
    };
    let allowed = preflight("http://studio.test");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://studio.test")
    );
    let methods = allowed
        .header("access-control-allow-methods")
        .unwrap_or_default();
    assert!(methods.contains("POST"), "{methods}");
    let other = preflight("http://evil.test");
    assert_eq!(other.header("access-control-allow-origin"), None);
}

#[test]
fn settings_api_applies_guest_settings_live_and_shows_them() {
    let server = ServerSetup::new().start();
    let invite = json!({
        "guestProvider": "together",
        "guestModel": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "guestSystemInstructions": "You are a skeptical economist.",
        "guestVoice": {"provider": "google", "googleVoice": "en-US-Neural2-D", "speakingRate": 1.0, "pitch": 0}
    });
    let response = server.post("/api/config/guest", &invite.to_string(), &[]);
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.json()["success"], true);

    let config = server.get("/api/config").json();
    assert_eq!(config["guestProvider"], "together");
    assert_eq!(
        config["guestModel"],
        "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    );
    assert_eq!(
        config["runtimeConfig"]["guestSystemInstructions"],
        "You are a skeptical economist."
    );
    assert_eq!(
        config["runtimeConfig"]["guestVoice"]["googleVoice"],
        "en-US-Neural2-D"
    );
    // Fields not sent keep their value.
    assert_eq!(config["ttsProvider"], "google");
    assert_eq!(
        server.get("/health").json()["adapters"]["guest"],
        "together"
    );
}

#[test]
fn keys_are_applied_but_never_echoed() {
    let server = ServerSetup::new()
        .var("GROQ_API_KEY", "gsk-from-env")
        .start();
    let before = server.get("/api/config").json();
    assert_eq!(before["keys"]["groqApiKey"], true);
    assert_eq!(before["keys"]["anthropicApiKey"], false);

    let secret = "sk-ant-e2e-never-echo-4242";
    let payload = json!({"anthropicApiKey": secret, "assemblyaiApiKey": "", "openaiApiKey": ""});
    let response = server.post("/api/config/keys", &payload.to_string(), &[]);
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(!response.body.contains(secret));
    assert_eq!(response.json()["updated"], json!(["anthropicApiKey"]));

    let after = server.get("/api/config");
    assert!(!after.body.contains(secret));
    assert!(!after.body.contains("gsk-from-env"));
    let keys = &after.json()["keys"];
    assert_eq!(keys["anthropicApiKey"], true);
    assert_eq!(keys["assemblyaiApiKey"], false);

    let (status, log) = server.terminate();
    assert!(status.success());
    assert!(!log.contains(secret), "a key reached the log");
    assert!(log.contains("API keys updated"), "{log}");
}

#[test]
fn invalid_settings_get_400_naming_the_field() {
    let server = ServerSetup::new().start();
    let cases = [
        (
            "/api/config/guest",
            r#"{"guestProvider": "claude"}"#,
            "guestProvider",
        ),
        ("/api/config/guest", r#"{"ttsProvider": 3}"#, "ttsProvider"),
        (
            "/api/config/guest",
            r#"{"guestVoice": {"provider": "google", "pitch": "high"}}"#,
            "guestVoice.pitch",
        ),
        ("/api/config/guest", "{not json", "body"),
        (
            "/api/config/keys",
            r#"{"anthropicApiKey": 12}"#,
            "anthropicApiKey",
        ),
        (
            "/api/config/keys",
            r#"{"antropicApiKey": "sk"}"#,
            "antropicApiKey",
        ),
        ("/api/config/keys", "[]", "body"),
    ];
    for (path, body, field) in cases {
        let response = server.post(path, body, &[]);
        assert_eq!(response.status, 400, "{path} {body}: {}", response.body);
        let json = response.json();
        assert_eq!(json["field"], field, "{path} {body}");
        assert_eq!(json["success"], false);
        assert!(json["error"].as_str().unwrap_or_default().contains(field));
    }
    // Nothing was applied.
    assert_eq!(server.get("/api/config").json()["guestProvider"], "groq");
}

#[test]
fn with_an_admin_token_settings_changes_need_it() {
    let server = ServerSetup::new()
        .var("STUDIO_ADMIN_TOKEN", "let-me-in-0123456789abcdef0123456789")
        .start();
    let body = r#"{"guestProvider": "openai"}"#;
    let missing = server.post("/api/config/guest", body, &[]);
    assert_eq!(missing.status, 401);
    let wrong = server.post(
        "/api/config/guest",
        body,
        &[(
            "Authorization",
            "Bearer let-me-out-0123456789abcdef0123456789",
        )],
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(server.get("/api/config").json()["guestProvider"], "groq");

    let right = server.post(
        "/api/config/guest",
        body,
        &[(
            "Authorization",
            "Bearer let-me-in-0123456789abcdef0123456789",
        )],
    );
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(server.get("/api/config").json()["guestProvider"], "openai");
}

#[test]
fn production_without_a_token_refuses_settings_changes_and_says_how_to_enable_them() {
    // Production refuses open access, so this server runs with tokens.
    let server = ServerSetup::new()
        .var("NODE_ENV", "production")
        .var(
            "STUDIO_TOKEN_SECRET",
            "production-test-secret-0123456789abcdef",
        )
        .start();
    let response = server.post("/api/config/keys", r#"{"groqApiKey": "gsk"}"#, &[]);
    assert_eq!(response.status, 403);
    let message = response.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("STUDIO_ADMIN_TOKEN"), "{message}");
    assert_eq!(
        server.get("/api/config").json()["keys"]["groqApiKey"],
        false
    );
}

#[test]
fn sigterm_ends_studios_and_exits_cleanly() {
    let server = ServerSetup::new().start();
    assert_eq!(server.get("/health").status, 200);
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("SIGTERM"), "{log}");
    assert!(log.contains("voice-studio stopped"), "{log}");
}
