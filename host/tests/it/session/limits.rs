//! What one studio may spend, with real parts: the microphone's own lane (other clients' events
//! never hold its audio back), the recording and STT call opened on the first audio rather than
//! on `hello`, autopilot lines per episode across toggles, the free-space floor of the recording
//! disk, and idle studios reaped after their client vanished. Studios are driven through their
//! handles (as the gateway does) or through the real binary over a real WebSocket.

use crate::support;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use studio_test_kit::manifest::Manifest;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::server::ServerSetup;
use voice_studio::config::{Config, ConfigSource, LiveConfig};
use voice_studio::gateway::protocol::{InputFormat, OrbState, RecordingReady, StudioSnapshot};
use voice_studio::session::{
    AUDIO_LANE, ClientId, NoClients, Participant, STUDIO_QUEUE, StudioCommand, StudioHandle,
    StudioLimits, StudioRegistry, StudioSendError,
};
use voice_studio::speakers::Speaker;

use crate::support::studio::{
    CHUNK_BYTES, PATIENCE, RigOptions, StudioRig, silence, stream, until,
};

fn participant(name: &str) -> Participant {
    Participant {
        name: name.into(),
        input_format: InputFormat::default(),
    }
}

/// A registry whose studios run the turn loop on the shipped mock plugins made fast, under
/// `limits`.
async fn rig(autopilot_max_turns: u32, limits: StudioLimits) -> StudioRig {
    let manifest = Manifest::quick_mocks().script(&["Let's begin."]);
    let options = RigOptions {
        autopilot_max_turns,
        ..RigOptions::default()
    };
    let rig = StudioRig::with(manifest, options).await;
    rig.registry.set_limits(limits);
    rig
}

/// A registry whose studios keep state and count audio but run no turn loop.
fn bare_registry() -> (StudioRegistry, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("plugins.toml");
    std::fs::write(&toml, "").expect("write plugins.toml");
    let config = Config::from_source(&ConfigSource::from_pairs([(
        "PLUGINS_TOML",
        toml.display().to_string(),
    )]))
    .expect("valid config");
    let live = Arc::new(LiveConfig::new(&config));
    (
        StudioRegistry::new(NoClients, Duration::from_secs(30), live),
        dir,
    )
}

/// Sends `ms` of silence as 20 ms chunks, in real time, as a browser does.
async fn stream_silence(studio: &StudioHandle, client: ClientId, ms: usize) {
    stream(studio, client, &silence(ms)).await;
}

