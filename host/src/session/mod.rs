//! Studios: one per episode, each run by one actor task that owns its state. The registry (this
//! module) maps episode ids to running studios, creates them on the first `hello`, retires them
//! when their last client has been gone for the grace period, isolates a panicking studio, ends
//! a stuck one (see `watchdog`), and ends them all on shutdown.
//!
//! The rooms of the house:
//! - `audience`: how a studio reaches its clients (the gateway implements it over Socket.IO);
//! - `studio`: the actor (its loop, commands, handle and inboxes);
//! - `room`: what the actor and its floor share (state, clients, clock, settings, budget);
//! - `state`: the studio's state as pure data and rules (orbs, captions, microphone);
//! - `floor`: the conversation loop (ear, rules, voices, playback, timings, recording);
//! - `limits`, `quota`: what one studio may spend and how many studios may run;
//! - `watchdog`: ends a studio that stopped answering.

mod audience;
mod floor;
mod limits;
mod quota;
mod room;
mod state;
mod studio;
mod watchdog;

pub use audience::{Audience, ClientId, Delivery, NoClients};
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
use crate::recording::RecordingBucket;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use crate::config::LiveConfig;
use crate::gateway::protocol::{ServerEvent, SessionEnd};
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
    /// This host is one of a cluster and does not hold the episode.
    #[error(
        "this server is one host of a cluster and does not hold episode {0}: connect with ?episodeId=<episode> in the Socket.IO URL (socket.io-client: `query: {{episodeId}}`) so the cluster brings you to its host"
    )]
    NotHeldHere(String),
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
    /// How each session's recording is written (sync schedule, queue, finish deadline, the recorder
    /// lanes every session shares).
    pub recorder: crate::recording::WriterOptions,
    /// Where sessions are kept (transcript, turns, start and end); `None`: nowhere.
    pub store: Option<crate::store::EpisodeStore>,
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
    /// How studios reach their clients.
    audience: Arc<dyn Audience>,
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
    /// Where finished recordings are copied (`RECORDING_BUCKET`); `None`: nowhere.
    bucket: Mutex<Option<RecordingBucket>>,
    /// Episodes whose finished take is being copied to the bucket now (a cluster host keeps
    /// their leases until the copy is done, so no other host takes the take for a dead one's).
    copying: Arc<Mutex<HashMap<String, usize>>>,
    /// Which episodes this host may open or join (a host of a cluster: those it holds); `None`:
    /// every episode.
    placement: Mutex<Option<Placement>>,
}

