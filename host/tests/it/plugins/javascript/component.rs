//! Builds `plugins/policy-js` from source with componentize-js, as CI does on a clean clone: once
//! per test binary, into `<target>/js-plugins/policy-js-<hash>.wasm`, where the hash covers the
//! plugin's sources, its build script and lock file, and the WIT contract, so an unchanged plugin
//! is not rebuilt (a build takes seconds and most of a gigabyte) and a changed one always is.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use voice_studio::plugins::BUILT_PLUGIN_DIR;

/// The plugin's folder.
pub fn source_dir() -> PathBuf {
    repo().join("plugins").join("policy-js")
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

/// The 0.1.0 contract: its versioned folder when there is one, else `wit/` (as build.mjs picks).
fn wit_dir() -> PathBuf {
    let versioned = repo().join("wit").join("v0.1.0");
    if versioned.is_dir() {
        versioned
    } else {
        repo().join("wit")
    }
}

/// Node, or a panic that says how to get it: the plugin is built from source, never skipped.
pub fn node() -> PathBuf {
    let node = PathBuf::from(std::env::var_os("NODE").unwrap_or_else(|| "node".into()));
    let ran = Command::new(&node).arg("--version").output();
    assert!(
        ran.as_ref().is_ok_and(|out| out.status.success()),
        "{} did not run ({ran:?}): run .ci/setup (it installs Node.js and the plugin's tools)",
        node.display()
    );
    node
}

/// Where `.ci/setup` installs componentize-js and jco (`npm ci` of the plugin's lock file).
/// Panics with the fix when they are missing.
fn tools() -> PathBuf {
    let tools = target_dir().join("tools").join("js");
    let componentize = tools.join("node_modules/@bytecodealliance/componentize-js/package.json");
    assert!(
        componentize.is_file() && tools.join("installed.lock").is_file(),
        "componentize-js is not installed (looked for {}): run .ci/setup",
        componentize.display()
    );
    let installed = std::fs::read(tools.join("installed.lock")).unwrap_or_default();
    let pinned = std::fs::read(source_dir().join("package-lock.json")).unwrap_or_default();
    assert!(
        installed == pinned,
        "the JavaScript tools in {} are not the versions plugins/policy-js/package-lock.json \
         pins: run .ci/setup",
        tools.display()
    );
    tools
}

/// The built component: built now when its sources changed since the last build.
pub fn policy_js() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build).clone()
}

fn build() -> PathBuf {
    let node = node();
    let tools = tools();
    let mut hasher = DefaultHasher::new();
    let sources = files(&source_dir().join("src"))
        .into_iter()
        .chain(["build.mjs", "package.json", "package-lock.json"].map(|f| source_dir().join(f)))
        .chain(files(&wit_dir()));
    for file in sources {
        file.strip_prefix(repo()).unwrap_or(&file).hash(&mut hasher);
        std::fs::read(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
            .hash(&mut hasher);
    }
    let out = target_dir()
        .join("js-plugins")
        .join(format!("policy-js-{:016x}.wasm", hasher.finish()));
    if out.is_file() {
        return out;
    }
    // build.mjs writes through a temporary file and a rename, so test binaries running side by
    // side never read half a component.
    let built = Command::new(&node)
        .arg(source_dir().join("build.mjs"))
        .arg("--out")
        .arg(&out)
        .arg("--tools")
        .arg(&tools)
        .arg("--wit")
        .arg(wit_dir())
        .output()
        .unwrap_or_else(|e| panic!("{} build.mjs did not run: {e}", node.display()));
    assert!(
        built.status.success() && out.is_file(),
        "building plugins/policy-js failed ({}):\n{}\n{}",
        built.status,
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    // Builds of earlier sources are 12 MB each and never used again.
    for old in files(out.parent().expect("js-plugins folder")) {
        let name = old.file_name().map(|n| n.to_string_lossy().into_owned());
        if old != out && name.is_some_and(|n| n.starts_with("policy-js-") && n.ends_with(".wasm")) {
            let _ = std::fs::remove_file(&old);
        }
    }
    out
}

/// The files under `dir`, recursively, sorted (so the hash does not depend on the listing order).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("list {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}
