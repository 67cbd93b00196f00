//! A loaded plugin version: compiled code ready to instantiate, what `describe()` said, and where
//! it came from. Loading compiles off the async threads and checks `describe()` before anything is
//! swapped in.
//!
//! A component says which contract version it was built against in the names of its exports
//! (`studio:plugin/llm@0.2.0`); the loader reads the role and the version from them and links the
//! world of that version ([`Contract`]). The host keeps loading every version in
//! [`SUPPORTED_CONTRACTS`] (the rule is in `wit/README.md`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use wasmtime::component::Component;

use super::bindings::types::{self, PluginInfo};
use super::bindings::{v0_1, v0_2};
use super::embedded::read_plugin;
use super::engine::{CacheOutcome, PluginEngine, sha256_hex};
use super::grant::Grant;
use super::manifest::{Capability, PluginKind};
use super::sandbox::{PluginState, new_store};

/// The contract versions this host loads, oldest first. The stable one, which new plugins target,
/// is [`crate::WIT_CONTRACT`]; the newest may be a draft.
pub const SUPPORTED_CONTRACTS: &[&str] = &["0.1.0", "0.2.0"];

/// A contract version the host loads: one folder under `wit/`, one bindings module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Contract {
    /// `studio:plugin@0.1.0`, the stable contract.
    V0_1,
    /// `studio:plugin@0.2.0`, the draft: `llm-request.deadline-ms`.
    V0_2,
}

impl Contract {
    /// Every version, oldest first (as [`SUPPORTED_CONTRACTS`]).
    pub const ALL: [Contract; 2] = [Contract::V0_1, Contract::V0_2];

    /// The version as written in WIT names, e.g. `0.1.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
        }
    }

    /// The version named `version`, if the host loads it.
    pub fn parse(version: &str) -> Option<Contract> {
        Contract::ALL.into_iter().find(|c| c.as_str() == version)
    }
}

impl std::fmt::Display for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The role and the contract version a component was built for, from the role interface it
/// exports (`studio:plugin/<role>@<version>`). An unknown version is an error that names the
/// versions this host loads.
pub(crate) fn world_of(
    engine: &wasmtime::Engine,
    component: &Component,
) -> Result<(PluginKind, Contract), String> {
    let ty = component.component_type();
    let role = ty.exports(engine).find_map(|(name, _)| {
        let (interface, version) = name.split_once('@').unwrap_or((name, ""));
        let kind = match interface {
            "studio:plugin/stt" => PluginKind::Stt,
            "studio:plugin/tts" => PluginKind::Tts,
            "studio:plugin/llm" => PluginKind::Llm,
            "studio:plugin/policy" => PluginKind::Policy,
            _ => return None,
        };
        Some((kind, version.to_string()))
    });
    let Some((kind, version)) = role else {
        return Err(
            "the component exports none of studio:plugin/stt, tts, llm or policy; is it built against the WIT in wit/?".to_string(),
        );
    };
    match Contract::parse(&version) {
        Some(contract) => Ok((kind, contract)),
        None => Err(format!(
            "the component is a {kind} plugin of contract version {:?}; this host loads {}",
            version,
            SUPPORTED_CONTRACTS.join(", ")
        )),
    }
}

/// One value per contract version: a role's pre-linked code, or its instance.
pub(crate) enum ByContract<A, B> {
    /// Built against 0.1.0.
    V0_1(A),
    /// Built against 0.2.0.
    V0_2(B),
}

/// What a plugin's `describe()` reported, in host terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfoSummary {
    /// The plugin's own name.
    pub name: String,
    /// Its semantic version.
    pub version: String,
    /// The role it fills.
    pub kind: PluginKind,
    /// The contract version it says it was built against (`describe()`'s `contract`).
    pub contract: String,
    /// The contract version of the world it declares (the names it imports and exports), which
    /// the host links and calls it by.
    pub world_contract: Contract,
    /// The capabilities it says it needs.
    pub capabilities: Vec<Capability>,
    /// One line for operators.
    pub summary: String,
}

