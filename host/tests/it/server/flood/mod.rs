//! A running server under a flood while a real session goes on in another studio (issue 11,
//! deliverable 6): the real binary on the mock plugins with the turn loop; a victim on 127.0.0.1
//! streams real-time microphone audio (espeak-ng speech, or a tone without it) and hears the AIs'
//! `audio.out`; attackers on 127.0.0.2-9 send a hello storm, a 60 MiB WebSocket message, audio at
//! 10x real time, control-event spam from a viewer of the victim's studio, and 200 reconnects.
//!
//! What it proves: the victim's every chunk reached its studio (the studio's own count, logged
//! when it ends), no `audio.out` frame reached it late (defined at [`LATE_BUDGET`]), each attack
//! got its refusal, and the server is still ready afterwards. Every deadline is generous and
//! every assertion is on an outcome, so a loaded 2-core machine passes it.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use studio_test_kit::manifest::Manifest;

use crate::support::server::ServerSetup;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use studio_test_kit::speech::{Source, Speech};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::{Role as WsRole, WebSocketConfig};
use voice_studio::config::AccessMode;
use voice_studio::gateway::access::{Access, Role};

/// The server's token key (token links for the victim and the viewer are signed with it here).
const SECRET: &str = "flood-test-secret-flood-test-secret-0123456789";
/// The victim's studio.
const VICTIM_EPISODE: &str = "flood-victim";
/// One microphone chunk: 20 ms of 48 kHz mono s16le, as the browser sends.
const CHUNK: Duration = Duration::from_millis(20);
const CHUNK_BYTES: usize = 1920;
/// The oversized WebSocket message: 60 MiB.
const HUGE_MESSAGE: u64 = 60 * 1024 * 1024;
/// How long the victim streams.
const STREAM_FOR: Duration = Duration::from_secs(18);
/// A frame is late when it arrives more than this after its pacing schedule: the moment a player
/// that started the line on its first frame needs it (first arrival + 20 ms per frame since).
/// The latency budget (docs/BENCHMARKS.md) asks for "no frame late" and the studio benchmark, which measures that
/// figure, counts a frame late at 50 ms behind this schedule (`STUDIO_BENCH_LATE_MS`); the server
/// sends every line ~60 ms ahead, so a frame within the budget still plays without a gap.
const LATE_BUDGET: Duration = Duration::from_millis(50);
/// Guards against a hung server or client; never a timing assertion.
const DEADLINE: Duration = Duration::from_secs(60);
/// The most one attack may take before the test calls it hung.
const ATTACK_DEADLINE: Duration = Duration::from_secs(120);
/// How long a client waits for one answer during the flood.
const ANSWER_DEADLINE: Duration = Duration::from_secs(15);
/// What the mock STT hears, utterance by utterance.
const SCRIPT: [&str; 2] = [
    "Claude, what do you make of today's topic?",
    "Guest, do you agree with that?",
];

/// The shipped mocks with a 48 kHz TTS and the whole LLM reply at once: a line is then never
/// starved by the LLM's pace, so a late frame is the host's doing (with tokens 5 ms apart a short
/// first clause can run dry even when calm).
fn manifest() -> String {
    Manifest::shipped()
        .script(&SCRIPT)
        .config("mock-stt", "end_of_speech_ms", 400)
        .config("mock-tts", "sample_rate", 48_000)
        .config("mock-tts", "words_per_minute", 300)
        .config("mock-llm", "token_delay_ms", 0)
        .to_string()
}

mod attacks;
pub(crate) mod client;

use attacks::*;
use client::*;

/// What the victim saw.
#[derive(Debug, Default)]
struct VictimReport {
    chunks_sent: u64,
    /// `(arrival, speaker, seq)` of every `audio.out`.
    frames: Vec<(Instant, String, u64)>,
    errors: Vec<Value>,
    ended: Option<Value>,
}

/// Frames that arrived after their pacing schedule plus [`LATE_BUDGET`], frames missing inside a
/// line (seq gaps), lines heard, and the worst lateness.
fn late_frames(frames: &[(Instant, String, u64)]) -> (usize, u64, usize, Duration) {
    let mut late = 0;
    let mut missing = 0;
    let mut lines = 0;
    let mut worst = Duration::ZERO;
    // (first arrival, first seq, last seq) of the line each speaker is speaking.
    let mut current: BTreeMap<&str, (Instant, u64, u64)> = BTreeMap::new();
    for (at, speaker, seq) in frames {
        let line = current.get(speaker.as_str()).copied();
        match line {
            Some((first_at, first_seq, last_seq)) if *seq > last_seq => {
                missing += seq - last_seq - 1;
                let steps = u32::try_from(seq - first_seq).unwrap_or(u32::MAX);
                let due = first_at + CHUNK * steps;
                let behind = at.saturating_duration_since(due);
                worst = worst.max(behind);
                if behind > LATE_BUDGET {
                    late += 1;
                }
                current.insert(speaker, (first_at, first_seq, *seq));
            }
            _ => {
                // A new line: seq starts again.
                lines += 1;
                current.insert(speaker, (*at, *seq, *seq));
            }
        }
    }
    (late, missing, lines, worst)
}

