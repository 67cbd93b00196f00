//! Where `plugin install` puts things and how it writes them: the plugin folder, the names it
//! accepts, the check that a file is a component at all, and atomic writes (a temporary file in
//! the same folder renamed over the target, so a reader or a watcher sees the old file or the
//! whole new one, never a half-written one).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item};
use voice_studio::config::Config;

/// The folder beside `plugins.toml` that install uses when no plugin folder is configured
/// (`[studio] plugin_dir` empty: the built-in plugins, which are not files to add to).
pub const DEFAULT_FOLDER: &str = "installed-plugins";

/// `plugins.toml` and the folder install copies components into.
#[derive(Debug, Clone)]
pub struct Place {
    manifest: PathBuf,
    folder: PathBuf,
    /// Whether `path` values are names in `folder` (it is the configured plugin folder), or
    /// absolute paths (it is [`DEFAULT_FOLDER`], outside the configured one).
    relative: bool,
}

impl Place {
    /// Where `config` says plugins go; refuses when only the built-in `plugins.toml` is in use.
    pub fn of(config: &Config) -> Result<Place, String> {
        let folders = &config.folders;
        if folders.built_in_plugins_toml {
            return Err(format!(
                "there is no {} here: the built-in plugins.toml is in use, and it cannot be edited. \
                 Run `voice-studio init` in the studio's folder (it writes plugins.toml), or set PLUGINS_TOML",
                folders.plugins_toml.display()
            ));
        }
        let manifest = std::fs::canonicalize(&folders.plugins_toml)
            .map_err(|e| format!("cannot read {}: {e}", folders.plugins_toml.display()))?;
        let base = manifest.parent().unwrap_or(Path::new("/")).to_path_buf();
        if let Some(dir) = &folders.plugin_dir {
            return Ok(Place {
                manifest,
                folder: dir.clone(),
                relative: true,
            });
        }
        let text = std::fs::read_to_string(&manifest)
            .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
        let configured = text
            .parse::<DocumentMut>()
            .map_err(|e| format!("{} is not valid TOML: {e}", manifest.display()))?
            .get("studio")
            .and_then(|s| s.get("plugin_dir"))
            .and_then(Item::as_str)
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        Ok(match configured {
            Some(dir) => Place {
                manifest,
                folder: base.join(dir),
                relative: true,
            },
            None => Place {
                manifest,
                folder: base.join(DEFAULT_FOLDER),
                relative: false,
            },
        })
    }

    /// `plugins.toml` (its real path, links followed).
    pub fn manifest(&self) -> &Path {
        &self.manifest
    }

    /// Its text.
    pub fn read_manifest(&self) -> Result<String, String> {
        std::fs::read_to_string(&self.manifest)
            .map_err(|e| format!("cannot read {}: {e}", self.manifest.display()))
    }

    /// `message` about `plugins.toml`.
    pub fn about(&self, message: &str) -> String {
        format!("{}: {message}", self.manifest.display())
    }

    /// Where plugin `name`'s component goes.
    pub fn plugin_file(&self, name: &str) -> PathBuf {
        self.folder.join(format!("{name}.wasm"))
    }

    /// The `path` value that names `file` in the table.
    pub fn path_value(&self, file: &Path) -> String {
        match (self.relative, file.file_name()) {
            (true, Some(name)) => name.to_string_lossy().into_owned(),
            _ => file.to_string_lossy().into_owned(),
        }
    }

    /// The file a table's `path` names, when it is one install put in the folder (only those
    /// are deleted by remove; a path elsewhere, or a built-in plugin, is left alone).
    pub fn installed_file(&self, path: &str) -> Option<PathBuf> {
        let path = Path::new(path);
        let resolved = if path.is_absolute() {
            path.to_path_buf()
        } else if self.relative {
            self.folder.join(path)
        } else {
            return None;
        };
        let in_folder = resolved
            .parent()
            .and_then(|p| std::fs::canonicalize(p).ok())
            == std::fs::canonicalize(&self.folder).ok();
        let is_wasm = resolved.extension().is_some_and(|e| e == "wasm");
        (in_folder && is_wasm).then_some(resolved)
    }
}

