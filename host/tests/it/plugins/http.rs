//! The `http` capability for real: a plugin's request reaches a local server on 127.0.0.1 through
//! the host's client, the streamed body comes back, and redirects are followed only to allowed hosts.

use crate::support::plugins::{Studio, complete};
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use voice_studio::plugins::CallError;
use voice_studio::plugins::wit::PluginError;
use voice_studio::speakers::Ai;

/// Serves `/hello`, and redirects to it via an allowed (`127.0.0.1`) and a refused (`localhost`) host.
async fn server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = Router::new()
        .route("/hello", get(|| async { "hello from the test server" }))
        .route(
            "/to-allowed",
            get(move || async move {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, format!("http://127.0.0.1:{port}/hello"))],
                )
                    .into_response()
            }),
        )
        .route(
            "/to-refused",
            get(move || async move {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, format!("http://localhost:{port}/hello"))],
                )
                    .into_response()
            }),
        );
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    port
}

fn studio() -> Studio {
    let studio = Studio::with_plugins(&["fault-injector"]);
    studio.write_manifest(
        r#"
[roles]
claude = "fetcher"
[plugins.fetcher]
path = "fault-injector.wasm"
capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
"#,
    );
    studio
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_fetches_from_an_allowed_host_and_reads_the_streamed_body() {
    let port = server().await;
    let studio = studio();
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let text = complete(
        &mut claude,
        &format!("http:http://127.0.0.1:{port}/hello"),
        "",
    )
    .await
    .expect("fetch");
    assert_eq!(text, "200 hello from the test server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_only_to_allowed_hosts() {
    let port = server().await;
    let studio = studio();
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let followed = complete(
        &mut claude,
        &format!("http:http://127.0.0.1:{port}/to-allowed"),
        "",
    )
    .await
    .expect("fetch");
    assert_eq!(followed, "200 hello from the test server");
    let stopped = complete(
        &mut claude,
        &format!("http:http://127.0.0.1:{port}/to-refused"),
        "",
    )
    .await
    .expect("fetch");
    assert_eq!(
        stopped, "302 ",
        "the redirect to localhost must not be followed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_unavailable() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let studio = studio();
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let err = complete(&mut claude, &format!("http:http://127.0.0.1:{port}/"), "")
        .await
        .expect_err("nobody listens");
    assert!(
        matches!(
            err,
            CallError::Plugin {
                error: PluginError::Unavailable(_),
                ..
            }
        ),
        "{err}"
    );
}
