//! The edits `plugin install` and `plugin remove` make to `plugins.toml`, on its text through
//! `toml_edit`, so the operator's comments, order and layout survive: only the plugin's own table,
//! the `[roles]` keys that name it and, on a forced remove, the fallback lists that name it change.

use toml_edit::{Array, DocumentMut, Item, Table, Value};

use voice_studio::plugins::RoleSlot;

/// What `install` puts into the plugin's `[plugins.NAME]` table.
#[derive(Debug, Clone)]
pub struct Install<'a> {
    pub name: &'a str,
    /// The `path` value: a file name in the plugin folder, or an absolute path.
    pub path: &'a str,
    /// Capabilities to grant; None keeps what an existing table grants (a new one grants none).
    pub capabilities: Option<Vec<String>>,
    /// `allowed_hosts`; None keeps what an existing table has.
    pub allowed_hosts: Option<Vec<String>>,
    /// The role to give the plugin, if any.
    pub role: Option<RoleSlot>,
}

/// What a table grants after the edit, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Granted {
    /// Whether the table was new.
    pub new_table: bool,
    pub capabilities: Vec<String>,
    pub allowed_hosts: Vec<String>,
}

/// Parses `plugins.toml`'s text for editing.
pub fn parse(text: &str) -> Result<DocumentMut, String> {
    text.parse::<DocumentMut>()
        .map_err(|e| format!("it is not valid TOML: {e}"))
}

/// Adds or updates the plugin's table (and its role) in `doc`; returns what it grants now.
pub fn install(doc: &mut DocumentMut, install: &Install<'_>) -> Result<Granted, String> {
    let plugins = table_of(doc.as_table_mut(), "plugins")?;
    let new_table = !plugins.contains_key(install.name);
    if new_table {
        plugins.insert(install.name, Item::Table(Table::new()));
    }
    let table = plugins
        .get_mut(install.name)
        .and_then(Item::as_table_mut)
        .ok_or_else(|| {
            format!(
                "[plugins.{}] is not a table; edit plugins.toml by hand",
                install.name
            )
        })?;
    set(table, "path", Value::from(install.path));
    if let Some(capabilities) = &install.capabilities {
        set(table, "capabilities", strings(capabilities));
    }
    if let Some(hosts) = &install.allowed_hosts {
        if hosts.is_empty() {
            table.remove("allowed_hosts");
        } else {
            set(table, "allowed_hosts", strings(hosts));
        }
    }
    let granted = Granted {
        new_table,
        capabilities: read_strings(table, "capabilities"),
        allowed_hosts: read_strings(table, "allowed_hosts"),
    };
    if let Some(role) = install.role {
        let roles = table_of(doc.as_table_mut(), "roles")?;
        match roles.get_mut(role.name()) {
            Some(item) if item.is_value() => {
                let decor = item.as_value().map(|v| v.decor().clone());
                let mut value = Value::from(install.name);
                if let Some(decor) = decor {
                    *value.decor_mut() = decor;
                }
                *item = Item::Value(value);
            }
            _ => {
                roles.insert(role.name(), toml_edit::value(install.name));
            }
        }
    }
    Ok(granted)
}

/// Where a plugin is used besides its own table: the roles that name it and the tables whose
/// `fallback` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uses {
    pub roles: Vec<String>,
    pub fallback_of: Vec<String>,
}

/// Where `name` is used in `doc`.
pub fn uses(doc: &DocumentMut, name: &str) -> Uses {
    let roles = doc
        .get("roles")
        .and_then(Item::as_table_like)
        .map(|roles| {
            roles
                .iter()
                .filter(|(_, v)| v.as_str() == Some(name))
                .map(|(k, _)| k.to_string())
                .collect()
        })
        .unwrap_or_default();
    let fallback_of = doc
        .get("plugins")
        .and_then(Item::as_table_like)
        .map(|plugins| {
            plugins
                .iter()
                .filter(|(other, table)| {
                    *other != name
                        && table
                            .get("fallback")
                            .and_then(Item::as_array)
                            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(name)))
                })
                .map(|(k, _)| k.to_string())
                .collect()
        })
        .unwrap_or_default();
    Uses { roles, fallback_of }
}

/// The `path` of `[plugins.NAME]`, when the table exists.
pub fn path_of<'a>(doc: &'a DocumentMut, name: &str) -> Option<Option<&'a str>> {
    let table = doc.get("plugins")?.as_table_like()?.get(name)?;
    Some(table.get("path").and_then(Item::as_str))
}

/// Takes `[plugins.NAME]` out of `doc`, with the roles and fallback entries that name it (the
/// caller checked that they may go).
pub fn remove(doc: &mut DocumentMut, name: &str) -> bool {
    let used = uses(doc, name);
    if let Some(roles) = doc.get_mut("roles").and_then(Item::as_table_like_mut) {
        for role in &used.roles {
            roles.remove(role);
        }
    }
    let Some(plugins) = doc.get_mut("plugins").and_then(Item::as_table_like_mut) else {
        return false;
    };
    for other in &used.fallback_of {
        if let Some(list) = plugins
            .get_mut(other)
            .and_then(|t| t.get_mut("fallback"))
            .and_then(Item::as_array_mut)
        {
            list.retain(|v| v.as_str() != Some(name));
        }
    }
    plugins.remove(name).is_some()
}

