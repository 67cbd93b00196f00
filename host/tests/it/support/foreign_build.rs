//! Plugins written in other languages (`plugins/whisper-py`, `plugins/policy-js`) are built from
//! source by the tests, as CI does on a clean clone: into `<target>/<folder>/<name>-<hash>.wasm`,
//! where the hash covers the inputs the caller names (sources, build script, WIT contract, tool
//! version), so an unchanged plugin is not rebuilt (a build takes seconds to minutes) and a changed
//! one always is. Each language's tool lookup and build command stay in its own test module.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use voice_studio::plugins::BUILT_PLUGIN_DIR;

/// The workspace's root folder.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the host crate sits in the workspace")
        .to_path_buf()
}

/// The build's target folder (the parent of `<target>/plugins`).
pub fn target_dir() -> PathBuf {
    Path::new(BUILT_PLUGIN_DIR)
        .parent()
        .expect("BUILT_PLUGIN_DIR is <target>/plugins")
        .to_path_buf()
}

/// The 0.1.0 contract the plugins are built against.
pub fn wit_dir() -> PathBuf {
    repo().join("wit").join("v0.1.0")
}

/// The files under `dir`, recursively, that `keep` accepts (it sees folders too: a folder it
/// refuses is not entered), sorted so the hash does not depend on the listing order.
pub fn files(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries =
            std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("list {}: {e}", folder.display()));
        for path in entries.flatten().map(|entry| entry.path()) {
            if !keep(&path) {
                continue;
            }
            if path.is_dir() {
                folders.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `<target>/<folder>/<name>-<hash>.wasm` for `seed` (a tool's version, say) and the contents of
/// `inputs`: returned as it is when it exists, else made by `build(out)`, which must write it
/// whole (through a temporary file and a rename: test binaries run side by side). Builds of
/// earlier sources (12-18 MB each, never used again) are removed after a new one.
pub fn cached_build(
    folder: &str,
    name: &str,
    seed: Option<&[u8]>,
    inputs: impl IntoIterator<Item = PathBuf>,
    build: impl FnOnce(&Path),
) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    if let Some(seed) = seed {
        seed.hash(&mut hasher);
    }
    let repo = repo();
    for file in inputs {
        file.strip_prefix(&repo).unwrap_or(&file).hash(&mut hasher);
        std::fs::read(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
            .hash(&mut hasher);
    }
    let out = target_dir()
        .join(folder)
        .join(format!("{name}-{:016x}.wasm", hasher.finish()));
    if out.is_file() {
        return out;
    }
    build(&out);
    assert!(out.is_file(), "building {name} wrote no {}", out.display());
    let prefix = format!("{name}-");
    let built = out.parent().expect("the output's folder");
    for entry in std::fs::read_dir(built).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(&prefix) && file.ends_with(".wasm") && entry.path() != out {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    out
}
