//! Secrets stay where they belong: `${VAR}` reads only what a plugin's table declares, a refused
//! `plugins.toml` edit changes nothing, a revoked grant ends the calls holding it, a key a
//! provider or plugin echoes never reaches an error, a log line or `events.jsonl`, and plugin
//! output needs the `log` capability and is rate-limited.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::support::plugins::{Studio, complete, log_lines, logged};
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use studio_test_kit::fakes::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use tokio::sync::{Notify, mpsc};
use voice_studio::plugins::wit::{PluginError, Speaker, SttRequest};
use voice_studio::plugins::{CallError, PluginHost, PluginHostOptions, SttInput};
use voice_studio::speakers::Ai;

/// The key every test hands the prober: long enough to be redacted, unique enough to grep for.
const KEY: &str = "sk-proj-Pr0berS3cretKeyValue0123456789wxyz";

/// Log lines that mention `needle`.
fn logged_lines_with(needle: &str) -> Vec<String> {
    logged()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// A studio whose role `claude` is the fault-injector as plugin `name`, with `table` (lines of
/// its plugin table after `path`).
fn prober(name: &str, table: &str) -> Studio {
    let studio = Studio::with_plugins(&["fault-injector", "mock-stt"]);
    studio.write_manifest(&prober_manifest(name, table, ""));
    studio
}

fn prober_manifest(name: &str, table: &str, extra: &str) -> String {
    format!(
        r#"
[roles]
claude = "{name}"
[plugins.{name}]
path = "fault-injector.wasm"
{table}
{extra}
"#
    )
}

/// Host options on `studio` with `PROBER_KEY` (and `more`) as the environment.
fn options_with_key(studio: &Studio, more: &[(&str, &str)]) -> PluginHostOptions {
    let mut environment: HashMap<String, String> =
        [("PROBER_KEY".to_string(), KEY.to_string())].into();
    for (name, value) in more {
        environment.insert((*name).to_string(), (*value).to_string());
    }
    PluginHostOptions {
        environment: Some(Arc::new(environment)),
        ..studio.options(false)
    }
}

async fn start(options: PluginHostOptions) -> Arc<PluginHost> {
    log_lines();
    PluginHost::start(options).await.expect("host starts")
}

// ---------------------------------------------------------------------------------------------
// ${VAR}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variable_the_table_does_not_declare_is_refused_at_load() {
    let studio = prober(
        "evil",
        r#"capabilities = ["config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
[plugins.evil.config]
url = "http://127.0.0.1:9/?k=${PROBER_KEY}""#,
    );
    let error = PluginHost::start(options_with_key(&studio, &[]))
        .await
        .expect_err("an undeclared variable is a manifest error");
    let message = error.to_string();
    assert!(
        message.contains(
            "[plugins.evil] config.url: ${PROBER_KEY} is not declared in this plugin's secrets or env"
        ),
        "{message}"
    );
    assert!(!message.contains(KEY), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_variables_expand_in_config() {
    let studio = prober(
        "expander",
        r#"capabilities = ["config"]
secrets = ["PROBER_KEY"]
env = ["PROBER_BASE_URL", "PROBER_UNSET_URL"]
[plugins.expander.config]
base_url = "${PROBER_BASE_URL}/v1"
fallback_url = "${PROBER_UNSET_URL:-https://example.test}"
key = "${PROBER_KEY}""#,
    );
    let host = start(options_with_key(
        &studio,
        &[("PROBER_BASE_URL", "http://127.0.0.1:7")],
    ))
    .await;
    let mut claude = host.llm(Ai::Claude);
    let config = complete(&mut claude, "config", "")
        .await
        .expect("config read");
    assert!(
        config.contains("base_url=http://127.0.0.1:7/v1\n"),
        "{config}"
    );
    assert!(
        config.contains("fallback_url=https://example.test\n"),
        "{config}"
    );
    assert!(config.contains(&format!("key={KEY}\n")), "{config}");
}

// ---------------------------------------------------------------------------------------------
// A refused edit changes nothing.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_edit_does_not_change_the_secrets() {
    let table = r#"capabilities = ["log", "config"]
secrets = ["PROBER_KEY"]"#;
    let studio = prober("keeper", table);
    let host = start(options_with_key(&studio, &[])).await;
    let mut claude = host.llm(Ai::Claude);
    assert_eq!(
        complete(&mut claude, "secret:PROBER_KEY", "")
            .await
            .expect("reads its key"),
        "secret: set"
    );

    // The edit drops the key from every table, and is refused as a whole: the STT role names
    // an LLM plugin. Nothing of it may apply, the secrets snapshot included.
    studio.write_manifest(
        r#"
[roles]
claude = "keeper"
stt = "keeper-stt"
[plugins.keeper]
path = "fault-injector.wasm"
capabilities = ["log", "config"]
[plugins.keeper-stt]
path = "fault-injector.wasm"
"#,
    );
    let events = host.reload().await;
    assert!(
        events
            .iter()
            .any(|e| e.plugin == "plugins.toml" && e.error.is_some()),
        "the edit is refused: {events:?}"
    );
    assert_eq!(
        complete(&mut claude, "secret:PROBER_KEY", "")
            .await
            .expect("still reads its key"),
        "secret: set",
        "a refused edit changed the secrets"
    );
}

// ---------------------------------------------------------------------------------------------
// Revoking a grant.

/// A WebSocket server whose `/hold` connections wait: each accepted connection is announced on
/// the returned receiver, and `release` makes the server send `released` and close them all.
async fn holding_ws_server() -> (u16, mpsc::UnboundedReceiver<()>, Arc<Notify>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (connected_tx, connected_rx) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let server_release = release.clone();
    let app = Router::new().route(
        "/hold",
        any(move |upgrade: WebSocketUpgrade| {
            let connected = connected_tx.clone();
            let release = server_release.clone();
            async move { upgrade.on_upgrade(move |socket| hold(socket, connected, release)) }
        }),
    );
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (port, connected_rx, release)
}

async fn hold(mut socket: WebSocket, connected: mpsc::UnboundedSender<()>, release: Arc<Notify>) {
    let released = release.notified();
    tokio::pin!(released);
    released.as_mut().enable();
    let _ = connected.send(());
    released.await;
    let _ = socket.send(Message::Text("released".into())).await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "bye".into(),
        })))
        .await;
}

