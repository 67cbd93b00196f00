//! Plugin runtime benchmark: what crossing the WebAssembly boundary costs on the studio's paths.
//!
//! Run with `cargo bench -p voice-studio --bench plugin_runtime`; prints a markdown table.
//! - per-frame overhead of the STT input path (`audio-input.next` returning one 960-sample frame),
//!   from batches of 100 frames per `transcribe` call minus an empty call;
//! - one policy `decide` call, timed individually;
//! - one plugin HTTP request to a local server (the `http` capability's checks included);
//! - instantiating a plugin into a fresh store (a new handle's first call minus a warm call);
//! - cold compile vs loading from the compile cache;
//! - hot swap: from the file being replaced to the new version serving, through the watcher
//!   (includes its 100 ms debounce) and through `PluginHost::reload` (file settled -> serving).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use voice_studio::plugins::wit::{
    ChatMessage, ChatRole, FloorEvent, FloorState, LlmRequest, Speaker, SttRequest,
};
use voice_studio::plugins::{BUILT_PLUGIN_DIR, PluginHost, PluginHostOptions, SttInput};
use voice_studio::speakers::Ai;

const FRAME: usize = 960;
const FRAMES_PER_BATCH: usize = 100;
const BATCHES: usize = 120;
const DECIDES: usize = 20_000;
const INSTANTIATIONS: usize = 300;
const LOADS: usize = 5;
const SWAPS: usize = 10;
const HTTP_REQUESTS: usize = 2_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

struct Row {
    what: String,
    n: usize,
    p50: f64,
    p99: f64,
    unit: &'static str,
    budget: &'static str,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn row(what: &str, mut samples: Vec<f64>, unit: &'static str, budget: &'static str) -> Row {
    samples.sort_by(|a, b| a.total_cmp(b));
    Row {
        what: what.into(),
        n: samples.len(),
        p50: percentile(&samples, 0.5),
        p99: percentile(&samples, 0.99),
        unit,
        budget,
    }
}

fn built(name: &str) -> PathBuf {
    Path::new(BUILT_PLUGIN_DIR).join(format!("{name}.wasm"))
}

fn studio(dir: &Path, plugins: &[&str], manifest: &str) -> PluginHostOptions {
    std::fs::create_dir_all(dir.join("plugins")).expect("plugins folder");
    for name in plugins {
        std::fs::copy(
            built(name),
            dir.join("plugins").join(format!("{name}.wasm")),
        )
        .expect("copy plugin (build the host first)");
    }
    std::fs::write(
        dir.join("plugins.toml"),
        format!("[studio]\nplugin_dir = \"plugins\"\n{manifest}"),
    )
    .expect("manifest");
    PluginHostOptions {
        manifest_path: dir.join("plugins.toml"),
        plugin_dir_override: None,
        cache_dir: Some(dir.join("cache")),
        watch: false,
        ..Default::default()
    }
}

fn floor() -> FloorState {
    FloorState {
        now_ms: 1_000,
        autopilot: false,
        holder: None,
        human_speaking: false,
        last_speaker: None,
        ai_turns_in_a_row: 0,
        max_ai_turns: 4,
        thinking: None,
        autopilot_since_ms: None,
        memory: String::new(),
    }
}

fn version_request() -> LlmRequest {
    LlmRequest {
        speaker: Speaker::Claude,
        model: "version".into(),
        system: String::new(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: String::new(),
        }],
        max_tokens: 8,
        temperature: None,
    }
}

async fn version_of(handle: &mut voice_studio::plugins::LlmHandle) -> String {
    let (tx, mut rx) = mpsc::channel(16);
    handle
        .complete(version_request(), tx)
        .await
        .expect("version call");
    let mut text = String::new();
    while let Some(piece) = rx.recv().await {
        text.push_str(&piece);
    }
    text
}