/// Whether a table left in `doc` still names `file`.
pub fn referenced_elsewhere(doc: &DocumentMut, place: &Place, file: &Path) -> bool {
    let Some(plugins) = doc.get("plugins").and_then(Item::as_table_like) else {
        return false;
    };
    plugins.iter().any(|(_, table)| {
        table
            .get("path")
            .and_then(Item::as_str)
            .and_then(|p| place.installed_file(p))
            .is_some_and(|other| other == file)
    })
}

/// A plugin name: a `plugins.toml` key and a file name, so letters, digits, `-` and `_` only.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.contains(['/', '\\']) || name.contains("..") {
        return Err(format!(
            "the name `{name}` holds a path separator; give a plain name such as `shouter` (the file becomes NAME.wasm in the plugin folder)"
        ));
    }
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fine {
        Ok(())
    } else {
        Err(format!(
            "the name `{name}` is not a plain name: use 1 to 64 letters, digits, `-` or `_`"
        ))
    }
}

/// Refuses a file that is not a WebAssembly component, with what it is instead.
pub fn check_component(file: &Path) -> Result<(), String> {
    let mut head = [0u8; 8];
    let read = std::fs::File::open(file)
        .and_then(|mut f| {
            let mut n = 0;
            while n < head.len() {
                match f.read(&mut head[n..])? {
                    0 => break,
                    k => n += k,
                }
            }
            Ok(n)
        })
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    if read < 8 || &head[..4] != b"\0asm" {
        return Err(format!(
            "{} is not a WebAssembly component (it does not start with the wasm magic bytes); give the .wasm your plugin's build wrote",
            file.display()
        ));
    }
    match head[4..8] {
        // Component model binaries: version 0x0d, layer 1.
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => Err(format!(
            "{} is a core WebAssembly module, not a component: build it for wasm32-wasip2 (or wrap it with `wasm-tools component new`)",
            file.display()
        )),
        _ => Err(format!(
            "{} is a WebAssembly binary of a version this studio does not know",
            file.display()
        )),
    }
}

/// Copies `source` to `target` through a temporary file beside it; Ok(false) when `target`
/// already holds the same bytes (nothing written, so nothing reloads).
pub fn copy_atomically(source: &Path, target: &Path) -> Result<bool, String> {
    let bytes =
        std::fs::read(source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
    if std::fs::read(target).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    if let Some(folder) = target.parent() {
        std::fs::create_dir_all(folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    }
    write_bytes_atomically(target, &bytes)?;
    Ok(true)
}

/// Replaces `target`'s text through a temporary file beside it, keeping its permissions.
pub fn write_atomically(target: &Path, text: &str) -> Result<(), String> {
    write_bytes_atomically(target, text.as_bytes())
}

fn write_bytes_atomically(target: &Path, bytes: &[u8]) -> Result<(), String> {
    let folder = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.partial-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        if let Ok(old) = std::fs::metadata(target) {
            file.set_permissions(old.permissions())?;
        }
        file.sync_all()?;
        std::fs::rename(&temporary, target)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        format!("cannot write {}: {e}", target.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        assert!(check_name("shouter").is_ok());
        assert!(check_name("my_stt-2").is_ok());
        for bad in ["", "../x", "a/b", "a\\b", "a b", "a.wasm", "ä"] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_name("a/b").unwrap_err().contains("path separator"));
    }

    #[test]
    fn only_components_pass() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            path
        };
        let text = write("notes.wasm", b"hello, not wasm");
        assert!(
            check_component(&text)
                .unwrap_err()
                .contains("not a WebAssembly component")
        );
        let module = write("core.wasm", b"\0asm\x01\0\0\0");
        assert!(
            check_component(&module)
                .unwrap_err()
                .contains("core WebAssembly module")
        );
        let component = write("c.wasm", b"\0asm\x0d\0\x01\0");
        assert!(check_component(&component).is_ok());
    }

    #[test]
    fn an_atomic_write_keeps_permissions_and_leaves_no_temporary() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("plugins.toml");
        std::fs::write(&target, "old").expect("write");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomically(&target, "new").expect("replace");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "new");
        let mode = std::fs::metadata(&target)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        let names: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(names.len(), 1, "a temporary file was left behind");
    }
}
