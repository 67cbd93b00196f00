//! The registry's tests: studios open, retire after the grace period, end alone on a panic or
//! when stuck, count against the quota, and end on shutdown.

use super::*;
use crate::config::{Config, ConfigSource};
use crate::gateway::protocol::{InputFormat, SharedScreen};

#[test]
fn episode_ids_that_could_escape_the_recording_folder_are_refused() {
    assert!(is_valid_episode_id("episode-1732611111111"));
    assert!(is_valid_episode_id("show_42.take-2"));
    assert!(!is_valid_episode_id("../etc"));
    assert!(!is_valid_episode_id(".hidden"));
    assert!(!is_valid_episode_id("a/b"));
    assert!(!is_valid_episode_id(""));
    assert!(!is_valid_episode_id(&"x".repeat(129)));
}

const GRACE: Duration = Duration::from_secs(10);

fn registry() -> (StudioRegistry, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("plugins.toml");
    std::fs::write(&toml, "").expect("write plugins.toml");
    let config = Config::from_source(&ConfigSource::from_pairs([
        ("PLUGINS_TOML", toml.display().to_string()),
        (
            "RECORDING_DIR",
            dir.path().join("rec").display().to_string(),
        ),
    ]))
    .expect("valid config");
    let live = Arc::new(LiveConfig::new(&config));
    (StudioRegistry::new(NoClients, GRACE, live), dir)
}

fn someone() -> Participant {
    Participant {
        name: "someone".into(),
        input_format: InputFormat::default(),
    }
}

/// Lets the spawned studio actors run until they wait again.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_studio_ends_only_after_its_last_client_has_been_gone_for_the_grace_period() {
    let (registry, _dir) = registry();
    let client = ClientId::unique();
    let studio = registry
        .join(Some("ep-grace"), client, someone())
        .expect("join");
    settle().await;
    tokio::time::advance(GRACE * 3).await;
    settle().await;
    assert!(
        registry.get("ep-grace").is_some(),
        "a studio with a client stays"
    );

    studio.send(StudioCommand::Leave { client }).expect("leave");
    settle().await;
    tokio::time::advance(GRACE - Duration::from_millis(1)).await;
    settle().await;
    assert!(
        registry.get("ep-grace").is_some(),
        "still within the grace period"
    );
    tokio::time::advance(Duration::from_millis(2)).await;
    settle().await;
    assert!(
        registry.get("ep-grace").is_none(),
        "ended after the grace period"
    );
    assert!(!studio.is_running());
}

#[tokio::test(start_paused = true)]
async fn a_client_rejoining_within_the_grace_period_finds_the_same_studio() {
    let (registry, _dir) = registry();
    let client = ClientId::unique();
    let first = registry
        .join(None, client, someone())
        .expect("join live episode");
    assert!(first.episode_id().starts_with("episode-"));
    first.send(StudioCommand::Leave { client }).expect("leave");
    settle().await;
    tokio::time::advance(GRACE / 2).await;
    settle().await;
    // A page reload: a new connection, no episode id, joins the same live episode.
    let again = registry
        .join(None, ClientId::unique(), someone())
        .expect("rejoin");
    assert_eq!(again.episode_id(), first.episode_id());
    assert_eq!(again.generation(), first.generation());
    tokio::time::advance(GRACE * 2).await;
    settle().await;
    assert!(registry.get(first.episode_id()).is_some());
}

#[tokio::test]
async fn a_panicking_studio_ends_alone() {
    let (registry, _dir) = registry();
    let doomed = registry
        .join(Some("ep-doomed"), ClientId::unique(), someone())
        .expect("join");
    let healthy = registry
        .join(Some("ep-healthy"), ClientId::unique(), someone())
        .expect("join");
    doomed
        .send(StudioCommand::PanicForTest)
        .expect("queue panic");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while registry.get("ep-doomed").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "panicked studio never removed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!doomed.is_running());
    assert!(healthy.is_running());
    healthy
        .send(StudioCommand::RequestState {
            client: ClientId::unique(),
        })
        .expect("the other studio still takes commands");
    // The episode can be opened again, as a new studio.
    let reopened = registry
        .join(Some("ep-doomed"), ClientId::unique(), someone())
        .expect("rejoin");
    assert_ne!(reopened.generation(), doomed.generation());
    assert_eq!(registry.episode_ids(), vec!["ep-doomed", "ep-healthy"]);
}

/// Waits (at most a minute, against hangs) until `episode` has left the registry.
async fn until_gone(registry: &StudioRegistry, episode: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while registry.get(episode).is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{episode} never ended"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_studio_blocked_in_a_system_call_is_ended_by_the_watchdog_and_the_others_go_on() {
    let (registry, _dir) = registry();
    registry.set_watchdog_timeout(Duration::from_millis(200));
    let stuck = registry
        .join(Some("ep-stuck"), ClientId::unique(), someone())
        .expect("join");
    let healthy = registry
        .join(Some("ep-healthy"), ClientId::unique(), someone())
        .expect("join");
    // Blocks its worker thread like a hung disk write; one of the two workers stays free.
    stuck
        .send(StudioCommand::StallForTest(studio::Stall::Block(
            Duration::from_secs(3),
        )))
        .expect("stall");
    until_gone(&registry, "ep-stuck").await;
    assert!(!stuck.is_running());
    assert_eq!(
        stuck.send(StudioCommand::RequestState {
            client: ClientId::unique()
        }),
        Err(StudioSendError::Ended),
        "its handles refuse at once, though the actor still holds its queue"
    );
    healthy
        .snapshot()
        .await
        .expect("the other studio still answers");
    let reopened = registry
        .join(Some("ep-stuck"), ClientId::unique(), someone())
        .expect("rejoin");
    assert_ne!(reopened.generation(), stuck.generation());
    reopened.snapshot().await.expect("the fresh studio answers");
    assert_eq!(registry.episode_ids(), vec!["ep-healthy", "ep-stuck"]);
}

