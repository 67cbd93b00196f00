//! Test a voice-studio plugin in the real host runtime, from the plugin's own (native) tests.
//!
//! The harness loads the plugin's `.wasm` into the same wasmtime runtime the studio uses (same
//! sandbox, limits and capability checks) with capabilities and config given in code, and drives
//! one role call at a time. Its methods block, so plain `#[test]` functions can use it:
//!
//! ```no_run
//! use studio_plugin_harness::{Capability, Harness, wit};
//!
//! let plugin = Harness::new("mock-llm")
//!     .capabilities([Capability::Log, Capability::Config])
//!     .config("token_delay_ms", 0)
//!     .load()
//!     .expect("plugin loads");
//! assert_eq!(plugin.describe().kind, studio_plugin_harness::PluginKind::Llm);
//! let (text, completion) = plugin.complete(wit::LlmRequest {
//!     speaker: wit::Speaker::Claude,
//!     model: String::new(),
//!     system: String::new(),
//!     // As the studio writes a user message: a note and several speakers, one a line, escaped
//!     // (the SDK's README, "What an LLM plugin receives").
//!     messages: vec![wit::ChatMessage {
//!         role: wit::ChatRole::User,
//!         content: "<studio>2 earlier lines left out.</studio>\n\
//!                   <speaker name=\"Guest\">Cars first.</speaker>\n\
//!                   <speaker name=\"Ana\">Claude, buses &amp; bikes or cars?</speaker>".into(),
//!     }],
//!     max_tokens: 100,
//!     temperature: None,
//! }).expect("completes");
//! assert!(text.contains("buses & bikes or cars"), "answers Ana's line, unescaped: {text}");
//! ```
//!
//! The same contract checks as `voice-studio plugin check` run from a test, and fail it with the
//! report when the plugin breaks the contract:
//!
//! ```no_run
//! use studio_plugin_harness::Harness;
//!
//! let report = Harness::new("mock-llm").check_contract().expect("the checks ran");
//! assert!(!report.failed(), "{}", report.render());
//! ```
//!
//! Do not call it from inside an async runtime: it runs its own.
//!
//! The harness needs the plugin runtime only (wasmtime and the host capabilities), not the server
//! and not the voice-studio workspace's plugins. Feature `speech` adds [`speech`] (real speech
//! from espeak-ng and sox, through voice-studio's test kit); feature `workspace-plugins` makes the
//! runtime's build compile every plugin of the voice-studio workspace first, which its own
//! plugins' tests use.

mod locate;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use studio_plugin_runtime::conformance::{self, CheckOptions};
use studio_plugin_runtime::{
    LlmHandle, LlmRole, PluginHost, PluginHostError, PluginHostOptions, PolicyHandle, RoleSlot,
    SttHandle, SttInput, TtsHandle,
};
use tokio::sync::mpsc;

pub use studio_plugin_runtime::conformance::{Check, Outcome, Report};
pub use studio_plugin_runtime::wit;
pub use studio_plugin_runtime::{CallError, Capability, PluginInfoSummary, PluginKind};
/// Real speech for STT plugin tests (espeak-ng + sox, 48 kHz mono s16le), from the test kit.
#[cfg(feature = "speech")]
pub use studio_test_kit::speech;

