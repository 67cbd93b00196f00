//! Studios: one per episode, each run by one actor task that owns its state. The registry maps
//! episode ids to running studios, creates them on the first `hello`, retires them when their
//! last client has been gone for the grace period, isolates a panicking studio, ends a stuck one
//! (see [`watchdog`]), and ends them all on shutdown.

mod limits;
mod quota;
mod state;
mod studio;
mod watchdog;

pub use limits::{
    AutopilotBudget, AutopilotLimit, AutopilotRefusal, DEFAULT_AUTOPILOT_LINES_PER_EPISODE,
    DEFAULT_AUTOPILOT_LINES_PER_MINUTE, DEFAULT_RECORDING_MIN_FREE_MB, StudioLimits,
};
pub use quota::StudioQuota;
pub use state::{
    AudioInStats, CAPTIONS_IN_SNAPSHOT, CAPTIONS_KEPT, MICROPHONE_RELEASE_AFTER, MicrophoneHold,
    MicrophoneVerdict, Participant, StudioState,
};
pub use studio::{
    AUDIO_LANE, AUDIO_PER_COMMAND, STUDIO_QUEUE, StudioCommand, StudioHandle, StudioSendError,
};
pub use watchdog::DEFAULT_WATCHDOG_TIMEOUT;

use std::path::PathBuf;

use crate::briefings::BriefingStore;
use crate::gateway::download_links::DownloadLinks;
use crate::gateway::protocol::RecordingReady;
use crate::plugins::PluginHost;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use socketioxide::SocketIo;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use crate::config::LiveConfig;
use crate::gateway::protocol::{SessionEnd, server_events};
use studio::Studio;
use watchdog::Heartbeat;

/// Why a studio ended (sent to its clients in `session.end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Its last client was gone for the grace period.
    Idle,
    /// The server is shutting down.
    Shutdown,
    /// Its task panicked.
    InternalError,
    /// A client ended the episode (`client.end-session`).
    Ended,
    /// It stopped answering and the watchdog ended it.
    Stuck,
}

impl EndReason {
    /// The `session.end` reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Shutdown => "shutdown",
            Self::InternalError => "internal-error",
            Self::Ended => "ended",
            Self::Stuck => "stuck",
        }
    }
}

/// Why a client could not join a studio.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The episode id cannot name a studio (it becomes a recording folder name).
    #[error(
        "episodeId must be 1-128 characters of letters, digits, '.', '_' or '-' and not start with '.'"
    )]
    BadEpisodeId,
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The studio could not take the join.
    #[error(transparent)]
    Send(#[from] StudioSendError),
    /// Opening one more studio would pass `MAX_STUDIOS`.
    #[error(
        "this server already runs its limit of {limit} studios (MAX_STUDIOS); join a running episode or try again later"
    )]
    TooManyStudios {
        /// The limit.
        limit: usize,
    },
    /// Opening one more studio would pass `MAX_STUDIOS_PER_IP` for the creating address.
    #[error(
        "your address already opened {limit} running studios (MAX_STUDIOS_PER_IP); join a running episode, or end one of yours"
    )]
    TooManyStudiosFromAddress {
        /// The limit.
        limit: usize,
    },
}

/// What a studio's turn loop works with: the plugins, the briefings, where recordings go and
/// the floor's limits. Without it a studio keeps its state and counts audio but nobody answers.
#[derive(Clone)]
pub struct TurnLoopSetup {
    /// The plugin runtime: STT, TTS, the two LLMs and the turn policy.
    pub plugins: Arc<PluginHost>,
    /// The episode briefings that go into every prompt.
    pub briefings: BriefingStore,
    /// `RECORDING_DIR`: each studio session records into a folder here.
    pub recording_dir: PathBuf,
    /// Most AI lines in a row in autopilot (the policy sees it as `max-ai-turns`; the host enforces it).
    pub autopilot_max_turns: u32,
    /// Pause between one AI's line and the next AI's.
    pub turn_gap: Duration,
    /// BCP-47 language of the conversation, for STT and TTS.
    pub language: String,
    /// How each session's recording writer thread runs (sync schedule, queue, finish deadline).
    pub recorder: crate::recording::WriterOptions,
}

