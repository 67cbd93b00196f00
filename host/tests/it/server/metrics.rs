//! `GET /metrics` after a real session: a studio rig runs a session on the quick mock plugins
//! (the human speaks, claude answers, the session ends and records) while a real gateway serves
//! the same process's metrics; the exposition is scraped over real HTTP with the admin token and
//! parsed with a Prometheus text parser.
//!
//! The recorder is process-wide and other tests run sessions at the same time, so the mocks are
//! declared here under names of their own (`metrics-stt`, `metrics-tts`, `metrics-llm`): what is
//! labelled with them comes from this test alone, and the rest is checked as an increase.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_parse::{Scrape, Value};
use studio_test_kit::manifest::Manifest;
use studio_test_kit::speech::speech;
use tokio::net::TcpListener;
use toml::Table;
use voice_studio::config::{Config, ConfigSource};
use voice_studio::gateway::protocol::OrbState;
use voice_studio::gateway::{Gateway, serve_metrics};
use voice_studio::speakers::{Ai, Speaker};

use crate::support::plugins::{Studio, built, complete};
use crate::support::server::{HttpResponse, ServerSetup, http};
use crate::support::studio::{StudioRig, final_caption, silence, stream, until};

/// The server's `STUDIO_ADMIN_TOKEN` (at least 32 characters).
const ADMIN_TOKEN: &str = "metrics-test-admin-token-0123456789abcdef";
/// What the STT mock hears.
const QUESTION: &str = "Claude, what do you make of today's topic?";

/// A plugin table: the shipped mock at `wasm` under a name of this test's own.
fn alias(wasm: &str, capabilities: &[&str], config: &[(&str, toml::Value)]) -> Table {
    let mut plugin = Table::new();
    plugin.insert("path".into(), wasm.into());
    plugin.insert(
        "capabilities".into(),
        toml::Value::Array(capabilities.iter().map(|c| toml::Value::from(*c)).collect()),
    );
    let config: Table = config
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    plugin.insert("config".into(), config.into());
    plugin
}

/// The quick mocks under this test's names, with the shipped host-led policy.
fn manifest() -> Manifest {
    Manifest::shipped()
        .plugin_table(
            "metrics-stt",
            alias(
                "mock-stt.wasm",
                &["log", "clock", "config"],
                &[
                    ("script", vec![toml::Value::from(QUESTION)].into()),
                    ("end_of_speech_ms", 500.into()),
                ],
            ),
        )
        .plugin_table(
            "metrics-tts",
            alias(
                "mock-tts.wasm",
                &["log", "config"],
                &[("words_per_minute", 400.into())],
            ),
        )
        .plugin_table(
            "metrics-llm",
            alias(
                "mock-llm.wasm",
                &["log", "config"],
                &[("token_delay_ms", 2.into())],
            ),
        )
        .role("stt", "metrics-stt")
        .role("tts", "metrics-tts")
        .role("claude", "metrics-llm")
        .role("guest", "metrics-llm")
}

/// `GET path` on `addr` with `headers`, off the async workers.
async fn get(addr: SocketAddr, path: &'static str, headers: Vec<(String, String)>) -> HttpResponse {
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        http(addr, "GET", path, &headers, None)
    })
    .await
    .expect("request thread")
}

/// `/metrics` with the admin token, answered 200 in the exposition format, parsed.
async fn scrape(addr: SocketAddr) -> Scrape {
    let bearer = vec![("Authorization".to_owned(), format!("Bearer {ADMIN_TOKEN}"))];
    let response = get(addr, "/metrics", bearer).await;
    assert_eq!(response.status, 200, "{}", response.body);
    parse(&response)
}

fn parse(response: &HttpResponse) -> Scrape {
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        response.headers
    );
    Scrape::parse(response.body.lines().map(|l| Ok(l.to_owned()))).expect("the exposition parses")
}

/// The value of the sample `name` whose labels include `labels` (0 when there is none).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(_) | Value::Summary(_) => 0.0,
        })
        .sum()
}

/// Observations of histogram `name` whose labels include `labels`.
fn observations(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(scrape, &format!("{name}_count"), labels)
}

