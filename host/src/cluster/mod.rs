//! Several hosts behind one address (`CLUSTER_REDIS_URL`, see `docs/SCALING.md`). Each episode
//! lives on one host, which holds its lease in Redis ([`leases`]); a client that names its
//! episode when it connects (`/socket.io/?episodeId=...`) may arrive at any host: the episode's
//! host serves it, and any other relays its connection there byte for byte ([`relay`]), so a
//! studio stays one actor in one process. A host that dies stops renewing its leases; the first
//! host a client of one of its episodes reaches after the lease lapsed claims it, takes over the
//! cut-off take from the bucket and opens the next take with its transcript ([`takeover`]); if
//! no client comes back, a sweep of the episodes noted open does the first half of that, so the
//! take is marked interrupted anyway.
//!
//! - this file: the host's place in the cluster (placing a client, renewing the leases);
//! - [`leases`]: the Redis registry of live studios;
//! - [`takeover`]: the takes an episode already has, and the one a dead host left behind;
//! - [`relay`]: the HTTP middleware that serves, relays or refuses a Socket.IO request.

pub mod leases;
pub mod relay;
pub mod takeover;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::config::Config;
use crate::recording::{BucketError, RecordingBucket};
use crate::session::StudioRegistry;
use crate::store::EpisodeStore;
use leases::{Holder, Leases};

/// What went wrong talking to the cluster's engines.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Redis refused or failed a call.
    #[error("the cluster's Redis: {0}")]
    Redis(#[source] redis::RedisError),
    /// Redis did not answer in time.
    #[error("the cluster's Redis did not answer in time")]
    Timeout,
    /// The episode's lease changed hands twice during one claim.
    #[error("the lease of episode {0} keeps changing hands; try again")]
    Contended(String),
    /// The bucket could not be read or written.
    #[error(transparent)]
    Bucket(#[from] BucketError),
    /// The recording folder could not be written.
    #[error("{path}: {source}")]
    Disk {
        /// The folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A claim's task ended without an answer (it panicked).
    #[error("claiming the episode failed: {0}")]
    Task(String),
    /// The episode store could not take a taken-over take.
    #[error("the episode store: {0}")]
    Store(String),
}

/// Where a client of an episode is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// By this host.
    Here,
    /// By the host at this advertised URL.
    Relay(String),
}

/// This host's place in the cluster.
pub struct Cluster {
    leases: Leases,
    registry: StudioRegistry,
    bucket: RecordingBucket,
    recording_dir: PathBuf,
    store: Option<EpisodeStore>,
    /// The episodes this host claimed, with when: a claim lives while its studio runs (or its
    /// finished take is being copied), or for one lease after the claim while the studio opens.
    ours: Mutex<HashMap<String, Instant>>,
    /// Episodes claimed and being prepared (a cut-off take being put back together): their
    /// leases are renewed meanwhile, but no client is served here until they are ready.
    preparing: Mutex<HashSet<String>>,
    /// One claim at a time on this host: two clients of one new episode arriving together must
    /// not both take over its cut-off take.
    claiming: tokio::sync::Mutex<()>,
}

/// An episode in [`Cluster::preparing`] until dropped (however the preparing ends).
struct Preparing<'a> {
    cluster: &'a Cluster,
    episode: String,
}

impl<'a> Preparing<'a> {
    fn start(cluster: &'a Cluster, episode: &str) -> Self {
        lock(&cluster.preparing).insert(episode.to_owned());
        Self {
            cluster,
            episode: episode.to_owned(),
        }
    }
}