/// One `transcribe` call over `frames` queued frames; returns its duration.
async fn stt_batch(handle: &mut voice_studio::plugins::SttHandle, frames: usize) -> Duration {
    let (in_tx, in_rx) = mpsc::channel(frames + 1);
    for _ in 0..frames {
        in_tx
            .try_send(SttInput::Audio(vec![100; FRAME]))
            .expect("queue frame");
    }
    drop(in_tx);
    let (out_tx, _out_rx) = mpsc::channel(4);
    let request = SttRequest {
        speaker: Speaker::You,
        language: "en-US".into(),
        key_terms: Vec::new(),
    };
    let started = Instant::now();
    handle
        .transcribe(request, in_rx, out_tx)
        .await
        .expect("transcribe");
    started.elapsed()
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rows = Vec::new();

    // Per-frame STT input path.
    let options = studio(
        &dir.path().join("frames"),
        &["frame-counter", "echo-policy", "fault-injector"],
        "[roles]\nstt = \"frames\"\npolicy = \"echo\"\nclaude = \"faulty\"\n\
         [plugins.frames]\npath = \"frame-counter.wasm\"\n[plugins.echo]\npath = \"echo-policy.wasm\"\n\
         [plugins.faulty]\npath = \"fault-injector.wasm\"\n",
    );
    let host = PluginHost::start(options).await.expect("host");
    let mut stt = host.stt();
    for _ in 0..10 {
        stt_batch(&mut stt, FRAMES_PER_BATCH).await;
        stt_batch(&mut stt, 0).await;
    }
    let mut empty = Vec::new();
    for _ in 0..BATCHES {
        empty.push(stt_batch(&mut stt, 0).await.as_secs_f64());
    }
    empty.sort_by(|a, b| a.total_cmp(b));
    let empty_p50 = percentile(&empty, 0.5);
    let mut per_frame = Vec::new();
    for _ in 0..BATCHES {
        let batch = stt_batch(&mut stt, FRAMES_PER_BATCH).await.as_secs_f64();
        per_frame.push((batch - empty_p50).max(0.0) / FRAMES_PER_BATCH as f64 * 1e6);
    }
    rows.push(row(
        &format!("STT input: one 960-sample frame through `audio-input.next` ({BATCHES} batches x {FRAMES_PER_BATCH} frames)"),
        per_frame,
        "us",
        "<= 2 us",
    ));
    rows.push(row(
        "STT call with an empty stream (call + End)",
        empty.iter().map(|s| s * 1e6).collect(),
        "us",
        "-",
    ));

    // Policy decide.
    let mut policy = host.policy();
    let mut decide = Vec::with_capacity(DECIDES);
    for i in 0..DECIDES + 1_000 {
        let event = FloorEvent::HumanSaid("Claude, what do you think?".into());
        let started = Instant::now();
        let decisions = policy.decide(floor(), event).await.expect("decide");
        let took = started.elapsed().as_secs_f64() * 1e6;
        assert_eq!(decisions.len(), 2);
        if i >= 1_000 {
            decide.push(took);
        }
    }
    rows.push(row(
        &format!("policy `decide` call ({DECIDES} calls)"),
        decide.clone(),
        "us",
        "<= 2 us",
    ));

    // One plugin HTTP request to a local server: the `http` capability's checks, the request, and
    // reading the body back into the plugin (fault-injector `http:URL`, one `complete` call each).
    rows.push(http_round_trips(&dir.path().join("http")).await);

    // Instantiation: a new handle's first call minus a warm call.
    decide.sort_by(|a, b| a.total_cmp(b));
    let warm_decide = percentile(&decide, 0.5);
    let mut instantiate = Vec::new();
    for _ in 0..INSTANTIATIONS {
        let mut fresh = host.policy();
        let started = Instant::now();
        fresh
            .decide(floor(), FloorEvent::SessionStarted)
            .await
            .expect("decide");
        instantiate.push(started.elapsed().as_secs_f64() * 1e6 - warm_decide);
    }
    rows.push(row(
        &format!("instantiate echo-policy into a new store ({INSTANTIATIONS}x)"),
        instantiate,
        "us",
        "-",
    ));
    let mut warm = host.llm(Ai::Claude);
    version_of(&mut warm).await;
    let mut warm_llm = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        version_of(&mut warm).await;
        warm_llm.push(started.elapsed().as_secs_f64() * 1e6);
    }
    warm_llm.sort_by(|a, b| a.total_cmp(b));
    let warm_llm_p50 = percentile(&warm_llm, 0.5);
    let mut instantiate_llm = Vec::new();
    for _ in 0..INSTANTIATIONS {
        let mut fresh = host.llm(Ai::Claude);
        let started = Instant::now();
        version_of(&mut fresh).await;
        instantiate_llm.push(started.elapsed().as_secs_f64() * 1e6 - warm_llm_p50);
    }
    rows.push(row(
        &format!(
            "instantiate fault-injector (llm, WASI linked) into a new store ({INSTANTIATIONS}x)"
        ),
        instantiate_llm,
        "us",
        "-",
    ));
    drop(host);

    // Cold compile vs cached load.
    let mut cold = Vec::new();
    let mut cached = Vec::new();
    for i in 0..LOADS {
        let options = studio(
            &dir.path().join(format!("load{i}")),
            &["fault-injector"],
            "[roles]\nclaude = \"faulty\"\n[plugins.faulty]\npath = \"fault-injector.wasm\"\n",
        );
        let started = Instant::now();
        let host = PluginHost::start(options.clone())
            .await
            .expect("cold start");
        cold.push(started.elapsed().as_secs_f64() * 1e3);
        assert!(!host.plugins()[0].from_cache);
        drop(host);
        let started = Instant::now();
        let host = PluginHost::start(options).await.expect("cached start");
        cached.push(started.elapsed().as_secs_f64() * 1e3);
        assert!(host.plugins()[0].from_cache);
    }
    let size = std::fs::metadata(built("fault-injector"))
        .map(|m| m.len())
        .unwrap_or(0);
    rows.push(row(
        &format!(
            "host start, fault-injector compiled cold ({} KiB .wasm, {LOADS}x)",
            size / 1024
        ),
        cold,
        "ms",
        "-",
    ));
    rows.push(row(
        &format!("host start, fault-injector from the compile cache ({LOADS}x)"),
        cached,
        "ms",
        "<= 300 ms to /ready",
    ));

    // Hot swap.
    let swap_dir = dir.path().join("swap");
    let mut options = studio(
        &swap_dir,
        &["fault-injector"],
        "[roles]\nclaude = \"faulty\"\n[plugins.faulty]\npath = \"fault-injector.wasm\"\n",
    );
    options.watch = true;
    let host = PluginHost::start(options).await.expect("swap host");
    let target = swap_dir.join("plugins").join("fault-injector.wasm");
    let versions = [
        (
            "2.0.0",
            std::fs::read(built("fault-injector-next")).expect("v2"),
        ),
        ("1.0.0", std::fs::read(built("fault-injector")).expect("v1")),
    ];
    // Warm the cache with both versions so swaps measure loading, not compiling.
    for (want, bytes) in &versions {
        swap_by_rename(&swap_dir, &target, bytes);
        wait_for_version(&host, want).await;
    }
    let mut watched = Vec::new();
    for i in 0..SWAPS {
        let (want, bytes) = &versions[i % 2];
        let started = Instant::now();
        swap_by_rename(&swap_dir, &target, bytes);
        wait_for_version(&host, want).await;
        watched.push(started.elapsed().as_secs_f64() * 1e3);
    }
    drop(host);
    let mut options = studio(
        &swap_dir.join("direct"),
        &["fault-injector"],
        "[roles]\nclaude = \"faulty\"\n[plugins.faulty]\npath = \"fault-injector.wasm\"\n",
    );
    options.cache_dir = Some(swap_dir.join("cache"));
    let host = PluginHost::start(options).await.expect("direct host");
    let target = swap_dir
        .join("direct")
        .join("plugins")
        .join("fault-injector.wasm");
    let mut settled = Vec::new();
    let mut handle = host.llm(Ai::Claude);
    for i in 0..SWAPS * 2 {
        let (want, bytes) = &versions[i % 2];
        swap_by_rename(&swap_dir, &target, bytes);
        let started = Instant::now();
        host.reload().await;
        let got = version_of(&mut handle).await;
        settled.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(&got, want);
    }
    rows.push(row(&format!("hot swap, file renamed -> new version serving, via the watcher ({SWAPS}x; includes the 100 ms debounce)"), watched, "ms", "-"));
    rows.push(row(&format!("hot swap, file settled -> new version serving (`reload()` + first call, cached code, {}x)", SWAPS * 2), settled, "ms", "<= 50 ms"));

    println!("| measurement | n | p50 | p99 | budget |");
    println!("|---|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.2} {} | {:.2} {} | {} |",
            r.what, r.n, r.p50, r.unit, r.p99, r.unit, r.budget
        );
    }
}