/// A gateway with an admin token over the rig's plugins, serving on 127.0.0.1; stops when the
/// returned sender is dropped.
async fn gateway(rig: &StudioRig) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let config = Config::from_source(&ConfigSource::from_pairs([
        ("PLUGINS_TOML", rig.manifest_path.display().to_string()),
        ("RECORDING_DIR", rig.recordings.display().to_string()),
        ("STUDIO_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
    ]))
    .expect("valid config");
    let gateway = Gateway::new(Arc::new(config), rig.plugins.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.serve(listener, async {
        let _ = stop_rx.await;
    }));
    (addr, stop_tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_session_shows_in_the_metrics_scraped_with_the_admin_token() {
    let rig = StudioRig::start(manifest()).await;
    // Building the gateway installs the recorder, before the session.
    let (addr, _stop) = gateway(&rig).await;

    // Without the token, or with a wrong one: 401, and not a line of the metrics.
    for headers in [
        vec![],
        vec![("Authorization".to_owned(), "Bearer wrong".to_owned())],
    ] {
        let refused = get(addr, "/metrics", headers).await;
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert!(
            refused.body.contains("STUDIO_ADMIN_TOKEN") && !refused.body.contains("studio_"),
            "{}",
            refused.body
        );
    }

    let before = scrape(addr).await;
    let mine = [("plugin", "metrics-llm")];
    assert_eq!(value(&before, "studio_plugin_calls_total", &mine), 0.0);

    let (studio, client) = rig.join("ep-metrics");
    stream(&studio, client, &silence(500)).await;
    stream(&studio, client, &speech(QUESTION)).await;
    until(&studio, client, "claude's finished line", |s| {
        final_caption(s, Speaker::Claude).is_some() && s.orb_states.claude == OrbState::Idle
    })
    .await;
    let during = scrape(addr).await;
    assert!(
        value(&during, "studio_studios_live", &[]) >= 1.0,
        "the session's studio is live"
    );
    // The recording is counted as it grows (the writer syncs every 2 s), not only at its end.
    assert!(
        value(&during, "studio_recording_bytes_total", &[])
            > value(&before, "studio_recording_bytes_total", &[])
    );
    let (_ready, folder) = rig.end(&studio, client, "ep-metrics").await;
    assert!(folder.join("claude.webm").is_file());

    let after = scrape(addr).await;
    let claude = [("role", "claude"), ("plugin", "metrics-llm")];
    for histogram in [
        "studio_voice_to_voice_seconds",
        "studio_llm_first_token_seconds",
    ] {
        assert!(
            observations(&after, histogram, &claude) >= 1.0,
            "{histogram} for claude on metrics-llm"
        );
    }
    assert!(
        observations(
            &after,
            "studio_tts_first_audio_seconds",
            &[("role", "claude"), ("plugin", "metrics-tts")]
        ) >= 1.0
    );
    for (role, plugin) in [("claude", "metrics-llm"), ("tts", "metrics-tts")] {
        let ok = [("role", role), ("plugin", plugin), ("outcome", "ok")];
        assert!(
            value(&after, "studio_plugin_calls_total", &ok) >= 1.0,
            "{plugin} calls as {role}"
        );
    }
    let grew = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) > value(&before, name, labels)
    };
    assert!(grew("studio_recording_bytes_total", &[]));
    assert!(grew("studio_recordings_total", &[]));
    assert!(grew("studio_turns_total", &[("speaker", "you")]));
    assert!(grew("studio_turns_total", &[("speaker", "claude")]));
    assert!(grew(
        "studio_audio_frames_sent_total",
        &[("speaker", "claude")]
    ));
    // CPU time counts whole seconds (the facade's counters are integers): present, maybe 0.
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "process_cpu_seconds_total")
    );
    for process in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(value(&after, process, &[]) > 0.0, "{process}");
    }
    assert!(
        after
            .docs
            .get("studio_voice_to_voice_seconds")
            .is_some_and(|help| help.contains("end of speech")),
        "every metric has its help text"
    );
}

/// `pairs` with the shipped plugins.toml and a recording folder in `dir`, so only they can be
/// wrong.
fn base<const N: usize>(
    dir: &tempfile::TempDir,
    pairs: [(&str, &str); N],
) -> Vec<(String, String)> {
    let recordings = dir.path().join("rec");
    let mut all = vec![
        (
            "PLUGINS_TOML".to_owned(),
            studio_test_kit::manifest::shipped_path()
                .display()
                .to_string(),
        ),
        ("RECORDING_DIR".to_owned(), recordings.display().to_string()),
    ];
    all.extend(pairs.map(|(k, v)| (k.to_owned(), v.to_owned())));
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_address_serves_metrics_without_a_token_and_nothing_else() {
    voice_studio::metrics::install();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::from_source(&ConfigSource::from_pairs(base(
        &dir,
        [("METRICS_ADDR", "127.0.0.1:9464")],
    )))
    .expect("valid config");
    assert_eq!(
        config.server.metrics_addr,
        Some("127.0.0.1:9464".parse().expect("address"))
    );
    // Port 0 instead of the configured one, so parallel tests never collide.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(serve_metrics(listener, config.connection_limits, async {
        let _ = stop_rx.await;
    }));

    let open = get(addr, "/metrics", vec![]).await;
    assert_eq!(open.status, 200, "{}", open.body);
    let scrape = parse(&open);
    assert!(value(&scrape, "process_resident_memory_bytes", &[]) > 0.0);
    assert!(value(&scrape, "studio_studios_live", &[]) >= 0.0);
    assert!(scrape.docs.contains_key("studio_clients_connected"));
    for elsewhere in ["/health", "/api/config", "/"] {
        let refused = get(addr, elsewhere, vec![]).await;
        assert_eq!(refused.status, 404, "{elsewhere}: {}", refused.body);
    }

    drop(stop_tx);
    served
        .await
        .expect("metrics task")
        .expect("metrics listener stops cleanly");
}

