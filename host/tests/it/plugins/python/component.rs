//! Builds `plugins/whisper-py` from source with componentize-py, as CI does on a clean clone: once
//! per test binary, into `<target>/python-plugins/whisper-py-<hash>.wasm`, where the hash covers
//! the plugin's sources, its build script, the WIT contract and the componentize-py version, so an
//! unchanged plugin is not rebuilt and a changed one always is.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use voice_studio::plugins::{PluginHost, PluginHostOptions};

use crate::support::foreign_build::{cached_build, files, repo, target_dir, wit_dir};

/// The plugin's folder.
pub fn source_dir() -> PathBuf {
    repo().join("plugins").join("whisper-py")
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
    let sources = files(&source_dir(), &is_source)
        .into_iter()
        .chain(files(&wit_dir(), &is_source));
    cached_build(
        "python-plugins",
        "whisper-py",
        Some(&version.stdout),
        sources,
        |out| {
            let built = Command::new(source_dir().join("build.sh"))
                .arg(out)
                .env("COMPONENTIZE_PY", &tool)
                .output()
                .expect("plugins/whisper-py/build.sh runs");
            assert!(
                built.status.success() && out.is_file(),
                "building plugins/whisper-py failed ({}):\n{}",
                built.status,
                String::from_utf8_lossy(&built.stderr)
            );
        },
    )
}

/// The build's inputs: Python, shell and WIT files, and the folders that hold them (not caches).
fn is_source(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default();
    if name.to_string_lossy().starts_with(['.', '_']) && name != "__init__.py" {
        return false;
    }
    path.is_dir()
        || path
            .extension()
            .is_some_and(|e| e == "py" || e == "sh" || e == "wit")
}
