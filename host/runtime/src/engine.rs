//! The one wasmtime `Engine` of the host, its linkers, its epoch ticker and the on-disk compile cache.
//!
//! Compiling a component takes tens to hundreds of milliseconds; loading a precompiled one takes well
//! under one. The cache is keyed by the sha256 of the .wasm and by the engine's compatibility hash
//! (wasmtime version and settings), so a stale entry is never loaded, and entries are written with
//! an atomic rename so a crash never leaves a half-written one. Loading precompiled code runs it
//! unchecked, so only entries this server tagged are loaded (see [`super::compile_cache`]).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use super::bindings;
use super::capabilities::{HasPluginView, PluginData};
use super::compile_cache::{CompileCache, Lookup, default_key_file};
use super::error::PluginHostError;
use super::manifest::PluginKind;
use super::sandbox::PluginState;

/// How often the epoch advances: the granularity of the CPU cap and of cooperative yields.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine, one linker per world, and the compile cache.
pub(crate) struct PluginEngine {
    pub(crate) engine: Engine,
    linkers: [Linker<PluginState>; 4],
    cache_dir: PathBuf,
    /// `None` when the cache folder or its key cannot be trusted: every load compiles.
    cache: Option<CompileCache>,
    engine_hash: String,
    ticker_stop: Arc<AtomicBool>,
}

/// Whether a component came from the compile cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheOutcome {
    /// Loaded precompiled code.
    Hit,
    /// Compiled (and stored for next time).
    Miss,
    /// A cache entry was there but not written by this server (its tag did not match): it was
    /// deleted and the plugin compiled.
    Rejected,
}

