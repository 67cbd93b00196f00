//! The secret values plugins may be handed, and the one [`Redactor`] that hides them.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use super::redact::Redactor;

/// Secrets the host may hand to plugins: declared names read from the environment at start, and
/// keys set at run time through the settings API (which win). It owns the host's one
/// [`Redactor`], rebuilt whenever a value changes.
#[derive(Debug, Default)]
pub(crate) struct SecretStore {
    values: RwLock<SecretValues>,
    redactor: Arc<Redactor>,
}

#[derive(Debug, Default)]
struct SecretValues {
    /// Declared names (`secrets`, `secret_files`, `env`) read from the environment.
    environment: HashMap<String, String>,
    /// Keys set at run time.
    runtime: HashMap<String, String>,
    /// Names whose value is not secret: declared only in `env` (endpoints, models) or in
    /// `secret_files` (a path; the file's contents are the secret).
    public: BTreeSet<String>,
    /// Secret strings found in the secret files plugins read (a service account's private key).
    files: HashMap<String, Vec<String>>,
}

impl SecretStore {
    /// Replaces the environment snapshot and the names whose values are not secret (at start
    /// and when a `plugins.toml` change is accepted).
    pub(crate) fn set_environment(
        &self,
        values: HashMap<String, String>,
        public: BTreeSet<String>,
    ) {
        let mut current = self.values.write().unwrap_or_else(PoisonError::into_inner);
        current.environment = values;
        current.public = public;
        self.redactor.set_secrets(current.redacted());
    }

    /// Sets a runtime key.
    pub(crate) fn set_runtime(&self, name: &str, value: String) {
        let mut current = self.values.write().unwrap_or_else(PoisonError::into_inner);
        current.runtime.insert(name.to_string(), value);
        self.redactor.set_secrets(current.redacted());
    }

    /// Notes the secret parts of a secret file a plugin was handed, so they are redacted too.
    pub(crate) fn note_file_contents(&self, name: &str, contents: &str) {
        let parts = secret_file_parts(contents);
        let mut current = self.values.write().unwrap_or_else(PoisonError::into_inner);
        if current.files.get(name) == Some(&parts) {
            return;
        }
        current.files.insert(name.to_string(), parts);
        self.redactor.set_secrets(current.redacted());
    }

    /// The current value of `name`, runtime key first.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        let current = self.values.read().unwrap_or_else(PoisonError::into_inner);
        current
            .runtime
            .get(name)
            .or_else(|| current.environment.get(name))
            .cloned()
    }

    /// The redactor of every secret value held here.
    pub(crate) fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }
}

impl SecretValues {
    /// `(name, value)` of everything to redact: every value whose name is not public (runtime
    /// keys win over the environment), and the secret parts of secret files.
    fn redacted(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self
            .environment
            .iter()
            .filter(|(name, _)| !self.runtime.contains_key(*name))
            .chain(&self.runtime)
            .filter(|(name, _)| !self.public.contains(*name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        for (name, parts) in &self.files {
            all.extend(parts.iter().map(|part| (name.clone(), part.clone())));
        }
        all
    }
}

/// The secret strings of a secret file: in a JSON credentials file the values of its key
/// fields, and each line of a PEM private key (a plugin logging part of the key is still caught);
/// any other file is secret as a whole.
fn secret_file_parts(contents: &str) -> Vec<String> {
    const SECRET_FIELDS: [&str; 5] = [
        "private_key",
        "private_key_id",
        "client_secret",
        "refresh_token",
        "api_key",
    ];
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(contents) else {
        return vec![contents.trim().to_string()];
    };
    let mut parts = Vec::new();
    for field in SECRET_FIELDS {
        if let Some(serde_json::Value::String(value)) = fields.get(field) {
            parts.push(value.clone());
            parts.extend(
                value
                    .lines()
                    .map(str::trim)
                    .filter(|line| line.len() >= 16 && !line.starts_with("-----"))
                    .map(str::to_string),
            );
        }
    }
    parts
}