#[tokio::test(start_paused = true)]
async fn the_watchdog_waits_for_its_timeout_and_never_ends_a_studio_that_answers() {
    let (registry, _dir) = registry();
    let client = ClientId::unique();
    let idle = registry
        .join(Some("ep-idle"), client, someone())
        .expect("join");
    let stuck = registry
        .join(Some("ep-stuck"), ClientId::unique(), someone())
        .expect("join");
    settle().await;
    // The whole process paused (a suspended VM, a debugger): every heartbeat looks old at
    // once, but a studio that answers on the next look is not stuck.
    tokio::time::advance(DEFAULT_WATCHDOG_TIMEOUT * 6).await;
    settle().await;
    stuck
        .send(StudioCommand::StallForTest(studio::Stall::Forever))
        .expect("stall");
    settle().await;
    for _ in 0..9 {
        tokio::time::advance(Duration::from_secs(1)).await;
        settle().await;
    }
    assert!(registry.get("ep-stuck").is_some(), "not before the timeout");
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(1)).await;
        settle().await;
    }
    assert!(registry.get("ep-stuck").is_none(), "ended after it");
    assert!(idle.is_running(), "a quiet studio is not a stuck one");
    assert_eq!(registry.episode_ids(), vec!["ep-idle"]);
}

#[tokio::test]
async fn autopilot_from_a_client_of_the_studio_changes_the_snapshot_clients_get() {
    let (registry, _dir) = registry();
    let client = ClientId::unique();
    let studio = registry
        .join(Some("ep-autopilot"), client, someone())
        .expect("join");
    studio
        .send(StudioCommand::SetAutopilot { client, on: true })
        .expect("autopilot");
    let snapshot = studio.snapshot().await.expect("snapshot");
    assert!(snapshot.autopilot);
    assert_eq!(snapshot.shared_screen, SharedScreen::default());
    assert!(
        snapshot.captions.is_empty(),
        "without a turn loop nobody speaks"
    );

    studio
        .send(StudioCommand::SetAutopilot { client, on: false })
        .expect("autopilot off");
    assert!(!studio.snapshot().await.expect("snapshot").autopilot);
}

#[tokio::test]
async fn autopilot_from_a_client_outside_the_studio_is_ignored() {
    let (registry, _dir) = registry();
    let studio = registry
        .join(Some("ep-outsider"), ClientId::unique(), someone())
        .expect("join");
    studio
        .send(StudioCommand::SetAutopilot {
            client: ClientId::unique(),
            on: true,
        })
        .expect("queued");
    assert!(!studio.snapshot().await.expect("snapshot").autopilot);
}

#[tokio::test]
async fn opening_studios_counts_per_address_and_in_total_and_joining_is_free() {
    let (registry, _dir) = registry();
    registry.set_quota(StudioQuota {
        max_studios: 6,
        max_per_address: 4,
    });
    let a = Some(IpAddr::from([127, 0, 0, 2]));
    let b = Some(IpAddr::from([127, 0, 0, 3]));
    let mut opened = Vec::new();
    for i in 0..4 {
        let client = ClientId::unique();
        let studio = registry
            .join_from(Some(&format!("ep-a{i}")), client, someone(), a)
            .expect("within the address's quota");
        opened.push((client, studio));
    }
    assert_eq!(
        registry
            .join_from(Some("ep-a4"), ClientId::unique(), someone(), a)
            .map(|_| ()),
        Err(JoinError::TooManyStudiosFromAddress { limit: 4 })
    );
    assert!(registry.get("ep-a4").is_none(), "nothing was opened");
    // Joining a running studio, from any address, opens nothing.
    registry
        .join_from(Some("ep-a0"), ClientId::unique(), someone(), a)
        .expect("joining is free");
    registry
        .join_from(Some("ep-a1"), ClientId::unique(), someone(), b)
        .expect("joining is free");
    for i in 0..2 {
        registry
            .join_from(Some(&format!("ep-b{i}")), ClientId::unique(), someone(), b)
            .expect("another address has its own quota");
    }
    assert_eq!(
        registry
            .join_from(Some("ep-b2"), ClientId::unique(), someone(), b)
            .map(|_| ()),
        Err(JoinError::TooManyStudios { limit: 6 })
    );
    // A studio that ends stops counting.
    let (client, studio) = opened.remove(0);
    studio
        .send(StudioCommand::EndSession { client })
        .expect("end");
    until_gone(&registry, "ep-a0").await;
    registry
        .join_from(Some("ep-a4"), ClientId::unique(), someone(), a)
        .expect("room again after one ended");
}

#[tokio::test]
async fn shutdown_ends_every_studio_and_refuses_new_joins() {
    let (registry, _dir) = registry();
    let a = registry
        .join(Some("ep-a"), ClientId::unique(), someone())
        .expect("join");
    let b = registry
        .join(Some("ep-b"), ClientId::unique(), someone())
        .expect("join");
    registry.shutdown(Duration::from_secs(30)).await;
    assert!(!a.is_running());
    assert!(!b.is_running());
    assert!(registry.episode_ids().is_empty());
    assert_eq!(
        registry
            .join(Some("ep-c"), ClientId::unique(), someone())
            .map(|_| ()),
        Err(JoinError::ShuttingDown)
    );
}
