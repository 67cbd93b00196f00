//! The watchdog: notices a studio actor that stopped answering and ends it, alone.
//!
//! Each actor bumps its [`Heartbeat`] every time its loop turns, and a periodic tick makes an idle
//! actor turn too. One watchdog task per registry looks at every studio about once a second; a
//! studio whose count has not moved for the timeout (`STUDIO_WATCHDOG_MS`, default 10 s) across
//! at least two looks is stuck: a plugin call or a disk write that never returns. The watchdog
//! then reports it, marks it ended (its handles refuse commands at once), takes it out of the
//! registry (a new `hello` starts a fresh studio), aborts its task, and tells its clients
//! (`error` `studio-stuck`, then `session.end` with reason `stuck`). The recording is finished by
//! the actor's own drop when the abort lands (see `Studio`'s `Drop`); an actor blocked in a
//! system call that never returns keeps its files as a crash would: every file plays, the last
//! second may be lost.
//!
//! Two looks, not one: a process that was paused (a debugger, a suspended VM, a test's paused
//! clock jumping ahead) sees every stamp old at once, and must not end healthy studios for it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use super::{EndReason, RegistryInner, lock};
use crate::gateway::protocol::{ErrorCode, ErrorPayload, ServerEvent, SessionEnd};

/// How long a studio may go without a heartbeat before it is ended (`STUDIO_WATCHDOG_MS`).
pub const DEFAULT_WATCHDOG_TIMEOUT: Duration = Duration::from_secs(10);

/// Looks without a heartbeat before a studio counts as stuck (besides the timeout).
const MISSED_LOOKS: u32 = 2;

/// A studio actor's sign of life, shared by the actor, its handles and the watchdog.
#[derive(Debug, Default)]
pub(crate) struct Heartbeat {
    beats: AtomicU64,
    /// Set once the watchdog ended the studio: handles refuse commands, and an actor that wakes
    /// up again stops without a word (its clients were told already).
    ended: AtomicBool,
}

impl Heartbeat {
    /// The actor is alive (called each time its loop turns).
    pub(crate) fn beat(&self) {
        self.beats.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.beats.load(Ordering::Relaxed)
    }

    fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// Whether the watchdog ended this studio.
    pub(crate) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }
}

/// How often an actor beats and the watchdog looks: several times per timeout, at most once a
/// second so thousands of idle studios stay cheap.
pub(crate) fn beat_period(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_millis(5), Duration::from_secs(1))
}

/// What the watchdog remembers of one studio between looks.
struct Watch {
    generation: u64,
    beats: u64,
    since: Instant,
    missed: u32,
}

impl Watch {
    fn new(generation: u64, beats: u64, now: Instant) -> Self {
        Self {
            generation,
            beats,
            since: now,
            missed: 0,
        }
    }

    /// Records a look at the studio; returns how long it has been silent when that makes it
    /// stuck: no beat for `timeout`, across at least [`MISSED_LOOKS`] looks.
    fn look(
        &mut self,
        generation: u64,
        beats: u64,
        now: Instant,
        timeout: Duration,
    ) -> Option<Duration> {
        if generation != self.generation || beats != self.beats {
            *self = Self::new(generation, beats, now);
            return None;
        }
        self.missed = self.missed.saturating_add(1);
        let silent_for = now.saturating_duration_since(self.since);
        (self.missed >= MISSED_LOOKS && silent_for >= timeout).then_some(silent_for)
    }
}

/// A studio found stuck.
struct Stuck {
    episode: String,
    generation: u64,
    silent_for: Duration,
}

/// The watchdog loop of one registry; ends when the registry is dropped or shuts down (shutdown
/// has its own deadline).
pub(super) async fn run(registry: Weak<RegistryInner>) {
    let Some(period) = registry
        .upgrade()
        .map(|inner| beat_period(inner.watchdog_timeout()))
    else {
        return;
    };
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut watches: HashMap<String, Watch> = HashMap::new();
    loop {
        ticker.tick().await;
        let Some(inner) = registry.upgrade() else {
            return;
        };
        if inner.shutting_down.load(Ordering::Acquire) {
            return;
        }
        let timeout = inner.watchdog_timeout();
        let stuck = look(&inner, &mut watches, timeout, Instant::now());
        for studio in stuck {
            watches.remove(&studio.episode);
            inner.end_stuck(&studio.episode, studio.generation, studio.silent_for);
        }
    }
}

/// One look at every running studio; returns those stuck for at least `timeout`.
fn look(
    inner: &RegistryInner,
    watches: &mut HashMap<String, Watch>,
    timeout: Duration,
    now: Instant,
) -> Vec<Stuck> {
    let studios = lock(&inner.studios);
    watches.retain(|episode, _| studios.contains_key(episode));
    let mut stuck = Vec::new();
    for (episode, entry) in studios.iter() {
        // An ending or ended studio no longer beats; it is not stuck, it is leaving.
        if !entry.handle.is_running() || entry.actor.is_finished() {
            watches.remove(episode);
            continue;
        }
        let beats = entry.heartbeat.count();
        let generation = entry.handle.generation();
        let Some(watch) = watches.get_mut(episode) else {
            watches.insert(episode.clone(), Watch::new(generation, beats, now));
            continue;
        };
        if let Some(silent_for) = watch.look(generation, beats, now, timeout) {
            stuck.push(Stuck {
                episode: episode.clone(),
                generation,
                silent_for,
            });
        }
    }
    stuck
}