/// The victim: hello as the host of its studio, then real-time audio for [`STREAM_FOR`] with
/// two spoken turns, listening to the AIs; then it waits for the last line to end and ends the
/// episode. Runs on its own thread and runtime so the attackers' work does not delay its reads.
fn run_victim(
    addr: SocketAddr,
    token: String,
    speech: Vec<Vec<u8>>,
    started: std::sync::mpsc::Sender<()>,
) -> VictimReport {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("victim runtime");
    runtime.block_on(async move {
        let mut report = VictimReport::default();
        let mut client = Client::connect(loopback(1), addr)
            .await
            .expect("victim connects");
        let hello =
            json!({"episodeId": VICTIM_EPISODE, "participantName": "victim", "token": token});
        if let Err(e) = client.join(hello, DEADLINE).await {
            panic!("the victim joins its studio: {e}");
        }
        let _ = started.send(());

        let silence = vec![0u8; CHUNK_BYTES];
        let mut timeline: Vec<&[u8]> = Vec::new();
        // 0.5 s of silence, the first line, silence until 9 s, the second line, silence to the end.
        let total = (STREAM_FOR.as_millis() / CHUNK.as_millis()) as usize;
        let second_at = 9_000 / CHUNK.as_millis() as usize;
        let mut clips = speech.iter();
        let first = clips.next().expect("first line");
        let second = clips.next().expect("second line");
        let frames_of = |clip: &Vec<u8>| clip.len() / CHUNK_BYTES;
        while timeline.len() < total {
            let i = timeline.len();
            if i == 25 {
                timeline.extend(first.chunks_exact(CHUNK_BYTES).take(frames_of(first)));
            } else if i == second_at {
                timeline.extend(second.chunks_exact(CHUNK_BYTES).take(frames_of(second)));
            } else {
                timeline.push(&silence);
            }
        }
        let mut ticker = tokio::time::interval(CHUNK);
        // Never faster than real time, even after a stall (a burst would be a fast microphone).
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let record = |incoming: &Incoming, report: &mut VictimReport| {
            if let Incoming::Event { at, name, payload } = incoming {
                match name.as_str() {
                    "audio.out" => report.frames.push((
                        *at,
                        payload["speaker"].as_str().unwrap_or("?").to_owned(),
                        payload["seq"].as_u64().unwrap_or(u64::MAX),
                    )),
                    "error" => report.errors.push(payload.clone()),
                    "session.end" => report.ended = Some(payload.clone()),
                    _ => {}
                }
            }
        };
        for chunk in timeline.iter().take(total) {
            ticker.tick().await;
            client.send_audio(chunk);
            report.chunks_sent += 1;
            for incoming in client.drain() {
                record(&incoming, &mut report);
            }
        }
        // Keep listening until the AIs have been quiet for 2 s (bounded), then end the episode.
        let quiet_until = Instant::now() + Duration::from_secs(30);
        loop {
            let got = tokio::time::timeout(Duration::from_secs(2), client.events.recv()).await;
            match got {
                Ok(Some(incoming)) => record(&incoming, &mut report),
                Ok(None) | Err(_) => break,
            }
            if Instant::now() > quiet_until {
                break;
            }
        }
        client.emit_bare("client.end-session");
        let mut seen = Vec::new();
        let ended = client
            .wait_for("session.end", DEADLINE, |i| seen.push(i.clone()))
            .await;
        for incoming in &seen {
            record(incoming, &mut report);
        }
        report.ended = ended;
        client.close();
        report
    })
}

/// The script spoken (espeak-ng), or a voice-like tone per line where espeak-ng or sox is
/// missing: the mock STT hears energy and transcribes its script either way.
fn speech_clips() -> (Vec<Vec<u8>>, Source) {
    let spoken: Vec<(Vec<u8>, Source)> = SCRIPT
        .iter()
        .map(|line| Speech::new(line).pcm_or_tone(2.0))
        .collect();
    let source = spoken.first().map_or(Source::Tone, |(_, source)| *source);
    (spoken.into_iter().map(|(pcm, _)| pcm).collect(), source)
}

