//! The same sleeping policy inside a live studio, driven as the gateway drives it.

use std::time::Duration;

use studio_test_kit::manifest::Manifest;
use voice_studio::gateway::protocol::StudioSnapshot;
use voice_studio::session::{ClientId, StudioCommand, StudioHandle};
use voice_studio::speakers::Speaker;

use super::{PATIENCE, utterance, within};
use crate::support::studio::StudioRig;

/// 20 ms of 48 kHz mono s16le.
fn bytes(frame: &[i16]) -> Vec<u8> {
    frame.iter().flat_map(|s| s.to_le_bytes()).collect()
}

async fn send(studio: &StudioHandle, client: ClientId, frames: &[Vec<i16>]) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for frame in frames {
        tick.tick().await;
        within(
            "the studio taking audio",
            studio.deliver(StudioCommand::Audio {
                client,
                chunk: bytes(frame),
            }),
        )
        .await
        .expect("audio delivered");
    }
}

fn guest_answered(snapshot: &StudioSnapshot) -> bool {
    snapshot
        .captions
        .iter()
        .any(|c| c.speaker == Speaker::Guest && c.is_final == Some(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_studio_whose_policy_sleeps_keeps_answering() {
    // The policy `sleepy` is the echo policy (it sleeps on a question) with host-led behind it.
    let mut sleepy = toml::Table::new();
    sleepy.insert("path".into(), "echo-policy.wasm".into());
    sleepy.insert("fallback".into(), vec!["host-led"].into());
    let manifest = Manifest::quick_mocks()
        .script(&["Guest, do you ever sleep?"])
        .config("mock-stt", "end_of_speech_ms", 300)
        .role("policy", "sleepy")
        .plugin_table("sleepy", sleepy);
    let rig = StudioRig::start(manifest).await;
    let (studio, client) = rig.join("ep-sleepy");

    // The human asks the guest; the policy sleeps an hour on it. The deadline cuts it, the
    // fallback policy routes the line, and the guest answers while the studio keeps taking
    // audio and answering snapshots.
    send(&studio, client, &utterance(0, 400)).await;
    send(&studio, client, &utterance(1_000, 600)).await;
    let quiet = utterance(0, 100);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let snapshot = within("a snapshot", studio.snapshot())
            .await
            .expect("snapshot");
        if guest_answered(&snapshot) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the guest never answered: {snapshot:#?}"
        );
        send(&studio, client, &quiet).await;
    }
}
