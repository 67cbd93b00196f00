//! Several hosts behind one address: three real `voice-studio` processes on Redis (Debian's
//! `redis-server`) and an S3-compatible server (moto's), behind `haproxy`, all started here.
//! The official socket.io-client joins one episode through different hosts, the episode's host
//! is killed with SIGKILL mid-show, the clients land on another host and the show goes on as a
//! new take (`tests/e2e/cluster.test.mjs`); then both takes are checked in the bucket with
//! ffprobe, and the host that continued the episode is checked for what it carried over.

use std::time::{Duration, Instant};

use object_store::ObjectStoreExt;
use studio_test_kit::manifest::Manifest;
use voice_studio::recording::RecordingBucket;

use crate::support::haproxy::Balancer;
use crate::support::recording::{ffprobe, probed_duration_ms};
use crate::support::redis::{RedisServer, free_port};
use crate::support::s3::{S3Server, until_objects};
use crate::support::server::node::{assert_all_passed, run_suites};
use crate::support::server::{Server, ServerSetup};

const BUCKET: &str = "recordings";
/// What the mock STT hears in each take.
const SCRIPT: [&str; 1] = ["Claude, what do you make of today's topic?"];
/// Guards against a copy that never comes; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// A cluster host on a port chosen here (its advertised URL must be known before it starts).
fn host(redis: &RedisServer, s3: &S3Server) -> Server {
    let port = free_port();
    let manifest = Manifest::shipped()
        .script(&SCRIPT)
        .config("mock-stt", "end_of_speech_ms", 400)
        .config("mock-tts", "words_per_minute", 400)
        .config("mock-llm", "token_delay_ms", 5)
        .to_string();
    let mut setup = ServerSetup::new()
        .manifest(&manifest)
        .var("PORT", port.to_string())
        .var("CLUSTER_REDIS_URL", redis.url())
        .var("CLUSTER_ADVERTISE_URL", format!("http://127.0.0.1:{port}"))
        .var("CLUSTER_LEASE_SECONDS", "3")
        .var("RECORDING_UPLOAD_EVERY_SECONDS", "1")
        // Every client arrives from 127.0.0.1, relayed ones from the relaying host.
        .var("MAX_CONNECTIONS_PER_IP", "1000");
    for (key, value) in s3.env(BUCKET) {
        setup = setup.var(key, value);
    }
    setup.start()
}

