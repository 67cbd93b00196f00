//! The files of each project `plugin new` writes: the templates under `../templates/`, embedded
//! in the binary, per language and role.

use super::{Lang, Role};

/// One file of a project: its path inside the project and its template text.
pub(super) struct File {
    pub(super) path: String,
    pub(super) text: &'static str,
}

fn file(path: impl Into<String>, text: &'static str) -> File {
    File {
        path: path.into(),
        text,
    }
}

pub(super) fn rust_files(role: Role) -> Vec<File> {
    let lib = match role {
        Role::Stt => include_str!("../templates/rust/src/stt.rs"),
        Role::Tts => include_str!("../templates/rust/src/tts.rs"),
        Role::Llm => include_str!("../templates/rust/src/llm.rs"),
        Role::Policy => include_str!("../templates/rust/src/policy.rs"),
    };
    vec![
        file(
            "Cargo.toml",
            include_str!("../templates/rust/Cargo.toml.in"),
        ),
        file("README.md", include_str!("../templates/rust/README.md.in")),
        file(".gitignore", include_str!("../templates/rust/gitignore.in")),
        file("src/lib.rs", lib),
        // One component test for every role: `voice-studio plugin check` runs the role's contract.
        file(
            "tests/component.rs",
            include_str!("../templates/rust/tests/component.rs"),
        ),
        file(
            "tests/common/mod.rs",
            include_str!("../templates/rust/tests/common.rs"),
        ),
    ]
}

/// The contract's WIT files, written into Python and JavaScript projects (their build tools read
/// the WIT; a Rust project gets it through the SDK).
fn wit_files() -> Vec<File> {
    vec![
        file(
            "wit/types.wit",
            include_str!("../../../../../wit/v0.1.0/types.wit"),
        ),
        file(
            "wit/capabilities.wit",
            include_str!("../../../../../wit/v0.1.0/capabilities.wit"),
        ),
        file(
            "wit/roles.wit",
            include_str!("../../../../../wit/v0.1.0/roles.wit"),
        ),
        file(
            "wit/worlds.wit",
            include_str!("../../../../../wit/v0.1.0/worlds.wit"),
        ),
    ]
}

/// What the README of a Python or JavaScript project says about its role: the module that holds
/// the logic, the settings it reads and what `plugin check` may warn about. Lines are wrapped here
/// because they are Markdown paragraphs of the README.
pub(super) fn foreign_values(role: Role, lang: Lang, name: &str) -> Vec<(&'static str, String)> {
    let settings = match (role, lang) {
        (Role::Stt, _) => "`threshold_dbfs`, `end_of_speech_ms` and\n  `partial_every_ms`",
        (Role::Tts, _) => "`word_ms` (the length of a word's\n  tone)",
        (Role::Llm, Lang::Js) => "`model` (the model it names when the\n  request names none)",
        (Role::Llm, _) => "`delay_ms` (the pause between\n  words)",
        (Role::Policy, _) => "",
    };
    let settings = if settings.is_empty() {
        "A policy has no settings: it is pure and deterministic, with no I/O and no state between\n  \
         calls except what it returns in a `remember` decision (it comes back as `state.memory`)."
            .to_owned()
    } else {
        format!(
            "Settings: the plugin reads {settings} from its `[plugins.{name}.config]` table\n  \
             in `plugins.toml` through the `config` import."
        )
    };
    let websocket_note = if role == Role::Policy {
        String::new()
    } else {
        "\n\nThe capabilities line warns (it does not fail) that `websocket` is imported and not \
         declared:\nthe contract's `streams` interface uses the WebSocket types, so the build tool \
         imports that\ninterface; the plugin never calls it, and the host denies it anyway unless \
         granted."
            .to_owned()
    };
    vec![
        ("logic", foreign_logic(role).to_owned()),
        ("settings_note", settings),
        ("websocket_note", websocket_note),
    ]
}

