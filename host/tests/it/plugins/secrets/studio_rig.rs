use super::*;
use crate::support::studio::{CHUNK_BYTES, RigOptions, StudioRig, stream, until};
use studio_test_kit::manifest::Manifest;
use studio_test_kit::speech::speech;
use voice_studio::config::RuntimeConfigUpdate;
use voice_studio::gateway::protocol::OrbState;
use voice_studio::session::{ClientId, StudioHandle};

/// The shipped mocks made fast, with the guest on the fault injector, which may read
/// `PROBER_KEY`.
fn manifest() -> Manifest {
    Manifest::shipped()
        .script(&["Guest, what do you think?"])
        .config("mock-stt", "end_of_speech_ms", 500)
        .config("mock-tts", "words_per_minute", 400)
        .role("guest", "fault-injector")
        .plugin("fault-injector", &["log", "config"])
        .plugin_field("fault-injector", "secrets", vec!["PROBER_KEY"])
}

async fn rig() -> StudioRig {
    let options = RigOptions {
        environment: Some(Arc::new(
            [("PROBER_KEY".to_string(), KEY.to_string())].into(),
        )),
        ..RigOptions::default()
    };
    let rig = StudioRig::with(manifest(), options).await;
    // The settings dialog's guest model reaches the plugin: this one leaks its key.
    rig.live.apply(RuntimeConfigUpdate {
        guest_model: Some("leak:PROBER_KEY".into()),
        ..RuntimeConfigUpdate::default()
    });
    rig
}

fn join(rig: &StudioRig, episode: &str) -> (StudioHandle, ClientId) {
    rig.join(episode)
}

/// Ends the session and returns its events.jsonl.
async fn end_and_read_events(
    rig: &StudioRig,
    studio: &StudioHandle,
    client: ClientId,
    episode: &str,
) -> String {
    let (_, folder) = rig.end(studio, client, episode).await;
    std::fs::read_to_string(folder.join("events.jsonl")).expect("events.jsonl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_a_guest_plugin_leaks_never_reaches_events_jsonl() {
    let rig = rig().await;
    assert!(rig.live.runtime().guest_model.is_some());
    let (studio, client) = join(&rig, "ep-leak");
    stream(&studio, client, &vec![0; 25 * CHUNK_BYTES]).await;
    stream(&studio, client, &speech("Guest, what do you think?")).await;
    until(
        &studio,
        client,
        "the guest's orb showing the failure",
        |s| s.orb_states.guest == OrbState::Error,
    )
    .await;
    let events = end_and_read_events(&rig, &studio, client, "ep-leak").await;
    // The error the clients were sent is the one recorded (one message for both).
    let error = events
        .lines()
        .find(|l| l.contains("\"type\":\"error\"") && l.contains("fault-injector"))
        .unwrap_or_else(|| panic!("the guest's failure is recorded: {events}"));
    assert!(error.contains("[redacted PROBER_KEY]"), "{error}");
    assert_no_key_in(&events, "events.jsonl");
    assert_no_key_in(&logged(), "the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_studio_restarts_stt_on_the_new_grant_without_reporting_a_failure() {
    let rig = rig().await;
    let (studio, client) = join(&rig, "ep-revoke");
    stream(&studio, client, &vec![0; 25 * CHUNK_BYTES]).await;
    stream(&studio, client, &speech("Guest, what do you think?")).await;
    until(&studio, client, "the first final transcript", |s| {
        s.captions
            .iter()
            .filter(|c| c.is_final == Some(true) && c.text.contains("Guest"))
            .count()
            >= 1
    })
    .await;

    // The STT plugin loses `log` while its session-long call runs.
    let text = std::fs::read_to_string(&rig.manifest_path).expect("read");
    let narrowed = text.replacen(
        "capabilities = [\"log\", \"clock\", \"config\"]",
        "capabilities = [\"clock\", \"config\"]",
        1,
    );
    assert_ne!(text, narrowed);
    std::fs::write(&rig.manifest_path, narrowed).expect("write");
    let events = rig.plugins.reload().await;
    assert!(events.iter().all(|e| e.error.is_none()), "{events:?}");

    stream(&studio, client, &vec![0; 25 * CHUNK_BYTES]).await;
    stream(&studio, client, &speech("Guest, what do you think?")).await;
    until(
        &studio,
        client,
        "a final transcript from the new STT call",
        |s| {
            s.captions
                .iter()
                .filter(|c| c.is_final == Some(true) && c.text.contains("Guest"))
                .count()
                >= 2
        },
    )
    .await;
    let events = end_and_read_events(&rig, &studio, client, "ep-revoke").await;
    let stt_errors: Vec<&str> = events
        .lines()
        .filter(|l| l.contains("\"type\":\"error\"") && l.contains("\"service\":\"stt\""))
        .collect();
    assert!(
        stt_errors.is_empty(),
        "a revoked grant is not an STT failure: {stt_errors:#?}"
    );
}
