//! The compile cache loads only code this server compiled: a tampered entry, another plugin's
//! entry under this plugin's name, or a cache folder others can write are never loaded; the
//! plugin is compiled again and works. A good cache still hits.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::plugins::{Studio, complete};
use voice_studio::plugins::PluginHost;
use voice_studio::speakers::Ai;

/// Two plugins, so one's valid entry can be put in place of the other's.
fn studio() -> Studio {
    let studio = Studio::with_plugins(&["fault-injector", "echo-policy"]);
    studio.write_manifest(
        r#"
[roles]
claude = "faulty"
policy = "policy"
[plugins.faulty]
path = "fault-injector.wasm"
capabilities = ["log"]
[plugins.policy]
path = "echo-policy.wasm"
capabilities = ["log"]
"#,
    );
    studio
}

fn cache(studio: &Studio) -> PathBuf {
    studio.dir.path().join("cache")
}

/// Whether each plugin came from the cache, after a fresh start on `studio`.
async fn start(studio: &Studio) -> (std::sync::Arc<PluginHost>, bool, bool) {
    let host = PluginHost::start(studio.options(false))
        .await
        .expect("host starts");
    let from_cache = |name: &str| {
        host.plugins()
            .into_iter()
            .find(|p| p.name == name)
            .expect("status")
            .from_cache
    };
    let (faulty, policy) = (from_cache("faulty"), from_cache("policy"));
    (host, faulty, policy)
}

/// The cache entry of the plugin file `wasm` (named by its sha256).
fn entry_of(cache: &Path, wasm: &Path) -> PathBuf {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(std::fs::read(wasm).expect("wasm"));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::read_dir(cache)
        .expect("cache folder")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&hex))
        })
        .expect("a cache entry for the plugin")
}

async fn still_works(host: &std::sync::Arc<PluginHost>) {
    let mut claude = host.llm(Ai::Claude);
    assert_eq!(
        complete(&mut claude, "echo", "recompiled code runs")
            .await
            .expect("runs"),
        "recompiled code runs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_cache_entry_is_not_loaded_and_the_plugin_is_recompiled() {
    let studio = studio();
    let (first, ..) = start(&studio).await;
    drop(first);
    let entry = entry_of(&cache(&studio), &studio.plugin_path("fault-injector"));
    let mut bytes = std::fs::read(&entry).expect("entry");
    // One bit in the middle of the compiled code.
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&entry, &bytes).expect("tamper");

    let (host, faulty, policy) = start(&studio).await;
    assert!(!faulty, "a tampered entry must not be loaded");
    assert!(policy, "the untouched entry still hits");
    still_works(&host).await;
    drop(host);

    let (_host, faulty, _) = start(&studio).await;
    assert!(faulty, "the recompiled entry was stored again and hits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_plugins_valid_entry_under_this_plugins_name_is_not_loaded() {
    let studio = studio();
    let (first, ..) = start(&studio).await;
    drop(first);
    let faulty = entry_of(&cache(&studio), &studio.plugin_path("fault-injector"));
    let policy = entry_of(&cache(&studio), &studio.plugin_path("echo-policy"));
    std::fs::copy(&policy, &faulty).expect("swap in the policy's code");

    let (host, faulty, _) = start(&studio).await;
    assert!(!faulty, "another plugin's code must not load as this one");
    still_works(&host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_folder_others_can_write_is_not_used() {
    let studio = studio();
    let (first, ..) = start(&studio).await;
    drop(first);
    let folder = cache(&studio);
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).expect("chmod");

    let (host, faulty, policy) = start(&studio).await;
    assert!(
        !faulty && !policy,
        "entries in a world-writable folder are not loaded"
    );
    still_works(&host).await;
    drop(host);

    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let (_host, faulty, policy) = start(&studio).await;
    assert!(faulty && policy, "a private folder is used again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_key_is_private_and_kept_outside_the_cache_folder() {
    let studio = studio();
    let (_host, ..) = start(&studio).await;
    let key = studio.dir.path().join("cache.key");
    let meta = std::fs::metadata(&key).expect("key beside the cache folder");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let names: Vec<String> = std::fs::read_dir(cache(&studio))
        .expect("cache folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n.ends_with(".cwasm")),
        "only entries in the folder: {names:?}"
    );
}
