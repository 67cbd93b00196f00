//! Live studio benchmark, the density scenario of docs/BENCHMARKS.md (budget: 320 studios with no
//! late `audio.out` frame): the real `voice-studio` binary with mock providers at fixed latencies,
//! N Socket.IO clients in this process each streaming real-time 48 kHz audio with a spoken turn
//! every 8 s that cuts the previous reply (barge-in), recording on.
//!
//! Run: `cargo bench -p voice-studio --bench studio`. Knobs (environment):
//! `STUDIO_BENCH_STEPS` (studios per step, default `1,20,80,160,320`), `STUDIO_BENCH_STEP_SECS`
//! (default 30), `STUDIO_BENCH_LATE_MS` (a frame this far behind its schedule is late, default 50).
//! Stepping stops after the first step with a late frame. Prints markdown tables.
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
        "| studios | replies | client v2v p50 / p99 ms | host v2v p50 / p99 ms | host overhead p50 / p99 ms | barge-in: last AI frame p50 / p99 ms | audio.stop p50 / p99 ms | late frames | lost frames | server CPU % of a core (per studio) | RSS MiB (per studio) |"
    );
    println!("|---:|---:|---|---|---|---|---|---:|---:|---|---|");
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
    for n in steps {
        let step = runtime.block_on(run_step(
            n,
            Duration::from_secs(step_secs),
            speech.clone(),
            dir.path(),
        ));
        let report = step.analyse(Duration::from_millis(late_ms));
        report.print_row(n);
        if report.late_frames == 0 && report.lost_frames == 0 && report.replies > 0 {
            max_clean = n;
        } else {
            break;
        }
    }
    println!();
    println!("max studios with no late or lost frame: {max_clean}");
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
    rss_before_mib: f64,
    rss_after_mib: f64,
    studios: usize,
    failed_clients: usize,
}

async fn run_step(n: usize, length: Duration, speech: Arc<Vec<u8>>, dir: &Path) -> Step {
    let work = dir.join(format!("step-{n}"));
    if let Err(e) = std::fs::create_dir_all(work.join("recordings")) {
        fail(&format!("cannot create {}: {e}", work.display()));
    }
    let mut server = Server::start(&work);
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
    let wall_start = Instant::now();
    tokio::time::sleep_until((start + length).into()).await;
    let cpu = server.cpu_ticks().saturating_sub(cpu_start) as f64 / ticks_per_second();
    let cpu_percent = cpu / wall_start.elapsed().as_secs_f64() * 100.0;
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
    server.stop();
    Step {
        logs,
        cpu_percent,
        rss_before_mib: rss_before,
        rss_after_mib: rss_after,
        studios,
        failed_clients: failed,
    }
}

/// One studio's client: joins its episode, streams 20 ms frames in real time (speech at its
/// turns, silence between), records what comes back.
async fn run_client(
    addr: SocketAddr,
    episode: String,
    speech: Arc<Vec<u8>>,
    start: Instant,
    offset: Duration,
    end: Instant,
    log: Arc<Mutex<ClientLog>>,
) -> Result<(), String> {
    let ws = connect(addr).await?;
    let (mut tx, mut rx) = ws.split();
    // Engine.IO open, then the Socket.IO connect to namespace `/`.
    expect_text(&mut rx, '0').await?;
    tx.send(Message::text("40"))
        .await
        .map_err(|e| e.to_string())?;
    // The connect answer; a ping may come first when the server is busy.
    while expect_text(&mut rx, '4').await? == "2" {
        tx.send(Message::text("3"))
            .await
            .map_err(|e| e.to_string())?;
    }
    let hello = serde_json::json!(["hello", {"episodeId": episode, "participantName": "bench"}]);
    tx.send(Message::text(format!("42{hello}")))
        .await
        .map_err(|e| e.to_string())?;
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let reader_log = log.clone();
    let reader = tokio::spawn(async move { read_events(rx, reader_log, pong_tx).await });

    let silence = vec![0u8; FRAME_BYTES];
    let frames_per_turn = speech.len() / FRAME_BYTES;
    let turn_frames = (TURN_EVERY.as_millis() / FRAME.as_millis()) as usize;
    let offset_frames = (offset.as_millis() / FRAME.as_millis()) as usize;
    let mut ticker = tokio::time::interval_at(start.into(), FRAME);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut index: usize = 0;
    let mut speech_started = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            Some(()) = pong_rx.recv() => {
                tx.send(Message::text("3")).await.map_err(|e| e.to_string())?;
                continue;
            }
        }
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Frame `index` of the client's own timeline; turn k starts at offset + k * 8 s.
        let in_turn = (index + turn_frames - offset_frames % turn_frames) % turn_frames;
        let speaking = index >= offset_frames && in_turn < frames_per_turn;
        let frame: &[u8] = if speaking {
            if in_turn == 0 {
                speech_started = Some(now);
            }
            &speech[in_turn * FRAME_BYTES..(in_turn + 1) * FRAME_BYTES]
        } else {
            &silence
        };
        tx.send(Message::text(
            r#"451-["audio.chunk",{"_placeholder":true,"num":0}]"#,
        ))
        .await
        .map_err(|e| e.to_string())?;
        tx.send(Message::binary(frame.to_vec()))
            .await
            .map_err(|e| e.to_string())?;
        if speaking
            && in_turn + 1 == frames_per_turn
            && let Some(started) = speech_started.take()
        {
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .turns
                .push((started, Instant::now()));
        }
        index += 1;
    }
    let _ = tx.send(Message::Close(None)).await;
    reader.abort();
    Ok(())
}