/// The episode's `recording.ready`, once the ended studio has finished it.
async fn recording_of(registry: &StudioRegistry, episode: &str) -> RecordingReady {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(ready) = registry.last_recording(episode) {
            return ready;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "recording.ready never came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The recording folders under `dir` (none when it does not exist).
fn folders(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    }
}

/// Ends the studio as `client.end-session` does and waits until it has stopped.
async fn end_session(studio: &StudioHandle, client: ClientId) {
    studio
        .deliver(StudioCommand::EndSession { client })
        .await
        .expect("end delivered");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while studio.is_running() {
        assert!(tokio::time::Instant::now() < deadline, "studio never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hello_alone_creates_no_recording_and_the_first_audio_opens_one() {
    let rig = rig(6, StudioLimits::default()).await;

    // A hello storm's studio: joined, asked for its state, ended. Nothing reaches the disk.
    let idle_client = ClientId::unique();
    let idle = rig
        .registry
        .join(Some("ep-hello-only"), idle_client, participant("viewer"))
        .expect("join");
    idle.snapshot().await.expect("snapshot");
    idle.send(StudioCommand::RequestState {
        client: idle_client,
    })
    .expect("request state");
    idle.snapshot().await.expect("snapshot");
    assert_eq!(folders(&rig.recordings), Vec::<PathBuf>::new());
    end_session(&idle, idle_client).await;
    assert_eq!(rig.registry.last_recording("ep-hello-only"), None);
    assert_eq!(
        folders(&rig.recordings),
        Vec::<PathBuf>::new(),
        "a studio that never heard audio records nothing"
    );

    // The first accepted chunk opens the recording.
    let client = ClientId::unique();
    let studio = rig
        .registry
        .join(Some("ep-speaks"), client, participant("host"))
        .expect("join");
    studio.snapshot().await.expect("snapshot");
    assert_eq!(folders(&rig.recordings), Vec::<PathBuf>::new());
    stream_silence(&studio, client, 100).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while folders(&rig.recordings).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first audio never opened a recording"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    end_session(&studio, client).await;
    let ready = recording_of(&rig.registry, "ep-speaks").await;
    assert!(
        ready.files.iter().any(|f| f.ends_with("you.webm")),
        "{ready:?}"
    );
    assert_eq!(folders(&rig.recordings).len(), 1);
}

fn ai_lines(snapshot: &StudioSnapshot) -> usize {
    snapshot
        .captions
        .iter()
        .filter(|c| c.speaker != Speaker::You && c.is_final == Some(true))
        .count()
}

fn quiet(snapshot: &StudioSnapshot) -> bool {
    snapshot.orb_states.claude == OrbState::Idle && snapshot.orb_states.guest == OrbState::Idle
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autopilot_stops_at_the_episode_limit_even_when_toggled_off_and_on() {
    // The "lines in a row" cap is far away: only the per-episode budget can stop the AIs.
    let rig = rig(
        100,
        StudioLimits {
            autopilot_lines_per_episode: 3,
            autopilot_lines_per_minute: 100,
            ..StudioLimits::default()
        },
    )
    .await;
    let client = ClientId::unique();
    let studio = rig
        .registry
        .join(Some("ep-budget"), client, participant("host"))
        .expect("join");
    stream_silence(&studio, client, 200).await;
    let toggle = |on| StudioCommand::SetAutopilot { client, on };
    studio.deliver(toggle(true)).await.expect("autopilot on");
    until(&studio, client, "three AI lines", |s| {
        ai_lines(s) >= 3 && quiet(s)
    })
    .await;
    stream_silence(&studio, client, 1500).await;
    // Toggling resets the cap of lines in a row, not the episode's budget.
    studio.deliver(toggle(false)).await.expect("autopilot off");
    studio.deliver(toggle(true)).await.expect("autopilot on");
    stream_silence(&studio, client, 1500).await;
    let after = until(&studio, client, "quiet AIs", quiet).await;
    assert_eq!(ai_lines(&after), 3, "{after:#?}");

    end_session(&studio, client).await;
    let ready = recording_of(&rig.registry, "ep-budget").await;
    let events: Vec<Value> = std::fs::read_to_string(
        rig.recordings
            .join(ready.folder.expect("folder"))
            .join("events.jsonl"),
    )
    .expect("events.jsonl")
    .lines()
    .map(|l| serde_json::from_str(l).expect("event line is JSON"))
    .collect();
    let of_type = |kind: &str| events.iter().filter(|e| e["type"] == kind).count();
    assert_eq!(of_type("turn.start"), 3);
    assert_eq!(of_type("autopilot.toggle"), 3);
    let limit_errors: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "error" && e["service"] == "autopilot")
        .collect();
    assert_eq!(limit_errors.len(), 1, "told once: {limit_errors:?}");
    assert_eq!(limit_errors[0]["context"]["code"], "autopilot-limit");
    assert!(
        limit_errors[0]["error"]
            .as_str()
            .is_some_and(|m| m.contains("AUTOPILOT_LINES_PER_EPISODE")),
        "{limit_errors:?}"
    );
}

/// Single-threaded on purpose: nothing below yields until the queues are full, so the studio
/// actor cannot run in between and the test sees exactly what waits for it.
#[tokio::test]
async fn a_viewer_spamming_request_state_does_not_hold_back_the_holders_audio() {
    let (registry, _dir) = bare_registry();
    let holder = ClientId::unique();
    let viewer = ClientId::unique();
    let studio = registry
        .join(Some("ep-lane"), holder, participant("host"))
        .expect("join");
    registry
        .join(Some("ep-lane"), viewer, participant("viewer"))
        .expect("join");
    studio.snapshot().await.expect("snapshot");

    // The viewer fills the studio's command queue.
    let mut spam = 0;
    while studio.send(StudioCommand::RequestState { client: viewer }) == Ok(()) {
        spam += 1;
        assert!(spam <= STUDIO_QUEUE, "the command queue is bounded");
    }
    assert_eq!(
        studio.send(StudioCommand::RequestState { client: viewer }),
        Err(StudioSendError::Busy)
    );
    // The holder's audio still goes in, every chunk, each numbered by its length.
    let chunks = 100;
    let mut bytes = 0;
    for n in 1..=chunks {
        let chunk = vec![0; 2 * n];
        bytes += chunk.len() as u64;
        assert_eq!(
            studio.send(StudioCommand::Audio {
                client: holder,
                chunk
            }),
            Ok(()),
            "chunk {n} refused behind the viewer's events"
        );
    }
    let taken = studio.audio_in().await.expect("audio stats");
    assert_eq!(taken.chunks, chunks as u64);
    assert_eq!(taken.bytes, bytes);
    assert_eq!(studio.audio_dropped(), 0);
}

#[tokio::test]
async fn a_full_audio_lane_drops_and_counts_without_blocking_the_sender() {
    let (registry, _dir) = bare_registry();
    let holder = ClientId::unique();
    let studio = registry
        .join(Some("ep-full-lane"), holder, participant("host"))
        .expect("join");
    studio.snapshot().await.expect("snapshot");
    let extra = 10;
    for _ in 0..AUDIO_LANE + extra {
        studio
            .send(StudioCommand::Audio {
                client: holder,
                chunk: vec![0; CHUNK_BYTES],
            })
            .expect("a dropped chunk is not an error for the receive loop");
    }
    assert_eq!(studio.audio_dropped(), extra as u64);
    let taken = studio.audio_in().await.expect("audio stats");
    assert_eq!(taken.chunks, AUDIO_LANE as u64);
}

#[tokio::test]
async fn audio_sent_right_after_hello_is_taken_after_that_hello() {
    let (registry, _dir) = bare_registry();
    let client = ClientId::unique();
    // The join and the first chunk are queued together, before the actor runs: the audio's
    // lane is taken first, yet the chunk must not be refused as coming from a stranger.
    let studio = registry
        .join(Some("ep-order"), client, participant("host"))
        .expect("join");
    studio
        .send(StudioCommand::Audio {
            client,
            chunk: vec![0; CHUNK_BYTES],
        })
        .expect("audio");
    let taken = studio.audio_in().await.expect("audio stats");
    assert_eq!(
        taken.chunks, 1,
        "the chunk was taken as the joined client's"
    );
}

// --- The real binary, over a real WebSocket -----------------------------------------------

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A Socket.IO client in namespace `/`, connected.
async fn connect(addr: std::net::SocketAddr) -> Ws {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");
    ws.send(Message::text("40")).await.expect("connect packet");
    expect_event(&mut ws, "state.snapshot").await;
    ws
}

async fn emit(ws: &mut Ws, event: &str, payload: Value) {
    let packet = format!("42{}", json!([event, payload]));
    ws.send(Message::text(packet)).await.expect("emit");
}

/// Sends one `audio.chunk` as a Socket.IO binary event: the header, then the attachment.
async fn send_audio(ws: &mut Ws, chunk: &[u8]) {
    let header = format!(
        "451-{}",
        json!(["audio.chunk", {"_placeholder": true, "num": 0}])
    );
    ws.send(Message::text(header)).await.expect("audio header");
    ws.send(Message::binary(chunk.to_vec()))
        .await
        .expect("audio attachment");
}

/// Waits for `event`, answering pings and skipping other events; returns its payload.
async fn expect_event(ws: &mut Ws, event: &str) -> Value {
    let wait = async {
        loop {
            let message = ws.next().await.expect("connection open").expect("frame");
            let Message::Text(text) = message else {
                continue;
            };
            if text.as_str() == "2" {
                ws.send(Message::text("3")).await.expect("pong");
                continue;
            }
            let Some(body) = text.as_str().strip_prefix("42") else {
                continue;
            };
            let parsed: Value = serde_json::from_str(body).expect("event json");
            if parsed[0] == event {
                return parsed[1].clone();
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("no {event} event"))
}

async fn hello(ws: &mut Ws, episode: &str) {
    emit(
        ws,
        "hello",
        json!({"episodeId": episode, "participantName": "tester"}),
    )
    .await;
    expect_event(ws, "state.snapshot").await;
}

fn studios(server: &support::server::Server) -> u64 {
    server.get("/health").json()["studios"]
        .as_u64()
        .expect("studios count in /health")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_studio_whose_client_vanished_after_hello_is_reaped() {
    let server = ServerSetup::new()
        .var("STUDIO_GRACE_SECONDS", "0.3")
        .start();
    let recordings = server.setup.recording_dir();
    let mut ws = connect(server.addr).await;
    hello(&mut ws, "ep-vanished").await;
    let mut other = connect(server.addr).await;
    hello(&mut other, "ep-also-vanished").await;
    assert_eq!(tokio::task::block_in_place(|| studios(&server)), 2);
    // Gone without a word: no leave, no close frame, the TCP connection just drops.
    drop(ws);
    drop(other);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::task::block_in_place(|| studios(&server)) != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the vanished clients' studios were never reaped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(folders(&recordings), Vec::<PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_disk_below_the_free_space_floor_is_not_used_and_the_session_goes_on() {
    let server = ServerSetup::new()
        .var("RECORDING_MIN_FREE_MB", "100000000")
        .start();
    let recordings = server.setup.recording_dir();
    let mut ws = connect(server.addr).await;
    hello(&mut ws, "ep-full-disk").await;
    send_audio(&mut ws, &[0; CHUNK_BYTES]).await;
    let error = expect_event(&mut ws, "error").await;
    assert_eq!(error["code"], "disk-space-low", "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("RECORDING_MIN_FREE_MB") && message.contains("MiB free"),
        "{error}"
    );
    // The session goes on: more audio and events are taken, and no second warning comes.
    for _ in 0..5 {
        send_audio(&mut ws, &[0; CHUNK_BYTES]).await;
    }
    emit(&mut ws, "client.request-state", Value::Null).await;
    emit(&mut ws, "client.end-session", Value::Null).await;
    let seen = events_until(&mut ws, "session.end").await;
    assert!(
        seen.iter().any(|(name, _)| name == "state.snapshot"),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|(name, payload)| name == "error" && payload["code"] == "disk-space-low"),
        "told once: {seen:?}"
    );
    let (_, end) = seen.last().expect("session.end");
    assert_eq!(end["reason"], "ended", "{end}");
    assert_eq!(folders(&recordings), Vec::<PathBuf>::new());
}

/// Every event up to and including `last`.
async fn events_until(ws: &mut Ws, last: &str) -> Vec<(String, Value)> {
    let wait = async {
        let mut seen = Vec::new();
        loop {
            let message = ws.next().await.expect("connection open").expect("frame");
            let Message::Text(text) = message else {
                continue;
            };
            if text.as_str() == "2" {
                ws.send(Message::text("3")).await.expect("pong");
                continue;
            }
            let Some(body) = text.as_str().strip_prefix("42") else {
                continue;
            };
            let parsed: Value = serde_json::from_str(body).expect("event json");
            let name = parsed[0].as_str().unwrap_or_default().to_owned();
            let done = name == last;
            seen.push((name, parsed[1].clone()));
            if done {
                return seen;
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("no {last} event"))
}

#[test]
fn a_bad_studio_limit_stops_the_server_naming_the_variable() {
    for (variable, value) in [
        ("AUTOPILOT_LINES_PER_MINUTE", "0"),
        ("AUTOPILOT_LINES_PER_EPISODE", "lots"),
        ("RECORDING_MIN_FREE_MB", "-1"),
    ] {
        let (status, stderr) = ServerSetup::new().var(variable, value).run_to_exit();
        assert_eq!(status.code(), Some(2), "{variable}={value}: {stderr}");
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
    }
}
