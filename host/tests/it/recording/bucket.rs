//! Recordings in S3-compatible object storage (`RECORDING_BUCKET`), against a real S3 server
//! (moto's, started by each test): a finished session's files copied whole, a long file in
//! multipart parts, presigned downloads, the download route's redirect on a host that does not
//! hold the file, and a storage server that is not there.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use studio_test_kit::manifest::Manifest;
use studio_test_kit::speech::speech;
use voice_studio::config::{BucketConfig, Secret};
use voice_studio::recording::live_copy::LiveCopy;
use voice_studio::recording::{BucketError, PART_BYTES, Recorder, RecorderConfig, RecordingBucket};
use voice_studio::speakers::Speaker;

use crate::support::recording::{ffprobe, voice_frame};
use crate::support::s3::{S3Server, until_objects};
use crate::support::server::{ServerSetup, get_bytes};
use crate::support::studio::{PATIENCE, StudioRig, final_caption, silence, stream, until};

const BUCKET: &str = "recordings";

/// GETs a presigned URL of the local S3 server and returns status and body.
fn fetch(s3: &S3Server, url: &url::Url) -> (u16, Vec<u8>) {
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let response = get_bytes(s3.addr, "GET", &target, &[]);
    (response.status, response.body)
}

/// The keys under `prefix/` in the bucket, polled until `want` are all there.
async fn until_uploaded(bucket: &RecordingBucket, folder: &str, want: &[String]) -> Vec<String> {
    until_objects(bucket, folder, PATIENCE, |keys| {
        // The whole files are there, and the pieces copied while it ran are gone.
        want.iter()
            .all(|file| keys.contains(&bucket.key(folder, file).to_string()))
            && !keys.iter().any(|k| k.contains("/live/"))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_session_is_copied_to_the_bucket_and_each_file_comes_back_whole_presigned() {
    let s3 = S3Server::start();
    s3.create_bucket(BUCKET);
    let rig = StudioRig::start(
        Manifest::quick_mocks().script(&["Claude, what do you make of today's topic?"]),
    )
    .await;
    let bucket = s3.bucket(BUCKET);
    rig.registry.set_recording_bucket(Some(bucket.clone()));
    let (studio, client) = rig.join("ep-bucket");
    stream(&studio, client, &silence(300)).await;
    stream(
        &studio,
        client,
        &speech("Claude, what do you make of today's topic?"),
    )
    .await;
    until(&studio, client, "claude's answer", |s| {
        final_caption(s, Speaker::Claude).is_some()
    })
    .await;
    // While the session runs, its files are copied as they grow (every second here).
    let live_head = bucket.key("ep-bucket", "live/claude.webm/head").to_string();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let keys: Vec<String> = bucket
            .store()
            .list(Some(&bucket.key("ep-bucket", "live")))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .expect("list");
        if keys.contains(&live_head) && keys.iter().any(|k| k.ends_with("/000000000000")) {
            break;
        }
        assert!(Instant::now() < deadline, "no live copy: {keys:?}");
        stream(&studio, client, &silence(200)).await;
    }
    let (ready, local) = rig.end(&studio, client, "ep-bucket").await;
    let folder = ready.folder.clone().expect("folder");
    let names: Vec<String> = ready.details.iter().map(|f| f.name.clone()).collect();
    assert!(names.iter().any(|n| n == "claude.webm"), "{names:?}");

    let keys = until_uploaded(&bucket, &folder, &names).await;
    assert_eq!(
        keys.len(),
        names.len(),
        "only the recording's files: {keys:?}"
    );
    let copies = tempfile::tempdir().expect("tempdir");
    for name in &names {
        let url = bucket
            .signed_url(&folder, name, Duration::from_secs(300))
            .await
            .expect("presigned URL");
        assert!(
            url.query().is_some_and(|q| q.contains("X-Amz-Signature=")),
            "a SigV4 presigned URL: {url}"
        );
        let (status, body) = fetch(&s3, &url);
        assert_eq!(status, 200, "{name}");
        let original = std::fs::read(local.join(name)).expect("local file");
        assert_eq!(body, original, "{name} comes back byte for byte");
        if name.ends_with(".webm") {
            let copy = copies.path().join(name);
            std::fs::write(&copy, &body).expect("write copy");
            let probe = ffprobe(&copy);
            assert_eq!(probe["streams"][0]["codec_name"], "opus", "{name}: {probe}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_longer_than_a_part_goes_up_in_parts_and_comes_back_whole() {
    let s3 = S3Server::start();
    s3.create_bucket(BUCKET);
    let bucket = s3.bucket(BUCKET);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("you.webm");
    // Two and a half parts of bytes that do not repeat within a part.
    let len = PART_BYTES * 5 / 2;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect();
    std::fs::write(&path, &bytes).expect("write");

    let sent = bucket
        .upload_file(&path, "ep-long", "you.webm")
        .await
        .expect("upload");
    assert_eq!(sent, len as u64);
    let key = bucket.key("ep-long", "you.webm");
    let meta = bucket.store().head(&key).await.expect("head");
    assert_eq!(meta.size, len as u64);
    // S3 names a multipart object's ETag after its parts: `"<md5 of the parts' md5s>-<parts>"`.
    let etag = meta.e_tag.unwrap_or_default();
    assert!(
        etag.trim_matches('"').ends_with("-3"),
        "three parts: {etag}"
    );
    let back = bucket
        .store()
        .get(&key)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert!(back[..] == bytes[..], "the object is the file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_server_that_is_not_there_fails_the_copy_with_the_object_named() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let bucket = RecordingBucket::from_config(&BucketConfig {
        url: Some(format!("s3://{BUCKET}")),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: "us-east-1".into(),
        access_key_id: Some(Secret::new("k")),
        secret_access_key: Some(Secret::new("s")),
        session_token: None,
        upload_every: Duration::from_secs(1),
    })
    .expect("client")
    .expect("configured");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, b"{}\n").expect("write");
    let error = bucket
        .upload_file(&path, "ep-nowhere", "events.jsonl")
        .await
        .expect_err("nothing listens there");
    assert!(matches!(error, BucketError::Store { .. }), "{error}");
    assert!(
        error.to_string().contains("ep-nowhere/events.jsonl"),
        "names the object: {error}"
    );
    // A local file that is gone is a read error, not a store error.
    let error = bucket
        .upload_file(&dir.path().join("missing.webm"), "ep-nowhere", "x.webm")
        .await
        .expect_err("no such file");
    assert!(matches!(error, BucketError::Read { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_recording_copied_as_it_grows_is_put_back_together_as_a_playable_file() {
    let s3 = S3Server::start();
    s3.create_bucket(BUCKET);
    let bucket = s3.bucket(BUCKET);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut recorder = Recorder::create(RecorderConfig::new(dir.path(), "ep-live", "s-1"))
        .unwrap_or_else(|e| panic!("recorder: {e}"));
    let folder = recorder.folder().to_path_buf();
    let mut live = LiveCopy::new(bucket.clone(), &folder);
    // Three rounds, each after 1.5 s more of the human's voice and a caption: appended pieces,
    // and the track's head rewritten in place (its Duration) between them.
    let mut frame = 0;
    for round in 0..3u64 {
        for _ in 0..75 {
            recorder
                .push_frame(Speaker::You, frame * 20, &voice_frame(frame))
                .unwrap_or_else(|e| panic!("frame: {e}"));
            frame += 1;
        }
        recorder
            .caption(
                Speaker::You,
                round * 1500,
                round * 1500 + 1000,
                "Hello there.",
            )
            .unwrap_or_else(|e| panic!("caption: {e}"));
        recorder.sync_data().unwrap_or_else(|e| panic!("sync: {e}"));
        let sent = live.copy_changes().await.expect("copy");
        assert!(sent > 0, "round {round} copied something");
    }
    assert_eq!(
        live.copy_changes().await.expect("copy"),
        0,
        "nothing new, nothing sent"
    );

    // The host "dies" here, its recording unfinished: another host puts the copies back together.
    let rebuilt = tempfile::tempdir().expect("tempdir");
    let files = bucket
        .assemble_live("ep-live", rebuilt.path())
        .await
        .expect("assemble");
    for file in ["you.webm", "you.vtt", "events.jsonl", "session.yml"] {
        assert!(files.iter().any(|f| f == file), "{file} in {files:?}");
        let original = std::fs::read(folder.join(file)).expect("local");
        let copy = std::fs::read(rebuilt.path().join(file)).expect("copy");
        assert!(copy == original, "{file} is the file as of the last copy");
    }
    let probe = ffprobe(&rebuilt.path().join("you.webm"));
    assert_eq!(probe["streams"][0]["codec_name"], "opus", "{probe}");

    bucket.forget_live("ep-live").await.expect("forget");
    let left: Vec<_> = bucket
        .store()
        .list(Some(&bucket.key("ep-live", "live")))
        .try_collect()
        .await
        .expect("list");
    assert!(left.is_empty(), "{left:?}");
}

/// A 2-second recording of `episode` in `dir`, the human speaking.
fn record(dir: &Path, episode: &str) {
    let mut recorder = Recorder::create(RecorderConfig::new(dir, episode, "s-1"))
        .unwrap_or_else(|e| panic!("recorder: {e}"));
    for n in 0..50 {
        recorder
            .push_frame(Speaker::You, n * 20, &voice_frame(n))
            .unwrap_or_else(|e| panic!("frame: {e}"));
    }
    recorder
        .finish(2000)
        .unwrap_or_else(|e| panic!("finish: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_without_the_file_redirects_its_download_to_a_presigned_url_of_the_copy() {
    const ADMIN: &str = "bucket-admin-token-0123456789abcdef0123";
    const EPISODE: &str = "ep-elsewhere";
    let s3 = S3Server::start();
    s3.create_bucket(BUCKET);
    let bucket = s3.bucket(BUCKET);
    // Recorded on "another host": its files are in the bucket, not in this server's folder.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    record(elsewhere.path(), EPISODE);
    let files = ["you.webm", "events.jsonl"].map(String::from);
    bucket
        .upload_recording(elsewhere.path(), EPISODE, &files)
        .await
        .expect("upload");

    let mut setup = ServerSetup::new()
        .var(
            "STUDIO_TOKEN_SECRET",
            "bucket-test-secret-0123456789abcdef0123456789",
        )
        .var("STUDIO_ADMIN_TOKEN", ADMIN);
    for (key, value) in s3.env(BUCKET) {
        setup = setup.var(key, value);
    }
    let server = tokio::task::spawn_blocking(move || setup.start())
        .await
        .expect("start");
    let addr = server.addr;
    let bearer = format!("Bearer {ADMIN}");
    let response = tokio::task::spawn_blocking(move || {
        get_bytes(
            addr,
            "GET",
            &format!("/recordings/{EPISODE}/you.webm"),
            &[("Authorization", &bearer)],
        )
    })
    .await
    .expect("request");
    assert_eq!(response.status, 307);
    let location =
        url::Url::parse(response.header("location").expect("Location")).expect("Location is a URL");
    assert_eq!(location.port(), Some(s3.addr.port()), "{location}");
    let (status, body) = fetch(&s3, &location);
    assert_eq!(status, 200);
    let original = std::fs::read(elsewhere.path().join(EPISODE).join("you.webm")).expect("file");
    assert_eq!(body, original);

    // Without a proof there is no redirect: the same answer as for a file that does not exist.
    let response = tokio::task::spawn_blocking(move || {
        get_bytes(addr, "GET", &format!("/recordings/{EPISODE}/you.webm"), &[])
    })
    .await
    .expect("request");
    assert_eq!(response.status, 404);
    // Nor with a forged signed link, or a folder name that tries to leave the recordings.
    for target in [
        format!("/recordings/{EPISODE}/you.webm?exp=99999999999&sig=00ff"),
        "/recordings/../you.webm".to_owned(),
        format!("/recordings/{EPISODE}%2F..%2F/you.webm"),
    ] {
        let response = tokio::task::spawn_blocking(move || {
            get_bytes(
                addr,
                "GET",
                &target,
                &[("Authorization", "Bearer not-a-token")],
            )
        })
        .await
        .expect("request");
        assert!(
            [400, 404].contains(&response.status),
            "refused: {}",
            response.status
        );
        assert!(response.header("location").is_none(), "no redirect");
    }
    drop(server);
}