/// Why the harness could not load or drive a plugin.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The test setup itself failed (temp folder, runtime, file not found).
    #[error("harness setup failed: {0}")]
    Setup(String),
    /// The host refused the plugin (not a component, wrong contract, describe() failed...).
    #[error(transparent)]
    Host(#[from] PluginHostError),
    /// The call failed (plugin error, trap, limit, denied capability).
    #[error(transparent)]
    Call(#[from] CallError),
    /// The method does not match the plugin's role.
    #[error("{plugin} is a {actual} plugin; `{method}` needs a {expected} plugin")]
    WrongRole {
        /// The plugin.
        plugin: String,
        /// What it is.
        actual: PluginKind,
        /// What the method needs.
        expected: PluginKind,
        /// The method called.
        method: &'static str,
    },
}

/// Builds a plugin-under-test: which file, and what `plugins.toml` would grant it.
#[derive(Debug, Clone)]
pub struct Harness {
    source: Source,
    table: toml::Table,
    config: toml::Table,
    secrets: Vec<(String, String)>,
}

/// Which component: a file, or a crate name to look up in the build's target folder.
#[derive(Debug, Clone)]
enum Source {
    Path(PathBuf),
    Built(String),
}

impl Harness {
    /// A plugin by path (anything with a `/` or ending in `.wasm`) or by crate name. A name is
    /// looked up where cargo builds it for this test run: `<target>/wasm32-wasip2/{release,debug}/
    /// <name>.wasm` and `<target>/plugins/<name>.wasm` (where voice-studio's own build copies its
    /// plugins), with `<target>` from `CARGO_TARGET_DIR` when it is set, else the folder the test
    /// runs from; the newest file wins. By default it is granted `log`, `clock` and `config`.
    pub fn new(path_or_built_name: impl AsRef<str>) -> Harness {
        let given = path_or_built_name.as_ref();
        let source = if given.contains('/') || given.ends_with(".wasm") {
            Source::Path(PathBuf::from(given))
        } else {
            Source::Built(given.to_string())
        };
        let mut harness = Harness {
            source,
            table: toml::Table::new(),
            config: toml::Table::new(),
            secrets: Vec::new(),
        };
        harness = harness.capabilities([Capability::Log, Capability::Clock, Capability::Config]);
        harness
    }

    /// Loads a plugin with the default grants; see [`Harness::new`].
    pub fn load_plugin(
        path_or_built_name: impl AsRef<str>,
    ) -> Result<PluginUnderTest, HarnessError> {
        Harness::new(path_or_built_name).load()
    }

    /// Grants exactly these capabilities.
    pub fn capabilities(mut self, capabilities: impl IntoIterator<Item = Capability>) -> Harness {
        let list = capabilities
            .into_iter()
            .map(|c| toml::Value::String(c.name().to_string()))
            .collect();
        self.table
            .insert("capabilities".into(), toml::Value::Array(list));
        self
    }

    /// Sets one `config` value (strings, numbers, booleans, arrays, tables).
    pub fn config(mut self, key: &str, value: impl Into<toml::Value>) -> Harness {
        self.config.insert(key.to_string(), value.into());
        self
    }

    /// Declares a secret and gives it a value (as the settings API would).
    pub fn secret(mut self, name: &str, value: &str) -> Harness {
        self.secrets.push((name.to_string(), value.to_string()));
        self
    }

    /// Allows `http`/`websocket` to an origin pattern such as `http://127.0.0.1:*`.
    pub fn allowed_host(mut self, pattern: &str) -> Harness {
        push_string(&mut self.table, "allowed_hosts", pattern);
        self
    }

    /// Allows `process` to run this executable (absolute path).
    pub fn allowed_executable(mut self, path: &str) -> Harness {
        push_string(&mut self.table, "allowed_executables", path);
        self
    }

    /// Caps the instance's memory.
    pub fn memory_limit_mb(mut self, mb: u32) -> Harness {
        self.table.insert(
            "memory_limit_mb".into(),
            toml::Value::Integer(i64::from(mb)),
        );
        self
    }

    /// Caps the guest CPU time of one call.
    pub fn cpu_limit_ms(mut self, ms: u32) -> Harness {
        self.table
            .insert("cpu_limit_ms".into(), toml::Value::Integer(i64::from(ms)));
        self
    }

    /// The component's file: the path given, or the newest build of the crate name.
    fn path(&self) -> Result<PathBuf, HarnessError> {
        match &self.source {
            Source::Path(path) if path.is_file() => Ok(path.clone()),
            Source::Path(path) => Err(HarnessError::Setup(format!(
                "{} does not exist; build the plugin (`cargo build --release --target wasm32-wasip2`) or fix the path",
                path.display()
            ))),
            Source::Built(name) => locate::built_plugin(name).map_err(|looked| {
                let looked: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
                HarnessError::Setup(format!(
                    "no built {name}.wasm; build the plugin first (`cargo build --release --target wasm32-wasip2`) or give its path. Looked in: {}",
                    looked.join(", ")
                ))
            }),
        }
    }

    /// Runs the role's contract checks (`voice-studio plugin check`) on the plugin with these
    /// grants and config, and returns the report; `report.failed()` says whether it broke the
    /// contract, `report.render()` shows why.
    pub fn check_contract(&self) -> Result<Report, HarnessError> {
        let options = self.check_options()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| HarnessError::Setup(format!("tokio runtime: {e}")))?;
        runtime
            .block_on(conformance::check(&options))
            .map_err(|e| HarnessError::Setup(e.to_string()))
    }

    /// What the checks are told: the file and this harness's grants, limits and config.
    fn check_options(&self) -> Result<CheckOptions, HarnessError> {
        let strings = |key: &str| -> Vec<String> {
            match self.table.get(key) {
                Some(toml::Value::Array(list)) => list
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            }
        };
        let grants = strings("capabilities")
            .iter()
            .filter_map(|name| {
                toml::Value::String(name.clone())
                    .try_into::<Capability>()
                    .ok()
            })
            .collect();
        let integer = |key: &str| self.table.get(key).and_then(toml::Value::as_integer);
        Ok(CheckOptions {
            path: self.path()?,
            config: self.config.clone(),
            grants: Some(grants),
            allowed_hosts: strings("allowed_hosts"),
            allowed_executables: strings("allowed_executables"),
            secrets: self.secrets.clone(),
            memory_limit_mb: integer("memory_limit_mb").and_then(|v| u32::try_from(v).ok()),
            cpu_limit_ms: integer("cpu_limit_ms").and_then(|v| u64::try_from(v).ok()),
            ..CheckOptions::default()
        })
    }

    /// Loads the plugin into a real host: compiles (or loads from the shared compile cache),
    /// checks `describe()`, and assigns it the role it says it fills.
    pub fn load(self) -> Result<PluginUnderTest, HarnessError> {
        let path = self.path()?;
        let folder =
            tempfile::tempdir().map_err(|e| HarnessError::Setup(format!("temp folder: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| HarnessError::Setup(format!("tokio runtime: {e}")))?;
        let manifest = write_manifest(folder.path(), &self.plugin_table(&path), None)?;
        let options = PluginHostOptions {
            manifest_path: manifest.clone(),
            plugin_dir_override: None,
            cache_dir: None,
            watch: false,
            ..Default::default()
        };
        let host = runtime.block_on(PluginHost::start(options))?;
        let status = host
            .plugins()
            .into_iter()
            .find(|p| p.name == PLUGIN)
            .ok_or_else(|| HarnessError::Setup("the host did not list the plugin".into()))?;
        let (Some(info), None) = (status.info, status.last_error.clone()) else {
            return Err(HarnessError::Setup(
                status
                    .last_error
                    .unwrap_or_else(|| "the plugin did not load".into()),
            ));
        };
        // Now that describe() said what it is, give it its role.
        let role = match info.kind {
            PluginKind::Stt => "stt",
            PluginKind::Tts => "tts",
            PluginKind::Llm => "claude",
            PluginKind::Policy => "policy",
        };
        write_manifest(folder.path(), &self.plugin_table(&path), Some(role))?;
        let events = runtime.block_on(host.reload());
        if let Some(error) = events.into_iter().find_map(|e| e.error) {
            return Err(HarnessError::Setup(error));
        }
        for (name, value) in &self.secrets {
            host.set_secret(name, value.clone());
        }
        Ok(PluginUnderTest {
            runtime,
            host,
            info,
            calls: Mutex::new(Calls::default()),
            _folder: folder,
        })
    }

    fn plugin_table(&self, path: &Path) -> toml::Table {
        let mut table = self.table.clone();
        table.insert(
            "path".into(),
            toml::Value::String(path.display().to_string()),
        );
        if !self.secrets.is_empty() {
            let names = self
                .secrets
                .iter()
                .map(|(n, _)| toml::Value::String(n.clone()))
                .collect();
            table.insert("secrets".into(), toml::Value::Array(names));
        }
        if !self.config.is_empty() {
            table.insert("config".into(), toml::Value::Table(self.config.clone()));
        }
        table
    }
}

/// The name the plugin gets in the harness's `plugins.toml`.
const PLUGIN: &str = "under-test";

fn push_string(table: &mut toml::Table, key: &str, value: &str) {
    let entry = table
        .entry(key.to_string())
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    if let toml::Value::Array(list) = entry {
        list.push(toml::Value::String(value.to_string()));
    }
}

/// Writes `folder/plugins.toml` declaring `plugin` (and giving it `role`) and returns its path.
fn write_manifest(
    folder: &Path,
    plugin: &toml::Table,
    role: Option<&str>,
) -> Result<PathBuf, HarnessError> {
    let mut plugins = toml::Table::new();
    plugins.insert(PLUGIN.into(), toml::Value::Table(plugin.clone()));
    let mut root = toml::Table::new();
    if let Some(role) = role {
        let mut roles = toml::Table::new();
        roles.insert(role.into(), toml::Value::String(PLUGIN.into()));
        root.insert("roles".into(), toml::Value::Table(roles));
    }
    root.insert("plugins".into(), toml::Value::Table(plugins));
    let text = toml::to_string(&root)
        .map_err(|e| HarnessError::Setup(format!("writing plugins.toml: {e}")))?;
    let path = folder.join("plugins.toml");
    std::fs::write(&path, text)
        .map_err(|e| HarnessError::Setup(format!("writing {}: {e}", path.display())))?;
    Ok(path)
}

/// The LLM slot the plugin under test fills: the harness gives an LLM plugin claude's role.
struct UnderTest;

impl LlmRole for UnderTest {
    fn role_slot(self) -> RoleSlot {
        RoleSlot::Claude
    }
}

#[derive(Default)]
struct Calls {
    stt: Option<SttHandle>,
    tts: Option<TtsHandle>,
    llm: Option<LlmHandle>,
    policy: Option<PolicyHandle>,
}

/// A plugin loaded in a real host, ready to call. Calls reuse one instance (as a studio session
/// does) until one traps.
pub struct PluginUnderTest {
    runtime: tokio::runtime::Runtime,
    host: Arc<PluginHost>,
    info: PluginInfoSummary,
    calls: Mutex<Calls>,
    _folder: tempfile::TempDir,
}

impl PluginUnderTest {
    /// What the plugin's `describe()` said.
    pub fn describe(&self) -> PluginInfoSummary {
        self.info.clone()
    }

    /// The host it runs in, for tests that want more (reload events, status).
    pub fn host(&self) -> &Arc<PluginHost> {
        &self.host
    }

    fn expect(&self, kind: PluginKind, method: &'static str) -> Result<(), HarnessError> {
        if self.info.kind == kind {
            return Ok(());
        }
        Err(HarnessError::WrongRole {
            plugin: self.info.name.clone(),
            actual: self.info.kind,
            expected: kind,
            method,
        })
    }

    /// Feeds `samples` (mono, at `sample_rate`) in 20 ms frames, then the end of the stream, and
    /// returns every transcript the plugin pushed.
    pub fn transcribe(
        &self,
        request: wit::SttRequest,
        samples: &[i16],
        sample_rate: u32,
    ) -> Result<Vec<wit::Transcript>, HarnessError> {
        self.expect(PluginKind::Stt, "transcribe")?;
        let frame = usize::try_from((sample_rate / 50).max(1)).unwrap_or(960);
        let frames: Vec<Vec<i16>> = samples.chunks(frame).map(<[i16]>::to_vec).collect();
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let host = self.host.clone();
        let handle = calls.stt.get_or_insert_with(|| host.stt());
        self.runtime.block_on(async {
            let (in_tx, in_rx) = mpsc::channel(frames.len() + 1);
            for f in frames {
                // Capacity covers every frame, so this never waits.
                let _ = in_tx.try_send(SttInput::Audio(f));
            }
            let _ = in_tx.try_send(SttInput::End);
            let (out_tx, out_rx) = mpsc::channel(1024);
            let collect = collect(out_rx);
            let (result, transcripts) = tokio::join!(
                handle.transcribe_at(request, sample_rate, in_rx, out_tx),
                collect
            );
            result?;
            Ok(transcripts)
        })
    }

    /// Synthesizes `request` and returns every audio chunk the plugin pushed.
    pub fn synthesize(
        &self,
        request: wit::TtsRequest,
    ) -> Result<Vec<wit::AudioChunk>, HarnessError> {
        self.expect(PluginKind::Tts, "synthesize")?;
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let host = self.host.clone();
        let handle = calls.tts.get_or_insert_with(|| host.tts());
        self.runtime.block_on(async {
            let (tx, rx) = mpsc::channel(1024);
            let (result, chunks) = tokio::join!(handle.synthesize(request, tx), collect(rx));
            result?;
            Ok(chunks)
        })
    }

    /// Runs a completion and returns the streamed text and how it ended.
    pub fn complete(
        &self,
        request: wit::LlmRequest,
    ) -> Result<(String, wit::Completion), HarnessError> {
        self.expect(PluginKind::Llm, "complete")?;
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let host = self.host.clone();
        let handle = calls.llm.get_or_insert_with(|| host.llm(UnderTest));
        self.runtime.block_on(async {
            let (tx, rx) = mpsc::channel(1024);
            let (result, pieces) = tokio::join!(handle.complete(request, tx), collect(rx));
            Ok((pieces.concat(), result?))
        })
    }

    /// Asks the policy what happens after `event`.
    pub fn decide(
        &self,
        state: wit::FloorState,
        event: wit::FloorEvent,
    ) -> Result<Vec<wit::Decision>, HarnessError> {
        self.expect(PluginKind::Policy, "decide")?;
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let host = self.host.clone();
        let handle = calls.policy.get_or_insert_with(|| host.policy());
        Ok(self.runtime.block_on(handle.decide(state, event))?)
    }
}

async fn collect<T>(mut rx: mpsc::Receiver<T>) -> Vec<T> {
    let mut all = Vec::new();
    while let Some(item) = rx.recv().await {
        all.push(item);
    }
    all
}
