//! Adapter benchmark: the latency the host and an adapter plugin add between a provider sending
//! something and the studio having it, on the real adapter paths. The budget is <= 2 ms p99 of
//! host-added latency per "provider event -> next stage" hop (docs/BENCHMARKS.md).
//!
//! Run with `cargo bench -p voice-studio --bench adapters`; prints a markdown table.
//! - `anthropic`: a local server streams the Messages API's SSE events, one `text_delta` every
//!   20 ms, and stamps each write; the bench stamps each token as it leaves the host's sink.
//! - `assemblyai`: a local WebSocket server sends a `Turn` every 50 ms of received audio and stamps
//!   each send; the bench stamps each transcript as it leaves the host's sink. The plugin waits on
//!   the microphone and the socket at once (`audio-input.next` with a socket).
//!
//! The servers here are bench harnesses (they time their writes), not the test fakes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::{any, post};
use studio_test_kit::fakes::ws::{Message, WebSocket, WebSocketUpgrade};
use tokio::sync::mpsc;
use voice_studio::plugins::wit::{ChatMessage, ChatRole, LlmRequest, Speaker, SttRequest};
use voice_studio::plugins::{BUILT_PLUGIN_DIR, PluginHost, PluginHostOptions, SttInput};
use voice_studio::speakers::Ai;

const TOKENS: usize = 40;
const COMPLETIONS: usize = 25;
const TURNS: usize = 200;

type Stamps = Arc<Mutex<Vec<Instant>>>;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn built(name: &str) -> PathBuf {
    Path::new(BUILT_PLUGIN_DIR).join(format!("{name}.wasm"))
}

async fn host(dir: &Path, plugin: &str, manifest: &str) -> Arc<PluginHost> {
    std::fs::create_dir_all(dir.join("plugins")).expect("plugins folder");
    std::fs::copy(
        built(plugin),
        dir.join("plugins").join(format!("{plugin}.wasm")),
    )
    .expect("copy plugin (build the host first)");
    std::fs::write(
        dir.join("plugins.toml"),
        format!("[studio]\nplugin_dir = \"plugins\"\n{manifest}"),
    )
    .expect("manifest");
    PluginHost::start(PluginHostOptions {
        manifest_path: dir.join("plugins.toml"),
        cache_dir: Some(dir.join("cache")),
        environment: Some(Arc::new(
            [
                ("ANTHROPIC_API_KEY".to_string(), "bench".to_string()),
                ("ASSEMBLYAI_API_KEY".to_string(), "bench".to_string()),
            ]
            .into_iter()
            .collect(),
        )),
        ..Default::default()
    })
    .await
    .expect("host")
}

async fn listen(app: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Providers' servers send small SSE writes with Nagle off; so does this harness, or the
    // first token would wait for the previous write's ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

/// Streams `TOKENS` text deltas, 20 ms apart, stamping each write.
fn sse_body(sent: Stamps) -> Body {
    let head = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-haiku-4-5-20251001\",\"stop_reason\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    );
    let stream = futures::stream::unfold(0usize, move |i| {
        let sent = sent.clone();
        async move {
            let event = match i {
                0 => head.to_string(),
                n if n <= TOKENS => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    sent.lock().expect("stamps").push(Instant::now());
                    format!(
                        "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\" w{n}\"}}}}\n\n"
                    )
                }
                n if n == TOKENS + 1 => concat!(
                    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
                    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":40}}\n\n",
                    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
                )
                .to_string(),
                _ => return None,
            };
            Some((Ok::<_, std::io::Error>(Bytes::from(event)), i + 1))
        }
    });
    Body::from_stream(stream)
}

async fn anthropic(dir: &Path) -> Vec<f64> {
    let sent: Stamps = Arc::default();
    let stamps = sent.clone();
    let port = listen(Router::new().route(
        "/v1/messages",
        post(move || {
            let sent = stamps.clone();
            async move {
                axum::response::Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(sse_body(sent))
                    .expect("response")
            }
        }),
    ))
    .await;
    let host = host(
        dir,
        "anthropic",
        &format!(
            r#"
[roles]
claude = "anthropic"
[plugins.anthropic]
path = "anthropic.wasm"
capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:{port}"]
secrets = ["ANTHROPIC_API_KEY"]
[plugins.anthropic.config]
base_url = "http://127.0.0.1:{port}"
"#
        ),
    )
    .await;
    let mut claude = host.llm(Ai::Claude);
    let mut latencies = Vec::new();
    for _ in 0..COMPLETIONS {
        sent.lock().expect("stamps").clear();
        let (tx, mut rx) = mpsc::channel::<String>(256);
        let received = tokio::spawn(async move {
            let mut at = Vec::new();
            while rx.recv().await.is_some() {
                at.push(Instant::now());
            }
            at
        });
        let request = LlmRequest {
            speaker: Speaker::Claude,
            model: String::new(),
            system: "bench".into(),
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: "go".into(),
            }],
            max_tokens: 256,
            temperature: None,
        };
        claude.complete(request, tx).await.expect("completion");
        let received = received.await.expect("collector");
        let sent = sent.lock().expect("stamps").clone();
        assert_eq!(received.len(), sent.len(), "one token per delta");
        for (s, r) in sent.iter().zip(&received) {
            latencies.push(r.duration_since(*s).as_secs_f64() * 1e3);
        }
    }
    latencies
}