impl PluginEngine {
    /// Creates the engine, links every world, opens the compile cache (keyed by `cache_key_file`,
    /// default `<cache_dir>.key`) and starts the epoch ticker. An untrusted cache folder or key is
    /// reported and the engine runs without a cache.
    pub(crate) fn new(
        cache_dir: PathBuf,
        cache_key_file: Option<PathBuf>,
    ) -> Result<PluginEngine, PluginHostError> {
        let engine_error = |e: wasmtime::Error| PluginHostError::Engine(format!("{e:#}"));
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine = Engine::new(&config).map_err(engine_error)?;

        let mut stt = Linker::new(&engine);
        let mut tts = Linker::new(&engine);
        let mut llm = Linker::new(&engine);
        let mut policy = Linker::new(&engine);
        for linker in [&mut stt, &mut tts, &mut llm, &mut policy] {
            wasmtime_wasi::p2::add_to_linker_async(linker).map_err(engine_error)?;
        }
        bindings::stt::SttPlugin::add_to_linker::<PluginState, PluginData>(
            &mut stt,
            PluginState::plugin_view,
        )
        .map_err(engine_error)?;
        bindings::tts::TtsPlugin::add_to_linker::<PluginState, PluginData>(
            &mut tts,
            PluginState::plugin_view,
        )
        .map_err(engine_error)?;
        bindings::llm::LlmPlugin::add_to_linker::<PluginState, PluginData>(
            &mut llm,
            PluginState::plugin_view,
        )
        .map_err(engine_error)?;
        bindings::policy::PolicyPlugin::add_to_linker::<PluginState, PluginData>(
            &mut policy,
            PluginState::plugin_view,
        )
        .map_err(engine_error)?;
        // Each linker also holds the imports of the later contract versions, under their own
        // names: a component links whichever version it declares.
        for (linker, kind) in [
            (&mut stt, PluginKind::Stt),
            (&mut tts, PluginKind::Tts),
            (&mut llm, PluginKind::Llm),
            (&mut policy, PluginKind::Policy),
        ] {
            link_v0_2(linker, kind).map_err(engine_error)?;
        }

        let key_file = cache_key_file.unwrap_or_else(|| default_key_file(&cache_dir));
        let cache = match CompileCache::open(&cache_dir, &key_file) {
            Ok(cache) => Some(cache),
            Err(e) => {
                // Slower starts, never foreign code: compiling is always safe.
                tracing::warn!("{e}; plugins are compiled without the cache");
                None
            }
        };
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = format!("{:016x}", hasher.finish());

        // A plain thread, not a tokio task: busy plugins could otherwise starve the very ticker that
        // is meant to stop them.
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let ticking_engine = engine.clone();
        let stop = ticker_stop.clone();
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticking_engine.increment_epoch();
                }
            })
            .map_err(|e| {
                PluginHostError::Engine(format!("cannot start the epoch ticker thread: {e}"))
            })?;

        Ok(PluginEngine {
            engine,
            linkers: [stt, tts, llm, policy],
            cache_dir,
            cache,
            engine_hash,
            ticker_stop,
        })
    }

    /// The linker of a world.
    pub(crate) fn linker(&self, kind: PluginKind) -> &Linker<PluginState> {
        match kind {
            PluginKind::Stt => &self.linkers[0],
            PluginKind::Tts => &self.linkers[1],
            PluginKind::Llm => &self.linkers[2],
            PluginKind::Policy => &self.linkers[3],
        }
    }

    /// The compile cache folder.
    pub(crate) fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// Compiles `bytes` (hash `sha256`), or loads them from the cache. Blocking: call off the async threads.
    pub(crate) fn component(
        &self,
        bytes: &[u8],
        sha256: &str,
    ) -> Result<(Component, CacheOutcome), String> {
        let name = format!("{sha256}-{}.cwasm", self.engine_hash);
        let mut outcome = CacheOutcome::Miss;
        if let Some(cache) = &self.cache {
            match cache.load(&name) {
                Lookup::Hit(artifact) => {
                    // SAFETY: the artifact's tag proves this server wrote it (HMAC with a key only
                    // we hold, over this entry's name, so its content hash and engine hash), and it
                    // is loaded from the very bytes that were checked.
                    match unsafe { Component::deserialize(&self.engine, &artifact) } {
                        Ok(component) => return Ok((component, CacheOutcome::Hit)),
                        Err(e) => {
                            tracing::warn!(cache = %cache.dir().join(&name).display(), "unusable compile cache entry, recompiling: {e:#}")
                        }
                    }
                }
                Lookup::Rejected => outcome = CacheOutcome::Rejected,
                Lookup::Missing => {}
            }
        }
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(|e| format!("not a valid plugin component: {e:#}"))?;
        if let Some(cache) = &self.cache {
            cache.store(&name, &compiled);
        }
        // SAFETY: `compiled` was produced by this engine a moment ago.
        let component = unsafe { Component::deserialize(&self.engine, &compiled) }
            .map_err(|e| format!("cannot load the compiled plugin: {e:#}"))?;
        Ok((component, outcome))
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Links the imports of contract 0.2.0 into `linker` under their 0.2.0 names, with the host's
/// 0.1.0 implementations (those interfaces did not change; see `bindings/v0_2.rs`). A policy
/// imports only `log`: it is pure.
fn link_v0_2(linker: &mut Linker<PluginState>, kind: PluginKind) -> wasmtime::Result<()> {
    use bindings::v0_1::llm::studio::plugin::{
        clock, config, http, log, process, streams, websocket,
    };
    let view = PluginState::plugin_view;
    macro_rules! link {
        ($interface:ident) => {
            $interface::add_to_linker_instance::<PluginState, PluginData>(
                &mut linker.instance(concat!(
                    "studio:plugin/",
                    stringify!($interface),
                    "@0.2.0"
                ))?,
                view,
            )?
        };
    }
    link!(log);
    if kind == PluginKind::Policy {
        return Ok(());
    }
    link!(clock);
    link!(config);
    link!(http);
    link!(websocket);
    link!(process);
    link!(streams);
    Ok(())
}

/// The sha256 of `bytes` in lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}