/// Pre-linked code of one world of one contract version, ready to instantiate into a new store.
pub(crate) enum WorldPre {
    Stt(ByContract<v0_1::stt::SttPluginPre<PluginState>, v0_2::stt::SttPluginPre<PluginState>>),
    Tts(ByContract<v0_1::tts::TtsPluginPre<PluginState>, v0_2::tts::TtsPluginPre<PluginState>>),
    Llm(ByContract<v0_1::llm::LlmPluginPre<PluginState>, v0_2::llm::LlmPluginPre<PluginState>>),
    Policy(
        ByContract<
            v0_1::policy::PolicyPluginPre<PluginState>,
            v0_2::policy::PolicyPluginPre<PluginState>,
        >,
    ),
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

    let (kind, contract) = world_of(&engine.engine, &component)?;
    let pre = link(engine, &component, kind, contract)
        .map_err(|e| format!("cannot link it as a {kind} plugin of contract {contract}: {e:#}"))?;

    let info = describe(engine, grant, &pre).await?;
    let info = summarize(info, contract);
    if info.contract != contract.as_str() {
        tracing::warn!(plugin = grant.name(), declared = %contract, describe = %info.contract, "describe() names another contract version than the component is built against; the host goes by the build");
    }
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

/// Links `component`, a `kind` plugin of `contract`, into its world.
fn link(
    engine: &PluginEngine,
    component: &Component,
    kind: PluginKind,
    contract: Contract,
) -> wasmtime::Result<WorldPre> {
    let pre = engine.linker(kind).instantiate_pre(component)?;
    Ok(match (kind, contract) {
        (PluginKind::Stt, Contract::V0_1) => {
            WorldPre::Stt(ByContract::V0_1(v0_1::stt::SttPluginPre::new(pre)?))
        }
        (PluginKind::Stt, Contract::V0_2) => {
            WorldPre::Stt(ByContract::V0_2(v0_2::stt::SttPluginPre::new(pre)?))
        }
        (PluginKind::Tts, Contract::V0_1) => {
            WorldPre::Tts(ByContract::V0_1(v0_1::tts::TtsPluginPre::new(pre)?))
        }
        (PluginKind::Tts, Contract::V0_2) => {
            WorldPre::Tts(ByContract::V0_2(v0_2::tts::TtsPluginPre::new(pre)?))
        }
        (PluginKind::Llm, Contract::V0_1) => {
            WorldPre::Llm(ByContract::V0_1(v0_1::llm::LlmPluginPre::new(pre)?))
        }
        (PluginKind::Llm, Contract::V0_2) => {
            WorldPre::Llm(ByContract::V0_2(v0_2::llm::LlmPluginPre::new(pre)?))
        }
        (PluginKind::Policy, Contract::V0_1) => {
            WorldPre::Policy(ByContract::V0_1(v0_1::policy::PolicyPluginPre::new(pre)?))
        }
        (PluginKind::Policy, Contract::V0_2) => {
            WorldPre::Policy(ByContract::V0_2(v0_2::policy::PolicyPluginPre::new(pre)?))
        }
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
    // Every world of every version exports the same `describe`, returning the one `PluginInfo`.
    macro_rules! describe_with {
        ($pre:expr) => {
            $pre.instantiate_async(&mut store)
                .await
                .map_err(failed)?
                .call_describe(&mut store)
                .await
        };
    }
    match pre {
        WorldPre::Stt(ByContract::V0_1(pre)) => describe_with!(pre),
        WorldPre::Stt(ByContract::V0_2(pre)) => describe_with!(pre),
        WorldPre::Tts(ByContract::V0_1(pre)) => describe_with!(pre),
        WorldPre::Tts(ByContract::V0_2(pre)) => describe_with!(pre),
        WorldPre::Llm(ByContract::V0_1(pre)) => describe_with!(pre),
        WorldPre::Llm(ByContract::V0_2(pre)) => describe_with!(pre),
        WorldPre::Policy(ByContract::V0_1(pre)) => describe_with!(pre),
        WorldPre::Policy(ByContract::V0_2(pre)) => describe_with!(pre),
    }
    .map_err(failed)
}

fn summarize(info: PluginInfo, world_contract: Contract) -> PluginInfoSummary {
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
        world_contract,
        capabilities,
        summary: info.summary,
    }
}