struct StudioEntry {
    handle: StudioHandle,
    supervisor: Option<JoinHandle<()>>,
    /// The actor's sign of life, watched by the watchdog.
    heartbeat: Arc<Heartbeat>,
    /// Ends the actor's task from outside (the watchdog, for a stuck studio).
    actor: AbortHandle,
    /// The address (key) of the client whose hello opened it, for `MAX_STUDIOS_PER_IP`.
    creator: Option<IpAddr>,
}

/// The registry's shared part; studios hold it to retire themselves.
pub(crate) struct RegistryInner {
    studios: Mutex<HashMap<String, StudioEntry>>,
    live_episode: Mutex<Option<String>>,
    io: SocketIo,
    grace: Duration,
    live_config: Arc<LiveConfig>,
    next_generation: AtomicU64,
    shutting_down: AtomicBool,
    turn_loop: Option<Arc<TurnLoopSetup>>,
    /// The last finished recording of each episode, so a client that joins later still learns it.
    recordings: Mutex<HashMap<String, RecordingReady>>,
    /// `STUDIO_WATCHDOG_MS`: a studio silent this long is ended.
    watchdog_ms: AtomicU64,
    watchdog_started: AtomicBool,
    /// What each new studio may spend (autopilot lines, disk space).
    limits: Mutex<StudioLimits>,
    /// How many studios clients may open (`MAX_STUDIOS`, `MAX_STUDIOS_PER_IP`).
    quota: Mutex<StudioQuota>,
    /// Signs the download URLs in `recording.ready` (the gateway sets its key).
    download_links: Mutex<DownloadLinks>,
}

/// All running studios, keyed by episode id.
#[derive(Clone)]
pub struct StudioRegistry {
    inner: Arc<RegistryInner>,
}