/// Longest a call may take to end once its grant is revoked before the test fails (a bound so a
/// broken revocation fails instead of hanging, not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(30);

/// The output of `call`, failing when it has not ended within [`PATIENCE`].
async fn ended<T>(call: tokio::task::JoinHandle<T>) -> T {
    tokio::time::timeout(PATIENCE, call)
        .await
        .expect("the call holding the revoked grant never ended")
        .expect("call task")
}

const WS_TABLE: &str = r#"capabilities = ["log", "config", "websocket"]
allowed_hosts = ["ws://127.0.0.1:*"]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_capability_ends_the_call_holding_it_and_the_next_call_uses_the_new_grant() {
    let studio = prober("holder", WS_TABLE);
    let host = start(studio.options(false)).await;
    let (port, mut connected, _release) = holding_ws_server().await;
    let mut claude = host.llm(Ai::Claude);
    let model = format!("ws:ws://127.0.0.1:{port}/hold");
    let call = tokio::spawn(async move {
        let result = complete(&mut claude, &model, "").await;
        (claude, result)
    });
    connected.recv().await.expect("the plugin connected");

    // The edit takes `websocket` (and its hosts) away while the call waits on its socket.
    studio.write_manifest(&prober_manifest(
        "holder",
        r#"capabilities = ["log", "config"]"#,
        "",
    ));
    let events = host.reload().await;
    assert!(events.iter().all(|e| e.error.is_none()), "{events:?}");
    let (mut claude, result) = ended(call).await;
    match result {
        Err(CallError::GrantRevoked { plugin }) => assert_eq!(plugin, "holder"),
        other => panic!("expected the call to end with a revoked grant, got {other:?}"),
    }

    let model = format!("ws:ws://127.0.0.1:{port}/hold");
    match complete(&mut claude, &model, "").await {
        Err(CallError::Denied { plugin, message }) => {
            assert_eq!(plugin, "holder");
            assert!(
                message.contains("holder is not granted websocket"),
                "{message}"
            );
        }
        other => panic!("the next call runs on the new grant and is denied, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_does_not_touch_a_grant_leaves_its_calls_running() {
    let studio = prober("steady", WS_TABLE);
    let host = start(studio.options(false)).await;
    let (port, mut connected, release) = holding_ws_server().await;
    let mut claude = host.llm(Ai::Claude);
    let model = format!("ws:ws://127.0.0.1:{port}/hold");
    let call = tokio::spawn(async move { complete(&mut claude, &model, "").await });
    connected.recv().await.expect("the plugin connected");

    // Another table is added; `steady`'s grant is the same.
    studio.write_manifest(&prober_manifest(
        "steady",
        WS_TABLE,
        "[plugins.bystander]\npath = \"fault-injector.wasm\"\ncapabilities = [\"log\"]\n",
    ));
    let events = host.reload().await;
    assert!(events.iter().all(|e| e.error.is_none()), "{events:?}");
    release.notify_waiters();
    let text = call.await.expect("call task").expect("the call goes on");
    assert!(text.contains("text released;"), "{text}");
}

fn stt_request() -> SttRequest {
    SttRequest {
        speaker: Speaker::You,
        language: "en-US".into(),
        key_terms: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_stt_grant_ends_its_session_long_call_and_the_next_call_runs() {
    let stt_table = |capabilities: &str| {
        format!(
            "[roles]\nstt = \"listener\"\n[plugins.listener]\npath = \"mock-stt.wasm\"\ncapabilities = {capabilities}\n"
        )
    };
    let studio = Studio::with_plugins(&["mock-stt"]);
    studio.write_manifest(&stt_table(r#"["log", "clock", "config"]"#));
    let host = start(studio.options(false)).await;
    let mut stt = host.stt();

    // A session-long call: the input stays open.
    let (input_tx, input_rx) = mpsc::channel(64);
    let (text_tx, _text_rx) = mpsc::channel(64);
    input_tx
        .send(SttInput::Audio(vec![0; 960]))
        .await
        .expect("audio");
    let call = tokio::spawn(async move {
        let result = stt.transcribe(stt_request(), input_rx, text_tx).await;
        (stt, result)
    });
    // The call is in flight once the plugin took the first frame (the queue has room again).
    // Poll the input's capacity rather than sleep: no timing assumption.
    while input_tx.capacity() < 64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    studio.write_manifest(&stt_table(r#"["log", "config"]"#));
    let events = host.reload().await;
    assert!(events.iter().all(|e| e.error.is_none()), "{events:?}");
    let (mut stt, result) = ended(call).await;
    match result {
        Err(CallError::GrantRevoked { plugin }) => assert_eq!(plugin, "listener"),
        other => panic!("expected the STT call to end with a revoked grant, got {other:?}"),
    }
    drop(input_tx);

    // The next call runs on the new grant, to its end.
    let (input_tx, input_rx) = mpsc::channel(64);
    let (text_tx, _text_rx) = mpsc::channel(64);
    input_tx.send(SttInput::End).await.expect("end");
    stt.transcribe(stt_request(), input_rx, text_tx)
        .await
        .expect("the next STT call runs on the new grant");
}

// ---------------------------------------------------------------------------------------------
// Redaction.

/// A provider that echoes the bearer token of every request in a 401 body, once in full and
/// once masked the way OpenAI does.
async fn echoing_provider() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = Router::new().route(
        "/v1/models",
        get(|headers: HeaderMap| async move {
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("")
                .to_string();
            let tail = &token[token.len().saturating_sub(4)..];
            let prefix = &token[..token.len().min(8)];
            let body = serde_json::json!({"error": {
                "message": format!("Incorrect API key provided: {prefix}****{tail}. Sent: {token}"),
                "type": "invalid_request_error",
            }});
            (StatusCode::UNAUTHORIZED, body.to_string()).into_response()
        }),
    );
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    port
}

/// What the log holds about the masked or full key.
fn assert_no_key_in(text: &str, what: &str) {
    assert!(!text.contains(KEY), "the key reached {what}: {text}");
    assert!(
        !text.contains("****wxyz"),
        "a masked echo reached {what}: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_a_provider_echoes_is_redacted_from_the_error_and_the_log() {
    let studio = prober(
        "echoed",
        r#"capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
secrets = ["PROBER_KEY"]"#,
    );
    let host = start(options_with_key(&studio, &[])).await;
    let port = echoing_provider().await;
    let mut claude = host.llm(Ai::Claude);
    let error = complete(
        &mut claude,
        &format!("auth-echo:http://127.0.0.1:{port}/v1/models"),
        "",
    )
    .await
    .expect_err("the provider refuses the key");
    let message = error.to_string();
    assert!(
        matches!(
            &error,
            CallError::Plugin {
                error: PluginError::Auth(_),
                ..
            }
        ),
        "{error:?}"
    );
    assert_no_key_in(&message, "the call error");
    assert!(
        message.contains(
            "Incorrect API key provided: [redacted PROBER_KEY]. Sent: [redacted PROBER_KEY]"
        ),
        "{message}"
    );
    let lines = logged_lines_with("echoed");
    assert!(
        lines.iter().any(|l| l.contains("provider replied 401")),
        "the plugin's log line is there: {lines:#?}"
    );
    assert_no_key_in(&lines.join("\n"), "the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_a_plugin_leaks_is_redacted_from_its_error_log_and_output() {
    let studio = prober(
        "leaker",
        r#"capabilities = ["log", "config"]
secrets = ["PROBER_KEY"]"#,
    );
    let host = start(options_with_key(&studio, &[])).await;
    let mut claude = host.llm(Ai::Claude);
    let error = complete(&mut claude, "leak:PROBER_KEY", "")
        .await
        .expect_err("the plugin fails with the key in its error");
    let message = error.to_string();
    assert_no_key_in(&message, "the call error");
    assert!(message.contains("[redacted PROBER_KEY]"), "{message}");
    drop(claude);
    let lines = logged_lines_with("leaker");
    for stream in ["leak log", "leak stdout", "leak stderr"] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(stream) && l.contains("[redacted PROBER_KEY]")),
            "{stream} is logged, redacted: {lines:#?}"
        );
    }
    assert_no_key_in(&lines.join("\n"), "the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_set_at_run_time_is_redacted_too() {
    const RUNTIME_KEY: &str = "rt-key-9f8e7d6c5b4a39281706";
    let studio = prober(
        "rotated",
        r#"capabilities = ["log", "config"]
secrets = ["PROBER_KEY"]"#,
    );
    let host = start(options_with_key(&studio, &[])).await;
    host.set_secret("PROBER_KEY", RUNTIME_KEY);
    let mut claude = host.llm(Ai::Claude);
    let message = complete(&mut claude, "leak:PROBER_KEY", "")
        .await
        .expect_err("fails with the key")
        .to_string();
    assert!(!message.contains(RUNTIME_KEY), "{message}");
    assert!(message.contains("[redacted PROBER_KEY]"), "{message}");
    let lines = logged_lines_with("rotated").join("\n");
    assert!(!lines.contains(RUNTIME_KEY), "{lines}");
}

// ---------------------------------------------------------------------------------------------
// Plugin output.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_without_the_log_capability_is_not_logged() {
    let studio = prober("mute-printer", r#"capabilities = ["config"]"#);
    let host = start(studio.options(false)).await;
    let mut claude = host.llm(Ai::Claude);
    let text = complete(&mut claude, "print:20", "").await.expect("prints");
    assert_eq!(text, "printed");
    drop(claude);
    let lines = logged_lines_with("mute-printer");
    assert!(
        !lines.iter().any(|l| l.contains("print line")),
        "output without `log` reached the log: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("without the `log` capability")),
        "the drop is reported once: {lines:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_printing_100k_lines_is_limited() {
    let studio = prober("flood-printer", r#"capabilities = ["log", "config"]"#);
    let host = start(studio.options(false)).await;
    let mut claude = host.llm(Ai::Claude);
    let text = complete(&mut claude, "print:100000", "")
        .await
        .expect("prints");
    assert_eq!(text, "printed");
    drop(claude);
    let lines = logged_lines_with("flood-printer");
    let printed = lines.iter().filter(|l| l.contains("print line")).count();
    // A burst of 200 and 50 lines/s: far under 100k however slow the machine is.
    assert!(
        (200..20_000).contains(&printed),
        "{printed} of 100000 lines were logged"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("log lines of the plugin were dropped")),
        "the drop is counted: {}",
        lines.len()
    );
}

// ---------------------------------------------------------------------------------------------
// End to end: a studio whose guest leaks its key.

mod studio_rig;
