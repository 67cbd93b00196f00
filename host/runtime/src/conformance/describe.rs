//! `describe()` and the contract version: the component answers in time, names itself with a
//! valid name and semantic version, fills the role it was asked to, and was built against a
//! contract version this host serves.

use std::time::Duration;

use super::report::Check;
use crate::manifest::PluginKind;
use crate::version::PluginInfoSummary;

/// How long loading from the compile cache plus `describe()` may take. The host calls
/// `describe()` at every (re)load; a plugin that stalls there stalls hot reload.
pub(crate) const DESCRIBE_DEADLINE: Duration = Duration::from_secs(5);

/// The contract versions this host serves (`0.1.0`, ...), as the runtime lists them.
pub(crate) fn supported_contracts() -> Vec<String> {
    crate::version::SUPPORTED_CONTRACTS
        .iter()
        .map(|v| v.to_string())
        .collect()
}

/// The `describe` and `contract` checks, from what it said and how long a load with `describe()`
/// took once compiled.
pub(crate) fn check(
    info: &PluginInfoSummary,
    wanted: Option<PluginKind>,
    describe_time: Duration,
) -> Vec<Check> {
    let ms = describe_time.as_secs_f64() * 1000.0;
    let mut problems = Vec::new();
    if !valid_name(&info.name) {
        problems.push(format!(
            "name {:?} is not a short machine name (lower-case letters, digits and `-`)",
            info.name
        ));
    }
    if let Err(e) = semver::Version::parse(&info.version) {
        problems.push(format!(
            "version {:?} is not a semantic version ({e})",
            info.version
        ));
    }
    if let Some(wanted) = wanted
        && wanted != info.kind
    {
        problems.push(format!(
            "it is a {} plugin, not the {wanted} plugin --role asked for",
            info.kind
        ));
    }
    if info.summary.trim().is_empty() {
        problems.push("its summary is empty (operators see it in `plugins`)".into());
    }
    if describe_time > DESCRIBE_DEADLINE {
        problems.push(format!(
            "it took {ms:.0} ms to load and describe itself (at most {} ms)",
            DESCRIBE_DEADLINE.as_millis()
        ));
    }
    let describe = if problems.is_empty() {
        Check::pass(
            "describe",
            format!(
                "{} {}, {} plugin, answered within {} ms",
                info.name,
                info.version,
                info.kind,
                DESCRIBE_DEADLINE.as_millis()
            ),
        )
    } else {
        Check::fail("describe", problems.join("; "))
    }
    .figure("describe_ms", ms);

    let supported = supported_contracts();
    let world = info.world_contract.as_str();
    let contract = if !supported.contains(&info.contract) {
        Check::fail(
            "contract",
            format!(
                "describe() says contract {:?}; this host serves {}",
                info.contract,
                supported.join(", ")
            ),
        )
    } else if info.contract != world {
        Check::fail(
            "contract",
            format!(
                "describe() says contract {} but the component's exports are of {world}; the host calls it as {world}",
                info.contract
            ),
        )
    } else {
        Check::pass(
            "contract",
            format!(
                "built against {}, which this host serves ({})",
                info.contract,
                supported.join(", ")
            ),
        )
    };
    vec![describe, contract]
}

/// `mock-stt`, `whisper-py`: what `plugins.toml` and the logs can name without quoting.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && !name.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PluginInfoSummary {
        PluginInfoSummary {
            name: "mock-stt".into(),
            version: "0.1.0".into(),
            kind: PluginKind::Stt,
            contract: "0.1.0".into(),
            world_contract: crate::version::Contract::V0_1,
            capabilities: Vec::new(),
            summary: "Offline.".into(),
        }
    }

    #[test]
    fn a_sound_describe_passes_and_each_fault_fails_by_name() {
        let fast = Duration::from_millis(3);
        let checks = check(&info(), Some(PluginKind::Stt), fast);
        assert!(
            checks
                .iter()
                .all(|c| c.outcome == super::super::Outcome::Pass)
        );

        let mut bad = info();
        bad.version = "one".into();
        bad.contract = "9.9.9".into();
        let checks = check(&bad, Some(PluginKind::Tts), fast);
        assert_eq!(checks[0].outcome, super::super::Outcome::Fail);
        assert!(
            checks[0].detail.contains("semantic version"),
            "{}",
            checks[0].detail
        );
        assert!(
            checks[0].detail.contains("not the tts plugin"),
            "{}",
            checks[0].detail
        );
        assert_eq!(checks[1].outcome, super::super::Outcome::Fail);
        assert!(checks[1].detail.contains("9.9.9"));
    }
}
