//! Copies of finished recordings in S3-compatible object storage (`RECORDING_BUCKET`), and
//! presigned download URLs for them.
//!
//! Each file of a finished recording goes to `<prefix>/<folder>/<file>`: one PUT when it is small,
//! a multipart upload in [`PART_BYTES`] parts when it is not (a three-hour track is ~55 MB), read
//! from disk a part at a time so a long show never sits in memory whole. The local files stay:
//! the disk is the recorder's crash-safe journal, the bucket the copy other hosts and downloads
//! use. Every request has a timeout, and a failed one is retried with backoff at most
//! [`MAX_RETRIES`] times within [`RETRY_WITHIN`], so a stalled storage server costs one upload
//! task, never a studio.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};
use tokio::io::AsyncReadExt;

use crate::config::BucketConfig;

/// Size of one part of a multipart upload (S3 wants at least 5 MiB for every part but the last);
/// a file up to this size goes in one PUT.
pub const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts of one file in flight at once.
const PARTS_IN_FLIGHT: usize = 2;
/// One request's limit: a part of 8 MiB at 1 MB/s still fits.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries of one failed request (server errors, timeouts, refused connections).
pub const MAX_RETRIES: usize = 3;
/// No retry starts later than this after the first attempt.
pub const RETRY_WITHIN: Duration = Duration::from_secs(30);

/// What went wrong copying to or signing for the bucket.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    /// `RECORDING_BUCKET` and the AWS variables do not make a client.
    #[error("the recording bucket is not usable: {0}")]
    Config(String),
    /// A local file of the recording could not be read.
    #[error("reading {path} for the bucket failed: {source}")]
    Read {
        /// The local file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The storage server refused or did not answer.
    #[error("the bucket refused {key}: {source}")]
    Store {
        /// The object.
        key: String,
        /// Why.
        source: object_store::Error,
    },
}

/// The bucket finished recordings are copied to.
#[derive(Debug, Clone)]
pub struct RecordingBucket {
    store: Arc<AmazonS3>,
    prefix: String,
    upload_every: Duration,
}

impl RecordingBucket {
    /// The bucket `config` names; `Ok(None)` when `RECORDING_BUCKET` is unset.
    pub fn from_config(config: &BucketConfig) -> Result<Option<Self>, BucketError> {
        let Some((bucket, prefix)) = config.bucket_and_prefix() else {
            return Ok(None);
        };
        // The client is reqwest over rustls with the ring provider, as the plugin runtime's and
        // the trace exporter's; installing it is idempotent (whoever comes first installs it).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&config.region)
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(REQUEST_TIMEOUT)
                    .with_connect_timeout(CONNECT_TIMEOUT),
            )
            .with_retry(RetryConfig {
                max_retries: MAX_RETRIES,
                retry_timeout: RETRY_WITHIN,
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &config.endpoint {
            // An S3-compatible server on its own address: path-style requests
            // (`<endpoint>/<bucket>/<key>`), which every such server takes.
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            builder = builder
                .with_access_key_id(id.expose())
                .with_secret_access_key(secret.expose());
        }
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token.expose());
        }
        let store = builder
            .build()
            .map_err(|e| BucketError::Config(e.to_string()))?;
        Ok(Some(Self {
            store: Arc::new(store),
            prefix: prefix.to_owned(),
            upload_every: config.upload_every,
        }))
    }

    /// How often a live recording's changes are copied (`RECORDING_UPLOAD_EVERY_SECONDS`).
    pub fn upload_every(&self) -> Duration {
        self.upload_every
    }

    /// The object of `file` in recording `folder`.
    pub fn key(&self, folder: &str, file: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(format!("{folder}/{file}"))
        } else {
            ObjectPath::from(format!("{}/{folder}/{file}", self.prefix))
        }
    }

    /// Copies `files` of recording `folder` (under `root`) to the bucket, in order; stops at the
    /// first failure. Returns the bytes copied.
    pub async fn upload_recording(
        &self,
        root: &Path,
        folder: &str,
        files: &[String],
    ) -> Result<u64, BucketError> {
        let mut total = 0;
        for file in files {
            total += self
                .upload_file(&root.join(folder).join(file), folder, file)
                .await?;
        }
        Ok(total)
    }

    /// Copies the local file `path` to `folder/file`: one PUT up to [`PART_BYTES`], else a
    /// multipart upload, aborted (its parts deleted) if any part fails. Returns its size.
    pub async fn upload_file(
        &self,
        path: &Path,
        folder: &str,
        file: &str,
    ) -> Result<u64, BucketError> {
        let key = self.key(folder, file);
        let read_error = |source| BucketError::Read {
            path: path.display().to_string(),
            source,
        };
        let store_error = |source| BucketError::Store {
            key: key.to_string(),
            source,
        };
        let mut local = tokio::fs::File::open(path).await.map_err(read_error)?;
        let len = local.metadata().await.map_err(read_error)?.len();
        if len <= PART_BYTES as u64 {
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            local.read_to_end(&mut bytes).await.map_err(read_error)?;
            let sent = bytes.len() as u64;
            self.store
                .put(&key, PutPayload::from(bytes))
                .await
                .map_err(store_error)?;
            return Ok(sent);
        }
        let upload = self.store.put_multipart(&key).await.map_err(store_error)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut sent = 0u64;
        let mut buf = vec![0u8; 1024 * 1024];
        loop {
            let n = match local.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(read_error(e));
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(store_error(e));
            }
            writer.write(&buf[..n]);
            sent += n as u64;
        }
        writer.finish().await.map_err(store_error)?;
        Ok(sent)
    }

    /// A URL that lets its bearer GET `folder/file` from the bucket until `ttl` has passed.
    pub async fn signed_url(
        &self,
        folder: &str,
        file: &str,
        ttl: Duration,
    ) -> Result<url::Url, BucketError> {
        let key = self.key(folder, file);
        self.store
            .signed_url(object_store::signer::Method::GET, &key, ttl)
            .await
            .map_err(|source| BucketError::Store {
                key: key.to_string(),
                source,
            })
    }

    /// Writes and deletes a small object (`<prefix>/.voice-studio-check`): the address, the
    /// keys and the right to write all hold (`voice-studio check`).
    pub async fn probe(&self) -> Result<(), BucketError> {
        let key = if self.prefix.is_empty() {
            ObjectPath::from(".voice-studio-check")
        } else {
            ObjectPath::from(format!("{}/.voice-studio-check", self.prefix))
        };
        let store_error = |source| BucketError::Store {
            key: key.to_string(),
            source,
        };
        self.store
            .put(&key, PutPayload::from_static(b"voice-studio check\n"))
            .await
            .map_err(store_error)?;
        self.store.delete(&key).await.map_err(store_error)
    }

    /// The store itself, for listing and reading back (tests, tools).
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }
}
