//! The network capabilities cannot be tricked: each attack goes through a real plugin call (the
//! fault-injector's `http:`, `ws:` and `*-hold:` modes) at real servers on 127.0.0.1 that count
//! every connection they accept, and must be refused with an error naming the plugin and the rule,
//! with the server never contacted. Addresses outside loopback (169.254.169.254, 10.0.0.1) are
//! only ever refused before a connection, so no test sends traffic there.

use crate::support;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::plugins::{Studio, complete, log_lines, logged};
use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use futures::StreamExt;
use studio_test_kit::fakes::ws::{Message, WebSocket, WebSocketUpgrade};
use voice_studio::plugins::CallError;
use voice_studio::plugins::wit::PluginError;
use voice_studio::speakers::Ai;

/// A local server on 127.0.0.1 that counts the connections it accepts.
struct Server {
    port: u16,
    contacted: Arc<AtomicUsize>,
}

impl Server {
    fn connections(&self) -> usize {
        self.contacted.load(Ordering::SeqCst)
    }
}

/// Serves `router` on 127.0.0.1, counting accepted connections.
async fn serve(router: impl FnOnce(u16) -> Router) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let contacted = Arc::new(AtomicUsize::new(0));
    let counter = contacted.clone();
    let listener = listener.tap_io(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let app = router(port);
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    Server { port, contacted }
}

/// `/hello`; `/redirect?to=URL` answers 302 to URL; `/stall` sends `first` and then nothing.
async fn http_server() -> Server {
    serve(|_| {
        Router::new()
            .route("/hello", get(|| async { "hello" }))
            .route("/latest/meta-data", get(|| async { "secret-role-credentials" }))
            .route(
                "/redirect",
                get(
                    |query: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                        let to = query.get("to").cloned().unwrap_or_default();
                        (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
                    },
                ),
            )
            .route(
                "/stall",
                get(|| async {
                    let first = futures::stream::once(async {
                        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"first"))
                    });
                    Body::from_stream(first.chain(futures::stream::pending()))
                }),
            )
    })
    .await
}

/// `/echo`: echoes one text and one binary message (the text with the `authorization` header),
/// then closes; otherwise holds the connection open.
async fn ws_server() -> Server {
    serve(|_| {
        Router::new().route(
            "/echo",
            any(
                |headers: axum::http::HeaderMap, upgrade: WebSocketUpgrade| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    upgrade.on_upgrade(move |socket| echo(socket, auth))
                },
            ),
        )
    })
    .await
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
    let _ = socket.send(Message::Close(None)).await;
}

/// A studio whose `claude` is the fault-injector as `prober`, granted `http` and `websocket` to
/// `allowed_hosts`.
fn studio(allowed_hosts: &[&str]) -> Studio {
    let studio = Studio::with_plugins(&["fault-injector"]);
    let hosts: Vec<String> = allowed_hosts.iter().map(|h| format!("\"{h}\"")).collect();
    studio.write_manifest(&format!(
        r#"
[roles]
claude = "prober"
[plugins.prober]
path = "fault-injector.wasm"
capabilities = ["log", "config", "http", "websocket"]
allowed_hosts = [{}]
"#,
        hosts.join(", ")
    ));
    studio
}

/// Runs one `model` on a studio granting `allowed_hosts`.
async fn call(allowed_hosts: &[&str], model: &str) -> Result<String, CallError> {
    let studio = studio(allowed_hosts);
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    complete(&mut claude, model, "").await
}

