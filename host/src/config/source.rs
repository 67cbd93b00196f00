//! Where the variables come from: the process environment layered over `.env`, or explicit pairs
//! in tests. Nothing else in the server reads the environment.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::ConfigError;

/// The variables read from the process environment and `.env` (the environment wins).
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    vars: HashMap<String, String>,
    /// Every variable name looked up, so a test can hold `.env.example` to the code.
    read: RefCell<BTreeSet<&'static str>>,
}

impl ConfigSource {
    /// A source from explicit pairs (tests, embedding).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            read: Default::default(),
        }
    }

    /// The process environment layered over `dotenv` (if that file exists): the environment wins,
    /// as with the usual dotenv loaders, so a deployment can override a checked-in `.env`.
    pub fn from_env_and_dotenv(dotenv: &Path) -> Result<Self, ConfigError> {
        let mut vars = HashMap::new();
        let unreadable = |reason: String| ConfigError::DotEnv {
            path: dotenv.to_path_buf(),
            reason,
        };
        match dotenvy::from_path_iter(dotenv) {
            Ok(iter) => {
                for item in iter {
                    let (key, value) = item.map_err(|e| unreadable(e.to_string()))?;
                    vars.insert(key, value);
                }
            }
            Err(e) if e.not_found() => {}
            Err(e) => return Err(unreadable(e.to_string())),
        }
        // Non-UTF-8 values cannot be any of our settings; they are skipped rather than fatal.
        for (key, value) in std::env::vars_os() {
            if let (Some(k), Some(v)) = (key.to_str(), value.to_str()) {
                vars.insert(k.to_owned(), v.to_owned());
            }
        }
        Ok(Self {
            vars,
            read: Default::default(),
        })
    }

    /// The names of the variables looked up so far.
    pub fn variables_read(&self) -> Vec<&'static str> {
        self.read.borrow().iter().copied().collect()
    }

    /// The value of `name`, trimmed, treating an empty value as unset (so `PORT=` in `.env`
    /// means "the default", not "port zero").
    pub(super) fn get(&self, name: &'static str) -> Option<&str> {
        self.read.borrow_mut().insert(name);
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}
