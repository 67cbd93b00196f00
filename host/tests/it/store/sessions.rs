//! A real session in the studio rig (the shipped mock plugins, spoken audio) feeds the store:
//! its row while live, its transcript in time order with both speakers, its turns, its end.

use studio_test_kit::manifest::Manifest;
use studio_test_kit::speech::speech;
use voice_studio::speakers::Speaker;
use voice_studio::store::{EpisodeState, ListQuery};

use crate::support::studio::{StudioRig, final_caption, silence, stream, until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_feeds_its_episode_transcript_and_turns_into_the_store() {
    let question = "Claude, what do you make of today's topic?";
    let rig = StudioRig::start(
        Manifest::quick_mocks()
            .script(&[question])
            .role("policy", "host-led")
            .plugin("host-led", &["log"]),
    )
    .await;
    let (studio, client) = rig.join("ep-store");
    stream(&studio, client, &silence(300)).await;
    rig.store.flush();
    let live = rig.store.episodes(ListQuery::default()).expect("list");
    assert_eq!(live.len(), 1, "the session is listed from its start");
    assert_eq!(live[0].state, EpisodeState::Live);
    assert_eq!(live[0].episode_id, "ep-store");
    assert_eq!(live[0].id, "ep-store", "its id is its recording folder");
    assert!(!live[0].plugins.is_empty());

    stream(&studio, client, &speech(question)).await;
    until(&studio, client, "claude's finished line", |s| {
        final_caption(s, Speaker::You).is_some() && final_caption(s, Speaker::Claude).is_some()
    })
    .await;
    let (_, folder) = rig.end(&studio, client, "ep-store").await;
    rig.store.flush();

    let detail = rig
        .store
        .episode("ep-store")
        .expect("read")
        .expect("the episode is kept");
    assert_eq!(detail.episode.state, EpisodeState::Ended);
    assert!(detail.episode.ended_at.is_some());
    assert!(detail.episode.duration_ms > 0);
    let names: Vec<&str> = detail
        .episode
        .files
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    for file in ["you.webm", "claude.webm", "events.jsonl", "session.yml"] {
        assert!(names.contains(&file), "{file} listed in {names:?}");
    }
    assert!(folder.join("you.webm").is_file());
    assert!(
        detail
            .turns
            .iter()
            .any(|t| t.speaker == Speaker::Claude && t.metrics.duration_ms.is_some()),
        "claude's turn metrics are kept: {:?}",
        detail.turns
    );

    let lines = rig
        .store
        .transcript("ep-store")
        .expect("read")
        .expect("known");
    assert_eq!(lines[0].speaker, Speaker::You);
    assert_eq!(lines[0].text, question);
    assert!(
        lines
            .iter()
            .any(|l| l.speaker == Speaker::Claude && !l.text.is_empty())
    );
    assert!(
        lines.windows(2).all(|w| w[0].start_ms <= w[1].start_ms),
        "time order: {lines:?}"
    );
    assert_eq!(detail.episode.lines, lines.len() as u64);
}
