//! Recordings in S3-compatible object storage: `RECORDING_BUCKET` (`s3://bucket[/prefix]`) turns
//! it on, the standard AWS variables say where and as whom. Unset, recordings stay on the local
//! disk only (one machine needs nothing else).

use std::time::Duration;

use super::{Reader, Secret};

/// Default of `RECORDING_UPLOAD_EVERY_SECONDS`.
pub const DEFAULT_UPLOAD_EVERY: Duration = Duration::from_secs(5);

/// Where finished recordings are copied; `url: None` means nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketConfig {
    /// `RECORDING_BUCKET`: `s3://<bucket>` or `s3://<bucket>/<prefix>`.
    pub url: Option<String>,
    /// `AWS_ENDPOINT_URL`: an S3-compatible server (MinIO, Ceph, R2, ...); unset: AWS itself.
    pub endpoint: Option<String>,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`); default `us-east-1`.
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<Secret>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<Secret>,
    /// `AWS_SESSION_TOKEN`: with temporary credentials.
    pub session_token: Option<Secret>,
    /// `RECORDING_UPLOAD_EVERY_SECONDS`: how often a live recording's new bytes are copied (what
    /// a host that dies can lose at most); default 5 s.
    pub upload_every: Duration,
}

impl BucketConfig {
    /// Whether recordings go to a bucket.
    pub fn enabled(&self) -> bool {
        self.url.is_some()
    }

    /// The bucket and the key prefix (without slashes at either end) of `url`.
    pub fn bucket_and_prefix(&self) -> Option<(&str, &str)> {
        let rest = self.url.as_deref()?.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        Some((bucket, prefix.trim_matches('/')))
    }

    /// Reads the bucket variables.
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        // An empty variable (as `.env.example` leaves them) is an unset one.
        let text = |r: &Reader<'_>, name| r.optional_text(name).filter(|v| !v.is_empty());
        let secret = |r: &Reader<'_>, name| r.secret(name).filter(|v| !v.expose().is_empty());
        let config = Self {
            url: text(r, "RECORDING_BUCKET"),
            endpoint: text(r, "AWS_ENDPOINT_URL"),
            region: text(r, "AWS_REGION")
                .or_else(|| text(r, "AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            access_key_id: secret(r, "AWS_ACCESS_KEY_ID"),
            secret_access_key: secret(r, "AWS_SECRET_ACCESS_KEY"),
            session_token: secret(r, "AWS_SESSION_TOKEN"),
            upload_every: r.whole_seconds(
                "RECORDING_UPLOAD_EVERY_SECONDS",
                DEFAULT_UPLOAD_EVERY,
                1..=3_600,
                "set RECORDING_UPLOAD_EVERY_SECONDS to e.g. 5",
            ),
        };
        if !config.enabled() {
            return config;
        }
        let valid_bucket = config.bucket_and_prefix().is_some_and(|(bucket, _)| {
            (3..=63).contains(&bucket.len())
                && bucket
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        });
        if !valid_bucket {
            r.problem(
                "RECORDING_BUCKET",
                format!(
                    "`{}` is not s3://<bucket>[/<prefix>] with a valid bucket name",
                    config.url.as_deref().unwrap_or_default()
                ),
                "set RECORDING_BUCKET to s3://my-bucket or s3://my-bucket/recordings, or unset it to keep recordings on the local disk only",
            );
        }
        if let Some(endpoint) = &config.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            r.problem(
                "AWS_ENDPOINT_URL",
                format!("`{endpoint}` is not an http(s) URL"),
                "set AWS_ENDPOINT_URL to the S3-compatible server, such as http://127.0.0.1:9000",
            );
        }
        if config.access_key_id.is_none() != config.secret_access_key.is_none() {
            r.problem(
                "AWS_SECRET_ACCESS_KEY",
                "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set",
                "set both, or neither",
            );
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{config_of as config, problems_of as problems};

    #[test]
    fn unset_or_empty_the_recordings_stay_local() {
        for pairs in [
            &[][..],
            &[("RECORDING_BUCKET", ""), ("AWS_ACCESS_KEY_ID", "")][..],
        ] {
            let bucket = config(pairs).expect("valid").bucket;
            assert!(!bucket.enabled());
            assert_eq!(bucket.region, "us-east-1");
        }
    }

    #[test]
    fn a_bucket_url_gives_the_bucket_and_the_prefix() {
        let c = config(&[
            ("RECORDING_BUCKET", "s3://shows-2026/studio/recordings/"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ])
        .expect("valid")
        .bucket;
        assert_eq!(
            c.bucket_and_prefix(),
            Some(("shows-2026", "studio/recordings"))
        );
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(
            config(&[("RECORDING_BUCKET", "s3://shows")])
                .expect("valid")
                .bucket
                .bucket_and_prefix(),
            Some(("shows", ""))
        );
    }

    #[test]
    fn a_wrong_bucket_endpoint_or_half_a_key_is_a_problem_that_says_what_to_set() {
        let found = problems(&[("RECORDING_BUCKET", "https://example.com/bucket")]);
        assert!(found.contains("RECORDING_BUCKET"), "{found}");
        let found = problems(&[("RECORDING_BUCKET", "s3://Not_A_Bucket")]);
        assert!(found.contains("valid bucket name"), "{found}");
        let found = problems(&[
            ("RECORDING_BUCKET", "s3://shows"),
            ("AWS_ENDPOINT_URL", "minio:9000"),
        ]);
        assert!(found.contains("AWS_ENDPOINT_URL"), "{found}");
        let found = problems(&[
            ("RECORDING_BUCKET", "s3://shows"),
            ("AWS_ACCESS_KEY_ID", "id"),
        ]);
        assert!(found.contains("set both, or neither"), "{found}");
    }
}
