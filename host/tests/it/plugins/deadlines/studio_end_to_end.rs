//! The same sleeping policy inside a live studio, driven as the gateway drives it.

use std::sync::Arc;
use std::time::Duration;

use voice_studio::briefings::BriefingStore;
use voice_studio::config::{Config, ConfigSource, LiveConfig};
use voice_studio::gateway::protocol::{InputFormat, StudioSnapshot};
use voice_studio::plugins::{BUILT_PLUGIN_DIR, PluginHost, PluginHostOptions};
use voice_studio::session::{ClientId, NoClients};
use voice_studio::session::{
    Participant, StudioCommand, StudioHandle, StudioRegistry, TurnLoopSetup,
};
use voice_studio::speakers::Speaker;

use super::{PATIENCE, utterance, within};

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
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("plugins.toml");
    std::fs::write(
        &toml,
        format!(
            r#"
[studio]
plugin_dir = "{BUILT_PLUGIN_DIR}"
[roles]
stt = "mock-stt"
tts = "mock-tts"
claude = "mock-llm"
guest = "mock-llm"
policy = "sleepy"
[plugins.mock-stt]
path = "mock-stt.wasm"
capabilities = ["log", "clock", "config"]
[plugins.mock-stt.config]
script = ["Guest, do you ever sleep?"]
end_of_speech_ms = 300
[plugins.mock-tts]
path = "mock-tts.wasm"
capabilities = ["log", "config"]
[plugins.mock-tts.config]
words_per_minute = 400
[plugins.mock-llm]
path = "mock-llm.wasm"
capabilities = ["log", "config"]
[plugins.mock-llm.config]
token_delay_ms = 2
[plugins.sleepy]
path = "echo-policy.wasm"
fallback = ["host-led"]
[plugins.host-led]
path = "host-led.wasm"
capabilities = ["log"]
"#
        ),
    )
    .expect("write plugins.toml");
    let recordings = dir.path().join("rec");
    let config = Config::from_source(&ConfigSource::from_pairs([
        ("PLUGINS_TOML", toml.display().to_string()),
        ("RECORDING_DIR", recordings.display().to_string()),
    ]))
    .expect("valid config");
    let plugins = PluginHost::start(PluginHostOptions {
        manifest_path: toml,
        plugin_dir_override: None,
        cache_dir: None,
        watch: false,
        ..Default::default()
    })
    .await
    .expect("plugins start");
    let setup = TurnLoopSetup {
        plugins: plugins as Arc<PluginHost>,
        briefings: BriefingStore::open(dir.path().join("briefings")).expect("briefings"),
        recording_dir: recordings,
        autopilot_max_turns: 4,
        turn_gap: Duration::from_millis(50),
        language: "en-US".into(),
        recorder: voice_studio::recording::WriterOptions::default(),
    };
    let live = Arc::new(LiveConfig::new(&config));
    let registry = StudioRegistry::with_turn_loop(NoClients, Duration::from_secs(30), live, setup);
    let client = ClientId::unique();
    let studio = registry
        .join(
            Some("ep-sleepy"),
            client,
            Participant {
                name: "Basil".into(),
                input_format: InputFormat::default(),
            },
        )
        .expect("join");

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
