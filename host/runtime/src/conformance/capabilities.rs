//! Declared capabilities against the ones the component imports: an import it does not declare is
//! a failure (the host denies it unless an operator grants what nobody asked for), a declaration
//! it never imports is a warning (operators would grant more than it needs).

use std::collections::BTreeSet;
use std::sync::Arc;

use wasmtime::component::types::ComponentItem;

use super::report::Check;
use crate::engine::{PluginEngine, sha256_hex};
use crate::manifest::Capability;

/// The top-level import names of the component in `bytes` (`studio:plugin/http@0.1.0`, `wasi:...`)
/// whose functions it calls. An interface imported only for its types (an STT imports
/// `websocket` for the `connection` resource that `audio-input.next` takes) is left out: the
/// component calls nothing of it.
pub(crate) async fn imports(
    engine: &Arc<PluginEngine>,
    bytes: Arc<Vec<u8>>,
) -> Result<Vec<String>, String> {
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || {
        // Loaded a moment ago by the host, so this comes from the compile cache.
        let (component, _) = engine.component(&bytes, &sha256_hex(&bytes))?;
        let ty = component.component_type();
        let calls_into = |item: &ComponentItem| match item {
            ComponentItem::ComponentInstance(instance) => instance
                .exports(&engine.engine)
                .any(|(_, export)| matches!(export.ty, ComponentItem::ComponentFunc(_))),
            ComponentItem::ComponentFunc(_) => true,
            _ => false,
        };
        Ok(ty
            .imports(&engine.engine)
            .filter(|(_, import)| calls_into(&import.ty))
            .map(|(name, _)| name.to_string())
            .collect())
    })
    .await
    .map_err(|e| format!("the import listing failed: {e}"))?
}

/// The capability an imported interface needs, if it is one.
fn capability_of(import: &str) -> Option<Capability> {
    let interface = import.split('@').next().unwrap_or(import);
    match interface.strip_prefix("studio:plugin/")? {
        "log" => Some(Capability::Log),
        "clock" => Some(Capability::Clock),
        "config" => Some(Capability::Config),
        "http" => Some(Capability::Http),
        "websocket" => Some(Capability::Websocket),
        "process" => Some(Capability::Process),
        _ => None,
    }
}

/// The `capabilities` check.
pub(crate) fn check(
    imports: &[String],
    declared: &[Capability],
    granted: Option<&[Capability]>,
) -> Check {
    let used: BTreeSet<Capability> = imports.iter().filter_map(|i| capability_of(i)).collect();
    let declared: BTreeSet<Capability> = declared.iter().copied().collect();
    let names =
        |set: &BTreeSet<Capability>| set.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ");
    let mut undeclared: BTreeSet<Capability> = used.difference(&declared).copied().collect();
    let unused: BTreeSet<Capability> = declared.difference(&used).copied().collect();
    // `streams` takes websocket's types (`audio-input.next` borrows a `connection`), so importing
    // it imports `websocket`; generators that import whole interfaces (componentize-py, jco)
    // bring its functions along whether the code calls them or not. Undeclared, that import can
    // only be judged a warning: a call would be denied, and nothing says one is made.
    let streams = imports
        .iter()
        .any(|i| i.split('@').next() == Some("studio:plugin/streams"));
    let implied: BTreeSet<Capability> = if streams && undeclared.remove(&Capability::Websocket) {
        BTreeSet::from([Capability::Websocket])
    } else {
        BTreeSet::new()
    };
    let wasi = imports.iter().filter(|i| i.starts_with("wasi:")).count();
    let seen = format!(
        "imports [{}], declares [{}], {wasi} WASI interfaces (linked, reaching nothing)",
        names(&used),
        names(&declared)
    );
    let check = if !undeclared.is_empty() {
        Check::fail(
            "capabilities",
            format!(
                "imports {} but describe() does not declare it, so the host denies those calls: {seen}",
                names(&undeclared)
            ),
        )
    } else if !implied.is_empty() {
        Check::warn(
            "capabilities",
            format!(
                "imports {} without declaring it; `streams` needs its types, and a bindings generator that imports whole interfaces brings its functions along (a call would be denied): {seen}",
                names(&implied)
            ),
        )
    } else if !unused.is_empty() {
        Check::warn(
            "capabilities",
            format!(
                "declares {} but never imports it; operators would grant more than it uses: {seen}",
                names(&unused)
            ),
        )
    } else {
        Check::pass("capabilities", seen)
    };
    match granted {
        Some(granted) => {
            let granted: BTreeSet<Capability> = granted.iter().copied().collect();
            let missing: BTreeSet<Capability> =
                declared.intersection(&used).filter(|c| !granted.contains(c)).copied().collect();
            if missing.is_empty() || check.outcome == super::Outcome::Fail {
                check
            } else {
                let mut check = check;
                check.outcome = super::Outcome::Warn;
                check.detail = format!(
                    "--grant leaves out {}, which it declares and imports (those calls were denied); {}",
                    names(&missing),
                    check.detail
                );
                check
            }
        }
        None => check,
    }
    .figure("imports_count", imports.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::Outcome;

    fn imports(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn undeclared_imports_fail_and_unused_declarations_warn() {
        let used = imports(&[
            "studio:plugin/log@0.1.0",
            "studio:plugin/http@0.1.0",
            "wasi:io/streams@0.2.6",
        ]);
        let exact = check(&used, &[Capability::Log, Capability::Http], None);
        assert_eq!(exact.outcome, Outcome::Pass, "{}", exact.detail);
        let undeclared = check(&used, &[Capability::Log], None);
        assert_eq!(undeclared.outcome, Outcome::Fail);
        assert!(
            undeclared.detail.starts_with("imports http"),
            "{}",
            undeclared.detail
        );
        let unused = check(
            &used,
            &[Capability::Log, Capability::Http, Capability::Clock],
            None,
        );
        assert_eq!(unused.outcome, Outcome::Warn);
        assert!(
            unused.detail.contains("declares clock"),
            "{}",
            unused.detail
        );
        // An STT from a generator that imports whole interfaces: `websocket` comes with `streams`.
        let whole = imports(&[
            "studio:plugin/log@0.1.0",
            "studio:plugin/streams@0.1.0",
            "studio:plugin/websocket@0.1.0",
        ]);
        let implied = check(&whole, &[Capability::Log], None);
        assert_eq!(implied.outcome, Outcome::Warn, "{}", implied.detail);
        assert!(
            implied.detail.starts_with("imports websocket without"),
            "{}",
            implied.detail
        );
        let alone = check(
            &imports(&["studio:plugin/log@0.1.0", "studio:plugin/websocket@0.1.0"]),
            &[Capability::Log],
            None,
        );
        assert_eq!(
            alone.outcome,
            Outcome::Fail,
            "websocket without streams is a real use"
        );
        let ungranted = check(
            &used,
            &[Capability::Log, Capability::Http],
            Some(&[Capability::Log]),
        );
        assert_eq!(ungranted.outcome, Outcome::Warn);
        assert!(
            ungranted.detail.contains("leaves out http"),
            "{}",
            ungranted.detail
        );
    }
}
