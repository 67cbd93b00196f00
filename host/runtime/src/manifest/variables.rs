//! `${VAR}` and `${VAR:-default}` in `plugins.toml`: each plugin reads only the variables its own
//! table declares.

use std::collections::BTreeSet;

use super::RawPlugin;

/// Expands `${VAR}` and `${VAR:-default}` in an allow-list entry or a config value; text without
/// `${` is returned as it is. An unset variable without a default expands to nothing. `lookup`
/// refuses a variable the plugin did not declare.
pub(super) fn expand_variables(text: &str, lookup: &Lookup<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("`{text}`: `${{` without a closing `}}`"))?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        let value = lookup(name)?
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        out.push_str(&value.unwrap_or_else(|| default.unwrap_or("").to_string()));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Reads one `${VAR}` for a plugin: its value, or why the plugin may not read it.
pub(super) type Lookup<'a> = dyn Fn(&str) -> Result<Option<String>, String> + 'a;

/// The `${VAR}` lookup of one plugin: only the variables its table declares in `secrets`,
/// `secret_files` or `env`, so no table can copy another plugin's key into its own config or
/// allow-list.
pub(super) fn declared_lookup<'a>(
    raw: &RawPlugin,
    environment: &'a dyn Fn(&str) -> Option<String>,
) -> impl Fn(&str) -> Result<Option<String>, String> + 'a {
    let declared: BTreeSet<String> = [&raw.secrets, &raw.secret_files, &raw.env]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    move |name: &str| {
        if declared.contains(name) {
            Ok(environment(name))
        } else {
            Err(format!(
                "${{{name}}} is not declared in this plugin's secrets or env; add `{name}` to `env` (a setting) or `secrets` (a key) of this table if this plugin should read it"
            ))
        }
    }
}

/// Expands `${VAR}` / `${VAR:-default}` in the `config` table's string values, so a setting such
/// as `base_url = "${ANTHROPIC_BASE_URL:-https://api.anthropic.com}"` follows the environment.
pub(super) fn expand_config(
    mut config: toml::Table,
    lookup: &Lookup<'_>,
) -> Result<toml::Table, String> {
    for (key, value) in config.iter_mut() {
        if let toml::Value::String(text) = value
            && text.contains("${")
        {
            *text = expand_variables(text, lookup).map_err(|e| format!("{key}: {e}"))?;
        }
    }
    Ok(config)
}
