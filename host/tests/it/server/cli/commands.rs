//! The operator commands on the real binary: `check` passes a good setup and lists every problem
//! of a bad one at once, `plugins --json` names each role's plugin with its version and hash,
//! `episodes --json` shows a session the studio really recorded, and `init` writes editable
//! copies without overwriting. None of them serves.

use studio_test_kit::manifest::Manifest;

use super::{run_in, text};
use crate::support::server::ServerSetup;
use crate::support::studio::{StudioRig, silence, stream};

#[test]
fn check_passes_a_good_setup() {
    let setup = ServerSetup::new();
    std::fs::create_dir(setup.path().join("briefings")).expect("briefings");
    std::fs::write(
        setup.path().join("briefings/trams.md"),
        voice_studio::config::built_in::EXAMPLE_BRIEFING,
    )
    .expect("briefing");
    let out = run_in(&setup, &["check"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(!stdout.contains("problem:"), "{stdout}");
    for line in [
        "ok: role stt: frame-counter",
        "ok: plugin echo-policy",
        "describe() says",
        "1 valid briefing",
        "can be bound",
        "all is well",
    ] {
        assert!(stdout.contains(line), "{line} missing:\n{stdout}");
    }
}

#[test]
fn check_writes_to_the_recording_bucket_and_names_one_it_cannot_write() {
    let s3 = crate::support::s3::S3Server::start();
    s3.create_bucket("shows");
    let mut setup = ServerSetup::new();
    for (key, value) in s3.env("shows") {
        setup = setup.var(key, value);
    }
    let out = run_in(&setup, &["check"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("ok: recording bucket s3://shows/shows takes writes"),
        "{stdout}"
    );

    // A bucket that does not exist on that server.
    let setup = setup.var("RECORDING_BUCKET", "s3://no-such-bucket");
    let out = run_in(&setup, &["check"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("problem: RECORDING_BUCKET: `s3://no-such-bucket` cannot be written"),
        "{stdout}"
    );
}

#[test]
fn check_pings_the_cluster_redis_and_names_one_that_does_not_answer() {
    let redis = crate::support::redis::RedisServer::start();
    let s3 = crate::support::s3::S3Server::start();
    s3.create_bucket("shows");
    let mut setup = ServerSetup::new()
        .var("CLUSTER_REDIS_URL", redis.url())
        .var("CLUSTER_ADVERTISE_URL", "http://127.0.0.1:4001");
    for (key, value) in s3.env("shows") {
        setup = setup.var(key, value);
    }
    let out = run_in(&setup, &["check"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("ok: cluster Redis answers; this host is http://127.0.0.1:4001"),
        "{stdout}"
    );

    let nowhere = format!("redis://127.0.0.1:{}/", crate::support::redis::free_port());
    let out = run_in(&setup.var("CLUSTER_REDIS_URL", nowhere), &["check"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("problem: CLUSTER_REDIS_URL: Redis does not answer"),
        "{stdout}"
    );
}

#[test]
fn check_lists_every_problem_at_once_and_exits_2() {
    // A bad .env value, a recordings "folder" that is a file, a plugin file that is missing, a
    // role given a plugin of the wrong kind, and a broken briefing: all in one run.
    let manifest = r#"
[roles]
stt = "frame-counter"
claude = "fault-injector"
guest = "fault-injector"
policy = "frame-counter"

[plugins.frame-counter]
path = "frame-counter.wasm"
capabilities = ["log"]

[plugins.fault-injector]
path = "fault-injector.wasm"
capabilities = ["log", "config"]

[plugins.gone]
path = "no-such-plugin.wasm"
capabilities = ["log"]
"#;
    let setup = ServerSetup::new()
        .manifest(manifest)
        .dotenv("STUDIO_GRACE_SECONDS=soon\n");
    let not_a_folder = setup.path().join("not-a-folder");
    std::fs::write(&not_a_folder, "x").expect("file");
    let setup = setup.var("RECORDING_DIR", not_a_folder.display().to_string());
    std::fs::create_dir(setup.path().join("briefings")).expect("briefings");
    std::fs::write(
        setup.path().join("briefings/broken.md"),
        "---\ntopic: [unclosed\n---\n",
    )
    .expect("briefing");
    let out = run_in(&setup, &["check"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    for problem in [
        "problem: STUDIO_GRACE_SECONDS: `soon`",
        "problem: RECORDING_DIR:",
        "problem: plugin gone:",
        "problem: role policy: needs a policy plugin, but frame-counter is a stt plugin",
        "problem: briefing ",
    ] {
        assert!(stdout.contains(problem), "{problem} missing:\n{stdout}");
    }
    assert!(stdout.contains("Fix: "), "{stdout}");
    // What is fine is still said, after the problems.
    assert!(stdout.contains("ok: plugin frame-counter"), "{stdout}");
    assert!(stdout.contains("5 problems found"), "{stdout}");
}

#[test]
fn plugins_json_names_each_role_with_version_hash_and_grants() {
    let setup = ServerSetup::new();
    let out = run_in(&setup, &["plugins", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let roles = report["roles"].as_array().expect("roles");
    let role = |name: &str| {
        roles
            .iter()
            .find(|r| r["role"] == name)
            .unwrap_or_else(|| panic!("no {name} role: {report:#}"))
    };
    assert_eq!(role("stt")["plugin"], "frame-counter");
    assert_eq!(role("policy")["plugin"], "echo-policy");
    for role in roles {
        let version = role["version"].as_str().expect("a version");
        assert!(!version.is_empty(), "{role}");
        let sha = role["sha256"].as_str().expect("a hash");
        assert!(
            sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{sha}"
        );
        assert_eq!(role["chain"][0], role["plugin"]);
    }
    let plugins = report["plugins"].as_array().expect("plugins");
    let injector = plugins
        .iter()
        .find(|p| p["name"] == "fault-injector")
        .expect("fault-injector");
    assert_eq!(injector["source"], "file");
    assert_eq!(injector["kind"], "llm");
    assert_eq!(
        injector["grants"]["capabilities"],
        serde_json::json!(["log", "config"])
    );
    assert!(
        injector["grants"]["deadlineMs"]
            .as_u64()
            .is_some_and(|ms| ms > 0)
    );
    assert_eq!(report["builtInManifest"], false);

    // The table for humans names the same plugins.
    let table = text(&run_in(&setup, &["plugins"]).stdout);
    assert!(
        table.contains("ROLE") && table.contains("frame-counter"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn episodes_shows_a_recorded_session_with_its_duration() {
    let rig = StudioRig::start(Manifest::quick_mocks()).await;
    let (studio, client) = rig.join("ep-cli");
    stream(&studio, client, &silence(600)).await;
    let (_ready, folder) = rig.end(&studio, client, "ep-cli").await;
    assert!(folder.join("session.yml").is_file());

    let setup = ServerSetup::new().var("RECORDING_DIR", rig.recordings.display().to_string());
    let out = tokio::task::spawn_blocking(move || run_in(&setup, &["episodes", "--json"]))
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let episodes: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // The store (studio.db in DATA_DIR, here RECORDING_DIR) did not know the folder: imported.
    let episode = episodes
        .as_array()
        .and_then(|all| all.iter().find(|e| e["episodeId"] == "ep-cli"))
        .unwrap_or_else(|| panic!("ep-cli not listed: {episodes:#}"));
    assert_eq!(episode["state"], "ended", "{episode:#}");
    assert_eq!(episode["id"], "ep-cli", "{episode:#}");
    assert!(
        episode["durationMs"].as_u64().is_some_and(|ms| ms > 0),
        "{episode:#}"
    );
    let files: Vec<&str> = episode["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| f["bytes"].as_u64().is_some_and(|b| b > 0))
        .filter_map(|f| f["name"].as_str())
        .collect();
    for track in ["you.webm", "claude.webm", "guest.webm"] {
        assert!(files.contains(&track), "{track} in {files:?}");
    }
    assert!(
        episode["startedAt"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );
}

#[test]
fn init_writes_editable_copies_and_never_overwrites_without_force() {
    let setup = ServerSetup::new();
    let target = setup.path().join("studio");
    let target_arg = target.display().to_string();
    let out = run_in(&setup, &["init", &target_arg]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let read = |name: &str| std::fs::read_to_string(target.join(name)).expect(name);
    let config = voice_studio::config::built_in::PLUGINS_TOML;
    assert_eq!(read("plugins.toml"), config);
    assert!(read("briefings/cars-in-city-centres.md").contains("topic:"));
    assert!(read(".env.example").contains("PLUGIN_DIR="));
    assert!(target.join("recordings").is_dir());
    assert!(
        stdout.contains("voice-studio check"),
        "says how to start: {stdout}"
    );

    // A second run keeps the operator's edits and says so.
    std::fs::write(target.join("plugins.toml"), "# mine\n").expect("edit");
    let again = run_in(&setup, &["init", &target_arg]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stdout));
    assert!(
        text(&again.stdout).contains("--force"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(read("plugins.toml"), "# mine\n");

    let forced = run_in(&setup, &["init", &target_arg, "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    assert_eq!(read("plugins.toml"), config);
}
