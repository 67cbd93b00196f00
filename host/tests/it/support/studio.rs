//! An in-process studio for tests: a registry whose studios run the turn loop on the real built
//! plugins, driven through `StudioHandle` as the gateway drives it, with microphone audio sent in
//! real time and snapshots polled until a condition holds.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use studio_test_kit::manifest::Manifest;
use voice_studio::briefings::BriefingStore;
use voice_studio::config::{Config, ConfigSource, LiveConfig};
use voice_studio::gateway::protocol::{InputFormat, RecordingReady, StudioSnapshot};
use voice_studio::plugins::{BUILT_PLUGIN_DIR, PluginHost, PluginHostOptions};
use voice_studio::recording::WriterOptions;
use voice_studio::session::{
    ClientId, NoClients, Participant, StudioCommand, StudioHandle, StudioRegistry, TurnLoopSetup,
};
use voice_studio::speakers::Speaker;
use voice_studio::store::EpisodeStore;

/// Longest any condition may take to come true before the test fails (not a timing assertion:
/// a generous bound so a broken loop fails instead of hanging).
pub const PATIENCE: Duration = Duration::from_secs(60);
/// 20 ms of 48 kHz mono s16le, the browser's microphone chunk.
pub const CHUNK_BYTES: usize = 1920;

/// How the rig's studios run, beyond their plugins.
#[derive(Debug, Clone)]
pub struct RigOptions {
    /// Autopilot's cap on AI lines in a row.
    pub autopilot_max_turns: u32,
    /// Where recordings go (default: `rec` in the rig's folder).
    pub recording_dir: Option<PathBuf>,
    /// The recorder's writer (e.g. with a disk fault).
    pub writer: WriterOptions,
    /// The environment plugins read their secrets from (default: the process's).
    pub environment: Option<Arc<HashMap<String, String>>>,
}

impl Default for RigOptions {
    fn default() -> Self {
        Self {
            autopilot_max_turns: 4,
            recording_dir: None,
            writer: WriterOptions::default(),
            environment: None,
        }
    }
}

/// A registry whose studios run the turn loop, in a temp folder of its own.
pub struct StudioRig {
    pub registry: StudioRegistry,
    pub plugins: Arc<PluginHost>,
    pub live: Arc<LiveConfig>,
    /// The studios' `plugins.toml` (edit it and `plugins.reload()` to swap plugins).
    pub manifest_path: PathBuf,
    /// Where the studios record.
    pub recordings: PathBuf,
    /// The episode store the studios feed (`studio.db` in the rig's folder).
    pub store: EpisodeStore,
    /// Holds the manifest, briefings and (by default) recordings until the rig is dropped.
    _dir: tempfile::TempDir,
}

impl StudioRig {
    /// Studios on `manifest` (its `plugin_dir` set to the built plugins) with default options.
    pub async fn start(manifest: Manifest) -> Self {
        Self::with(manifest, RigOptions::default()).await
    }

    /// Studios on `manifest` (its `plugin_dir` set to the built plugins) with `options`.
    pub async fn with(manifest: Manifest, options: RigOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let toml = manifest.plugin_dir(BUILT_PLUGIN_DIR).write(dir.path());
        // The config always gets a folder it can create; the studios may be given one they
        // cannot (a test of a recording folder that fails).
        let default_recordings = dir.path().join("rec");
        let config = Config::from_source(&ConfigSource::from_pairs([
            ("PLUGINS_TOML", toml.display().to_string()),
            ("RECORDING_DIR", default_recordings.display().to_string()),
        ]))
        .expect("valid config");
        let recordings = options.recording_dir.unwrap_or(default_recordings);
        let plugins = PluginHost::start(PluginHostOptions {
            manifest_path: toml.clone(),
            environment: options.environment,
            watch: false,
            ..Default::default()
        })
        .await
        .expect("plugins start");
        let store = EpisodeStore::open(&dir.path().join("data")).expect("episode store");
        let setup = TurnLoopSetup {
            plugins: plugins.clone(),
            briefings: BriefingStore::open(dir.path().join("briefings")).expect("briefings"),
            recording_dir: recordings.clone(),
            autopilot_max_turns: options.autopilot_max_turns,
            turn_gap: Duration::from_millis(50),
            language: "en-US".into(),
            recorder: options.writer,
            store: Some(store.clone()),
        };
        let live = Arc::new(LiveConfig::new(&config));
        let registry =
            StudioRegistry::with_turn_loop(NoClients, Duration::from_secs(30), live.clone(), setup);
        Self {
            registry,
            plugins,
            live,
            manifest_path: toml,
            recordings,
            store,
            _dir: dir,
        }
    }

    /// Joins `episode` as a host named Basil with the default input format.
    pub fn join(&self, episode: &str) -> (StudioHandle, ClientId) {
        join(&self.registry, episode)
    }

    /// Ends the session the way `client.end-session` does and waits for its `recording.ready`;
    /// returns it with the recording's folder.
    pub async fn end(
        &self,
        studio: &StudioHandle,
        client: ClientId,
        episode: &str,
    ) -> (RecordingReady, PathBuf) {
        studio
            .deliver(StudioCommand::EndSession { client })
            .await
            .expect("end delivered");
        // The studio stops taking commands first, then finishes the recording and announces it.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let ready = loop {
            if let Some(ready) = self.registry.last_recording(episode) {
                break ready;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "recording.ready never came"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let folder = self
            .recordings
            .join(ready.folder.clone().expect("a recording folder"));
        (ready, folder)
    }
}

/// Joins `episode` of `registry` as a host named Basil with the default input format.
pub fn join(registry: &StudioRegistry, episode: &str) -> (StudioHandle, ClientId) {
    let client = ClientId::unique();
    let studio = registry
        .join(
            Some(episode),
            client,
            Participant {
                name: "Basil".into(),
                input_format: InputFormat::default(),
            },
        )
        .expect("join");
    (studio, client)
}

/// `ms` of silence as microphone audio.
pub fn silence(ms: usize) -> Vec<u8> {
    vec![0; ms / 20 * CHUNK_BYTES]
}

/// Sends audio as 20 ms chunks, in real time, so the studio clock and the audio agree.
pub async fn stream(studio: &StudioHandle, client: ClientId, audio: &[u8]) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for chunk in audio.chunks(CHUNK_BYTES) {
        tick.tick().await;
        studio
            .deliver(StudioCommand::Audio {
                client,
                chunk: chunk.to_vec(),
            })
            .await
            .expect("audio delivered");
    }
}

/// Streams silence until `done` holds for the snapshot, failing after [`PATIENCE`].
pub async fn until(
    studio: &StudioHandle,
    client: ClientId,
    what: &str,
    done: impl Fn(&StudioSnapshot) -> bool,
) -> StudioSnapshot {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let snapshot = studio.snapshot().await.expect("snapshot");
        if done(&snapshot) {
            return snapshot;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {what}: {snapshot:#?}"
        );
        stream(studio, client, &silence(100)).await;
    }
}

/// The first final caption of `speaker`.
pub fn final_caption(snapshot: &StudioSnapshot, speaker: Speaker) -> Option<String> {
    snapshot
        .captions
        .iter()
        .find(|c| c.speaker == speaker && c.is_final == Some(true))
        .map(|c| c.text.clone())
}