/// A Python project (componentize-py): the role's glue (`app.py`), its logic module and tests,
/// and its world (`wit/plugin.wit`).
pub(super) fn python_files(role: Role) -> Vec<File> {
    let (app, logic, test, world) = match role {
        Role::Stt => (
            include_str!("../templates/python/stt/app.py"),
            include_str!("../templates/python/stt/listener.py"),
            include_str!("../templates/python/stt/tests/test_listener.py"),
            include_str!("../templates/common/wit/stt.wit"),
        ),
        Role::Tts => (
            include_str!("../templates/python/tts/app.py"),
            include_str!("../templates/python/tts/tones.py"),
            include_str!("../templates/python/tts/tests/test_tones.py"),
            include_str!("../templates/common/wit/tts.wit"),
        ),
        Role::Llm => (
            include_str!("../templates/python/llm/app.py"),
            include_str!("../templates/python/llm/reply.py"),
            include_str!("../templates/python/llm/tests/test_reply.py"),
            include_str!("../templates/common/wit/llm.wit"),
        ),
        Role::Policy => (
            include_str!("../templates/python/policy/app.py"),
            include_str!("../templates/python/policy/rules.py"),
            include_str!("../templates/python/policy/tests/test_rules.py"),
            include_str!("../templates/common/wit/policy.wit"),
        ),
    };
    let logic_name = foreign_logic(role);
    let mut files = vec![
        file(
            "README.md",
            include_str!("../templates/python/README.md.in"),
        ),
        file(
            ".gitignore",
            include_str!("../templates/python/gitignore.in"),
        ),
        file("app.py", app),
        file(format!("{logic_name}.py"), logic),
        file("tests/__init__.py", ""),
        file(format!("tests/test_{logic_name}.py"), test),
        file("build.sh", include_str!("../templates/python/build.sh")),
        file("wit/plugin.wit", world),
    ];
    files.extend(wit_files());
    files
}

/// The module of a Python or JavaScript project that holds the role's logic.
fn foreign_logic(role: Role) -> &'static str {
    match role {
        Role::Stt => "listener",
        Role::Tts => "tones",
        Role::Llm => "reply",
        Role::Policy => "rules",
    }
}

/// A JavaScript project (componentize-js): the role's glue (`src/plugin.js`), its logic module
/// and tests, and its world (`wit/plugin.wit`).
pub(super) fn js_files(role: Role) -> Vec<File> {
    let (plugin, logic, test, world) = match role {
        Role::Stt => (
            include_str!("../templates/js/stt/src/plugin.js"),
            include_str!("../templates/js/stt/src/listener.js"),
            include_str!("../templates/js/stt/test/listener.test.js"),
            include_str!("../templates/common/wit/stt.wit"),
        ),
        Role::Tts => (
            include_str!("../templates/js/tts/src/plugin.js"),
            include_str!("../templates/js/tts/src/tones.js"),
            include_str!("../templates/js/tts/test/tones.test.js"),
            include_str!("../templates/common/wit/tts.wit"),
        ),
        Role::Llm => (
            include_str!("../templates/js/llm/src/plugin.js"),
            include_str!("../templates/js/llm/src/reply.js"),
            include_str!("../templates/js/llm/test/reply.test.js"),
            include_str!("../templates/common/wit/llm.wit"),
        ),
        Role::Policy => (
            include_str!("../templates/js/policy/src/plugin.js"),
            include_str!("../templates/js/policy/src/rules.js"),
            include_str!("../templates/js/policy/test/rules.test.js"),
            include_str!("../templates/common/wit/policy.wit"),
        ),
    };
    let logic_name = foreign_logic(role);
    let mut files = vec![
        file("README.md", include_str!("../templates/js/README.md.in")),
        file(".gitignore", include_str!("../templates/js/gitignore.in")),
        file(
            "package.json",
            include_str!("../templates/js/package.json.in"),
        ),
        file("build.mjs", include_str!("../templates/js/build.mjs")),
        file("src/plugin.js", plugin),
        file(format!("src/{logic_name}.js"), logic),
        file(format!("test/{logic_name}.test.js"), test),
        file("wit/plugin.wit", world),
    ];
    if role != Role::Policy {
        files.push(file(
            "src/errors.js",
            include_str!("../templates/js/common/errors.js"),
        ));
    }
    files.extend(wit_files());
    files
}
