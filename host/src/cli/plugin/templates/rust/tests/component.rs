//! `{{name}}` as the studio runs it: `voice-studio plugin check` loads the built component into
//! the studio's own plugin runtime (the sandbox, limits and capability checks of a running studio)
//! and runs the `{{role}}` contract against it: describe(), streaming, cancellation, error mapping,
//! limits, and the capabilities it declares against the ones it uses. What the plugin says is
//! tested natively, by the unit tests in `src/lib.rs`.

mod common;

#[test]
fn passes_the_studios_conformance_check() {
    let report = common::check("{{role}}");
    let plugin = &report["plugin"];
    assert_eq!(plugin["name"], "{{name}}", "describe() names another plugin");
    assert_eq!(plugin["role"], "{{role}}", "describe() names another role");
}