#[test]
fn a_metrics_address_that_is_not_one_or_shares_the_port_is_a_config_problem() {
    for (raw, port) in [("localhost", "4000"), ("127.0.0.1:4000", "4000")] {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = Config::from_source(&ConfigSource::from_pairs(base(
            &dir,
            [("METRICS_ADDR", raw), ("PORT", port)],
        )))
        .expect_err("refused");
        let problems = error.to_string();
        assert!(problems.contains("METRICS_ADDR"), "{problems}");
    }
}

#[test]
fn the_binary_serves_metrics_on_metrics_addr_and_stops_when_that_address_is_taken() {
    // An address this test holds: the server cannot listen there and says which variable to fix.
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = held.local_addr().expect("address");
    let (status, stderr) = ServerSetup::new()
        .var("METRICS_ADDR", taken.to_string())
        .run_to_exit();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("METRICS_ADDR"), "{stderr}");
    drop(held);

    // A free port, found by binding and letting go; the server binds it a moment later.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let server = ServerSetup::new()
        .var("STUDIO_ADMIN_TOKEN", ADMIN_TOKEN)
        .var("METRICS_ADDR", free.to_string())
        .start();
    let open = http(free, "GET", "/metrics", &[], None);
    assert_eq!(open.status, 200, "{}", open.body);
    let scrape = parse(&open);
    assert!(value(&scrape, "process_resident_memory_bytes", &[]) > 0.0);
    assert_eq!(value(&scrape, "studio_studios_live", &[]), 0.0);
    // The main port still asks for the token.
    assert_eq!(server.get("/metrics").status, 401);
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
}

/// A primary that traps on `flaky` and falls back to a backup, under this test's own names.
const FAULTY_MANIFEST: &str = r#"
[roles]
claude = "metrics-primary"

[plugins.metrics-primary]
path = "fault-injector.wasm"
capabilities = ["log", "config"]
fallback = ["metrics-backup"]
[plugins.metrics-primary.config]
flaky = true

[plugins.metrics-backup]
path = "fault-injector-next.wasm"
capabilities = ["log", "config"]
"#;

/// The metrics as `/metrics` would render them now, parsed.
fn rendered() -> Scrape {
    let text = voice_studio::metrics::render().expect("the recorder is installed");
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("the exposition parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_traps_fallbacks_errors_and_reloads_are_counted_by_plugin() {
    assert!(voice_studio::metrics::install());
    let studio = Studio::with_plugins(&["fault-injector", "fault-injector-next"]);
    studio.write_manifest(FAULTY_MANIFEST);
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    // The primary traps; the backup answers the same call.
    assert_eq!(
        complete(&mut claude, "flaky", "").await.expect("answered"),
        "2.0.0"
    );
    let primary = [("role", "claude"), ("plugin", "metrics-primary")];
    let scrape = rendered();
    assert_eq!(value(&scrape, "studio_plugin_traps_total", &primary), 1.0);
    assert_eq!(
        value(
            &scrape,
            "studio_plugin_errors_total",
            &[("plugin", "metrics-primary"), ("kind", "trap")]
        ),
        1.0
    );
    assert_eq!(
        value(&scrape, "studio_plugin_fallbacks_total", &primary),
        1.0
    );
    assert_eq!(
        value(
            &scrape,
            "studio_plugin_calls_total",
            &[("plugin", "metrics-backup"), ("outcome", "ok")]
        ),
        1.0
    );

    // New code under the primary's file is swapped in; a broken plugins.toml is refused.
    std::fs::copy(
        built("fault-injector-next"),
        studio.plugin_path("fault-injector"),
    )
    .expect("replace the primary's code");
    let swapped = host.reload().await;
    assert!(
        swapped
            .iter()
            .any(|e| e.plugin == "metrics-primary" && e.error.is_none()),
        "{swapped:?}"
    );
    let refusals = |scrape: &Scrape| {
        let refused = [("plugin", "plugins.toml"), ("outcome", "refused")];
        value(scrape, "studio_plugin_reloads_total", &refused)
    };
    let before = refusals(&rendered());
    studio.write_manifest("[roles\n");
    let refused = host.reload().await;
    assert!(refused.iter().all(|e| e.error.is_some()), "{refused:?}");
    assert!(refusals(&rendered()) > before);
    let swaps = [("plugin", "metrics-primary"), ("outcome", "swapped")];
    assert!(value(&rendered(), "studio_plugin_reloads_total", &swaps) >= 1.0);
}
