//! Live studio benchmark, the density scenario of docs/BENCHMARKS.md (budget: 320 studios with no
//! late `audio.out` frame): the real `voice-studio` binary with mock providers at fixed latencies,
//! N Socket.IO clients in this process each streaming real-time 48 kHz audio with a spoken turn
//! every 8 s that cuts the previous reply (barge-in), recording on.
//!
//! Run: `cargo bench -p voice-studio --bench studio`. Knobs (environment):
//! `STUDIO_BENCH_STEPS` (studios per step, default `1,20,80,160,320`), `STUDIO_BENCH_STEP_SECS`
//! (default 30), `STUDIO_BENCH_LATE_MS` (a frame this far behind its schedule is late, default 50).
//! Stepping stops after the first step with a late frame. Prints markdown tables: the clients'
//! view, then the host's own share of each line's latency from the traces the server exports to
//! a local OTLP receiver in this process (tracing is on while the bench runs).
//!
//! The clients speak a minimal Engine.IO v4 / Socket.IO v5 over a WebSocket (tokio-tungstenite
//! framing, handshake by hand), which is what the browser client sends with
//! `transports: ["websocket"]`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use studio_test_kit::manifest::Manifest;
use studio_test_kit::speech::{Source, Speech};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

/// 20 ms of 48 kHz mono s16le.
const FRAME_BYTES: usize = 1920;
const FRAME: Duration = Duration::from_millis(20);
/// One spoken turn per client this often.
const TURN_EVERY: Duration = Duration::from_secs(8);
/// The mock STT's end of speech and the mock LLM's pace, as `manifest` sets them.
const STT_END_OF_SPEECH_MS: f64 = 150.0;
const TOKEN_MS: f64 = 20.0;
/// A reply's frames arriving with a gap longer than this belong to a new reply.
const REPLY_GAP: Duration = Duration::from_millis(150);

/// The scenario's providers, on the shipped mocks: STT final 150 ms after end of speech, LLM
/// 20 ms per token after a 200 ms first token, TTS streams as it goes after 100 ms. The mock-stt
/// script addresses claude every turn.
fn manifest() -> String {
    Manifest::shipped()
        .script(&["Claude, what do you make of today's topic?"])
        .config("mock-stt", "end_of_speech_ms", STT_END_OF_SPEECH_MS as i64)
        .config("mock-tts", "first_byte_ms", 100)
        .config("mock-llm", "token_delay_ms", TOKEN_MS as i64)
        .config("mock-llm", "first_token_ms", 200)
        .to_string()
}

fn main() {
    let steps: Vec<usize> = std::env::var("STUDIO_BENCH_STEPS")
        .unwrap_or_else(|_| "1,20,80,160,320".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let step_secs: u64 = env_number("STUDIO_BENCH_STEP_SECS", 30);
    let late_ms: u64 = env_number("STUDIO_BENCH_LATE_MS", 50);
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => fail(&format!("no temp dir: {e}")),
    };
    let (speech, source) = speech_clip();
    println!(
        "speech: {source}, {} ms per turn; a turn every {} s; {step_secs} s per step; late = more than {late_ms} ms behind schedule",
        speech.len() / FRAME_BYTES * 20,
        TURN_EVERY.as_secs()
    );
    println!();
    println!(
        "| studios | replies | client v2v p50 / p99 ms | host v2v p50 / p99 ms | host overhead p50 / p99 ms | barge-in: last AI frame p50 / p99 ms | audio.stop p50 / p99 ms | late frames | lost frames | server CPU % of a core (per studio) | clients' CPU % of a core | RSS MiB (per studio) | RSS MiB idle / after all ended |"
    );
    println!("|---:|---:|---|---|---|---|---|---:|---:|---|---:|---|---|");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => fail(&format!("no tokio runtime: {e}")),
    };
    let speech = Arc::new(speech);
    let mut max_clean = 0;
    let mut host_gaps = Vec::new();
    for n in steps {
        let step = runtime.block_on(run_step(
            n,
            Duration::from_secs(step_secs),
            speech.clone(),
            dir.path(),
        ));
        let report = step.analyse(Duration::from_millis(late_ms));
        report.print_row(n);
        host_gaps.push((n, HostGaps::from_spans(&step.spans)));
        // An error event (a recording that dropped frames, a failed plugin) is trouble too.
        let clean = report.late_frames == 0 && report.lost_frames == 0 && report.errors == 0;
        if clean && report.replies > 0 {
            max_clean = n;
        } else {
            break;
        }
    }
    host_gaps::print_table(&host_gaps);
    println!();
    println!("max studios with no late or lost frame and no error event: {max_clean}");
}

fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(1);
}

/// One spoken turn as 48 kHz mono s16le, whole frames: the test kit's espeak-ng speech when
/// installed (trimmed of its quiet ends), else its voice-like tone of two seconds.
fn speech_clip() -> (Vec<u8>, Source) {
    // No comma: a pause inside the turn longer than the STT's 150 ms end of speech would split it
    // in two.
    let (mut pcm, source) = Speech::new("Claude what do you make of the topic today")
        .words_per_minute(190)
        .pcm_or_tone(2.0);
    pcm.truncate(pcm.len() - pcm.len() % FRAME_BYTES);
    match source {
        Source::Espeak => (trim_silence(pcm), source),
        Source::Tone => (pcm, source),
    }
}