/// Every track of take `folder` is in the bucket whole and valid for ffprobe, with audio.
async fn check_take(bucket: &RecordingBucket, folder: &str) {
    let tracks = ["you.webm", "claude.webm", "guest.webm"];
    let keys = until_objects(bucket, folder, PATIENCE, |keys| {
        tracks
            .iter()
            .chain(&["events.jsonl", "session.yml"])
            .all(|f| keys.contains(&bucket.key(folder, f).to_string()))
            && !keys.iter().any(|k| k.contains("/live/"))
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    for track in tracks {
        let bytes = bucket
            .store()
            .get(&bucket.key(folder, track))
            .await
            .and_then(|got| futures::executor::block_on(got.bytes()))
            .unwrap_or_else(|e| panic!("{folder}/{track} in the bucket ({keys:?}): {e}"));
        let path = dir.path().join(track);
        std::fs::write(&path, &bytes).expect("write the download");
        let probe = ffprobe(&path);
        assert_eq!(
            probe["streams"][0]["codec_name"], "opus",
            "{folder}/{track}: {probe}"
        );
        assert!(
            probed_duration_ms(&probe) > 0.0,
            "{folder}/{track}: {probe}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_episode_goes_on_as_a_new_take_on_another_host_when_its_host_is_killed() {
    let redis = RedisServer::start();
    let s3 = S3Server::start();
    s3.create_bucket(BUCKET);
    let (hosts, redis, s3) = tokio::task::spawn_blocking(move || {
        let hosts: Vec<Server> = (0..3).map(|_| host(&redis, &s3)).collect();
        (hosts, redis, s3)
    })
    .await
    .expect("start the hosts");
    let balancer = Balancer::start(&hosts.iter().map(|h| h.addr).collect::<Vec<_>>());
    let episode = format!("cluster-{}", std::process::id());

    let urls = serde_json::to_string(&hosts.iter().map(Server::url).collect::<Vec<_>>())
        .expect("urls as JSON");
    let env = vec![
        ("STUDIO_HOSTS", urls),
        ("STUDIO_BALANCER", balancer.url()),
        ("STUDIO_EPISODE", episode.clone()),
        ("STUDIO_HOLDER_PID", hosts[0].pid().to_string()),
        (
            "STUDIO_SCRIPT",
            serde_json::to_string(&SCRIPT).expect("script as JSON"),
        ),
    ];
    let run = tokio::task::spawn_blocking(move || run_suites(&["cluster.test.mjs"], &env))
        .await
        .expect("run the scenario");

    let mut hosts = hosts.into_iter();
    let killed = hosts.next().expect("the first host");
    let survivors: Vec<Server> = hosts.collect();
    let killed_log = tokio::task::spawn_blocking(move || killed.log_after_exit())
        .await
        .expect("the killed host's log");
    if run.status.success() {
        // Both takes, whole in the bucket and playable: the one cut off by the kill (put back
        // together from its live copies by the host that took over) and the new one.
        let bucket = s3.bucket(BUCKET);
        check_take(&bucket, &episode).await;
        check_take(&bucket, &format!("{episode}-2")).await;
    }
    // The host that continued the episode lists the cut-off take as interrupted, with what was
    // said in it, and the new take beside it.
    let lists: Vec<serde_json::Value> = survivors
        .iter()
        .map(|host| host.get("/api/episodes").json())
        .collect();
    let find = |id: &str| {
        lists
            .iter()
            .filter_map(|list| list["episodes"].as_array())
            .flatten()
            .find(|e| e["id"] == id)
            .cloned()
    };
    let mut logs = Vec::new();
    for survivor in survivors {
        let (status, log) = tokio::task::spawn_blocking(move || survivor.terminate())
            .await
            .expect("stop a host");
        assert_eq!(status.code(), Some(0), "{log}");
        logs.push(log);
    }
    if !run.status.success() {
        eprintln!("--- killed host ---\n{killed_log}");
        for log in &logs {
            eprintln!("--- surviving host ---\n{log}");
        }
        eprintln!("--- balancer ---\n{}", balancer.log());
    }
    assert_all_passed(&run);
    // One surviving host took the episode over and carried its transcript into the new take.
    let took_over: Vec<&String> = logs
        .iter()
        .filter(|log| log.contains("episode taken over"))
        .collect();
    assert_eq!(took_over.len(), 1, "exactly one host takes over: {logs:?}");
    assert!(
        took_over[0].contains("transcript is carried over"),
        "{}",
        took_over[0]
    );
    if run.status.success() {
        let cut = find(&episode)
            .unwrap_or_else(|| panic!("{episode} not listed: {lists:?}\n{}", took_over[0]));
        assert_eq!(cut["state"], "interrupted", "{cut}");
        assert!(cut["lines"].as_u64().unwrap_or(0) >= 2, "{cut}");
        let next = find(&format!("{episode}-2")).unwrap_or_else(|| panic!("no take 2: {lists:?}"));
        assert_eq!(next["state"], "ended", "{next}");
    }

    drop(redis);
}

#[tokio::test]
async fn a_lease_is_claimed_once_and_renewed_or_released_only_by_its_holder() {
    use voice_studio::cluster::leases::{Holder, Leases};
    let redis = RedisServer::start();
    let lease = Duration::from_millis(400);
    let a = Leases::new(&redis.url(), "http://a:4000", lease).expect("a");
    let b = Leases::new(&redis.url(), "http://b:4000", lease).expect("b");
    let elsewhere = |url: &str| Holder::Elsewhere(url.to_owned());

    assert_eq!(a.claim("ep").await.expect("claim"), Holder::Here);
    assert_eq!(
        b.claim("ep").await.expect("claim"),
        elsewhere("http://a:4000")
    );
    assert_eq!(a.claim("ep").await.expect("claim again"), Holder::Here);
    // Not b's to extend or delete.
    assert!(!b.renew("ep").await.expect("renew"));
    b.release("ep").await.expect("release");
    assert_eq!(
        b.holder("ep").await.expect("holder"),
        Some(elsewhere("http://a:4000"))
    );
    // Renewed, a's lease outlives its first term.
    for _ in 0..3 {
        tokio::time::sleep(lease / 2).await;
        assert!(a.renew("ep").await.expect("renew"));
    }
    assert_eq!(
        b.claim("ep").await.expect("claim"),
        elsewhere("http://a:4000")
    );
    // Not renewed (its host died), it lapses and the next host claims it.
    tokio::time::sleep(lease * 2).await;
    assert_eq!(b.holder("ep").await.expect("holder"), None);
    assert_eq!(b.claim("ep").await.expect("claim"), Holder::Here);
    assert!(!a.renew("ep").await.expect("renew"), "a lost it");
    // Released, it is free at once.
    b.release("ep").await.expect("release");
    assert_eq!(a.claim("ep").await.expect("claim"), Holder::Here);
}

#[tokio::test]
async fn a_redis_that_is_not_there_fails_a_claim_in_time_and_the_host_answers_503() {
    use voice_studio::cluster::leases::Leases;
    let nowhere = format!("redis://127.0.0.1:{}/", free_port());
    let leases = Leases::new(&nowhere, "http://a:4000", Duration::from_secs(3)).expect("lazy");
    let started = Instant::now();
    assert!(leases.claim("ep").await.is_err());
    // A guard against hanging, not a timing assertion: the calls have deadlines.
    assert!(started.elapsed() < Duration::from_secs(30));

    let port = free_port();
    let server = tokio::task::spawn_blocking(move || {
        ServerSetup::new()
            .var("PORT", port.to_string())
            .var("CLUSTER_REDIS_URL", nowhere)
            .var("CLUSTER_ADVERTISE_URL", format!("http://127.0.0.1:{port}"))
            .var("RECORDING_BUCKET", "s3://shows")
            .var("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .start()
    })
    .await
    .expect("start");
    let addr = server.addr;
    let (health, socket, foreign, trick) = tokio::task::spawn_blocking(move || {
        let health = crate::support::server::http(addr, "GET", "/health", &[], None);
        let socket = crate::support::server::http(
            addr,
            "GET",
            "/socket.io/?EIO=4&transport=polling&episodeId=ep-1",
            &[],
            None,
        );
        // A browser page of a foreign origin is refused at the door, before any placement or
        // relay (the Origin check stands outside the cluster's middleware).
        let foreign = crate::support::server::http(
            addr,
            "GET",
            "/socket.io/?EIO=4&transport=polling&episodeId=ep-1",
            &[("Origin", "http://evil.example")],
            None,
        );
        // A URL trick for an episode id is no episode: the request is not placed (nor refused
        // for the cluster's sake) and the handshake is the plain one.
        let trick = crate::support::server::http(
            addr,
            "GET",
            "/socket.io/?EIO=4&transport=polling&episodeId=..%2F..%2Fetc",
            &[],
            None,
        );
        (health, socket, foreign, trick)
    })
    .await
    .expect("requests");
    assert_eq!(health.status, 200, "the host itself is up");
    assert_eq!(socket.status, 503, "{}", socket.body);
    assert_eq!(socket.header("retry-after"), Some("1"));
    assert!(socket.body.contains("cannot place"), "{}", socket.body);
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert_eq!(trick.status, 200, "{}", trick.body);
    drop(server);
}

/// `tests/e2e/cluster-client.mjs` against `url`, its stdout lines arriving on the receiver.
fn cluster_client(
    url: &str,
    episode: &str,
    end: bool,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let dir = crate::support::server::node::e2e_dir();
    crate::support::server::node::install_client(&dir);
    let mut child = std::process::Command::new("node")
        .arg(dir.join("cluster-client.mjs"))
        .current_dir(&dir)
        .env("STUDIO_URL", url)
        .env("STUDIO_EPISODE", episode)
        .env("STUDIO_LINE", SCRIPT[0])
        .env("STUDIO_END", if end { "1" } else { "0" })
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run node (is Node.js installed?)");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The next line of `lines` that starts with `prefix`; fails the test after [`PATIENCE`].
fn line_starting(lines: &std::sync::mpsc::Receiver<String>, prefix: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with(prefix) => return line,
            Ok(_) => {}
            Err(e) => panic!("the client never printed {prefix}: {e}"),
        }
    }
}

/// The episode `id` in `host`'s listing, if it is there.
fn listed(host: &Server, id: &str) -> Option<serde_json::Value> {
    host.get("/api/episodes").json()["episodes"]
        .as_array()?
        .iter()
        .find(|e| e["id"] == id)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_episode_whose_host_died_is_marked_interrupted_even_if_nobody_comes_back() {
    let redis = RedisServer::start();
    let s3 = S3Server::start();
    s3.create_bucket(BUCKET);
    let episode = format!("swept-{}", std::process::id());
    let ep = episode.clone();
    let (s3, survivors, continued, continuer_log) = tokio::task::spawn_blocking(move || {
        let mut hosts: Vec<Server> = (0..3).map(|_| host(&redis, &s3)).collect();
        // A take on the first host: the human speaks, claude answers; the live copies go up.
        let (mut client, lines) = cluster_client(&hosts[0].url(), &ep, false);
        line_starting(&lines, "HEARD");
        std::thread::sleep(Duration::from_millis(2500));
        // Its host dies and no client comes back.
        let killed = hosts.remove(0);
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &killed.pid().to_string()])
            .status();
        let _ = client.wait();
        drop(killed);

        // One of the others sweeps it within a few leases: listed interrupted, with its lines.
        let deadline = Instant::now() + PATIENCE;
        let sweeper = loop {
            if let Some(i) = hosts
                .iter()
                .position(|h| listed(h, &ep).is_some_and(|e| e["state"] == "interrupted"))
            {
                break i;
            }
            assert!(Instant::now() < deadline, "nobody swept {ep}");
            std::thread::sleep(Duration::from_millis(300));
        };
        let cut = listed(&hosts[sweeper], &ep).expect("listed");
        assert!(cut["lines"].as_u64().unwrap_or(0) >= 2, "{cut}");

        // A client comes back later, to the host that did not sweep: the show goes on there in
        // a new take, with the transcript fetched from the bucket.
        let other = 1 - sweeper;
        let (_client, lines) = cluster_client(&hosts[other].url(), &ep, true);
        line_starting(&lines, "HEARD");
        let ready = line_starting(&lines, "READY");
        let continued = listed(&hosts[other], &ep);
        let continuer = hosts.remove(other);
        let (status, log) = continuer.terminate();
        assert_eq!(status.code(), Some(0), "{log}");
        assert_eq!(ready, format!("READY {ep}-2"), "{log}");
        (s3, hosts, continued, log)
    })
    .await
    .expect("the scenario");
    assert!(
        continuer_log.contains("transcript is carried over"),
        "{continuer_log}"
    );
    let continued = continued.expect("the continuing host lists the interrupted take");
    assert_eq!(continued["state"], "interrupted", "{continued}");
    let bucket = s3.bucket(BUCKET);
    check_take(&bucket, &episode).await;
    check_take(&bucket, &format!("{episode}-2")).await;
    drop(survivors);
}
