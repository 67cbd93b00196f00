//! Folders and files the server reads and writes: recordings, briefings, `plugins.toml`, the
//! plugin folder and the plugins' compile cache. Each is checked at start, so a wrong path stops
//! the server before the first episode needs it.

use std::path::{Path, PathBuf};

use super::Reader;

/// Folders and files the server reads and writes.
#[derive(Debug, Clone)]
pub struct Folders {
    /// `RECORDING_DIR`: one folder per episode is written here (checked writable at start).
    pub recording_dir: PathBuf,
    /// `DATA_DIR`: where the episode store (`studio.db`) lives; unset: the folder that holds
    /// `RECORDING_DIR` (beside the recordings, which keeps only recording folders).
    pub data_dir: PathBuf,
    /// `BRIEFINGS_DIR`: episode briefings (Markdown with front matter).
    pub briefings_dir: PathBuf,
    /// `PLUGINS_TOML`: the role map and per-plugin settings.
    pub plugins_toml: PathBuf,
    /// Whether the program's own copy of `plugins.toml` is used: `PLUGINS_TOML` is unset and
    /// there is no `plugins.toml` in the working folder (`voice-studio init` writes one).
    /// `plugins_toml` then names where one would be.
    pub built_in_plugins_toml: bool,
    /// `PLUGIN_DIR`: overrides `[studio] plugin_dir` of plugins.toml.
    pub plugin_dir: Option<PathBuf>,
    /// `PLUGIN_CACHE_DIR`: compiled plugin code, keyed by content hash; unset: beside the built
    /// plugins (`<target>/plugin-cache`) for a checkout's own build, else the user's cache folder
    /// (`$XDG_CACHE_HOME/voice-studio/plugin-cache`, `~/.cache/...`).
    pub plugin_cache_dir: Option<PathBuf>,
    /// `PLUGIN_CACHE_KEY_FILE`: the key that tags compile cache entries (outside the cache
    /// folder, mode 0600, created on first use); unset: `<cache folder>.key` beside it.
    pub plugin_cache_key_file: Option<PathBuf>,
    /// `PLUGINS_WATCH`: reload plugins.toml and plugin files when they change.
    pub watch_plugins: bool,
}

impl Folders {
    /// Reads the folder variables; creates the recording folder and proves it writable.
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        let recording_dir = r.path("RECORDING_DIR", "recordings");
        if let Err(reason) = ensure_writable_dir(&recording_dir) {
            r.problem(
                "RECORDING_DIR",
                format!(
                    "`{}` is not a writable folder ({reason})",
                    recording_dir.display()
                ),
                "point RECORDING_DIR at a folder this user can create and write",
            );
        }
        let data_dir = match r.optional_path("DATA_DIR") {
            Some(dir) => {
                if let Err(reason) = ensure_writable_dir(&dir) {
                    r.problem(
                        "DATA_DIR",
                        format!("`{}` is not a writable folder ({reason})", dir.display()),
                        "point DATA_DIR at a folder this user can create and write (on a local disk: SQLite's locks need one), or unset it to keep studio.db beside RECORDING_DIR",
                    );
                }
                dir
            }
            // Beside the recordings, not in them: RECORDING_DIR holds only recording folders
            // (copied by file tools that would catch a live database mid-write).
            None => match recording_dir.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                Some(_) => PathBuf::from("."),
                None => recording_dir.clone(),
            },
        };
        let briefings_dir = r.path("BRIEFINGS_DIR", "briefings");
        if briefings_dir.exists() && !briefings_dir.is_dir() {
            r.problem(
                "BRIEFINGS_DIR",
                format!("`{}` is not a folder", briefings_dir.display()),
                "point BRIEFINGS_DIR at a folder of Markdown briefings",
            );
        }
        let plugins_toml = r.path("PLUGINS_TOML", "plugins.toml");
        // Unset and absent: the built-in copy. Named but absent: a mistake to report.
        let built_in_plugins_toml = r.raw("PLUGINS_TOML").is_none() && !plugins_toml.exists();
        if !built_in_plugins_toml && !plugins_toml.is_file() {
            r.problem(
                "PLUGINS_TOML",
                format!("`{}` does not exist", plugins_toml.display()),
                "set PLUGINS_TOML to the path of plugins.toml (the role map), or start the server from the folder that holds it",
            );
        }
        let plugin_dir = r.optional_path("PLUGIN_DIR");
        if let Some(dir) = &plugin_dir
            && !dir.is_dir()
        {
            r.problem(
                "PLUGIN_DIR",
                format!("`{}` is not a folder", dir.display()),
                "set PLUGIN_DIR to the folder holding the plugin .wasm files, or unset it",
            );
        }
        Self {
            recording_dir,
            data_dir,
            briefings_dir,
            plugins_toml,
            built_in_plugins_toml,
            plugin_dir,
            plugin_cache_dir: r
                .optional_path("PLUGIN_CACHE_DIR")
                .or_else(default_plugin_cache_dir),
            plugin_cache_key_file: r.optional_path("PLUGIN_CACHE_KEY_FILE"),
            watch_plugins: r.flag("PLUGINS_WATCH", true),
        }
    }
}

/// The compile cache of a program away from its checkout: the user's cache folder, since the
/// build's `<target>/plugin-cache` (the runtime's default) is not there. The platform's own
/// variables, not settings, so they are read directly rather than through the reader.
pub fn default_plugin_cache_dir() -> Option<PathBuf> {
    if crate::plugins::checkout_plugin_dir().is_some() {
        return None;
    }
    let non_empty = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let cache = non_empty("XDG_CACHE_HOME")
        .or_else(|| non_empty("HOME").map(|home| home.join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    Some(cache.join("voice-studio").join("plugin-cache"))
}

/// Creates `dir` if needed and proves it is writable by creating and removing a probe file; the
/// recorder must not discover an unwritable folder only when the first episode ends.
pub fn ensure_writable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let probe = dir.join(format!(".voice-studio-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").map_err(|e| e.to_string())?;
    std::fs::remove_file(&probe).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigSource};

    #[test]
    fn the_episode_store_sits_beside_the_recordings_unless_data_dir_says_where() {
        let dir = tempfile::tempdir().expect("tempdir");
        let toml = dir.path().join("plugins.toml");
        std::fs::write(&toml, "").expect("plugins.toml");
        let recordings = dir.path().join("rec");
        let pairs = |data: Option<&str>| {
            let mut vars = vec![
                ("PLUGINS_TOML".to_owned(), toml.display().to_string()),
                ("RECORDING_DIR".to_owned(), recordings.display().to_string()),
            ];
            if let Some(data) = data {
                vars.push(("DATA_DIR".to_owned(), data.to_owned()));
            }
            vars
        };
        let config = Config::from_source(&ConfigSource::from_pairs(pairs(None))).expect("valid");
        assert_eq!(config.folders.data_dir, dir.path());
        let elsewhere = dir.path().join("db");
        let config = Config::from_source(&ConfigSource::from_pairs(pairs(Some(
            &elsewhere.display().to_string(),
        ))))
        .expect("valid");
        assert_eq!(config.folders.data_dir, elsewhere);
    }
}
