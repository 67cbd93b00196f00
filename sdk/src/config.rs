//! The plugin's own settings from its `[plugins.NAME.config]` table, and its declared secrets
//! (capability `config`).
//!
//! The host renders every value as a string (numbers and booleans in TOML notation, arrays and
//! tables as JSON). The `get_*` functions parse them and fall back to a default when the key is
//! unset, unreadable or malformed (a malformed value is logged); use [`parse`] or [`require_str`]
//! when a bad value should fail the call with `config`.

use crate::__bindings::stt_world::studio::plugin::config as raw;
use crate::PluginError;

/// One setting as the host renders it; None when unset.
pub fn get(key: &str) -> Result<Option<String>, PluginError> {
    raw::get(key)
}

/// Every setting, sorted by key.
pub fn entries() -> Result<Vec<(String, String)>, PluginError> {
    raw::entries()
}

/// A declared secret (an API key); None when declared but not set.
pub fn secret(name: &str) -> Result<Option<String>, PluginError> {
    raw::secret(name)
}

/// A declared secret that must be set: a missing one fails with `config` naming it.
pub fn require_secret(name: &str) -> Result<String, PluginError> {
    secret(name)?
        .filter(|value| !value.is_empty())
        .ok_or_else(|| PluginError::Config(format!("the secret {name} is not set")))
}

/// A string setting, or `default` when unset or unreadable.
pub fn get_str(key: &str, default: &str) -> String {
    get(key)
        .ok()
        .flatten()
        .unwrap_or_else(|| default.to_owned())
}

/// A string setting that must be present: a missing one fails with `config` naming it.
pub fn require_str(key: &str) -> Result<String, PluginError> {
    get(key)?.ok_or_else(|| PluginError::Config(format!("the setting `{key}` is missing")))
}

/// An unsigned integer setting, or `default`.
pub fn get_u32(key: &str, default: u32) -> u32 {
    or_default(key, parse(key, get(key).ok().flatten().as_deref()), default)
}

/// A float setting, or `default`.
pub fn get_f32(key: &str, default: f32) -> f32 {
    or_default(key, parse(key, get(key).ok().flatten().as_deref()), default)
}

/// A boolean setting (`true`/`false`), or `default`.
pub fn get_bool(key: &str, default: bool) -> bool {
    or_default(key, parse(key, get(key).ok().flatten().as_deref()), default)
}

/// A list of strings (a TOML array, rendered as JSON); empty when unset or malformed.
pub fn get_list(key: &str) -> Vec<String> {
    or_default(
        key,
        parse_list(key, get(key).ok().flatten().as_deref()),
        Vec::new(),
    )
}

/// Parses a rendered value; `Ok(None)` when unset, `config` when it does not parse as `T`.
pub fn parse<T: std::str::FromStr>(
    key: &str,
    rendered: Option<&str>,
) -> Result<Option<T>, PluginError> {
    let Some(text) = rendered else {
        return Ok(None);
    };
    let text = text.trim();
    // A TOML string holding a number arrives as the bare text; quotes appear only in JSON renderings.
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    text.parse::<T>().map(Some).map_err(|_| {
        PluginError::Config(format!("the setting `{key}` has an invalid value `{text}`"))
    })
}

/// Parses a rendered list: a JSON array of strings (numbers are turned into their text), or a
/// single string as a one-element list.
pub fn parse_list(key: &str, rendered: Option<&str>) -> Result<Option<Vec<String>>, PluginError> {
    let Some(text) = rendered else {
        return Ok(None);
    };
    if !text.trim_start().starts_with('[') {
        return Ok(Some(vec![text.to_owned()]));
    }
    let items: Vec<serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| PluginError::Config(format!("the setting `{key}` is not a list: {e}")))?;
    Ok(Some(
        items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
    ))
}

fn or_default<T>(key: &str, parsed: Result<Option<T>, PluginError>, default: T) -> T {
    match parsed {
        Ok(Some(value)) => value,
        Ok(None) => default,
        Err(error) => {
            crate::log::warn(&format!("{error}; using the default for `{key}`"));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_from_toml_renderings() {
        assert_eq!(parse::<u32>("a", Some("300")), Ok(Some(300)));
        assert_eq!(parse::<f32>("a", Some("-40")), Ok(Some(-40.0)));
        assert_eq!(parse::<f32>("a", Some("0.5")), Ok(Some(0.5)));
        assert_eq!(parse::<bool>("a", Some("true")), Ok(Some(true)));
        assert_eq!(parse::<u32>("a", Some("\"24000\"")), Ok(Some(24000)));
        assert_eq!(parse::<u32>("a", None), Ok(None));
    }

    #[test]
    fn malformed_numbers_are_config_errors_naming_the_key() {
        let err = parse::<u32>("sample_rate", Some("fast")).unwrap_err();
        assert!(
            matches!(&err, PluginError::Config(m) if m.contains("sample_rate") && m.contains("fast")),
            "{err:?}"
        );
        assert!(parse::<u32>("a", Some("-1")).is_err());
    }

    #[test]
    fn lists_parse_from_json_arrays() {
        let rendered = r#"["Claude, what do you think?","Guest, \"really\"?", 3]"#;
        assert_eq!(
            parse_list("script", Some(rendered)),
            Ok(Some(vec![
                "Claude, what do you think?".to_owned(),
                "Guest, \"really\"?".to_owned(),
                "3".to_owned()
            ]))
        );
        assert_eq!(parse_list("script", Some("[]")), Ok(Some(vec![])));
        assert_eq!(
            parse_list("script", Some("one line")),
            Ok(Some(vec!["one line".to_owned()]))
        );
        assert!(parse_list("script", Some("[broken")).is_err());
    }
}