type WsRead = futures::stream::SplitStream<WebSocketStream<TcpStream>>;

/// Reads events until the socket closes; answers Engine.IO pings through `pong`.
async fn read_events(
    mut rx: WsRead,
    log: Arc<Mutex<ClientLog>>,
    pong: tokio::sync::mpsc::UnboundedSender<()>,
) {
    // A binary event's JSON part waits here for its attachment.
    let mut pending_audio: Option<(String, u64)> = None;
    while let Some(Ok(message)) = rx.next().await {
        let at = Instant::now();
        match message {
            Message::Text(text) => {
                let text = text.as_str();
                if text == "2" {
                    let _ = pong.send(());
                    continue;
                }
                let Some(packet) = text.strip_prefix('4') else {
                    continue;
                };
                let json = if let Some(rest) = packet.strip_prefix('5') {
                    rest.split_once('-').map_or(rest, |(_, json)| json)
                } else if let Some(rest) = packet.strip_prefix('2') {
                    rest
                } else {
                    continue;
                };
                let Ok(serde_json::Value::Array(args)) = serde_json::from_str(json) else {
                    continue;
                };
                let name = args.first().and_then(|v| v.as_str()).unwrap_or_default();
                let payload = args.get(1).cloned().unwrap_or_default();
                let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                *log.seen.entry(name.to_owned()).or_default() += 1;
                match name {
                    "audio.out" => {
                        let speaker = payload["speaker"].as_str().unwrap_or_default().to_owned();
                        let seq = payload["seq"].as_u64().unwrap_or_default();
                        pending_audio = Some((speaker, seq));
                    }
                    "audio.stop" => log.stops.push(at),
                    "turn.end" => log.turn_ends.push((at, payload)),
                    "caption" if payload["speaker"] != "you" => {
                        let text = payload["text"].as_str().unwrap_or_default().to_owned();
                        log.ai_captions.push((at, text));
                    }
                    "error" => log.errors.push(payload),
                    _ => {}
                }
            }
            Message::Binary(bytes) => {
                if let Some((speaker, seq)) = pending_audio.take() {
                    log.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .frames
                        .push((at, speaker, seq, bytes.len()));
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
}

/// The next text packet if it is of `kind` or a ping (`"2"`, returned as such).
async fn expect_text(rx: &mut WsRead, kind: char) -> Result<String, String> {
    match tokio::time::timeout(Duration::from_secs(10), rx.next()).await {
        Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "2" || t.as_str().starts_with(kind) => {
            Ok(t.as_str().to_owned())
        }
        other => Err(format!("expected a {kind} packet, got {other:?}")),
    }
}

/// A WebSocket to the server's Socket.IO endpoint: the HTTP upgrade by hand, then framing.
async fn connect(addr: SocketAddr) -> Result<WebSocketStream<TcpStream>, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let request = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("upgrade: {e}"))?;
    // Byte by byte up to the end of the head, so no frame after it is swallowed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = stream
            .read_u8()
            .await
            .map_err(|e| format!("upgrade: {e}"))?;
        head.push(byte);
        if head.len() > 8192 {
            return Err("upgrade answer too long".into());
        }
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(format!(
            "upgrade refused: {}",
            String::from_utf8_lossy(&head)
        ));
    }
    Ok(WebSocketStream::from_raw_socket(stream, Role::Client, None).await)
}

/// The server under test: the real binary, its output drained so it never blocks on a pipe.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(work: &Path) -> Self {
        if let Err(e) = std::fs::write(work.join("plugins.toml"), manifest()) {
            fail(&format!("cannot write plugins.toml: {e}"));
        }
        let spawned = Command::new(env!("CARGO_BIN_EXE_voice-studio"))
            .current_dir(work)
            .env_clear()
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("PLUGIN_DIR", voice_studio::plugins::BUILT_PLUGIN_DIR)
            .env("RECORDING_DIR", work.join("recordings"))
            .env("PLUGINS_WATCH", "false")
            .env("STUDIO_GRACE_SECONDS", "1")
            // Every benchmark client shares 127.0.0.1: the per-address caps would stop it at 32.
            .env("MAX_CONNECTIONS", "100000")
            .env("MAX_CONNECTIONS_PER_IP", "100000")
            // Each benchmark client opens its own studio from 127.0.0.1.
            .env("MAX_STUDIOS", "100000")
            .env("MAX_STUDIOS_PER_IP", "100000")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => fail(&format!("cannot start voice-studio: {e}")),
        };
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            fail("voice-studio output not piped");
        };
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = stderr.read_to_end(&mut sink);
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line
                    .strip_prefix("Listening on:")
                    .and_then(|r| r.trim().strip_prefix("http://"))
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let addr = match rx
            .recv_timeout(Duration::from_secs(60))
            .ok()
            .and_then(|a| a.parse().ok())
        {
            Some(a) => a,
            None => {
                let _ = child.kill();
                fail("voice-studio did not start");
            }
        };
        Self { child, addr }
    }

    /// utime + stime of the server process, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15 of stat(5), i.e. 11 and 12 after the name.
        field(11) + field(12)
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// Live studios, from /health.
    fn studios(&self) -> usize {
        let Ok(mut stream) = std::net::TcpStream::connect(self.addr) else {
            return 0;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        if std::io::Write::write_all(&mut stream, request.as_bytes()).is_err() {
            return 0;
        }
        let mut body = String::new();
        let _ = stream.read_to_string(&mut body);
        body.split_once("\r\n\r\n")
            .and_then(|(_, json)| serde_json::from_str::<serde_json::Value>(json).ok())
            .and_then(|v| v["studios"].as_u64())
            .map_or(0, |n| n as usize)
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn ticks_per_second() -> f64 {
    // USER_HZ is 100 on every Linux this runs on (getconf CLK_TCK).
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The figures of one step.
struct Report {
    replies: usize,
    client_v2v: Vec<f64>,
    host_v2v: Vec<f64>,
    overhead: Vec<f64>,
    barge_last_frame: Vec<f64>,
    barge_stop: Vec<f64>,
    late_frames: usize,
    lost_frames: usize,
    cpu_percent: f64,
    rss_before_mib: f64,
    rss_after_mib: f64,
    studios: usize,
    failed_clients: usize,
    errors: usize,
    first_seen: std::collections::BTreeMap<String, usize>,
}

impl Step {
    fn analyse(&self, late: Duration) -> Report {
        let mut r = Report {
            replies: 0,
            client_v2v: Vec::new(),
            host_v2v: Vec::new(),
            overhead: Vec::new(),
            barge_last_frame: Vec::new(),
            barge_stop: Vec::new(),
            late_frames: 0,
            lost_frames: 0,
            cpu_percent: self.cpu_percent,
            rss_before_mib: self.rss_before_mib,
            rss_after_mib: self.rss_after_mib,
            studios: self.studios,
            failed_clients: self.failed_clients,
            errors: 0,
            first_seen: self
                .logs
                .first()
                .map(|l| l.seen.clone())
                .unwrap_or_default(),
        };
        for (i, log) in self.logs.iter().enumerate() {
            r.errors += log.errors.len();
            if i == 0 && std::env::var_os("STUDIO_BENCH_DEBUG").is_some() {
                debug_timeline(log);
            }
            // Replies: runs of frames of one speaker with increasing seq and no long gap.
            let mut replies: Vec<Vec<&(Instant, String, u64, usize)>> = Vec::new();
            for f in &log.frames {
                let starts_new = match replies.last().and_then(|r| r.last()) {
                    None => true,
                    Some(prev) => {
                        prev.1 != f.1 || f.2 <= prev.2 || f.0.duration_since(prev.0) > REPLY_GAP
                    }
                };
                if starts_new {
                    replies.push(Vec::new());
                }
                if let Some(reply) = replies.last_mut() {
                    reply.push(f);
                }
            }
            for reply in &replies {
                let Some(first) = reply.first() else { continue };
                r.replies += 1;
                for f in reply.iter().skip(1) {
                    let due = first.0 + FRAME * u32::try_from(f.2 - first.2).unwrap_or(u32::MAX);
                    if f.0 > due + late {
                        r.late_frames += 1;
                    }
                }
                for pair in reply.windows(2) {
                    r.lost_frames += usize::try_from(pair[1].2 - pair[0].2 - 1).unwrap_or(0);
                }
                // Voice to voice: the end of the turn this reply answers (the last end before it,
                // with no new turn begun since).
                if let Some((_, ended)) = log
                    .turns
                    .iter()
                    .rfind(|(s, e)| *e <= first.0 && *s <= first.0)
                    && !log.turns.iter().any(|(s, _)| *s > *ended && *s <= first.0)
                {
                    let v2v = ms(first.0.duration_since(*ended));
                    r.client_v2v.push(v2v);
                    // Provider time on this path: the STT's configured end of speech, the LLM
                    // until the first clause is complete (first token, then one token per word
                    // at its pace), and the TTS until its first audio, as the host measured them.
                    let clause = log
                        .ai_captions
                        .iter()
                        .find(|(t, _)| *t >= *ended)
                        .map(|(_, text)| text.split_whitespace().count());
                    let end = log.turn_ends.iter().find(|(t, _)| *t >= first.0);
                    if let (Some(words), Some((_, end))) = (clause, end)
                        && let (Some(llm), Some(tts)) = (
                            end["llmFirstTokenMs"].as_f64(),
                            end["ttsFirstAudioMs"].as_f64(),
                        )
                    {
                        let pace = words.saturating_sub(1) as f64 * TOKEN_MS;
                        r.overhead
                            .push(v2v - STT_END_OF_SPEECH_MS - llm - pace - tts);
                    }
                }
            }
            // Barge-in: for each turn that began while a reply was playing, the last frame of
            // that reply after the turn began, and the audio.stop.
            for (started, _) in &log.turns {
                let playing = replies.iter().find(|reply| {
                    reply.first().is_some_and(|f| f.0 < *started)
                        && reply
                            .last()
                            .is_some_and(|l| l.0 + Duration::from_millis(100) >= *started)
                });
                let Some(reply) = playing else { continue };
                let last = reply.last().map_or(*started, |l| l.0.max(*started));
                r.barge_last_frame.push(ms(last.duration_since(*started)));
                if let Some(stop) = log.stops.iter().find(|s| **s >= *started) {
                    r.barge_stop.push(ms(stop.duration_since(*started)));
                }
            }
            for (_, end) in &log.turn_ends {
                if let Some(v2v) = end["voiceToVoiceMs"].as_f64() {
                    r.host_v2v.push(v2v);
                }
            }
        }
        r
    }
}

impl Report {
    fn print_row(&self, n: usize) {
        let per = |x: f64| if n == 0 { 0.0 } else { x / n as f64 };
        let rss_growth = (self.rss_after_mib - self.rss_before_mib).max(0.0);
        println!(
            "| {n} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} ({:.2}) | {:.0} ({:.2}) |",
            self.replies,
            pair(&self.client_v2v),
            pair(&self.host_v2v),
            pair(&self.overhead),
            pair(&self.barge_last_frame),
            pair(&self.barge_stop),
            self.late_frames,
            self.lost_frames,
            self.cpu_percent,
            per(self.cpu_percent),
            self.rss_after_mib,
            per(rss_growth),
        );
        if self.failed_clients > 0 || self.errors > 0 || self.studios != n {
            eprintln!(
                "step {n}: {} clients failed, {} error events, {} studios live at the end",
                self.failed_clients, self.errors, self.studios
            );
        }
        eprintln!(
            "step {n}: events seen by the first client: {:?}",
            self.first_seen
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pair(values: &[f64]) -> String {
    if values.is_empty() {
        return "-".into();
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!("{:.1} / {:.1}", at(0.5), at(0.99))
}

/// The first client's timeline on stderr (`STUDIO_BENCH_DEBUG=1`), to see why figures look off.
fn debug_timeline(log: &ClientLog) {
    let Some(origin) = log.turns.first().map(|t| t.0) else {
        return;
    };
    let at = |t: Instant| {
        if t >= origin {
            ms(t.duration_since(origin))
        } else {
            -ms(origin.duration_since(t))
        }
    };
    for (s, e) in &log.turns {
        eprintln!("turn spoken {:.0} .. {:.0}", at(*s), at(*e));
    }
    let mut previous: Option<&(Instant, String, u64, usize)> = None;
    for f in &log.frames {
        if previous.is_none_or(|p| f.2 <= p.2 || f.0.duration_since(p.0) > REPLY_GAP) {
            eprintln!("reply {} from {:.0} (seq {})", f.1, at(f.0), f.2);
        }
        previous = Some(f);
    }
    for s in &log.stops {
        eprintln!("audio.stop at {:.0}", at(*s));
    }
    for (t, e) in &log.turn_ends {
        eprintln!("turn.end at {:.0}: {e}", at(*t));
    }
}
