//! The `websocket` and `process` capabilities for real, and what `plugins.toml` grants: a plugin
//! talks to a local WebSocket server and runs an allowed program; anything outside its
//! `allowed_hosts`, `allowed_executables` or `secrets` is refused with a clear error and logged.

use crate::support;
use std::sync::Arc;

use crate::support::plugins::{Studio, complete, log_lines, logged};
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use studio_test_kit::fakes::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use voice_studio::plugins::wit::PluginError;
use voice_studio::plugins::{CallError, PluginHostOptions, RoleSlot};
use voice_studio::speakers::Ai;

/// A WebSocket server: `/echo` checks the `authorization` header, echoes one text and one binary
/// message, then closes with 3005; `/locked` refuses the handshake with 401.
async fn ws_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = Router::new()
        .route(
            "/echo",
            any(|headers: HeaderMap, upgrade: WebSocketUpgrade| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                upgrade.on_upgrade(move |socket| echo(socket, auth))
            }),
        )
        .route(
            "/locked",
            any(|| async { (StatusCode::UNAUTHORIZED, "bad key").into_response() }),
        );
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    port
}

async fn echo(mut socket: WebSocket, auth: String) {
    for _ in 0..2 {
        match socket.recv().await {
            Some(Ok(Message::Text(text))) => {
                let reply = format!("{text} ({auth})");
                let _ = socket.send(Message::Text(reply.into())).await;
            }
            Some(Ok(Message::Binary(bytes))) => {
                let _ = socket.send(Message::Binary(bytes)).await;
            }
            _ => return,
        }
    }
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: 3005,
            reason: "server error".into(),
        })))
        .await;
}

fn studio(extra: &str) -> Studio {
    let studio = Studio::with_plugins(&["fault-injector"]);
    studio.write_manifest(&format!(
        r#"
[roles]
claude = "prober"
[plugins.prober]
path = "fault-injector.wasm"
capabilities = ["log", "config", "websocket", "process"]
allowed_hosts = ["ws://127.0.0.1:*"]
allowed_executables = ["/bin/cat", "/usr/bin/env"]
process = {{ env = ["GREETING"] }}
secrets = ["PROBER_KEY"]
{extra}
"#
    ));
    studio
}

