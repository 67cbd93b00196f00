//! Where plugin code comes from: a folder of `.wasm` files, or the first-party plugins built into
//! the program (the build script embeds every crate under `plugins/`).
//!
//! Which folder an empty `[studio] plugin_dir` means, in order:
//! 1. a `PLUGIN_DIR` override or a non-empty `[studio] plugin_dir` always wins (the caller passes
//!    them to [`super::Manifest`]);
//! 2. a checkout's own build, a program that runs from inside the target folder its build script
//!    wrote the plugins to (`cargo run`, `cargo test`, `target/debug/voice-studio`), uses that
//!    folder, `<target>/plugins` ([`super::BUILT_PLUGIN_DIR`]): rebuilding a plugin replaces its
//!    file there and hot reload swaps it in while the server runs;
//! 3. anywhere else (installed with `cargo install`, copied, in a container) the embedded
//!    plugins, under the virtual folder [`EMBEDDED_PLUGIN_DIR`]. They cannot change while the
//!    program runs, so hot reload has nothing to watch for them.
//!
//! Embedded plugins are compiled from memory; the compile cache keys on their content hash as it
//! does for files.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

include!(concat!(env!("OUT_DIR"), "/embedded_plugins.rs"));

/// The virtual folder of the embedded plugins: `<built-in>/mock-stt.wasm` names the embedded
/// `mock-stt`. No file is ever read under it.
pub const EMBEDDED_PLUGIN_DIR: &str = "<built-in>";

/// One plugin built into the program.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedPlugin {
    /// The crate name, which is also the `.wasm` file's stem (`mock-stt`).
    pub name: &'static str,
    /// The component's bytes.
    pub bytes: &'static [u8],
}

impl EmbeddedPlugin {
    /// The sha256 of the bytes in lower-case hex, as `/health` and `plugins` show loaded plugins.
    pub fn sha256(&self) -> String {
        Sha256::digest(self.bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The path it has under [`EMBEDDED_PLUGIN_DIR`].
    pub fn path(&self) -> PathBuf {
        Path::new(EMBEDDED_PLUGIN_DIR).join(format!("{}.wasm", self.name))
    }
}

/// Every plugin built into the program, by name.
pub fn embedded_plugins() -> impl Iterator<Item = EmbeddedPlugin> {
    EMBEDDED
        .iter()
        .map(|&(name, bytes)| EmbeddedPlugin { name, bytes })
}

/// Whether `path` names an embedded plugin rather than a file.
pub fn is_embedded(path: &Path) -> bool {
    path.starts_with(EMBEDDED_PLUGIN_DIR)
}

/// The folder an empty `[studio] plugin_dir` means (see the module docs): the build's
/// `<target>/plugins` for a checkout's own build, the embedded plugins otherwise.
pub fn default_plugin_dir() -> &'static Path {
    static DEFAULT: LazyLock<PathBuf> = LazyLock::new(|| match checkout_plugin_dir() {
        Some(dir) => dir,
        None => PathBuf::from(EMBEDDED_PLUGIN_DIR),
    });
    &DEFAULT
}

/// `<target>/plugins` when this program runs from inside that target folder and the folder is
/// there; `None` for a program installed or copied elsewhere.
pub fn checkout_plugin_dir() -> Option<PathBuf> {
    let built = Path::new(super::BUILT_PLUGIN_DIR);
    let target = built.parent()?.canonicalize().ok()?;
    let program = std::env::current_exe().ok()?.canonicalize().ok()?;
    (program.starts_with(&target) && built.is_dir()).then(|| built.to_path_buf())
}

/// The bytes of the plugin at `path`: from memory when it is embedded, else read from disk.
/// Errors say what to fix. Blocking for files: call off the async threads.
pub(crate) fn read_plugin(path: &Path) -> Result<Cow<'static, [u8]>, String> {
    if is_embedded(path) {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let inside = path.parent() == Some(Path::new(EMBEDDED_PLUGIN_DIR));
        return embedded_plugins()
            .find(|p| inside && p.name == stem && path.extension().is_some_and(|e| e == "wasm"))
            .map(|p| Cow::Borrowed(p.bytes))
            .ok_or_else(|| {
                let names: Vec<&str> = embedded_plugins().map(|p| p.name).collect();
                format!(
                    "{} is not one of the plugins built into this program ({}); set PLUGIN_DIR (or [studio] plugin_dir) to the folder that holds it",
                    path.display(),
                    names.join(", ")
                )
            });
    }
    std::fs::read(path)
        .map(Cow::Owned)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "{} does not exist; build the plugins (cargo build) or fix its `path`",
                path.display()
            ),
            _ => format!("cannot read {}: {e}", path.display()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "embedded-plugins")]
    fn the_first_party_plugins_are_embedded_and_read_from_memory() {
        let names: Vec<&str> = embedded_plugins().map(|p| p.name).collect();
        for name in ["mock-stt", "mock-tts", "mock-llm", "host-led"] {
            assert!(names.contains(&name), "{name} not embedded: {names:?}");
        }
        assert!(
            !names.contains(&"fault-injector"),
            "test plugins are not shipped"
        );
        let mock = embedded_plugins()
            .find(|p| p.name == "mock-stt")
            .expect("mock-stt");
        assert!(is_embedded(&mock.path()));
        let bytes = read_plugin(&mock.path()).expect("embedded read");
        assert_eq!(bytes.len(), mock.bytes.len());
        assert_eq!(mock.sha256().len(), 64);
        assert!(matches!(bytes, Cow::Borrowed(_)));
    }

    #[test]
    fn a_plugin_that_is_not_embedded_is_an_error_naming_the_fix() {
        let missing = Path::new(EMBEDDED_PLUGIN_DIR).join("fault-injector.wasm");
        let error = read_plugin(&missing).expect_err("not embedded");
        assert!(error.contains("PLUGIN_DIR"), "{error}");
        assert!(!is_embedded(Path::new("/srv/plugins/mock-stt.wasm")));
    }

    #[test]
    fn a_checkout_build_uses_the_build_folder() {
        // Unit tests run from `<target>/debug/deps`, inside the target folder.
        if Path::new(super::super::BUILT_PLUGIN_DIR).is_dir() {
            assert_eq!(
                default_plugin_dir(),
                Path::new(super::super::BUILT_PLUGIN_DIR)
            );
        }
    }
}