#[test]
fn a_flood_from_other_addresses_leaves_a_live_session_whole() {
    let server = ServerSetup::new()
        .manifest(&manifest())
        .var("STUDIO_ACCESS", "open")
        .var("STUDIO_TOKEN_SECRET", SECRET)
        .var("LOG_FORMAT", "json")
        .var(
            "RUST_LOG",
            "info,voice_studio::gateway=debug,socketioxide=debug",
        )
        .var("RECORDING_MIN_FREE_MB", "0")
        // The test servers allow 1000 studios per address (many tests share 127.0.0.1); the
        // flood runs with the production default.
        .var("MAX_STUDIOS_PER_IP", "4")
        .start();
    let addr = server.addr;
    let ttl = Duration::from_secs(3600);
    let access = Access::with_key(AccessMode::Token, SECRET.as_bytes().to_vec(), ttl);
    let host_token = access.mint(Role::Host, Some(VICTIM_EPISODE), ttl);
    let viewer_token = access.mint(Role::Viewer, Some(VICTIM_EPISODE), ttl);
    let (speech, source) = speech_clips();

    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let victim = std::thread::spawn(move || run_victim(addr, host_token, speech, started_tx));
    if started_rx.recv_timeout(DEADLINE).is_err() {
        let (_, log) = server.terminate();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "the victim did not join its studio; the server's last lines:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }

    let attackers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("attack runtime");
    let (storm, huge, fast, spam, greeted) = attackers.block_on(async move {
        // Let the AI's first line begin (the victim's first turn ends ~3 s in), then flood it.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let t0 = Instant::now();
        tokio::join!(
            bounded(
                "hello storm",
                t0,
                async move { json!(hello_storm(addr).await) }
            ),
            bounded("60 MiB message", t0, async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let (ended, written) = huge_message(addr).await;
                json!({"ended": format!("{ended:?}"), "written": written})
            }),
            bounded(
                "10x audio",
                t0,
                async move { json!(fast_audio(addr).await) }
            ),
            bounded("viewer spam", t0, async move {
                json!(viewer_spam(addr, viewer_token).await)
            }),
            bounded(
                "reconnects",
                t0,
                async move { json!(reconnects(addr).await) }
            ),
        )
    });
    let victim = victim.join().expect("the victim's thread");
    let ready = server.get("/ready");
    let (status, log) = server.terminate();

    let (late, missing, lines, worst) = late_frames(&victim.frames);
    let ended = studio_ended_line(&log, VICTIM_EPISODE);
    let studio_chunks = ended
        .as_ref()
        .and_then(|l| l["fields"]["audio_chunks"].as_u64());
    println!(
        "victim ({source}): sent {} chunks, its studio counted {studio_chunks:?}; {} audio.out frames in {lines} lines, {late} late (> {} ms behind schedule; worst {} ms), {missing} missing; errors {:?}",
        victim.chunks_sent,
        victim.frames.len(),
        LATE_BUDGET.as_millis(),
        worst.as_millis(),
        victim.errors
    );
    println!("hello storm: {storm}");
    println!("60 MiB message: {huge}");
    println!("10x audio: {fast}");
    println!("viewer spam: {spam}");
    println!("reconnects greeted: {greeted} of 200");
    println!("/ready after the flood: {}", ready.status);

    // The victim's session: every chunk counted by its studio, its lines heard on time.
    assert!(
        victim.errors.is_empty(),
        "the victim got errors: {:?}",
        victim.errors
    );
    assert_eq!(
        studio_chunks,
        Some(victim.chunks_sent),
        "every chunk the victim sent reached its studio"
    );
    assert!(
        lines >= 1 && victim.frames.len() > 50,
        "the AIs answered the victim"
    );
    assert_eq!(
        late,
        0,
        "audio.out frames late by more than {} ms",
        LATE_BUDGET.as_millis()
    );
    assert_eq!(missing, 0, "audio.out frames missing inside a line");
    assert_eq!(
        victim.ended.as_ref().map(|e| e["reason"].clone()),
        Some(json!("ended")),
        "the victim ended its own episode (no viewer did)"
    );

    // Each attack got its refusal.
    let got = |report: &Value, code: &str| report[code].as_u64().unwrap_or(0) > 0;
    assert!(got(&storm, "rate-limited"), "hello storm: {storm}");
    assert!(got(&storm, "too-many-studios"), "hello storm: {storm}");
    // Refused at the frame header: the server closed the connection (a close frame; 1009 when it
    // names the reason) long before the 60 MiB could be written, so it never buffered them.
    let ended = huge["ended"].as_str().unwrap_or_default();
    assert!(
        ended == "Ok(1009)" || ended == "Err(\"close without a code\")",
        "a 60 MiB message ends its connection with a close frame: {huge}"
    );
    assert!(
        huge["written"]
            .as_u64()
            .is_some_and(|w| w < HUGE_MESSAGE / 2),
        "the server stopped reading the 60 MiB message early: {huge}"
    );
    assert!(got(&fast, "audio-too-fast"), "10x audio: {fast}");
    assert!(got(&spam, "forbidden"), "viewer spam: {spam}");
    assert!(got(&spam, "rate-limited"), "viewer spam: {spam}");
    assert_eq!(greeted, json!(200), "every reconnect was served");

    // And the server is still ready, and stopped cleanly.
    assert_eq!(ready.status, 200, "/ready after the flood: {}", ready.body);
    assert!(
        status.success(),
        "the server exits cleanly after the flood: {status:?}"
    );
}