/// Local HTTP server answering `ok` on any path, with Nagle off as a provider would have it.
async fn local_http_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = axum::Router::new().fallback(|| async { "ok" });
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

async fn http_round_trips(dir: &Path) -> Row {
    let port = local_http_server().await;
    let options = studio(
        dir,
        &["fault-injector"],
        &format!(
            "[roles]\nclaude = \"faulty\"\n[plugins.faulty]\npath = \"fault-injector.wasm\"\n\
             capabilities = [\"http\", \"config\"]\nallowed_hosts = [\"http://127.0.0.1:{port}\"]\n"
        ),
    );
    let host = PluginHost::start(options).await.expect("http host");
    let mut handle = host.llm(Ai::Claude);
    let mut request = version_request();
    request.model = format!("http:http://127.0.0.1:{port}/v1/ping");
    let mut samples = Vec::with_capacity(HTTP_REQUESTS);
    for i in 0..HTTP_REQUESTS + 200 {
        let (tx, mut rx) = mpsc::channel(16);
        let started = Instant::now();
        handle
            .complete(request.clone(), tx)
            .await
            .expect("http call");
        let took = started.elapsed().as_secs_f64() * 1e6;
        let reply = rx.recv().await.expect("reply");
        assert_eq!(reply, "200 ok");
        if i >= 200 {
            samples.push(took);
        }
    }
    row(
        &format!("plugin HTTP GET to a local server, call to body read ({HTTP_REQUESTS} calls)"),
        samples,
        "us",
        "-",
    )
}

fn swap_by_rename(dir: &Path, target: &Path, bytes: &[u8]) {
    let staged = dir.join("staged.wasm");
    std::fs::write(&staged, bytes).expect("stage");
    std::fs::rename(&staged, target).expect("rename into place");
}

async fn wait_for_version(host: &Arc<PluginHost>, want: &str) {
    let mut handle = host.llm(Ai::Claude);
    let deadline = Instant::now() + Duration::from_secs(30);
    while version_of(&mut handle).await != want {
        assert!(Instant::now() < deadline, "version {want} never served");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