/// Says whether this host may serve an episode (see [`StudioRegistry::set_placement`]).
pub type Placement = Arc<dyn Fn(&str) -> bool + Send + Sync>;

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
    /// An empty registry whose studios reach clients through `audience`; they keep state but
    /// run no turn loop (see [`StudioRegistry::with_turn_loop`]).
    pub fn new(audience: impl Audience, grace: Duration, live_config: Arc<LiveConfig>) -> Self {
        Self::build(Arc::new(audience), grace, live_config, None)
    }

    /// An empty registry whose studios run the turn loop with `setup`: they listen, answer,
    /// speak and record.
    pub fn with_turn_loop(
        audience: impl Audience,
        grace: Duration,
        live_config: Arc<LiveConfig>,
        setup: TurnLoopSetup,
    ) -> Self {
        Self::build(
            Arc::new(audience),
            grace,
            live_config,
            Some(Arc::new(setup)),
        )
    }

    fn build(
        audience: Arc<dyn Audience>,
        grace: Duration,
        live_config: Arc<LiveConfig>,
        turn_loop: Option<Arc<TurnLoopSetup>>,
    ) -> Self {
        Self {
            inner: Arc::new(RegistryInner {
                studios: Mutex::new(HashMap::new()),
                live_episode: Mutex::new(None),
                audience,
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
                bucket: Mutex::new(None),
                copying: Arc::default(),
                placement: Mutex::new(None),
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

    /// Sets where finished recordings are copied (default: nowhere); the gateway passes the
    /// `RECORDING_BUCKET` it was configured with.
    pub fn set_recording_bucket(&self, bucket: Option<RecordingBucket>) {
        *lock(&self.inner.bucket) = bucket;
    }

    /// Sets which episodes clients may open or join here (default: all): a host of a cluster
    /// serves only the episodes it holds; a `hello` for another gets
    /// [`JoinError::NotHeldHere`].
    pub fn set_placement(&self, placement: Placement) {
        *lock(&self.inner.placement) = Some(placement);
    }

    /// Where finished recordings are copied, if anywhere.
    pub fn recording_bucket(&self) -> Option<RecordingBucket> {
        self.inner.bucket()
    }

    /// Joins `client` to the studio of `episode_id` (or the current live episode when `None`),
    /// creating it on demand. The join is queued under the registry lock, so a studio that is
    /// about to retire for lack of clients sees it and stays.
    pub fn join(
        &self,
        episode_id: Option<&str>,
        client: ClientId,
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
        client: ClientId,
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
        if let Some(placement) = lock(&self.inner.placement).clone()
            && !placement(&episode_id)
        {
            return Err(JoinError::NotHeldHere(episode_id));
        }
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

    /// Whether this host still holds `episode_id`: its studio runs, or its finished take is
    /// being copied to the bucket.
    pub fn holds(&self, episode_id: &str) -> bool {
        self.get(episode_id).is_some() || lock(&self.inner.copying).contains_key(episode_id)
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
        let started = tokio::time::Instant::now();
        let all = futures::future::join_all(supervisors);
        if tokio::time::timeout(timeout, all).await.is_err() {
            tracing::warn!(?timeout, "studios did not end in time");
        }
        // The ended studios' recordings go to the bucket in tasks of their own: a host that
        // stops cleanly leaves each take whole there, not as live copies another host would
        // take for a crashed one's. Within the same time limit.
        while !lock(&self.inner.copying).is_empty() {
            if started.elapsed() >= timeout {
                tracing::warn!(
                    ?timeout,
                    "recordings still being copied to the bucket at shutdown; their live copies stay"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
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
            self.inner.audience.clone(),
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
                inner
                    .audience
                    .broadcast(&episode, ServerEvent::SessionEnd(&end))
                    .await;
                inner.audience.close(&episode).await;
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

    /// Where recordings are copied, if anywhere.
    pub(crate) fn bucket(&self) -> Option<RecordingBucket> {
        lock(&self.bucket).clone()
    }

    /// Remembers the last finished recording of an episode and copies its files to the bucket,
    /// if one is set, in a task of its own (a slow storage server never holds up a studio).
    pub(crate) fn keep_recording(&self, ready: &RecordingReady) {
        lock(&self.recordings).insert(ready.episode_id.clone(), ready.clone());
        self.copy_to_bucket(ready);
    }

    fn copy_to_bucket(&self, ready: &RecordingReady) {
        let Some(bucket) = self.bucket() else {
            return;
        };
        let (Some(setup), Some(folder)) = (&self.turn_loop, ready.folder.clone()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let root = setup.recording_dir.clone();
        let files: Vec<String> = ready.details.iter().map(|f| f.name.clone()).collect();
        let copying = Copying::start(&self.copying, &ready.episode_id);
        runtime.spawn(async move {
            let _copying = copying;
            match bucket.upload_recording(&root, &folder, &files).await {
                Ok(bytes) => {
                    tracing::info!(folder, files = files.len(), bytes, "recording copied to the bucket");
                    crate::metrics::recording_uploaded(Ok(bytes));
                    // The whole files are there: the pieces copied while it ran are not needed.
                    if let Err(error) = bucket.forget_live(&folder).await {
                        tracing::warn!(folder, %error, "the live copies of a finished recording could not be deleted");
                    }
                }
                Err(error) => {
                    tracing::error!(folder, %error, "recording could not be copied to the bucket; it stays on the local disk");
                    crate::metrics::recording_uploaded(Err(()));
                }
            }
        });
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
mod tests;

/// An episode's finished take being copied to the bucket, counted in the registry's `copying`
/// until dropped (however the copy task ends).
struct Copying {
    copying: Arc<Mutex<HashMap<String, usize>>>,
    episode: String,
}

impl Copying {
    fn start(copying: &Arc<Mutex<HashMap<String, usize>>>, episode: &str) -> Self {
        *lock(copying).entry(episode.to_owned()).or_default() += 1;
        Self {
            copying: copying.clone(),
            episode: episode.to_owned(),
        }
    }
}

impl Drop for Copying {
    fn drop(&mut self) {
        let mut copying = lock(&self.copying);
        if let Some(n) = copying.get_mut(&self.episode) {
            *n -= 1;
            if *n == 0 {
                copying.remove(&self.episode);
            }
        }
    }
}