/// The table `key` of `parent`, created (as a bare header-less parent for `plugins`) if missing.
fn table_of<'a>(parent: &'a mut Table, key: &str) -> Result<&'a mut Table, String> {
    if !parent.contains_key(key) {
        let mut table = Table::new();
        // `[plugins.NAME]` headers alone, no empty `[plugins]` above them.
        table.set_implicit(key == "plugins");
        parent.insert(key, Item::Table(table));
    }
    parent
        .get_mut(key)
        .and_then(Item::as_table_mut)
        .ok_or_else(|| format!("`{key}` in plugins.toml is not a [{key}] table; edit it by hand"))
}

/// Sets `key` to `value`, keeping the old value's surrounding comments and spacing.
fn set(table: &mut Table, key: &str, mut value: Value) {
    if let Some(old) = table.get(key).and_then(Item::as_value) {
        *value.decor_mut() = old.decor().clone();
    }
    table.insert(key, Item::Value(value));
}

fn strings(list: &[String]) -> Value {
    Value::Array(list.iter().map(String::as_str).collect::<Array>())
}

fn read_strings(table: &Table, key: &str) -> Vec<String> {
    table
        .get(key)
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"# The operator's notes.
[studio]
plugin_dir = "plugins"   # beside this file

[roles]
stt = "mock-stt"   # the offline one
claude = "mock-llm"

# Mocks.
[plugins.mock-stt]
path = "mock-stt.wasm"
capabilities = ["log"]

[plugins.mock-llm]
path = "mock-llm.wasm"
fallback = ["shouter"]
[plugins.mock-llm.config]
reply = "hi"
"#;

    fn install_shouter(doc: &mut DocumentMut, capabilities: Option<Vec<String>>) -> Granted {
        install(
            doc,
            &Install {
                name: "shouter",
                path: "shouter.wasm",
                capabilities,
                allowed_hosts: None,
                role: Some(RoleSlot::Claude),
            },
        )
        .expect("install")
    }

    #[test]
    fn a_new_table_and_role_keep_every_comment_and_the_rest_of_the_file() {
        let mut doc = parse(MANIFEST).expect("parse");
        let granted = install_shouter(&mut doc, Some(vec!["log".into(), "config".into()]));
        assert!(granted.new_table);
        assert_eq!(granted.capabilities, ["log", "config"]);
        let text = doc.to_string();
        for kept in [
            "# The operator's notes.",
            "plugin_dir = \"plugins\"   # beside this file",
            "# Mocks.",
            "[plugins.mock-llm.config]\nreply = \"hi\"",
        ] {
            assert!(text.contains(kept), "{kept:?} lost:\n{text}");
        }
        assert!(text.contains("claude = \"shouter\""), "{text}");
        assert!(
            text.contains("stt = \"mock-stt\"   # the offline one"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "[plugins.shouter]\npath = \"shouter.wasm\"\ncapabilities = [\"log\", \"config\"]\n"
            ),
            "{text}"
        );
        assert!(!text.contains("[plugins]\n"), "{text}");
    }

    #[test]
    fn an_update_without_grants_keeps_the_tables_grants_and_settings() {
        let mut doc = parse(MANIFEST).expect("parse");
        install_shouter(&mut doc, Some(vec!["log".into()]));
        let mut again = parse(&doc.to_string()).expect("reparse");
        let granted = install_shouter(&mut again, None);
        assert!(!granted.new_table);
        assert_eq!(granted.capabilities, ["log"]);
        assert_eq!(again.to_string().matches("[plugins.shouter]").count(), 1);
    }

    #[test]
    fn uses_and_remove_find_roles_and_fallbacks() {
        let mut doc = parse(MANIFEST).expect("parse");
        install_shouter(&mut doc, None);
        let used = uses(&doc, "shouter");
        assert_eq!(used.roles, ["claude"]);
        assert_eq!(used.fallback_of, ["mock-llm"]);
        assert!(remove(&mut doc, "shouter"));
        let text = doc.to_string();
        assert!(!text.contains("shouter"), "{text}");
        assert!(text.contains("# Mocks."), "{text}");
        assert!(text.contains("stt = \"mock-stt\""), "{text}");
        assert_eq!(path_of(&doc, "shouter"), None);
        assert_eq!(path_of(&doc, "mock-stt"), Some(Some("mock-stt.wasm")));
    }

    #[test]
    fn a_manifest_without_plugins_gets_plain_plugin_headers() {
        let mut doc = parse("[studio]\nplugin_dir = \"p\"\n").expect("parse");
        install_shouter(&mut doc, Some(vec![]));
        let text = doc.to_string();
        assert!(text.contains("[plugins.shouter]"), "{text}");
        assert!(text.contains("[roles]\nclaude = \"shouter\""), "{text}");
        assert!(!text.contains("[plugins]\n"), "{text}");
    }
}