/// Sends a `Turn` after every 50 ms of audio, stamping each send.
async fn assemblyai_session(mut socket: WebSocket, sent: Stamps) {
    let begin = r#"{"type":"Begin","id":"bench","expires_at":1759796682}"#;
    if socket.send(Message::Text(begin.into())).await.is_err() {
        return;
    }
    let mut audio_bytes = 0usize;
    let mut order = 0u64;
    while let Some(Ok(message)) = socket.recv().await {
        match message {
            Message::Binary(bytes) => {
                audio_bytes += bytes.len();
                // 50 ms of 16 kHz s16 = 1600 bytes.
                while audio_bytes >= 1600 {
                    audio_bytes -= 1600;
                    let turn = format!(
                        r#"{{"type":"Turn","turn_order":{order},"turn_is_formatted":true,"end_of_turn":false,"transcript":"word {order}","end_of_turn_confidence":0.1,"words":[]}}"#
                    );
                    order += 1;
                    sent.lock().expect("stamps").push(Instant::now());
                    if socket.send(Message::Text(turn.into())).await.is_err() {
                        return;
                    }
                }
            }
            Message::Text(text) if text.contains("Terminate") => {
                let _ = socket
                    .send(Message::Text(
                        r#"{"type":"Termination","audio_duration_seconds":1,"session_duration_seconds":1}"#.into(),
                    ))
                    .await;
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            _ => {}
        }
    }
}

async fn assemblyai(dir: &Path) -> Vec<f64> {
    let sent: Stamps = Arc::default();
    let stamps = sent.clone();
    let port = listen(Router::new().route(
        "/v3/ws",
        any(move |upgrade: WebSocketUpgrade| {
            let sent = stamps.clone();
            async move { upgrade.on_upgrade(move |socket| assemblyai_session(socket, sent)) }
        }),
    ))
    .await;
    let host = host(
        dir,
        "assemblyai",
        &format!(
            r#"
[roles]
stt = "assemblyai"
[plugins.assemblyai]
path = "assemblyai.wasm"
capabilities = ["log", "clock", "config", "websocket"]
allowed_hosts = ["ws://127.0.0.1:{port}"]
secrets = ["ASSEMBLYAI_API_KEY"]
[plugins.assemblyai.config]
base_url = "ws://127.0.0.1:{port}"
"#
        ),
    )
    .await;
    let mut stt = host.stt();
    let (in_tx, in_rx) = mpsc::channel(64);
    let (out_tx, mut out_rx) = mpsc::channel(512);
    let received = tokio::spawn(async move {
        let mut at = Vec::new();
        while out_rx.recv().await.is_some() {
            at.push(Instant::now());
        }
        at
    });
    // Real-time microphone: a 20 ms frame every 20 ms.
    let feeder = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for _ in 0..(TURNS * 5 / 2 + 10) {
            tick.tick().await;
            if in_tx.send(SttInput::Audio(vec![300; 960])).await.is_err() {
                return;
            }
        }
        let _ = in_tx.send(SttInput::End).await;
    });
    let request = SttRequest {
        speaker: Speaker::You,
        language: "en-US".into(),
        key_terms: Vec::new(),
    };
    stt.transcribe(request, in_rx, out_tx)
        .await
        .expect("transcribe");
    feeder.await.expect("feeder");
    let received = received.await.expect("collector");
    let sent = sent.lock().expect("stamps").clone();
    sent.iter()
        .zip(&received)
        .map(|(s, r)| r.duration_since(*s).as_secs_f64() * 1e3)
        .collect()
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rows = Vec::new();
    let mut llm = anthropic(&dir.path().join("anthropic")).await;
    llm.sort_by(|a, b| a.total_cmp(b));
    rows.push((
        "anthropic: SSE text_delta written -> token out of the host sink",
        llm,
    ));
    let mut stt = assemblyai(&dir.path().join("assemblyai")).await;
    stt.sort_by(|a, b| a.total_cmp(b));
    rows.push((
        "assemblyai: Turn sent on the WebSocket -> transcript out of the host sink",
        stt,
    ));
    println!("| path | n | p50 | p99 | budget |");
    println!("|---|---|---|---|---|");
    for (what, samples) in rows {
        println!(
            "| {what} | {} | {:.2} ms | {:.2} ms | <= 2 ms p99 |",
            samples.len(),
            percentile(&samples, 0.5),
            percentile(&samples, 0.99)
        );
    }
}