/// The refusal message of a denied call.
fn denied(result: Result<String, CallError>) -> String {
    match result {
        Err(CallError::Denied { message, .. }) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backslash_trick_is_refused_and_the_host_never_contacted() {
    let server = http_server().await;
    let _ = log_lines();
    let port = server.port;
    let message = denied(
        call(
            &["http://allowed.example"],
            &format!("http:http://127.0.0.1:{port}\\@allowed.example/latest/meta-data"),
        )
        .await,
    );
    assert_eq!(
        message,
        format!("prober is not granted http/http://127.0.0.1:{port} in plugins.toml")
    );
    assert_eq!(server.connections(), 0, "127.0.0.1 was contacted");
    let log = logged();
    assert!(
        log.lines()
            .any(|l| l.contains("prober") && l.contains(&format!("http/http://127.0.0.1:{port}"))),
        "the refusal is logged:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_info_in_a_url_is_refused() {
    let server = http_server().await;
    let port = server.port;
    for user_info in ["user", "user:secret", ":secret"] {
        let message = denied(
            call(
                &["http://127.0.0.1:*"],
                &format!("http:http://{user_info}@127.0.0.1:{port}/hello"),
            )
            .await,
        );
        assert_eq!(
            message,
            format!(
                "prober is not granted http to http://127.0.0.1:{port} with user info (credentials in a URL (`user:pass@host`) are refused; send them in a header)"
            ),
            "{user_info}"
        );
    }
    assert_eq!(server.connections(), 0, "the server was contacted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_spellings_of_loopback_are_refused_unless_named_literally() {
    let server = http_server().await;
    let port = server.port;
    for (spelling, canonical) in [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "[::ffff:7f00:1]"),
        ("[::1]", "[::1]"),
    ] {
        let url = format!("http://{spelling}:{port}/hello");
        // A wildcard lets the URL through the allow-list; the address rule still refuses it.
        let message = denied(call(&["http://*:*"], &format!("http:{url}")).await);
        assert_eq!(
            message,
            format!(
                "prober is not granted http to {canonical} (a loopback address; name it literally in allowed_hosts to allow it)"
            ),
            "{url}"
        );
        // Only `allowed.example` allowed: refused by the allow-list, under its real host.
        let message = denied(call(&["http://allowed.example"], &format!("http:{url}")).await);
        assert_eq!(
            message,
            format!("prober is not granted http/http://{canonical}:{port} in plugins.toml"),
            "{url}"
        );
    }
    assert_eq!(server.connections(), 0, "loopback was contacted");
    // Named literally, any spelling of it reaches the local server.
    let fetched = call(
        &["http://127.0.0.1:*"],
        &format!("http:http://2130706433:{port}/hello"),
    )
    .await
    .expect("a literal entry allows its address");
    assert_eq!(fetched, "200 hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_address_is_refused_before_any_connection() {
    for model in [
        "http:http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http:http://[::ffff:169.254.169.254]/latest/meta-data",
        "http:http://[fd00:ec2::254]/latest/meta-data",
        "http:http://100.100.100.200/latest/meta-data",
    ] {
        let message = denied(call(&["http://*:*"], model).await);
        assert!(
            message.starts_with("prober is not granted http to ")
                && message.ends_with(
                    "(a cloud metadata address; name it literally in allowed_hosts to allow it)"
                ),
            "{model}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_resolves_to_loopback_is_refused() {
    let server = http_server().await;
    let _ = log_lines();
    let port = server.port;
    let message = denied(
        call(
            &["http://*:*"],
            &format!("http:http://localhost:{port}/hello"),
        )
        .await,
    );
    // localhost has 127.0.0.1 and maybe ::1: the message shows the first address refused.
    assert!(
        message.starts_with("prober is not granted http to localhost (it resolves to ")
            && message.ends_with(
                ", a loopback address; name the address literally in allowed_hosts (or `localhost` for loopback) to allow it)"
            ),
        "{message}"
    );
    assert_eq!(server.connections(), 0, "localhost was contacted");
    let log = logged();
    assert!(
        log.lines().any(|l| l.contains("prober")
            && l.contains("plugin network access refused")
            && l.contains("localhost")),
        "the refusal is logged:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_named_in_allowed_hosts_reaches_a_local_server() {
    let server = http_server().await;
    let port = server.port;
    let fetched = call(
        &["http://localhost:*"],
        &format!("http:http://localhost:{port}/hello"),
    )
    .await
    .expect("localhost named literally");
    assert_eq!(fetched, "200 hello");
    assert!(server.connections() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_an_inner_address_is_refused_and_never_followed() {
    let first = http_server().await;
    let second = http_server().await;
    let (a, b) = (first.port, second.port);
    // The first server is named literally; the second only matches a wildcard on its port.
    let allowed = [format!("http://127.0.0.1:{a}"), format!("http://*:{b}")];
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    for (target, refused) in [
        (
            format!("http://127.0.0.1:{b}/hello"),
            "127.0.0.1 (a loopback address; name it literally in allowed_hosts to allow it)"
                .to_string(),
        ),
        (
            format!("http://2130706433:{b}/hello"),
            "127.0.0.1 (a loopback address; name it literally in allowed_hosts to allow it)"
                .to_string(),
        ),
        // Refused in the redirect policy, before any connection to 10.0.0.1.
        (
            format!("http://10.0.0.1:{b}/hello"),
            "10.0.0.1 (a private address; name it literally in allowed_hosts to allow it)"
                .to_string(),
        ),
        (
            format!("http://localhost:{b}/hello"),
            "localhost (it resolves to ".to_string(),
        ),
    ] {
        let model = format!("http:http://127.0.0.1:{a}/redirect?to={target}");
        let message = match call(&allowed, &model).await {
            Err(CallError::Plugin {
                error: PluginError::Denied(message),
                ..
            })
            | Err(CallError::Denied { message, .. }) => message,
            other => panic!("{target}: expected a refusal, got {other:?}"),
        };
        assert!(
            message.starts_with(&format!("prober is not granted http to {refused}")),
            "{target}: {message}"
        );
    }
    assert!(first.connections() >= 1, "the allowed server was asked");
    assert_eq!(second.connections(), 0, "the redirect was followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_backslash_trick_is_refused_and_the_host_never_contacted() {
    let server = ws_server().await;
    let port = server.port;
    let message = denied(
        call(
            &["ws://allowed.example"],
            &format!("ws:ws://127.0.0.1:{port}\\@allowed.example/echo"),
        )
        .await,
    );
    assert_eq!(
        message,
        format!("prober is not granted websocket/ws://127.0.0.1:{port} in plugins.toml")
    );
    let message = denied(
        call(
            &["ws://allowed.example"],
            &format!("ws:ws://user@127.0.0.1:{port}/echo"),
        )
        .await,
    );
    assert!(
        message.starts_with(&format!(
            "prober is not granted websocket to ws://127.0.0.1:{port} with user info"
        )),
        "{message}"
    );
    assert_eq!(server.connections(), 0, "127.0.0.1 was contacted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_to_the_metadata_address_or_a_loopback_name_is_refused() {
    let server = ws_server().await;
    let port = server.port;
    let message = denied(call(&["ws://*:*"], "ws:ws://169.254.169.254/latest").await);
    assert_eq!(
        message,
        "prober is not granted websocket to 169.254.169.254 (a cloud metadata address; name it literally in allowed_hosts to allow it)"
    );
    let message = denied(call(&["ws://*:*"], &format!("ws:ws://0x7f.1:{port}/echo")).await);
    assert_eq!(
        message,
        "prober is not granted websocket to 127.0.0.1 (a loopback address; name it literally in allowed_hosts to allow it)"
    );
    let message = denied(call(&["ws://*:*"], &format!("ws:ws://localhost:{port}/echo")).await);
    assert!(
        message.starts_with("prober is not granted websocket to localhost (it resolves to ")
            && message.contains("a loopback address"),
        "{message}"
    );
    assert_eq!(server.connections(), 0, "loopback was contacted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_to_localhost_named_literally_connects_to_the_vetted_address() {
    let server = ws_server().await;
    let port = server.port;
    let seen = call(
        &["ws://localhost:*"],
        &format!("ws:ws://localhost:{port}/echo"),
    )
    .await
    .expect("websocket session");
    assert!(
        seen.starts_with("text hello (test-key);binary 3;close 1005 ;"),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_http_responses_are_capped_per_instance() {
    let server = http_server().await;
    let port = server.port;
    let held = call(
        &["http://127.0.0.1:*"],
        &format!("http-hold:20|http://127.0.0.1:{port}/hello"),
    )
    .await
    .expect("the plugin reports the refusal");
    assert_eq!(
        held,
        "opened 16; refused: PluginError::Denied(\"prober already holds 16 open HTTP responses, the most one plugin instance may; drop one first\")"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_websockets_are_capped_per_instance() {
    let server = ws_server().await;
    let port = server.port;
    let held = call(
        &["ws://127.0.0.1:*"],
        &format!("ws-hold:20|ws://127.0.0.1:{port}/echo"),
    )
    .await
    .expect("the plugin reports the refusal");
    assert_eq!(
        held,
        "opened 16; refused: PluginError::Denied(\"prober already holds 16 open WebSockets, the most one plugin instance may; drop one first\")"
    );
    assert_eq!(server.connections(), 16, "the 17th was not opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_stops_waiting_on_a_stalled_response_body() {
    let server = http_server().await;
    let port = server.port;
    let studio = studio(&["http://127.0.0.1:*"]);
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let cancel = claude.canceller();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(16);
    let call = tokio::spawn(async move {
        claude
            .complete(
                support::plugins::request(
                    &format!("http-stream:http://127.0.0.1:{port}/stall"),
                    "",
                ),
                tx,
            )
            .await
    });
    let first = rx.recv().await.expect("the first piece of the body");
    assert_eq!(first, "first");
    // The plugin now waits in `read` on a body that never goes on.
    cancel.cancel();
    // A guard against a hang, far longer than a cancel needs; not a timing measurement.
    let result = tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("the call ended after the cancel")
        .expect("call task");
    assert!(
        matches!(
            result,
            Err(CallError::Plugin {
                error: PluginError::Cancelled,
                ..
            })
        ),
        "{result:?}"
    );
}