/// The clip without its leading and trailing quiet frames (below -40 dBFS, the STT's threshold),
/// so the last frame sent is the end of speech the voice-to-voice time is measured from.
fn trim_silence(pcm: Vec<u8>) -> Vec<u8> {
    let loud = |frame: &[u8]| {
        let sum: f64 = frame
            .chunks_exact(2)
            .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])).powi(2))
            .sum();
        let rms = (sum / (frame.len() / 2) as f64).sqrt() / 32768.0;
        20.0 * (rms + 1e-9).log10() > -40.0
    };
    let frames: Vec<&[u8]> = pcm.chunks_exact(FRAME_BYTES).collect();
    let first = frames.iter().position(|f| loud(f)).unwrap_or(0);
    let last = frames
        .iter()
        .rposition(|f| loud(f))
        .unwrap_or(frames.len() - 1);
    frames[first..=last].concat()
}

/// What one client saw (raw, analysed after the step).
#[derive(Default)]
struct ClientLog {
    /// (first speech frame sent, last speech frame sent) per turn.
    turns: Vec<(Instant, Instant)>,
    /// (arrival, speaker, seq, payload bytes) of every audio.out.
    frames: Vec<(Instant, String, u64, usize)>,
    /// Arrival of every audio.stop.
    stops: Vec<Instant>,
    /// turn.end payloads, with arrival.
    turn_ends: Vec<(Instant, serde_json::Value)>,
    /// AI captions: (arrival, text); the first of a line is its first clause.
    ai_captions: Vec<(Instant, String)>,
    /// error events.
    errors: Vec<serde_json::Value>,
    /// How many events of each name arrived (printed when a step looks wrong).
    seen: std::collections::BTreeMap<String, usize>,
}

/// Everything one step measured.
struct Step {
    logs: Vec<ClientLog>,
    cpu_percent: f64,
    /// This process's CPU (the clients, the OTLP receiver) over the same time.
    clients_cpu_percent: f64,
    /// The server's RSS once every studio of the step has ended.
    rss_ended_mib: f64,
    rss_before_mib: f64,
    rss_after_mib: f64,
    studios: usize,
    failed_clients: usize,
    /// The spans the server exported during the step.
    spans: Vec<studio_test_kit::otlp::ReceivedSpan>,
}

async fn run_step(n: usize, length: Duration, speech: Arc<Vec<u8>>, dir: &Path) -> Step {
    let work = dir.join(format!("step-{n}"));
    if let Err(e) = std::fs::create_dir_all(work.join("recordings")) {
        fail(&format!("cannot create {}: {e}", work.display()));
    }
    let collector = match OtlpReceiver::start().await {
        Ok(c) => c,
        Err(e) => fail(&format!("no OTLP receiver: {e}")),
    };
    let server = Server::start(&work, &collector.endpoint());
    let rss_before = server.rss_mib();
    let start = Instant::now() + Duration::from_millis(500);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let log = Arc::new(Mutex::new(ClientLog::default()));
        // Spread the turns of the studios over the 8 s so the load is even.
        let offset = TURN_EVERY.mul_f64(i as f64 / n as f64);
        let client = run_client(
            server.addr,
            format!("bench-{n}-{i}"),
            speech.clone(),
            start,
            offset,
            start + length,
            log.clone(),
        );
        tasks.push((tokio::spawn(client), log));
    }
    // CPU over the steady part of the step: from the first turn to the end.
    tokio::time::sleep_until((start + Duration::from_secs(1)).into()).await;
    let cpu_start = server.cpu_ticks();
    let clients_cpu_start = process_cpu_ticks("self");
    let wall_start = Instant::now();
    tokio::time::sleep_until((start + length).into()).await;
    let cpu = server.cpu_ticks().saturating_sub(cpu_start) as f64 / ticks_per_second();
    let clients_cpu =
        process_cpu_ticks("self").saturating_sub(clients_cpu_start) as f64 / ticks_per_second();
    let wall = wall_start.elapsed().as_secs_f64();
    let cpu_percent = cpu / wall * 100.0;
    let clients_cpu_percent = clients_cpu / wall * 100.0;
    let rss_after = server.rss_mib();
    let studios = server.studios();
    let mut logs = Vec::with_capacity(n);
    let mut failed = 0;
    for (task, log) in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failed += 1;
                eprintln!("client failed: {e}");
            }
            Err(e) => {
                failed += 1;
                eprintln!("client task failed: {e}");
            }
        }
        let log = std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner));
        logs.push(log);
    }
    // Every client has left: the studios end after their grace second; then the server should
    // be back near its idle size.
    let rss_ended = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.studios() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
        }
        // Recordings finish on their own threads after the studio is gone.
        std::thread::sleep(Duration::from_secs(2));
        let rss = server.rss_mib();
        (server, rss)
    })
    .await;
    let (mut server, rss_ended_mib) = match rss_ended {
        Ok(pair) => pair,
        Err(e) => fail(&format!("waiting for the studios to end failed: {e}")),
    };
    // The server flushes its queued spans as it stops: off the runtime's one worker, which the
    // receiver needs meanwhile.
    let stopped = tokio::task::spawn_blocking(move || server.stop()).await;
    if let Err(e) = stopped {
        fail(&format!("stopping the server failed: {e}"));
    }
    let spans = collector.spans();
    Step {
        logs,
        cpu_percent,
        clients_cpu_percent,
        rss_ended_mib,
        rss_before_mib: rss_before,
        rss_after_mib: rss_after,
        studios,
        failed_clients: failed,
        spans,
    }
}

mod client;
mod host_gaps;
mod report;
mod server;

use client::*;
use host_gaps::HostGaps;
use server::*;
use studio_test_kit::otlp::OtlpReceiver;