fn denied(result: Result<String, CallError>) -> String {
    match result {
        Err(CallError::Denied { message, .. }) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_carries_headers_text_binary_and_the_close_code() {
    let port = ws_server().await;
    let studio = studio("");
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let seen = complete(&mut claude, &format!("ws:ws://127.0.0.1:{port}/echo"), "")
        .await
        .expect("websocket session");
    assert!(
        seen.starts_with("text hello (test-key);binary 3;close 3005 server error;"),
        "{seen}"
    );
    assert!(
        seen.contains("after close: PluginError::Unavailable("),
        "a receive after the close is unavailable: {seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_websocket_handshake_is_an_auth_error() {
    let port = ws_server().await;
    let studio = studio("");
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let err = complete(&mut claude, &format!("ws:ws://127.0.0.1:{port}/locked"), "")
        .await
        .expect_err("401 handshake");
    match err {
        CallError::Plugin {
            error: PluginError::Auth(message),
            ..
        } => assert!(message.contains("401"), "{message}"),
        other => panic!("expected auth, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_to_a_host_outside_the_list_is_refused_and_logged() {
    let port = ws_server().await;
    let studio = studio("");
    let host = studio.start(false).await;
    let _ = log_lines();
    let mut claude = host.llm(Ai::Claude);
    let message =
        denied(complete(&mut claude, &format!("ws:ws://localhost:{port}/echo"), "").await);
    assert_eq!(
        message,
        format!("prober is not granted websocket/ws://localhost:{port} in plugins.toml")
    );
    let log = logged();
    assert!(
        log.lines().any(
            |l| l.contains("prober") && l.contains(&format!("websocket/ws://localhost:{port}"))
        ),
        "the refusal is logged:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_program_streams_its_output_with_only_the_given_environment() {
    let studio = studio("");
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let echoed = complete(&mut claude, "spawn:/bin/cat", "through the pipe")
        .await
        .expect("cat");
    assert_eq!(echoed, "through the pipeexit 0");
    let environment = complete(&mut claude, "spawn:/usr/bin/env", "")
        .await
        .expect("env");
    let mut names: Vec<&str> = environment
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["GREETING", "PATH"], "{environment}");
    assert!(environment.contains("GREETING=hi"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_outside_the_list_is_refused_and_logged() {
    let studio = studio("");
    let host = studio.start(false).await;
    let _ = log_lines();
    let mut claude = host.llm(Ai::Claude);
    let message = denied(complete(&mut claude, "spawn:/bin/sh|-c|true", "").await);
    assert_eq!(
        message,
        "prober is not granted process//bin/sh in plugins.toml"
    );
    let log = logged();
    assert!(
        log.lines()
            .any(|l| l.contains("prober") && l.contains("process//bin/sh")),
        "the refusal is logged:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_kills_the_program_it_waits_on() {
    let studio = Studio::with_plugins(&["fault-injector"]);
    studio.write_manifest(
        r#"
[roles]
claude = "prober"
[plugins.prober]
path = "fault-injector.wasm"
capabilities = ["log", "config", "process"]
allowed_executables = ["/bin/sh"]
[plugins.prober.process]
env = ["GREETING"]
args = ["-c", "echo $$; exec sleep 300"]
"#,
    );
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let cancel = claude.canceller();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(16);
    // Prints its pid, then sleeps far longer than the test.
    let call = tokio::spawn(async move {
        claude
            .complete(
                support::plugins::request("spawn:/bin/sh|-c|echo $$; exec sleep 300", ""),
                tx,
            )
            .await
    });
    let first = rx.recv().await.expect("the child's first output");
    let pid: u32 = first.trim().parse().expect("a pid");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    cancel.cancel();
    let result = call.await.expect("call task");
    assert!(result.is_err(), "a cancelled call ends with an error");
    // The kill is sent at once; the process is reaped shortly after.
    let mut gone = false;
    for _ in 0..100 {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting to be reaped: either way it no longer runs.
        if state.is_empty() || state.contains(") Z ") {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        gone,
        "process {pid} still runs after the call was cancelled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_file_is_read_by_the_host_and_only_for_its_plugin() {
    let studio = studio(
        r#"secret_files = ["PROBER_CREDENTIALS"]
[plugins.other]
path = "fault-injector.wasm"
capabilities = ["log", "config"]
secret_files = ["OTHER_CREDENTIALS"]
"#,
    );
    let credentials = studio.dir.path().join("credentials.json");
    let contents = "{\"private_key\": \"not shown\"}";
    std::fs::write(&credentials, contents).expect("write");
    let environment = [
        (
            "PROBER_CREDENTIALS".to_string(),
            credentials.display().to_string(),
        ),
        (
            "OTHER_CREDENTIALS".to_string(),
            credentials.display().to_string(),
        ),
    ];
    let host = voice_studio::plugins::PluginHost::start(PluginHostOptions {
        environment: Some(Arc::new(environment.into_iter().collect())),
        ..studio.options(false)
    })
    .await
    .expect("host");
    let mut claude = host.llm(Ai::Claude);
    let own = complete(&mut claude, "secret-file:PROBER_CREDENTIALS", "")
        .await
        .expect("own secret file");
    assert_eq!(own, format!("secret file: {} bytes", contents.len()));
    let message = denied(complete(&mut claude, "secret-file:OTHER_CREDENTIALS", "").await);
    assert_eq!(
        message,
        "prober is not granted secret OTHER_CREDENTIALS in plugins.toml"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_lists_expand_variables_and_role_overrides_pick_the_plugin() {
    let studio = Studio::with_plugins(&["fault-injector"]);
    studio.write_manifest(
        r#"
[roles]
claude = "prober"
[plugins.prober]
path = "fault-injector.wasm"
capabilities = ["log", "config", "websocket", "process"]
env = ["PROBE_ENDPOINT", "UNSET_ENDPOINT", "PROBE_PROGRAM"]
allowed_hosts = ["${PROBE_ENDPOINT}", "${UNSET_ENDPOINT}"]
allowed_executables = ["${PROBE_PROGRAM:-cat}"]
[plugins.real]
path = "fault-injector.wasm"
capabilities = ["log"]
"#,
    );
    let environment = [(
        "PROBE_ENDPOINT".to_string(),
        "ws://127.0.0.1:7000/v3/ws?token=x".to_string(),
    )];
    let host = voice_studio::plugins::PluginHost::start(PluginHostOptions {
        environment: Some(Arc::new(environment.into_iter().collect())),
        role_overrides: [(RoleSlot::Claude, "real".to_string())].into(),
        ..studio.options(false)
    })
    .await
    .expect("host");
    let statuses = host.plugins();
    let real = statuses.iter().find(|p| p.name == "real").expect("real");
    assert_eq!(
        real.roles,
        [RoleSlot::Claude],
        "the override takes the role"
    );
    let setup = voice_studio::plugins::Manifest::parse_with_environment(
        &std::fs::read_to_string(studio.manifest()).expect("read"),
        &studio.manifest(),
        None,
        &|name| (name == "PROBE_ENDPOINT").then(|| "ws://127.0.0.1:7000/v3/ws?token=x".into()),
    )
    .expect("manifest");
    let prober = &setup.plugins["prober"];
    let hosts: Vec<String> = prober.allowed_hosts.iter().map(|h| h.to_string()).collect();
    assert_eq!(hosts, ["ws://127.0.0.1:7000"], "origin only; unset dropped");
    let cat = prober.allowed_executables.first().expect("cat on PATH");
    assert!(
        cat.is_absolute() && cat.ends_with("cat"),
        "{}",
        cat.display()
    );

    let missing = PluginHostOptions {
        role_overrides: [(RoleSlot::Stt, "assemblyai".to_string())].into(),
        ..studio.options(false)
    };
    let err = voice_studio::plugins::PluginHost::start(missing)
        .await
        .expect_err("no [plugins.assemblyai]");
    assert!(
        err.to_string()
            .contains("USE_REAL_ADAPTERS=true puts `assemblyai` in the stt role"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_secret_file_is_a_config_error_naming_the_variable() {
    let studio = studio(r#"secret_files = ["PROBER_CREDENTIALS"]"#);
    let missing = studio.dir.path().join("no-such-credentials.json");
    let environment = [(
        "PROBER_CREDENTIALS".to_string(),
        missing.display().to_string(),
    )];
    let host = voice_studio::plugins::PluginHost::start(PluginHostOptions {
        environment: Some(Arc::new(environment.into_iter().collect())),
        ..studio.options(false)
    })
    .await
    .expect("host");
    let mut claude = host.llm(Ai::Claude);
    match complete(&mut claude, "secret-file:PROBER_CREDENTIALS", "").await {
        Err(CallError::Plugin {
            error: PluginError::Config(message),
            ..
        }) => assert!(
            message.contains("PROBER_CREDENTIALS") && message.contains("cannot be read"),
            "{message}"
        ),
        other => panic!("expected a config error, got {other:?}"),
    }
}