impl RegistryInner {
    /// Ends a stuck studio from outside its actor: report, mark ended, remove, abort, tell clients.
    fn end_stuck(&self, episode: &str, generation: u64, silent_for: Duration) {
        // Who to tell, taken before the studio leaves the registry: a client that says hello
        // from now on joins a fresh studio in the same room and must not be told.
        let members = self.audience.members(episode);
        let entry = {
            let mut studios = lock(&self.studios);
            match studios.get(episode) {
                // Only the studio that was found stuck, not a fresh one under the same episode.
                Some(e) if e.handle.generation() == generation => {
                    // Ended before it leaves the registry: whoever finds it gone finds it ended.
                    e.heartbeat.end();
                    studios.remove(episode)
                }
                _ => None,
            }
        };
        let Some(entry) = entry else {
            return;
        };
        tracing::error!(
            episode = %episode,
            generation,
            silent_ms = u64::try_from(silent_for.as_millis()).unwrap_or(u64::MAX),
            "studio stopped answering; the watchdog ends it (other studios go on)"
        );
        // Lands at the actor's next await; its drop finishes the recording.
        entry.actor.abort();
        let secs = silent_for.as_secs_f64();
        let error = ErrorPayload::new(
            ErrorCode::StudioStuck,
            format!(
                "the studio of episode {episode} stopped answering for {secs:.1} s and was ended; \
                 what was recorded is kept. Send hello to start the episode again"
            ),
        );
        let end = SessionEnd {
            episode_id: episode.to_owned(),
            reason: EndReason::Stuck.as_str().to_owned(),
        };
        for client in members {
            self.audience.leave(client, episode);
            self.audience.send(client, &ServerEvent::Error(&error));
            self.audience.send(client, &ServerEvent::SessionEnd(&end));
        }
    }

    /// The watchdog timeout in force.
    pub(super) fn watchdog_timeout(&self) -> Duration {
        Duration::from_millis(self.watchdog_ms.load(Ordering::Relaxed))
    }
}

/// Starts the watchdog of `registry` once (on the first studio, inside the runtime).
pub(super) fn start_once(registry: &Arc<RegistryInner>) {
    if !registry.watchdog_started.swap(true, Ordering::AcqRel) {
        tokio::spawn(run(Arc::downgrade(registry)));
    }
}

#[cfg(test)]
mod tests {
    //! The watchdog with real parts: the real gateway on 127.0.0.1, real Socket.IO clients over
    //! WebSocket, the shipped plugins and a real recording folder; a test hook makes one studio
    //! actor stop answering.

    use std::path::Path;

    use futures::{SinkExt, StreamExt};
    use serde_json::{Value, json};
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

    use super::*;
    use crate::briefings::BriefingStore;
    use crate::config::{Config, ConfigSource};
    use crate::gateway::Gateway;
    use crate::plugins::{BUILT_PLUGIN_DIR, PluginHost, PluginHostOptions};
    use crate::session::ClientId;
    use crate::session::StudioRegistry;
    use crate::session::studio::{Stall, StudioCommand};

    /// Longest any awaited outcome may take before the test fails (a bound against hangs, not a
    /// timing assertion).
    const PATIENCE: Duration = Duration::from_secs(60);

    type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

    const MANIFEST: &str = r#"
[roles]
stt = "mock-stt"
tts = "mock-tts"
claude = "mock-llm"
guest = "mock-llm"
policy = "echo-policy"
[plugins.mock-stt]
path = "mock-stt.wasm"
capabilities = ["log", "clock", "config"]
[plugins.mock-tts]
path = "mock-tts.wasm"
capabilities = ["log", "config"]
[plugins.mock-llm]
path = "mock-llm.wasm"
capabilities = ["log", "config"]
[plugins.echo-policy]
path = "echo-policy.wasm"
capabilities = ["log"]
"#;

    /// The real gateway with the turn loop, recording into `dir/rec`, serving on 127.0.0.1.
    async fn serve(dir: &Path, watchdog_ms: &str) -> (std::net::SocketAddr, StudioRegistry) {
        let toml = dir.join("plugins.toml");
        std::fs::write(
            &toml,
            format!("[studio]\nplugin_dir = \"{BUILT_PLUGIN_DIR}\"\n{MANIFEST}"),
        )
        .expect("write plugins.toml");
        let config = Config::from_source(&ConfigSource::from_pairs([
            ("PLUGINS_TOML", toml.display().to_string()),
            ("RECORDING_DIR", dir.join("rec").display().to_string()),
            ("STUDIO_WATCHDOG_MS", watchdog_ms.to_owned()),
        ]))
        .expect("valid config");
        let plugins = PluginHost::start(PluginHostOptions {
            manifest_path: toml,
            cache_dir: Some(dir.join("cache")),
            ..Default::default()
        })
        .await
        .expect("plugins start");
        let briefings = BriefingStore::open(dir.join("briefings")).expect("briefings");
        let store = crate::store::EpisodeStore::open_in_memory().expect("episode store");
        let gateway = Gateway::with_turn_loop(Arc::new(config), plugins, briefings, store);
        let registry = gateway.registry().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(gateway.serve(listener, std::future::pending()));
        (addr, registry)
    }