impl Drop for Preparing<'_> {
    fn drop(&mut self) {
        lock(&self.cluster.preparing).remove(&self.episode);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Cluster {
    /// This host's place in the cluster `config` describes; `None` when it serves alone.
    /// Needs the registry's bucket (the configuration checks that a cluster has one).
    pub fn from_config(
        config: &Config,
        registry: &StudioRegistry,
        store: Option<EpisodeStore>,
    ) -> Result<Option<Arc<Self>>, ClusterError> {
        let (Some(redis_url), Some(me)) =
            (&config.cluster.redis_url, &config.cluster.advertise_url)
        else {
            return Ok(None);
        };
        let Some(bucket) = registry.recording_bucket() else {
            return Err(ClusterError::Bucket(BucketError::Config(
                "a cluster needs RECORDING_BUCKET".into(),
            )));
        };
        let leases = Leases::new(redis_url.expose(), me, config.cluster.lease)?;
        Ok(Some(Arc::new(Self {
            leases,
            registry: registry.clone(),
            bucket,
            recording_dir: config.folders.recording_dir.clone(),
            store,
            ours: Mutex::new(HashMap::new()),
            preparing: Mutex::new(HashSet::new()),
            claiming: tokio::sync::Mutex::new(()),
        })))
    }

    /// This host's advertised URL.
    pub fn me(&self) -> &str {
        self.leases.me()
    }

    /// Whether this host holds `episode` (it claimed it and has not let go).
    pub fn holds(&self, episode: &str) -> bool {
        lock(&self.ours).contains_key(episode)
    }

    /// Where a client of `episode` is served: here when this host holds it or could claim it
    /// (a take a dead host left behind is taken over first), else at the holder.
    pub async fn place(self: &Arc<Self>, episode: &str) -> Result<Placement, ClusterError> {
        if self.holds(episode) {
            return Ok(Placement::Here);
        }
        if let Some(Holder::Elsewhere(url)) = self.leases.holder(episode).await? {
            return Ok(Placement::Relay(url));
        }
        // In a task of its own: a client that goes away must not cut a takeover in half.
        let cluster = self.clone();
        let episode = episode.to_owned();
        tokio::spawn(async move { cluster.claim(&episode).await })
            .await
            .map_err(|e| ClusterError::Task(e.to_string()))?
    }

    /// Claims `episode` for this host and prepares it, unless another host holds it.
    async fn claim(&self, episode: &str) -> Result<Placement, ClusterError> {
        let _one_claim = self.claiming.lock().await;
        if self.holds(episode) {
            return Ok(Placement::Here);
        }
        match self.leases.claim(episode).await? {
            Holder::Elsewhere(url) => Ok(Placement::Relay(url)),
            Holder::Here => {
                match self.prepare(episode).await {
                    Ok(prepared) => {
                        if let Some(take) = &prepared.interrupted {
                            tracing::warn!(episode, take = %take, "episode taken over: its cut-off take is kept as interrupted and the show goes on in a new take here");
                        }
                        tracing::info!(episode, takes = prepared.takes.len(), "episode claimed");
                        lock(&self.ours).insert(episode.to_owned(), Instant::now());
                        if let Err(error) = self.leases.mark_open(episode).await {
                            // Only the sweep misses it: a client that comes back still finds it.
                            tracing::warn!(episode, %error, "an episode could not be noted open");
                        }
                        Ok(Placement::Here)
                    }
                    Err(error) => {
                        // Let go, so this host or another can try again from the start.
                        if let Err(release) = self.leases.release(episode).await {
                            tracing::warn!(episode, error = %release, "a failed claim's lease could not be released; it lapses");
                        }
                        Err(error)
                    }
                }
            }
        }
    }

    /// Prepares this host to run the next take of `episode`, which it just claimed (see
    /// [`takeover::prepare`]); a take put back together here counts as a takeover.
    async fn prepare(&self, episode: &str) -> Result<takeover::Prepared, ClusterError> {
        let _renewed_meanwhile = Preparing::start(self, episode);
        let prepared = takeover::prepare(
            episode,
            &self.bucket,
            &self.recording_dir,
            self.store.as_ref(),
        )
        .await?;
        if prepared.assembled {
            crate::metrics::cluster_takeover();
        }
        Ok(prepared)
    }

    /// Keeps this host's leases alive while their studios run, lets go of the others, and once
    /// a lease looks for episodes a dead host left behind ([`Cluster::sweep`]). Runs until the
    /// process ends, a round every third of a lease.
    pub async fn renew_leases(self: Arc<Self>) {
        let every = self.leases.lease() / 3;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweeping: Option<tokio::task::JoinHandle<()>> = None;
        for round in 0u64.. {
            tick.tick().await;
            self.renew_round().await;
            // In a task of its own: a slow takeover must not hold up the renewals.
            if round % 3 == 2 && sweeping.as_ref().is_none_or(|s| s.is_finished()) {
                let cluster = self.clone();
                sweeping = Some(tokio::spawn(async move { cluster.sweep().await }));
            }
        }
    }

    /// Marks the episodes of dead hosts interrupted without waiting for a client: an episode
    /// noted open that nobody holds lost its host mid-take. This host claims it, takes its
    /// cut-off take over (put back together and kept whole in the bucket, listed here as
    /// `interrupted`), notes it closed and lets go; a client that comes back later, to any host,
    /// continues it in a new take with its transcript.
    pub async fn sweep(&self) {
        let open = match self.leases.open_episodes().await {
            Ok(open) => open,
            Err(error) => {
                tracing::warn!(%error, "the open episodes could not be read; swept next time");
                return;
            }
        };
        for episode in open {
            if self.holds(&episode) {
                continue;
            }
            match self.leases.holder(&episode).await {
                Ok(None) => {}
                Ok(Some(_)) => continue,
                Err(error) => {
                    tracing::warn!(episode, %error, "an open episode could not be looked up");
                    continue;
                }
            }
            let _one_claim = self.claiming.lock().await;
            if !matches!(self.leases.claim(&episode).await, Ok(Holder::Here))
                || self.holds(&episode)
            {
                continue;
            }
            match self.prepare(&episode).await {
                Ok(prepared) => {
                    tracing::warn!(episode, take = ?prepared.interrupted, "an episode whose host died is marked interrupted; a client that comes back continues it in a new take");
                    if let Err(error) = self.leases.mark_closed(&episode).await {
                        tracing::warn!(episode, %error, "a swept episode could not be noted closed");
                    }
                }
                Err(error) => {
                    tracing::warn!(episode, %error, "an episode whose host died could not be taken over; tried again next sweep");
                }
            }
            if let Err(error) = self.leases.release(&episode).await {
                tracing::warn!(episode, %error, "a swept episode's lease could not be released; it lapses");
            }
        }
    }

    async fn renew_round(&self) {
        let mut claims: Vec<(String, Option<Instant>)> = lock(&self.ours)
            .iter()
            .map(|(e, t)| (e.clone(), Some(*t)))
            .collect();
        claims.extend(lock(&self.preparing).iter().map(|e| (e.clone(), None)));
        // Concurrently: the connection multiplexes them, and a slow Redis delays the round once.
        futures::future::join_all(
            claims
                .into_iter()
                .map(|(episode, claimed)| self.renew_one(episode, claimed)),
        )
        .await;
    }

    /// Renews `episode` (claimed at `claimed`; `None`: being prepared), or lets it go when this
    /// host no longer needs it.
    async fn renew_one(&self, episode: String, claimed: Option<Instant>) {
        let wanted = claimed.is_none_or(|claimed| {
            self.registry.holds(&episode) || claimed.elapsed() < self.leases.lease()
        });
        if !wanted {
            lock(&self.ours).remove(&episode);
            // Closed while this host still holds it: no sweep can mistake it for a dead
            // host's episode. (A claim whose studio never opened recorded nothing.)
            if let Err(error) = self.leases.mark_closed(&episode).await {
                tracing::warn!(episode, %error, "an episode could not be noted closed; a sweep will find its take finished");
            }
            match self.leases.release(&episode).await {
                Ok(()) => tracing::info!(episode, "episode let go"),
                Err(error) => {
                    tracing::warn!(episode, %error, "an episode's lease could not be released; it lapses");
                }
            }
            return;
        }
        match self.leases.renew(&episode).await {
            Ok(true) => {}
            Ok(false) => {
                // Redis lost it or it lapsed (this host stalled past a lease): another host
                // may run the episode now. Say so loudly; this host stops claiming it.
                lock(&self.ours).remove(&episode);
                crate::metrics::cluster_lease_lost();
                tracing::error!(
                    episode,
                    "this host lost the lease of a studio it runs: another host may continue the episode"
                );
            }
            Err(error) => {
                tracing::warn!(episode, %error, "a lease could not be renewed; retried next round");
            }
        }
    }
}
