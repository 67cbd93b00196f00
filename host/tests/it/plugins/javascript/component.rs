//! Builds `plugins/policy-js` from source with componentize-js, as CI does on a clean clone: once
//! per test binary, into `<target>/js-plugins/policy-js-<hash>.wasm`, where the hash covers the
//! plugin's sources, its build script and lock file, and the WIT contract, so an unchanged plugin
//! is not rebuilt (a build takes seconds and most of a gigabyte) and a changed one always is.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::foreign_build::{cached_build, files, repo, target_dir, wit_dir};

/// The plugin's folder.
pub fn source_dir() -> PathBuf {
    repo().join("plugins").join("policy-js")
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
    let all = |_: &Path| true;
    let sources = files(&source_dir().join("src"), &all)
        .into_iter()
        .chain(["build.mjs", "package.json", "package-lock.json"].map(|f| source_dir().join(f)))
        .chain(files(&wit_dir(), &all));
    cached_build("js-plugins", "policy-js", None, sources, |out| {
        let built = Command::new(&node)
            .arg(source_dir().join("build.mjs"))
            .arg("--out")
            .arg(out)
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
    })
}