    /// A Socket.IO client in namespace `/`, connected.
    async fn connect(addr: std::net::SocketAddr) -> Ws {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        ws.send(Message::text("40")).await.expect("connect packet");
        // The empty studio's state comes on connect; a hello's own snapshot comes after it.
        expect_event(&mut ws, "state.snapshot").await;
        ws
    }

    async fn emit(ws: &mut Ws, event: &str, payload: Value) {
        let packet = format!("42{}", json!([event, payload]));
        ws.send(Message::text(packet)).await.expect("emit");
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

    async fn hello(ws: &mut Ws, episode: &str) {
        emit(
            ws,
            "hello",
            json!({"episodeId": episode, "participantName": "tester"}),
        )
        .await;
        expect_event(ws, "state.snapshot").await;
    }

    #[test]
    fn one_late_look_after_a_pause_is_not_enough_to_call_a_studio_stuck() {
        let timeout = Duration::from_secs(10);
        let t0 = Instant::now();
        let mut watch = Watch::new(1, 7, t0);
        // The process was paused for a minute: the first look sees the same count, very late.
        assert_eq!(
            watch.look(1, 7, t0 + Duration::from_secs(60), timeout),
            None
        );
        // The studio beats as soon as it runs again.
        assert_eq!(
            watch.look(1, 8, t0 + Duration::from_secs(61), timeout),
            None
        );
        // Really silent: looks keep finding the same count until the timeout has passed.
        let mut ended = None;
        for s in 62..=80 {
            if let Some(silent) = watch.look(1, 8, t0 + Duration::from_secs(s), timeout) {
                ended = Some((s, silent));
                break;
            }
        }
        assert_eq!(ended, Some((71, Duration::from_secs(10))));
        // A new studio under the same episode starts a new watch.
        let mut fresh = Watch::new(1, 8, t0);
        assert_eq!(
            fresh.look(2, 8, t0 + Duration::from_secs(60), timeout),
            None
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_studio_is_ended_by_the_watchdog_its_clients_told_and_its_recording_finished() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (addr, registry) = serve(dir.path(), "300").await;
        let mut stuck_client = connect(addr).await;
        let mut healthy_client = connect(addr).await;
        hello(&mut stuck_client, "ep-stuck").await;
        hello(&mut healthy_client, "ep-healthy").await;
        let stuck = registry.get("ep-stuck").expect("studio");
        // The recording opens with the first audio (a hello alone records nothing).
        send_audio(&mut stuck_client, &[0; 1920]).await;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while stuck.audio_in().await.expect("audio stats").chunks == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the audio never arrived"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // The actor awaits something that never comes, as a call without a deadline would.
        stuck
            .send(StudioCommand::StallForTest(Stall::Forever))
            .expect("stall");

        let error = expect_event(&mut stuck_client, "error").await;
        assert_eq!(error["code"], "studio-stuck", "{error}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("ep-stuck") && m.contains("hello")),
            "{error}"
        );
        let end = expect_event(&mut stuck_client, "session.end").await;
        assert_eq!(end, json!({"episodeId": "ep-stuck", "reason": "stuck"}));
        // The abort dropped the actor, and its drop finished the recording.
        let ready = expect_event(&mut stuck_client, "recording.ready").await;
        assert_eq!(ready["episodeId"], "ep-stuck");
        let folder = dir
            .path()
            .join("rec")
            .join(ready["folder"].as_str().expect("folder"));
        let manifest = std::fs::read_to_string(folder.join("session.yml")).expect("session.yml");
        assert!(
            manifest.contains("\nendedAt: ") && !manifest.contains("endedAt: null"),
            "{manifest}"
        );
        let events = std::fs::read_to_string(folder.join("events.jsonl")).expect("events");
        assert!(events.contains("session.end"), "{events}");
        assert!(!stuck.is_running());
        assert_eq!(
            stuck.send(StudioCommand::RequestState {
                client: ClientId::unique()
            }),
            Err(crate::session::StudioSendError::Ended)
        );

        // The other studio never noticed.
        emit(&mut healthy_client, "client.request-state", Value::Null).await;
        expect_event(&mut healthy_client, "state.snapshot").await;
        assert!(registry.get("ep-healthy").is_some());

        // The episode opens again as a fresh studio.
        hello(&mut stuck_client, "ep-stuck").await;
        let fresh = registry.get("ep-stuck").expect("a fresh studio");
        assert_ne!(fresh.generation(), stuck.generation());
        emit(&mut stuck_client, "client.request-state", Value::Null).await;
        expect_event(&mut stuck_client, "state.snapshot").await;
    }
}
