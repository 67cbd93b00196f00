//! Builds `plugins/whisper-py` from source with componentize-py, as CI does on a clean clone: once
//! per test binary, into `<target>/python-plugins/whisper-py-<hash>.wasm`, where the hash covers
//! the plugin's sources, its build script, the WIT contract and the componentize-py version, so an
//! unchanged plugin is not rebuilt and a changed one always is.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use voice_studio::plugins::{BUILT_PLUGIN_DIR, PluginHost, PluginHostOptions};

/// The plugin's folder.
pub fn source_dir() -> PathBuf {
    repo().join("plugins").join("whisper-py")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the host crate sits in the workspace")
        .to_path_buf()
}

/// The build's target folder (the parent of `<target>/plugins`).
fn target_dir() -> PathBuf {
    Path::new(BUILT_PLUGIN_DIR)
        .parent()
        .expect("BUILT_PLUGIN_DIR is <target>/plugins")
        .to_path_buf()
}

/// The 0.1.0 contract: its versioned folder when there is one, else `wit/` (as build.sh picks).
fn wit_dir() -> PathBuf {
    let versioned = repo().join("wit").join("v0.1.0");
    if versioned.is_dir() {
        versioned
    } else {
        repo().join("wit")
    }
}

/// componentize-py: `$COMPONENTIZE_PY`, else where `.ci/setup` installs it. Panics with the fix
/// when it is missing: the plugin must be built from source, never skipped.
pub fn componentize_py() -> PathBuf {
    if let Some(tool) = std::env::var_os("COMPONENTIZE_PY") {
        return PathBuf::from(tool);
    }
    let installed = target_dir().join("tools/python/bin/componentize-py");
    assert!(
        installed.is_file(),
        "componentize-py is not installed (looked for $COMPONENTIZE_PY and {}): run .ci/setup",
        installed.display()
    );
    installed
}

/// The built component: built now when its sources changed since the last build.
pub fn whisper_py() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build).clone()
}

/// The built component, compiled once into the shared compile cache (`<target>/plugin-cache`,
/// which the tests' hosts and a checkout's `voice-studio` use): compiling it takes 11-30 s and
/// some 400 MB, so tests that start at once wait for one compile instead of each running its own.
pub async fn whisper_py_compiled() -> PathBuf {
    static COMPILED: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    COMPILED
        .get_or_init(|| async {
            let wasm = whisper_py();
            let dir = tempfile::tempdir().expect("tempdir");
            let manifest = dir.path().join("plugins.toml");
            std::fs::write(
                &manifest,
                format!(
                    "[plugins.whisper-py]\npath = {:?}\ncapabilities = [\"log\", \"config\", \"http\"]\n",
                    wasm.display().to_string()
                ),
            )
            .expect("write plugins.toml");
            let inspection = PluginHost::inspect(PluginHostOptions {
                manifest_path: manifest,
                cache_dir: None,
                watch: false,
                ..Default::default()
            })
            .await
            .expect("the runtime inspects the component");
            let status = &inspection.plugins[0];
            assert_eq!(status.last_error, None, "{status:?}");
            wasm
        })
        .await
        .clone()
}

fn build() -> PathBuf {
    let tool = componentize_py();
    let version = Command::new(&tool)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{} did not run ({e}): run .ci/setup", tool.display()));
    assert!(
        version.status.success(),
        "{} --version failed: run .ci/setup",
        tool.display()
    );
    let mut hasher = DefaultHasher::new();
    version.stdout.hash(&mut hasher);
    for file in files(&source_dir()).into_iter().chain(files(&wit_dir())) {
        file.strip_prefix(repo()).unwrap_or(&file).hash(&mut hasher);
        std::fs::read(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
            .hash(&mut hasher);
    }
    let out = target_dir()
        .join("python-plugins")
        .join(format!("whisper-py-{:016x}.wasm", hasher.finish()));
    if out.is_file() {
        return out;
    }
    let built = Command::new(source_dir().join("build.sh"))
        .arg(&out)
        .env("COMPONENTIZE_PY", &tool)
        .output()
        .expect("plugins/whisper-py/build.sh runs");
    assert!(
        built.status.success() && out.is_file(),
        "building plugins/whisper-py failed ({}):\n{}",
        built.status,
        String::from_utf8_lossy(&built.stderr)
    );
    // Earlier builds (18 MB each) are of sources that are gone.
    let folder = out.parent().expect("the output's folder");
    for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("whisper-py-") && name.ends_with(".wasm") && entry.path() != out {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    out
}

/// The source files under `dir` (Python, shell, WIT), sorted, skipping caches.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries =
            std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(['.', '_']) && name != "__init__.py" {
                continue;
            }
            if path.is_dir() {
                folders.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "py" || e == "sh" || e == "wit")
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}
