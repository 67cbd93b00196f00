//! Shared setup of the plugin runtime tests: a temp folder with real built plugins copied in, a
//! `plugins.toml` written there, and a host started on it with its own compile cache.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::sync::mpsc;
use voice_studio::plugins::wit::{ChatMessage, ChatRole, FloorState, LlmRequest, Speaker};
use voice_studio::plugins::{
    BUILT_PLUGIN_DIR, CallError, LlmHandle, PluginHost, PluginHostOptions,
};

/// A temp studio folder: plugins, `plugins.toml`, compile cache.
pub struct Studio {
    pub dir: tempfile::TempDir,
}

impl Studio {
    /// A folder holding copies of the named built plugins (`<name>.wasm`).
    pub fn with_plugins(names: &[&str]) -> Studio {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("plugins")).expect("plugins folder");
        let studio = Studio { dir };
        for name in names {
            std::fs::copy(built(name), studio.plugin_path(name)).expect("copy built plugin");
        }
        studio
    }

    /// Where plugin `name` lives in this studio.
    pub fn plugin_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("plugins").join(format!("{name}.wasm"))
    }

    /// The manifest path.
    pub fn manifest(&self) -> PathBuf {
        self.dir.path().join("plugins.toml")
    }

    /// Writes `plugins.toml` (with `plugin_dir` pointing at this studio's plugins).
    pub fn write_manifest(&self, body: &str) {
        let text = format!("[studio]\nplugin_dir = \"plugins\"\n{body}");
        std::fs::write(self.manifest(), text).expect("write plugins.toml");
    }

    /// Host options on this studio, with the cache inside it.
    pub fn options(&self, watch: bool) -> PluginHostOptions {
        PluginHostOptions {
            manifest_path: self.manifest(),
            plugin_dir_override: None,
            cache_dir: Some(self.dir.path().join("cache")),
            watch,
            ..Default::default()
        }
    }

    /// Starts a host on this studio.
    pub async fn start(&self, watch: bool) -> Arc<PluginHost> {
        PluginHost::start(self.options(watch))
            .await
            .expect("plugin host starts")
    }
}

/// A plugin the build put in `BUILT_PLUGIN_DIR`; fails with a hint when it is missing.
pub fn built(name: &str) -> PathBuf {
    let path = Path::new(BUILT_PLUGIN_DIR).join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: build the host without STUDIO_SKIP_PLUGIN_BUILD",
        path.display()
    );
    path
}

/// An LLM request for the fault-injector: `model` picks the behaviour.
pub fn request(model: &str, text: &str) -> LlmRequest {
    LlmRequest {
        speaker: Speaker::Claude,
        model: model.to_string(),
        system: String::new(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: text.to_string(),
        }],
        max_tokens: 64,
        temperature: None,
    }
}

/// Gives `files` a modification time 5 s ahead, their bytes unchanged: a touch a file watcher
/// sees, that must reload nothing.
pub fn touch(files: &[PathBuf]) {
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    for file in files {
        std::fs::File::options()
            .write(true)
            .open(file)
            .and_then(|f| f.set_modified(later))
            .expect("touch");
    }
}

/// A policy's floor with nobody speaking, the human having spoken last, and `memory`.
pub fn floor(memory: &str) -> FloorState {
    FloorState {
        now_ms: 10_000,
        autopilot: false,
        holder: None,
        human_speaking: false,
        last_speaker: Some(Speaker::You),
        ai_turns_in_a_row: 0,
        max_ai_turns: 4,
        thinking: None,
        autopilot_since_ms: None,
        memory: memory.to_string(),
    }
}

/// Runs one completion and returns the streamed text.
pub async fn complete(
    handle: &mut LlmHandle,
    model: &str,
    text: &str,
) -> Result<String, CallError> {
    let (tx, collector) = token_collector();
    let result = handle.complete(request(model, text), tx).await;
    let text = collector.await.expect("collector task");
    result.map(|_| text)
}

/// A token sink for an LLM call: the sender to hand to `complete`, and a task that returns all
/// the text sent through it once the call is over (it drops the sender).
pub fn token_collector() -> (mpsc::Sender<String>, tokio::task::JoinHandle<String>) {
    let (tx, mut rx) = mpsc::channel::<String>(256);
    let collector = tokio::spawn(async move {
        let mut all = String::new();
        while let Some(piece) = rx.recv().await {
            all.push_str(&piece);
        }
        all
    });
    (tx, collector)
}

/// Everything the host logs in this test binary (debug and up), through the server's own log
/// writer, so every record passes the plugins' secret redactor as it does in production. Call it
/// before the code under test runs, so the capture is installed first.
pub fn log_lines() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer_log = log.clone();
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(voice_studio::plugins::RedactedLog::new(move || {
                LogWriter(writer_log.clone())
            }))
            .try_init();
        log
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the host has logged so far in this test binary.
pub fn logged() -> String {
    String::from_utf8_lossy(&log_lines().lock().unwrap_or_else(PoisonError::into_inner))
        .into_owned()
}
