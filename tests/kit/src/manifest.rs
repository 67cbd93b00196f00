//! A `plugins.toml` builder for tests and benchmarks. It starts from the repository's shipped
//! `plugins.toml` (the offline mock studio every user gets), so a test states only what it changes
//! instead of carrying a copy of the file that drifts from the real one.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

/// The repository's `plugins.toml`.
pub fn shipped_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("plugins.toml")
}

/// A `plugins.toml` under construction.
#[derive(Debug, Clone)]
pub struct Manifest {
    doc: Table,
}

impl Manifest {
    /// The shipped `plugins.toml`: the mock STT, TTS and LLMs with the host-led policy, every
    /// shipped plugin declared.
    pub fn shipped() -> Self {
        let path = shipped_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
        let doc = text
            .parse::<Table>()
            .unwrap_or_else(|error| panic!("parse {}: {error}", path.display()));
        Self { doc }
    }

    /// The shipped manifest made quick for tests: the mock TTS speaks at 400 words a minute, the
    /// mock LLM streams a token every 2 ms, and half a second of quiet ends an utterance.
    pub fn quick_mocks() -> Self {
        Self::shipped()
            .config("mock-stt", "end_of_speech_ms", 500)
            .config("mock-tts", "words_per_minute", 400)
            .config("mock-llm", "token_delay_ms", 2)
    }

    /// An empty manifest (no studio settings, roles or plugins).
    pub fn empty() -> Self {
        Self { doc: Table::new() }
    }

    /// Where the `.wasm` files are (`[studio] plugin_dir`).
    pub fn plugin_dir(self, dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref().to_string_lossy().into_owned();
        self.studio("plugin_dir", dir)
    }

    /// Sets `[studio] key`.
    pub fn studio(mut self, key: &str, value: impl Into<Value>) -> Self {
        table(&mut self.doc, "studio").insert(key.to_owned(), value.into());
        self
    }

    /// Sets `[studio.deadlines] key` (milliseconds).
    pub fn deadline(mut self, key: &str, ms: i64) -> Self {
        let studio = table(&mut self.doc, "studio");
        table(studio, "deadlines").insert(key.to_owned(), Value::Integer(ms));
        self
    }

    /// Gives `role` (stt, tts, claude, guest, policy) to `plugin`.
    pub fn role(mut self, role: &str, plugin: &str) -> Self {
        table(&mut self.doc, "roles").insert(role.to_owned(), Value::from(plugin));
        self
    }

    /// Removes `role` from `[roles]`.
    pub fn without_role(mut self, role: &str) -> Self {
        table(&mut self.doc, "roles").remove(role);
        self
    }

    /// Declares `[plugins.<name>]` at `<name>.wasm` with `capabilities` (replacing any earlier
    /// declaration of that name).
    pub fn plugin(mut self, name: &str, capabilities: &[&str]) -> Self {
        let mut plugin = Table::new();
        plugin.insert("path".into(), Value::from(format!("{name}.wasm")));
        plugin.insert(
            "capabilities".into(),
            Value::Array(capabilities.iter().map(|c| Value::from(*c)).collect()),
        );
        table(&mut self.doc, "plugins").insert(name.to_owned(), Value::Table(plugin));
        self
    }

    /// Declares `[plugins.<name>]` as the whole `table` (path, capabilities, config, ...).
    pub fn plugin_table(mut self, name: &str, plugin: Table) -> Self {
        table(&mut self.doc, "plugins").insert(name.to_owned(), Value::Table(plugin));
        self
    }

    /// Sets `key` of `[plugins.<name>]` itself (e.g. `allowed_hosts`, `secrets`, `path`).
    pub fn plugin_field(mut self, name: &str, key: &str, value: impl Into<Value>) -> Self {
        let plugins = table(&mut self.doc, "plugins");
        table(plugins, name).insert(key.to_owned(), value.into());
        self
    }

    /// Sets `key` of `[plugins.<name>.config]`.
    pub fn config(mut self, name: &str, key: &str, value: impl Into<Value>) -> Self {
        let plugins = table(&mut self.doc, "plugins");
        table(table(plugins, name), "config").insert(key.to_owned(), value.into());
        self
    }

    /// The mock STT's script: what it "hears", utterance by utterance.
    pub fn script(self, lines: &[&str]) -> Self {
        let lines: Vec<Value> = lines.iter().map(|l| Value::from(*l)).collect();
        self.config("mock-stt", "script", Value::Array(lines))
    }

    /// Writes the manifest to `dir/plugins.toml` and returns that path; panics if it cannot.
    pub fn write(&self, dir: &Path) -> PathBuf {
        self.try_write(dir)
            .unwrap_or_else(|error| panic!("write plugins.toml in {}: {error}", dir.display()))
    }

    /// Writes the manifest to `dir/plugins.toml` and returns that path.
    pub fn try_write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let path = dir.join("plugins.toml");
        std::fs::write(&path, self.to_string())?;
        Ok(path)
    }
}

impl std::fmt::Display for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&toml::to_string(&self.doc).map_err(|_| std::fmt::Error)?)
    }
}

/// The sub-table `key` of `parent`, made if missing (a non-table value there is replaced).
fn table<'a>(parent: &'a mut Table, key: &str) -> &'a mut Table {
    let entry = parent
        .entry(key.to_owned())
        .or_insert_with(|| Value::Table(Table::new()));
    if !entry.is_table() {
        *entry = Value::Table(Table::new());
    }
    match entry {
        Value::Table(table) => table,
        _ => unreachable!("replaced by a table above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_manifest_is_the_offline_mock_studio() {
        let doc: Table = Manifest::shipped().to_string().parse().expect("valid TOML");
        assert_eq!(doc["roles"]["stt"].as_str(), Some("mock-stt"));
        assert_eq!(doc["roles"]["policy"].as_str(), Some("host-led"));
        assert!(doc["plugins"]["mock-llm"]["capabilities"].is_array());
    }

    #[test]
    fn changes_land_in_their_tables_and_keep_the_rest() {
        let doc: Table = Manifest::shipped()
            .plugin_dir("/tmp/wasm")
            .role("guest", "fault-injector")
            .plugin("fault-injector", &["log"])
            .config("mock-llm", "token_delay_ms", 0)
            .script(&["Claude, hello?"])
            .deadline("policy_ms", 50)
            .to_string()
            .parse()
            .expect("valid TOML");
        assert_eq!(doc["studio"]["plugin_dir"].as_str(), Some("/tmp/wasm"));
        assert_eq!(
            doc["studio"]["deadlines"]["policy_ms"].as_integer(),
            Some(50)
        );
        assert_eq!(doc["roles"]["guest"].as_str(), Some("fault-injector"));
        assert_eq!(doc["roles"]["claude"].as_str(), Some("mock-llm"));
        assert_eq!(
            doc["plugins"]["fault-injector"]["path"].as_str(),
            Some("fault-injector.wasm")
        );
        assert_eq!(
            doc["plugins"]["mock-llm"]["config"]["token_delay_ms"].as_integer(),
            Some(0)
        );
        assert_eq!(
            doc["plugins"]["mock-stt"]["config"]["script"][0].as_str(),
            Some("Claude, hello?")
        );
        // Untouched settings of the shipped file stay.
        assert!(
            doc["plugins"]["mock-stt"]["config"]
                .get("threshold_dbfs")
                .is_some()
        );
    }
}
