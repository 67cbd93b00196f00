//! Several hosts behind one address: `CLUSTER_REDIS_URL` turns it on (the registry of live
//! studios and their leases), `CLUSTER_ADVERTISE_URL` says how the other hosts reach this one.
//! Unset, the host serves alone (one machine needs nothing else).

use std::time::Duration;

use super::{Reader, Secret};

/// Default of `CLUSTER_LEASE_SECONDS`.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// Whether and how this host takes part in a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `CLUSTER_REDIS_URL`: `redis://[user:password@]host:port[/db]` (or `rediss://`); a secret,
    /// since it may carry the password.
    pub redis_url: Option<Secret>,
    /// `CLUSTER_ADVERTISE_URL`: this host as the others reach it (`http://10.0.0.2:4000`, plain
    /// http on the hosts' own network); the
    /// value of its leases, and where clients of its studios that arrive elsewhere are relayed.
    pub advertise_url: Option<String>,
    /// `CLUSTER_LEASE_SECONDS`: how long a studio's lease lives unless renewed (renewed every
    /// third of it); how long a dead host's episodes wait before another host may take them.
    pub lease: Duration,
}

impl ClusterConfig {
    /// Whether this host is one of a cluster.
    pub fn enabled(&self) -> bool {
        self.redis_url.is_some()
    }

    /// Reads the cluster variables; `bucket_enabled`: whether `RECORDING_BUCKET` is set (a
    /// cluster needs it: a take whose host died is continued from the bucket's copy).
    pub(super) fn read(r: &mut Reader<'_>, bucket_enabled: bool) -> Self {
        let config = Self {
            redis_url: r
                .secret("CLUSTER_REDIS_URL")
                .filter(|v| !v.expose().is_empty()),
            advertise_url: r
                .optional_text("CLUSTER_ADVERTISE_URL")
                .filter(|v| !v.is_empty())
                .map(|v| v.trim_end_matches('/').to_owned()),
            lease: r.whole_seconds(
                "CLUSTER_LEASE_SECONDS",
                DEFAULT_LEASE,
                3..=300,
                "set CLUSTER_LEASE_SECONDS to e.g. 10",
            ),
        };
        if !config.enabled() {
            return config;
        }
        let redis = config
            .redis_url
            .as_ref()
            .map(Secret::expose)
            .unwrap_or_default();
        if !(redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            r.problem(
                "CLUSTER_REDIS_URL",
                "is not a redis:// or rediss:// URL",
                "set CLUSTER_REDIS_URL to e.g. redis://redis:6379/, or unset it to serve alone",
            );
        }
        let advertised = config.advertise_url.as_deref().and_then(|u| {
            let parsed = url::Url::parse(u).ok()?;
            // Plain http: the hosts' own network (TLS ends at the balancer); the relay speaks
            // HTTP/1.1 over TCP to it.
            let plain = parsed.scheme() == "http"
                && parsed.host_str().is_some()
                && parsed.path() == "/"
                && parsed.query().is_none();
            plain.then_some(parsed)
        });
        if advertised.is_none() {
            r.problem(
                "CLUSTER_ADVERTISE_URL",
                format!(
                    "`{}` is not an http:// URL of this host without a path",
                    config.advertise_url.as_deref().unwrap_or_default()
                ),
                "set CLUSTER_ADVERTISE_URL to how the other hosts reach this one, such as http://10.0.0.2:4000",
            );
        }
        if !bucket_enabled {
            r.problem(
                "CLUSTER_REDIS_URL",
                "a cluster needs RECORDING_BUCKET: a take whose host dies is continued from the bucket's copy",
                "set RECORDING_BUCKET (and the AWS variables) on every host of the cluster",
            );
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{config_of as config, problems_of as problems};

    const BUCKET: (&str, &str) = ("RECORDING_BUCKET", "s3://shows");

    #[test]
    fn unset_or_empty_the_host_serves_alone() {
        for pairs in [&[][..], &[("CLUSTER_REDIS_URL", "")][..]] {
            let cluster = config(pairs).expect("valid").cluster;
            assert!(!cluster.enabled());
            assert_eq!(cluster.lease, super::DEFAULT_LEASE);
        }
    }

    #[test]
    fn a_cluster_host_has_redis_its_own_address_and_a_lease() {
        let c = config(&[
            BUCKET,
            ("CLUSTER_REDIS_URL", "redis://:pw@redis:6379/0"),
            ("CLUSTER_ADVERTISE_URL", "http://10.0.0.2:4000/"),
            ("CLUSTER_LEASE_SECONDS", "6"),
        ])
        .expect("valid")
        .cluster;
        assert!(c.enabled());
        assert_eq!(c.advertise_url.as_deref(), Some("http://10.0.0.2:4000"));
        assert_eq!(c.lease, std::time::Duration::from_secs(6));
        // The password never shows in a debug print.
        assert!(!format!("{c:?}").contains("pw@"), "{c:?}");
    }

    #[test]
    fn a_cluster_without_an_address_a_bucket_or_a_redis_url_says_what_to_set() {
        let found = problems(&[BUCKET, ("CLUSTER_REDIS_URL", "redis://redis:6379")]);
        assert!(found.contains("CLUSTER_ADVERTISE_URL"), "{found}");
        let found = problems(&[
            BUCKET,
            ("CLUSTER_REDIS_URL", "redis://redis:6379"),
            ("CLUSTER_ADVERTISE_URL", "http://h1:4000/socket.io"),
        ]);
        assert!(found.contains("without a path"), "{found}");
        let found = problems(&[
            ("CLUSTER_REDIS_URL", "redis://redis:6379"),
            ("CLUSTER_ADVERTISE_URL", "http://h1:4000"),
        ]);
        assert!(found.contains("needs RECORDING_BUCKET"), "{found}");
        let found = problems(&[
            BUCKET,
            ("CLUSTER_REDIS_URL", "redis:6379"),
            ("CLUSTER_ADVERTISE_URL", "http://h1:4000"),
        ]);
        assert!(found.contains("redis:// or rediss://"), "{found}");
    }
}
