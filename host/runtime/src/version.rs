//! A loaded plugin version: compiled code ready to instantiate, what `describe()` said, and where
//! it came from. Loading compiles off the async threads and checks `describe()` before anything is
//! swapped in.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::bindings;
use super::bindings::types::{self, PluginInfo};
use super::embedded::read_plugin;
use super::engine::{CacheOutcome, PluginEngine, sha256_hex};
use super::grant::Grant;
use super::manifest::{Capability, PluginKind};
use super::sandbox::{PluginState, new_store};

/// What a plugin's `describe()` reported, in host terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfoSummary {
    /// The plugin's own name.
    pub name: String,
    /// Its semantic version.
    pub version: String,
    /// The role it fills.
    pub kind: PluginKind,
    /// The contract version it was built against.
    pub contract: String,
    /// The capabilities it says it needs.
    pub capabilities: Vec<Capability>,
    /// One line for operators.
    pub summary: String,
}

/// Pre-linked code of one world, ready to instantiate into a new store.
pub(crate) enum WorldPre {
    Stt(bindings::stt::SttPluginPre<PluginState>),
    Tts(bindings::tts::TtsPluginPre<PluginState>),
    Llm(bindings::llm::LlmPluginPre<PluginState>),
    Policy(bindings::policy::PolicyPluginPre<PluginState>),
}

/// The compiled code of one .wasm file, shared by every instance and grant that uses it.
pub(crate) struct LoadedCode {
    pub(crate) pre: WorldPre,
    pub(crate) info: PluginInfoSummary,
    pub(crate) sha256: String,
    pub(crate) path: PathBuf,
    pub(crate) loaded_at: SystemTime,
    pub(crate) cache: CacheOutcome,
}

impl LoadedCode {
    /// The world the code was built for.
    pub(crate) fn kind(&self) -> PluginKind {
        self.info.kind
    }
}

/// A plugin as the registry serves it: its code plus what `plugins.toml` grants it.
pub(crate) struct PluginVersion {
    pub(crate) code: Arc<LoadedCode>,
    pub(crate) grant: Arc<Grant>,
}

impl PluginVersion {
    /// The plugin's name in `plugins.toml`.
    pub(crate) fn name(&self) -> &str {
        self.grant.name()
    }
}

/// Reads, compiles (or loads from cache), links and describes the plugin file of `grant`.
pub(crate) async fn load_code(
    engine: &Arc<PluginEngine>,
    grant: &Arc<Grant>,
) -> Result<LoadedCode, String> {
    let path = grant.entry.path.clone();
    let compile_engine = engine.clone();
    let compile_path = path.clone();
    let (component, sha256, cache) = tokio::task::spawn_blocking(move || {
        // A file, or a plugin built into the program (`embedded`).
        let bytes = read_plugin(&compile_path)?;
        let sha256 = sha256_hex(&bytes);
        let (component, cache) = compile_engine.component(&bytes, &sha256)?;
        Ok::<_, String>((component, sha256, cache))
    })
    .await
    .map_err(|e| format!("the compile task failed: {e}"))??;

    let kind = engine.kind_of(&component).ok_or_else(|| {
        "the component exports none of studio:plugin/stt, tts, llm or policy; is it built against wit/?".to_string()
    })?;
    let link_error = |e: wasmtime::Error| {
        format!("cannot link it as a {kind} plugin (built against another contract?): {e:#}")
    };
    let instance_pre = engine
        .linker(kind)
        .instantiate_pre(&component)
        .map_err(link_error)?;
    let pre = match kind {
        PluginKind::Stt => {
            WorldPre::Stt(bindings::stt::SttPluginPre::new(instance_pre).map_err(link_error)?)
        }
        PluginKind::Tts => {
            WorldPre::Tts(bindings::tts::TtsPluginPre::new(instance_pre).map_err(link_error)?)
        }
        PluginKind::Llm => {
            WorldPre::Llm(bindings::llm::LlmPluginPre::new(instance_pre).map_err(link_error)?)
        }
        PluginKind::Policy => WorldPre::Policy(
            bindings::policy::PolicyPluginPre::new(instance_pre).map_err(link_error)?,
        ),
    };

    let info = describe(engine, grant, &pre).await?;
    let info = summarize(info);
    if info.kind != kind {
        return Err(format!(
            "describe() says role {} but the component is a {kind} plugin",
            info.kind
        ));
    }
    for needed in &info.capabilities {
        if !grant.entry.grants(*needed) {
            tracing::warn!(plugin = grant.name(), capability = %needed, "plugin needs a capability plugins.toml does not grant; its calls that use it will be denied");
        }
    }
    Ok(LoadedCode {
        pre,
        info,
        sha256,
        path,
        loaded_at: SystemTime::now(),
        cache,
    })
}

/// Calls `describe()` in a throwaway instance.
async fn describe(
    engine: &PluginEngine,
    grant: &Arc<Grant>,
    pre: &WorldPre,
) -> Result<PluginInfo, String> {
    let mut store = new_store(&engine.engine, grant.clone());
    let failed = |e: wasmtime::Error| format!("describe() failed: {e:#}");
    match pre {
        WorldPre::Stt(pre) => {
            pre.instantiate_async(&mut store)
                .await
                .map_err(failed)?
                .call_describe(&mut store)
                .await
        }
        WorldPre::Tts(pre) => {
            pre.instantiate_async(&mut store)
                .await
                .map_err(failed)?
                .call_describe(&mut store)
                .await
        }
        WorldPre::Llm(pre) => {
            pre.instantiate_async(&mut store)
                .await
                .map_err(failed)?
                .call_describe(&mut store)
                .await
        }
        WorldPre::Policy(pre) => {
            pre.instantiate_async(&mut store)
                .await
                .map_err(failed)?
                .call_describe(&mut store)
                .await
        }
    }
    .map_err(failed)
}

fn summarize(info: PluginInfo) -> PluginInfoSummary {
    let kind = match info.role {
        types::Role::Stt => PluginKind::Stt,
        types::Role::Tts => PluginKind::Tts,
        types::Role::Llm => PluginKind::Llm,
        types::Role::Policy => PluginKind::Policy,
    };
    let capabilities = info
        .capabilities
        .iter()
        .map(|c| match c {
            types::Capability::Log => Capability::Log,
            types::Capability::Clock => Capability::Clock,
            types::Capability::Config => Capability::Config,
            types::Capability::Http => Capability::Http,
            types::Capability::Websocket => Capability::Websocket,
            types::Capability::Process => Capability::Process,
        })
        .collect();
    PluginInfoSummary {
        name: info.name,
        version: info.version,
        kind,
        contract: info.contract,
        capabilities,
        summary: info.summary,
    }
}
