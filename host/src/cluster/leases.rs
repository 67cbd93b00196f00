//! The registry of live studios in Redis: one key per episode, `voice-studio:studio:<episode>`,
//! holding the advertised URL of the host that runs it, with a lease (`PX`), and the set of
//! episodes with a take that may be running (`voice-studio:open-episodes`). A host claims with
//! `SET NX PX`, renews and releases only a lease that is still its own (a script compares
//! before it touches the key, so a host that lost its lease never extends or deletes the next
//! holder's). Every call has a deadline: a Redis that stops answering fails a claim, never
//! hangs a client.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script, SetExpiry, SetOptions};

use super::ClusterError;

/// The set of episodes whose take may be running on some host.
const OPEN_EPISODES: &str = "voice-studio:open-episodes";

/// The deadline of one Redis call.
const CALL_DEADLINE: Duration = Duration::from_secs(2);

/// Who holds an episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// This host.
    Here,
    /// The host at this advertised URL.
    Elsewhere(String),
}

/// This host's view of the registry.
#[derive(Clone)]
pub struct Leases {
    redis: ConnectionManager,
    /// This host's advertised URL: the value of its leases.
    me: String,
    lease: Duration,
    renew: Script,
    release: Script,
}

impl Leases {
    /// A registry at `redis_url` for the host advertised as `me`; connects lazily (a Redis that
    /// is down at start fails claims until it is back, and the host still starts).
    pub fn new(redis_url: &str, me: &str, lease: Duration) -> Result<Self, ClusterError> {
        let client = redis::Client::open(redis_url).map_err(ClusterError::Redis)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_DEADLINE))
            .set_response_timeout(Some(CALL_DEADLINE))
            .set_number_of_retries(1);
        let redis =
            ConnectionManager::new_lazy_with_config(client, config).map_err(ClusterError::Redis)?;
        Ok(Self {
            redis,
            me: me.to_owned(),
            lease,
            renew: Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                   return redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
                 else return 0 end",
            ),
            release: Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                   return redis.call('DEL', KEYS[1]) \
                 else return 0 end",
            ),
        })
    }

    /// This host's advertised URL.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// How long a lease lives unless renewed.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    fn key(episode: &str) -> String {
        format!("voice-studio:studio:{episode}")
    }

    fn lease_ms(&self) -> u64 {
        u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX)
    }

    /// Who holds `episode` now, if anyone.
    pub async fn holder(&self, episode: &str) -> Result<Option<Holder>, ClusterError> {
        let mut redis = self.redis.clone();
        let value: Option<String> = deadline(redis.get(Self::key(episode))).await?;
        Ok(value.map(|url| self.holder_of(url)))
    }

    fn holder_of(&self, url: String) -> Holder {
        if url == self.me {
            Holder::Here
        } else {
            Holder::Elsewhere(url)
        }
    }

    /// Claims `episode` for this host unless another host holds it; returns who holds it
    /// after the claim (this host when it claimed it or held it already).
    pub async fn claim(&self, episode: &str) -> Result<Holder, ClusterError> {
        let key = Self::key(episode);
        let options = SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(SetExpiry::PX(self.lease_ms()));
        // Two rounds: a lease that lapses between the failed SET and the GET is claimed again.
        for _ in 0..2 {
            let mut redis = self.redis.clone();
            let set: Option<String> =
                deadline(redis.set_options(&key, &self.me, options.clone())).await?;
            if set.is_some() {
                return Ok(Holder::Here);
            }
            if let Some(holder) = self.holder(episode).await? {
                return Ok(holder);
            }
        }
        Err(ClusterError::Contended(episode.to_owned()))
    }

    /// Extends this host's lease of `episode`; `false` when it is no longer this host's (it
    /// lapsed, and maybe another host holds it now).
    pub async fn renew(&self, episode: &str) -> Result<bool, ClusterError> {
        let mut redis = self.redis.clone();
        let renewed: i64 = deadline(
            self.renew
                .key(Self::key(episode))
                .arg(&self.me)
                .arg(self.lease_ms())
                .invoke_async(&mut redis),
        )
        .await?;
        Ok(renewed == 1)
    }

    /// Gives up this host's lease of `episode` (another host's is left alone).
    pub async fn release(&self, episode: &str) -> Result<(), ClusterError> {
        let mut redis = self.redis.clone();
        let _: i64 = deadline(
            self.release
                .key(Self::key(episode))
                .arg(&self.me)
                .invoke_async(&mut redis),
        )
        .await?;
        Ok(())
    }

    /// Notes `episode` as open: a take of it may be running. A host that finds an open episode
    /// nobody holds knows its host died (see `Cluster::sweep`).
    pub async fn mark_open(&self, episode: &str) -> Result<(), ClusterError> {
        let mut redis = self.redis.clone();
        let _: i64 = deadline(redis.sadd(OPEN_EPISODES, episode)).await?;
        Ok(())
    }

    /// Notes `episode` as closed: its take ended and is in the bucket whole.
    pub async fn mark_closed(&self, episode: &str) -> Result<(), ClusterError> {
        let mut redis = self.redis.clone();
        let _: i64 = deadline(redis.srem(OPEN_EPISODES, episode)).await?;
        Ok(())
    }

    /// The episodes noted open.
    pub async fn open_episodes(&self) -> Result<Vec<String>, ClusterError> {
        let mut redis = self.redis.clone();
        deadline(redis.smembers(OPEN_EPISODES)).await
    }

    /// Answers `PING` (for `voice-studio check`).
    pub async fn ping(&self) -> Result<(), ClusterError> {
        let mut redis = self.redis.clone();
        let _: String = deadline(redis::cmd("PING").query_async(&mut redis)).await?;
        Ok(())
    }
}

/// `call`, failed as a timeout when it passes [`CALL_DEADLINE`] (the connection manager has its
/// own timeouts; this one also bounds its reconnecting).
async fn deadline<T>(call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, ClusterError> {
    match tokio::time::timeout(CALL_DEADLINE * 2, call).await {
        Ok(result) => result.map_err(ClusterError::Redis),
        Err(_) => Err(ClusterError::Timeout),
    }
}
