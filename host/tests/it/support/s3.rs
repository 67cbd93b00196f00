//! A real S3-compatible server for the tests: moto's standalone server (PyPI `moto[server]`,
//! installed by `.ci/setup` into `<target>/tools/s3`), started on a free local port by the test
//! and stopped when dropped. It speaks the S3 REST protocol that AWS's own SDKs test against,
//! multipart uploads and presigned URLs included, and installs in seconds from a package registry.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use voice_studio::config::{BucketConfig, Secret};
use voice_studio::recording::RecordingBucket;

use super::foreign_build::target_dir;
use super::server::http;

/// How long the server may take to answer its first request.
const STARTUP: Duration = Duration::from_secs(60);
pub const ACCESS_KEY: &str = "test-access-key";
pub const SECRET_KEY: &str = "test-secret-key";

/// A running S3-compatible server.
pub struct S3Server {
    child: Child,
    pub addr: SocketAddr,
}

impl S3Server {
    /// Starts moto's server on a free port and waits until it answers.
    pub fn start() -> Self {
        let program = target_dir().join("tools/s3/bin/moto_server");
        assert!(
            program.exists(),
            "{} is missing: run .ci/setup (it installs moto[server] from PyPI)",
            program.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let server = Self { child, addr };
        let deadline = Instant::now() + STARTUP;
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "the S3 server never listened");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates `bucket` (an anonymous `PUT /<bucket>`, which this server takes).
    pub fn create_bucket(&self, bucket: &str) {
        let response = http(self.addr, "PUT", &format!("/{bucket}"), &[], None);
        assert_eq!(response.status, 200, "create bucket: {}", response.body);
    }

    /// The environment that points the server under test at `bucket` here.
    pub fn env(&self, bucket: &str) -> Vec<(&'static str, String)> {
        vec![
            ("RECORDING_BUCKET", format!("s3://{bucket}/shows")),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ]
    }

    /// A client of `bucket` here, with the key prefix `shows`.
    pub fn bucket(&self, bucket: &str) -> RecordingBucket {
        let config = BucketConfig {
            url: Some(format!("s3://{bucket}/shows")),
            endpoint: Some(self.endpoint()),
            region: "us-east-1".into(),
            access_key_id: Some(Secret::new(ACCESS_KEY)),
            secret_access_key: Some(Secret::new(SECRET_KEY)),
            session_token: None,
            upload_every: Duration::from_secs(1),
        };
        RecordingBucket::from_config(&config)
            .expect("bucket client")
            .expect("a bucket is configured")
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The keys under `folder/` of `bucket`, listed again until `done` says they are complete;
/// fails the test after `patience` (a guard against a copy that never comes).
pub async fn until_objects(
    bucket: &RecordingBucket,
    folder: &str,
    patience: Duration,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    use futures::TryStreamExt;
    let prefix = bucket.key(folder, "");
    let deadline = Instant::now() + patience;
    loop {
        let keys: Vec<String> = bucket
            .store()
            .list(Some(&prefix))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .expect("list the bucket");
        if done(&keys) {
            return keys;
        }
        assert!(
            Instant::now() < deadline,
            "{folder} never complete in the bucket: {keys:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
