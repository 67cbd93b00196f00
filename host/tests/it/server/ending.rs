//! Ending an episode while a client keeps streaming: the microphone's audio that arrives after
//! `client.end-session` (a page that has not stopped its worklet yet) meets a studio that is
//! finishing its recording. The client is told `studio-ended`, and must still get the studio's
//! `recording.ready` and `session.end` (once it missed both: the refused audio took it out of the
//! studio's room before the studio spoke to it).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use studio_test_kit::manifest::Manifest;

use crate::server::flood::client::{Client, Incoming};
use crate::support::server::ServerSetup;

const PATIENCE: Duration = Duration::from_secs(60);

/// 20 ms of quiet 48 kHz mono s16le, as the console sends between words.
const FRAME: [u8; 1920] = [0; 1920];
/// 2 ms of the same: after the end, audio goes in small pieces every 2 ms (still real time, so
/// the rate limit lets all of it through), so some of it reaches the studio while it finishes
/// even when that takes only a few milliseconds (20 ms frames once missed that window under load).
const SLICE: [u8; 192] = [0; 192];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_after_end_session_does_not_lose_the_recording_or_the_end() {
    let server = ServerSetup::new()
        .manifest(&Manifest::shipped().to_string())
        .start();
    let hello = json!({"episodeId": "ending-while-streaming", "participantName": "host"});
    let mut client = Client::joined(server.addr, hello, PATIENCE).await;
    for _ in 0..25 {
        client.send_audio(&FRAME);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    client.emit("client.end-session", Value::Null);
    // The microphone goes on for a while, as a page's does until it notices.
    // What arrived, counted by name (hundreds of refusals when it goes wrong).
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let (mut ready, mut ended, mut refused) = (None, None, false);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut slices = tokio::time::interval(Duration::from_millis(2));
    while ready.is_none() || ended.is_none() {
        tokio::select! {
            _ = slices.tick() => client.send_audio(&SLICE),
            incoming = tokio::time::timeout_at(deadline, client.events.recv()) => match incoming {
                Ok(Some(Incoming::Event { name, payload, .. })) => {
                    match name.as_str() {
                        "recording.ready" => ready = Some(payload),
                        "session.end" => ended = Some(payload),
                        "error" if payload["code"] == "studio-ended" => refused = true,
                        _ => {}
                    }
                    *seen.entry(name).or_default() += 1;
                }
                Ok(Some(Incoming::Closed(how))) => panic!("closed ({how:?}); saw {seen:?}"),
                Ok(None) | Err(_) => panic!(
                    "recording.ready {} and session.end {} by the deadline; saw {seen:?}",
                    ready.is_some(),
                    ended.is_some()
                ),
            },
        }
    }
    assert!(
        refused,
        "the audio after the end was never refused, so this did not test the race: {seen:?}"
    );
    let ready = ready.unwrap_or_default();
    assert_eq!(ready["episodeId"], "ending-while-streaming", "{ready}");
    assert_eq!(ended.unwrap_or_default()["reason"], "ended", "{seen:?}");
    client.close();
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
}