/// A poisoned lock only means another thread panicked while holding it; the map stays usable
/// and a panicking studio must not take the registry down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The Socket.IO namespace studios live in. socketioxide's `io.to()` and `io.get_socket()` panic
/// when `/` is not registered; this returns `None` instead, so a studio never panics over it.
fn studio_namespace(io: &SocketIo) -> Option<socketioxide::operators::BroadcastOperators> {
    io.of("/")
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whether `id` may name a studio (and later its recording folder).
pub fn is_valid_episode_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl StudioRegistry {
    /// An empty registry whose studios reach clients through `io`; they keep state but run no
    /// turn loop (see [`StudioRegistry::with_turn_loop`]).
    pub fn new(io: SocketIo, grace: Duration, live_config: Arc<LiveConfig>) -> Self {
        Self::build(io, grace, live_config, None)
    }

    /// An empty registry whose studios run the turn loop with `setup`: they listen, answer,
    /// speak and record.
    pub fn with_turn_loop(
        io: SocketIo,
        grace: Duration,
        live_config: Arc<LiveConfig>,
        setup: TurnLoopSetup,
    ) -> Self {
        Self::build(io, grace, live_config, Some(Arc::new(setup)))
    }

    fn build(
        io: SocketIo,
        grace: Duration,
        live_config: Arc<LiveConfig>,
        turn_loop: Option<Arc<TurnLoopSetup>>,
    ) -> Self {
        Self {
            inner: Arc::new(RegistryInner {
                studios: Mutex::new(HashMap::new()),
                live_episode: Mutex::new(None),
                io,
                grace,
                live_config,
                next_generation: AtomicU64::new(1),
                shutting_down: AtomicBool::new(false),
                turn_loop,
                recordings: Mutex::new(HashMap::new()),
                watchdog_ms: AtomicU64::new(duration_ms(DEFAULT_WATCHDOG_TIMEOUT)),
                watchdog_started: AtomicBool::new(false),
                limits: Mutex::new(StudioLimits::default()),
                quota: Mutex::new(StudioQuota::default()),
                download_links: Mutex::new(DownloadLinks::ephemeral()),
            }),
        }
    }

    /// Sets how long a studio may stop answering before the watchdog ends it (default
    /// [`DEFAULT_WATCHDOG_TIMEOUT`]); call before the first join.
    pub fn set_watchdog_timeout(&self, timeout: Duration) {
        self.inner
            .watchdog_ms
            .store(duration_ms(timeout).max(1), Ordering::Relaxed);
    }

    /// Sets what each studio created from now on may spend (default [`StudioLimits::default`]);
    /// call before the first join.
    pub fn set_limits(&self, limits: StudioLimits) {
        *lock(&self.inner.limits) = limits;
    }

    /// Sets how many studios clients may open through [`StudioRegistry::join_from`] (default:
    /// no limit).
    pub fn set_quota(&self, quota: StudioQuota) {
        *lock(&self.inner.quota) = quota;
    }

    /// Sets how `recording.ready` signs its download URLs (default: a random key of this
    /// registry, which no route checks); the gateway passes the access model's key.
    pub fn set_download_links(&self, links: DownloadLinks) {
        *lock(&self.inner.download_links) = links;
    }

    /// Joins `client` to the studio of `episode_id` (or the current live episode when `None`),
    /// creating it on demand. The join is queued under the registry lock, so a studio that is
    /// about to retire for lack of clients sees it and stays.
    pub fn join(
        &self,
        episode_id: Option<&str>,
        client: socketioxide::socket::Sid,
        participant: Participant,
    ) -> Result<StudioHandle, JoinError> {
        self.join_from(episode_id, client, participant, None)
    }

    /// Like [`StudioRegistry::join`] for a client at `creator` (an address key): opening a new
    /// studio counts against the quota (see [`StudioRegistry::set_quota`]); joining a running
    /// one does not. A studio stops counting when it ends.
    pub fn join_from(
        &self,
        episode_id: Option<&str>,
        client: socketioxide::socket::Sid,
        participant: Participant,
        creator: Option<IpAddr>,
    ) -> Result<StudioHandle, JoinError> {
        if self.inner.shutting_down.load(Ordering::Acquire) {
            return Err(JoinError::ShuttingDown);
        }
        let episode_id = match episode_id {
            Some(id) if is_valid_episode_id(id) => id.to_owned(),
            Some(_) => return Err(JoinError::BadEpisodeId),
            None => self.live_episode_id(),
        };
        let mut studios = lock(&self.inner.studios);
        let reuse = studios
            .get(&episode_id)
            .map(|e| e.handle.clone())
            .filter(StudioHandle::is_running);
        let handle = match reuse {
            Some(handle) => handle,
            None => {
                // Ended studios whose task is done stay in the map until their id is reused;
                // forget them here, so opening and ending studios cannot grow it without end.
                studios.retain(|_, e| e.handle.is_running() || !e.actor.is_finished());
                let running = studios
                    .values()
                    .filter(|e| e.handle.is_running())
                    .map(|e| e.creator);
                let quota = *lock(&self.inner.quota);
                quota.check(creator, running)?;
                self.spawn_studio(&episode_id, &mut studios, creator)
            }
        };
        handle.send(StudioCommand::Join {
            client,
            participant,
        })?;
        Ok(handle)
    }

    /// The running studio of `episode_id`.
    pub fn get(&self, episode_id: &str) -> Option<StudioHandle> {
        lock(&self.inner.studios)
            .get(episode_id)
            .map(|e| e.handle.clone())
            .filter(StudioHandle::is_running)
    }

    /// Episode ids of the running studios.
    pub fn episode_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = lock(&self.inner.studios).keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The last finished recording of `episode_id`, if any.
    pub fn last_recording(&self, episode_id: &str) -> Option<RecordingReady> {
        lock(&self.inner.recordings).get(episode_id).cloned()
    }

    /// The settings the studios read.
    pub fn live_config(&self) -> &Arc<LiveConfig> {
        &self.inner.live_config
    }

    /// Ends every studio (clients get `session.end` with reason `shutdown`) and waits for them,
    /// at most `timeout`. New joins are refused from now on.
    pub async fn shutdown(&self, timeout: Duration) {
        self.inner.shutting_down.store(true, Ordering::Release);
        let entries: Vec<StudioEntry> = lock(&self.inner.studios).drain().map(|(_, e)| e).collect();
        let mut supervisors = Vec::new();
        for entry in entries {
            // A full queue still ends: dropping the last sender closes the channel.
            if entry
                .handle
                .send(StudioCommand::End(EndReason::Shutdown))
                .is_err()
            {
                tracing::debug!(
                    episode = entry.handle.episode_id(),
                    "studio ends by channel close"
                );
            }
            drop(entry.handle);
            if let Some(s) = entry.supervisor {
                supervisors.push(s);
            }
        }
        let all = futures::future::join_all(supervisors);
        if tokio::time::timeout(timeout, all).await.is_err() {
            tracing::warn!(?timeout, "studios did not end in time");
        }
    }

    /// The current live episode's id, created as `episode-<epoch ms>` when there is none running.
    fn live_episode_id(&self) -> String {
        let mut live = lock(&self.inner.live_episode);
        if let Some(id) = live.as_ref()
            && self.get(id).is_some()
        {
            return id.clone();
        }
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let id = format!("episode-{millis}");
        *live = Some(id.clone());
        id
    }

    fn spawn_studio(
        &self,
        episode_id: &str,
        studios: &mut HashMap<String, StudioEntry>,
        creator: Option<IpAddr>,
    ) -> StudioHandle {
        watchdog::start_once(&self.inner);
        let generation = self.inner.next_generation.fetch_add(1, Ordering::Relaxed);
        let (studio, handle, rx) = Studio::new(
            episode_id,
            generation,
            self.inner.io.clone(),
            self.inner.clone(),
            self.inner.grace,
            self.inner.live_config.subscribe(),
            self.inner.turn_loop.clone(),
        );
        let actor = tokio::spawn(studio.run(rx));
        let abort = actor.abort_handle();
        let inner = self.inner.clone();
        let episode = episode_id.to_owned();
        // The supervisor turns a panic into a logged, ended studio; other studios go on.
        let supervisor = tokio::spawn(async move {
            if let Err(e) = actor.await
                && e.is_panic()
            {
                tracing::error!(episode = %episode, "studio task panicked; the studio is ended");
                inner.remove_if_generation(&episode, generation);
                let end = SessionEnd {
                    episode_id: episode.clone(),
                    reason: EndReason::InternalError.as_str().to_owned(),
                };
                if let Some(ns) = studio_namespace(&inner.io)
                    && let Err(e) = ns
                        .to(episode.clone())
                        .emit(server_events::SESSION_END, &end)
                        .await
                {
                    tracing::debug!(error = %e, "could not tell clients the studio ended");
                }
                if let Some(ns) = studio_namespace(&inner.io)
                    && let Err(e) = ns.to(episode.clone()).leave(episode).await
                {
                    tracing::debug!(error = %e, "could not empty the ended studio's room");
                }
            }
        });
        studios.insert(
            episode_id.to_owned(),
            StudioEntry {
                handle: handle.clone(),
                supervisor: Some(supervisor),
                heartbeat: handle.heartbeat(),
                actor: abort,
                creator,
            },
        );
        handle
    }
}

impl RegistryInner {
    /// The limits a new studio runs under.
    pub(crate) fn limits(&self) -> StudioLimits {
        *lock(&self.limits)
    }

    /// Remembers the last finished recording of an episode.
    pub(crate) fn keep_recording(&self, ready: &RecordingReady) {
        lock(&self.recordings).insert(ready.episode_id.clone(), ready.clone());
    }

    /// The last finished recording of an episode, its download URLs signed afresh (a client
    /// may join long after the recording ended).
    pub(crate) fn recording_of(&self, episode_id: &str) -> Option<RecordingReady> {
        let mut ready = lock(&self.recordings).get(episode_id).cloned()?;
        self.download_links().sign_ready(&mut ready);
        Some(ready)
    }

    /// How download URLs are signed now.
    pub(crate) fn download_links(&self) -> DownloadLinks {
        lock(&self.download_links).clone()
    }

    /// Removes the studio if nothing is queued for it; called by an idle studio under the same
    /// lock `join` queues under, so no join can be lost between the check and the removal.
    pub(crate) fn retire_if_idle(
        &self,
        episode_id: &str,
        generation: u64,
        rx: &mpsc::Receiver<StudioCommand>,
    ) -> bool {
        let mut studios = lock(&self.studios);
        if !rx.is_empty() {
            return false;
        }
        if studios
            .get(episode_id)
            .is_some_and(|e| e.handle.generation() == generation)
        {
            studios.remove(episode_id);
        }
        true
    }

    fn remove_if_generation(&self, episode_id: &str, generation: u64) {
        let mut studios = lock(&self.studios);
        if studios
            .get(episode_id)
            .is_some_and(|e| e.handle.generation() == generation)
        {
            studios.remove(episode_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ConfigSource};
    use crate::gateway::protocol::{
        Caption, InputFormat, ModeNormal, ModeThinking, OrbState, SharedScreen, SharedScreenMode,
        Speaker,
    };
    use socketioxide::socket::Sid;

    #[test]
    fn episode_ids_that_could_escape_the_recording_folder_are_refused() {
        assert!(is_valid_episode_id("episode-1732611111111"));
        assert!(is_valid_episode_id("show_42.take-2"));
        assert!(!is_valid_episode_id("../etc"));
        assert!(!is_valid_episode_id(".hidden"));
        assert!(!is_valid_episode_id("a/b"));
        assert!(!is_valid_episode_id(""));
        assert!(!is_valid_episode_id(&"x".repeat(129)));
    }

    const GRACE: Duration = Duration::from_secs(10);

    fn registry() -> (StudioRegistry, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let toml = dir.path().join("plugins.toml");
        std::fs::write(&toml, "").expect("write plugins.toml");
        let config = Config::from_source(&ConfigSource::from_pairs([
            ("PLUGINS_TOML", toml.display().to_string()),
            (
                "RECORDING_DIR",
                dir.path().join("rec").display().to_string(),
            ),
        ]))
        .expect("valid config");
        let (_svc, io) = SocketIo::new_svc();
        io.ns("/", async || {});
        let live = Arc::new(LiveConfig::new(&config));
        (StudioRegistry::new(io, GRACE, live), dir)
    }

    fn someone() -> Participant {
        Participant {
            name: "someone".into(),
            input_format: InputFormat::default(),
        }
    }

    /// Lets the spawned studio actors run until they wait again.
    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_studio_ends_only_after_its_last_client_has_been_gone_for_the_grace_period() {
        let (registry, _dir) = registry();
        let client = Sid::new();
        let studio = registry
            .join(Some("ep-grace"), client, someone())
            .expect("join");
        settle().await;
        tokio::time::advance(GRACE * 3).await;
        settle().await;
        assert!(
            registry.get("ep-grace").is_some(),
            "a studio with a client stays"
        );

        studio.send(StudioCommand::Leave { client }).expect("leave");
        settle().await;
        tokio::time::advance(GRACE - Duration::from_millis(1)).await;
        settle().await;
        assert!(
            registry.get("ep-grace").is_some(),
            "still within the grace period"
        );
        tokio::time::advance(Duration::from_millis(2)).await;
        settle().await;
        assert!(
            registry.get("ep-grace").is_none(),
            "ended after the grace period"
        );
        assert!(!studio.is_running());
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_rejoining_within_the_grace_period_finds_the_same_studio() {
        let (registry, _dir) = registry();
        let client = Sid::new();
        let first = registry
            .join(None, client, someone())
            .expect("join live episode");
        assert!(first.episode_id().starts_with("episode-"));
        first.send(StudioCommand::Leave { client }).expect("leave");
        settle().await;
        tokio::time::advance(GRACE / 2).await;
        settle().await;
        // A page reload: a new connection, no episode id, joins the same live episode.
        let again = registry.join(None, Sid::new(), someone()).expect("rejoin");
        assert_eq!(again.episode_id(), first.episode_id());
        assert_eq!(again.generation(), first.generation());
        tokio::time::advance(GRACE * 2).await;
        settle().await;
        assert!(registry.get(first.episode_id()).is_some());
    }

    #[tokio::test]
    async fn a_panicking_studio_ends_alone() {
        let (registry, _dir) = registry();
        let doomed = registry
            .join(Some("ep-doomed"), Sid::new(), someone())
            .expect("join");
        let healthy = registry
            .join(Some("ep-healthy"), Sid::new(), someone())
            .expect("join");
        doomed
            .send(StudioCommand::PanicForTest)
            .expect("queue panic");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while registry.get("ep-doomed").is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "panicked studio never removed"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(!doomed.is_running());
        assert!(healthy.is_running());
        healthy
            .send(StudioCommand::RequestState { client: Sid::new() })
            .expect("the other studio still takes commands");
        // The episode can be opened again, as a new studio.
        let reopened = registry
            .join(Some("ep-doomed"), Sid::new(), someone())
            .expect("rejoin");
        assert_ne!(reopened.generation(), doomed.generation());
        assert_eq!(registry.episode_ids(), vec!["ep-doomed", "ep-healthy"]);
    }

    /// Waits (at most a minute, against hangs) until `episode` has left the registry.
    async fn until_gone(registry: &StudioRegistry, episode: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while registry.get(episode).is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{episode} never ended"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_studio_blocked_in_a_system_call_is_ended_by_the_watchdog_and_the_others_go_on() {
        let (registry, _dir) = registry();
        registry.set_watchdog_timeout(Duration::from_millis(200));
        let stuck = registry
            .join(Some("ep-stuck"), Sid::new(), someone())
            .expect("join");
        let healthy = registry
            .join(Some("ep-healthy"), Sid::new(), someone())
            .expect("join");
        // Blocks its worker thread like a hung disk write; one of the two workers stays free.
        stuck
            .send(StudioCommand::StallForTest(studio::Stall::Block(
                Duration::from_secs(3),
            )))
            .expect("stall");
        until_gone(&registry, "ep-stuck").await;
        assert!(!stuck.is_running());
        assert_eq!(
            stuck.send(StudioCommand::RequestState { client: Sid::new() }),
            Err(StudioSendError::Ended),
            "its handles refuse at once, though the actor still holds its queue"
        );
        healthy
            .snapshot()
            .await
            .expect("the other studio still answers");
        let reopened = registry
            .join(Some("ep-stuck"), Sid::new(), someone())
            .expect("rejoin");
        assert_ne!(reopened.generation(), stuck.generation());
        reopened.snapshot().await.expect("the fresh studio answers");
        assert_eq!(registry.episode_ids(), vec!["ep-healthy", "ep-stuck"]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_waits_for_its_timeout_and_never_ends_a_studio_that_answers() {
        let (registry, _dir) = registry();
        let client = Sid::new();
        let idle = registry
            .join(Some("ep-idle"), client, someone())
            .expect("join");
        let stuck = registry
            .join(Some("ep-stuck"), Sid::new(), someone())
            .expect("join");
        settle().await;
        // The whole process paused (a suspended VM, a debugger): every heartbeat looks old at
        // once, but a studio that answers on the next look is not stuck.
        tokio::time::advance(DEFAULT_WATCHDOG_TIMEOUT * 6).await;
        settle().await;
        stuck
            .send(StudioCommand::StallForTest(studio::Stall::Forever))
            .expect("stall");
        settle().await;
        for _ in 0..9 {
            tokio::time::advance(Duration::from_secs(1)).await;
            settle().await;
        }
        assert!(registry.get("ep-stuck").is_some(), "not before the timeout");
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(1)).await;
            settle().await;
        }
        assert!(registry.get("ep-stuck").is_none(), "ended after it");
        assert!(idle.is_running(), "a quiet studio is not a stuck one");
        assert_eq!(registry.episode_ids(), vec!["ep-idle"]);
    }

    #[tokio::test]
    async fn turn_loop_commands_change_the_snapshot_clients_get() {
        let (registry, _dir) = registry();
        let client = Sid::new();
        let studio = registry
            .join(Some("ep-turn"), client, someone())
            .expect("join");
        studio
            .send(StudioCommand::SetOrb {
                speaker: Speaker::Claude,
                state: OrbState::Speaking,
            })
            .expect("orb");
        studio
            .send(StudioCommand::SetAutopilot { client, on: true })
            .expect("autopilot");
        studio
            .send(StudioCommand::StartThinking(ModeThinking {
                speaker: Speaker::Guest,
                duration_ms: 30_000,
                started_at: 1_000,
            }))
            .expect("thinking");
        for i in 0..3 {
            studio
                .send(StudioCommand::PushCaption(Caption {
                    id: format!("c{i}"),
                    speaker: Speaker::You,
                    text: format!("line {i}"),
                    timestamp: i,
                    is_final: Some(true),
                    start_ms: None,
                    end_ms: None,
                }))
                .expect("caption");
        }
        let snapshot = studio.snapshot().await.expect("snapshot");
        assert_eq!(snapshot.orb_states.claude, OrbState::Speaking);
        assert!(snapshot.autopilot);
        assert_eq!(snapshot.shared_screen.mode, SharedScreenMode::Thinking);
        assert_eq!(
            snapshot.shared_screen.thinking.map(|t| t.ends_at),
            Some(31_000)
        );
        let ids: Vec<_> = snapshot.captions.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["c2", "c1", "c0"]);

        studio
            .send(StudioCommand::EndThinking(ModeNormal {
                speaker: Speaker::Guest,
                ended_at: 31_000,
            }))
            .expect("normal");
        let snapshot = studio.snapshot().await.expect("snapshot");
        assert_eq!(snapshot.shared_screen, SharedScreen::default());
    }

    #[tokio::test]
    async fn autopilot_from_a_client_outside_the_studio_is_ignored() {
        let (registry, _dir) = registry();
        let studio = registry
            .join(Some("ep-outsider"), Sid::new(), someone())
            .expect("join");
        studio
            .send(StudioCommand::SetAutopilot {
                client: Sid::new(),
                on: true,
            })
            .expect("queued");
        assert!(!studio.snapshot().await.expect("snapshot").autopilot);
    }

    #[tokio::test]
    async fn opening_studios_counts_per_address_and_in_total_and_joining_is_free() {
        let (registry, _dir) = registry();
        registry.set_quota(StudioQuota {
            max_studios: 6,
            max_per_address: 4,
        });
        let a = Some(IpAddr::from([127, 0, 0, 2]));
        let b = Some(IpAddr::from([127, 0, 0, 3]));
        let mut opened = Vec::new();
        for i in 0..4 {
            let client = Sid::new();
            let studio = registry
                .join_from(Some(&format!("ep-a{i}")), client, someone(), a)
                .expect("within the address's quota");
            opened.push((client, studio));
        }
        assert_eq!(
            registry
                .join_from(Some("ep-a4"), Sid::new(), someone(), a)
                .map(|_| ()),
            Err(JoinError::TooManyStudiosFromAddress { limit: 4 })
        );
        assert!(registry.get("ep-a4").is_none(), "nothing was opened");
        // Joining a running studio, from any address, opens nothing.
        registry
            .join_from(Some("ep-a0"), Sid::new(), someone(), a)
            .expect("joining is free");
        registry
            .join_from(Some("ep-a1"), Sid::new(), someone(), b)
            .expect("joining is free");
        for i in 0..2 {
            registry
                .join_from(Some(&format!("ep-b{i}")), Sid::new(), someone(), b)
                .expect("another address has its own quota");
        }
        assert_eq!(
            registry
                .join_from(Some("ep-b2"), Sid::new(), someone(), b)
                .map(|_| ()),
            Err(JoinError::TooManyStudios { limit: 6 })
        );
        // A studio that ends stops counting.
        let (client, studio) = opened.remove(0);
        studio
            .send(StudioCommand::EndSession { client })
            .expect("end");
        until_gone(&registry, "ep-a0").await;
        registry
            .join_from(Some("ep-a4"), Sid::new(), someone(), a)
            .expect("room again after one ended");
    }

    #[tokio::test]
    async fn shutdown_ends_every_studio_and_refuses_new_joins() {
        let (registry, _dir) = registry();
        let a = registry
            .join(Some("ep-a"), Sid::new(), someone())
            .expect("join");
        let b = registry
            .join(Some("ep-b"), Sid::new(), someone())
            .expect("join");
        registry.shutdown(Duration::from_secs(30)).await;
        assert!(!a.is_running());
        assert!(!b.is_running());
        assert!(registry.episode_ids().is_empty());
        assert_eq!(
            registry
                .join(Some("ep-c"), Sid::new(), someone())
                .map(|_| ()),
            Err(JoinError::ShuttingDown)
        );
    }
}
