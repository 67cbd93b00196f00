//! `voice-studio plugin new`: the real binary writes a project for each role, the project builds
//! to a component and passes its own `cargo test` (unit tests, then this binary's `plugin check`
//! on the component), and the studio's runtime loads the component and reads the right
//! `describe()`. The
//! Python and JavaScript projects (every role in both) pass their own unit tests, build with the
//! tools `.ci/setup` installs into `<target>/tools` and pass `voice-studio plugin check`.
//!
//! The generated Rust projects share this workspace's target folder (`CARGO_TARGET_DIR`) and a
//! copy of its `Cargo.lock`, so their dependencies resolve to the versions already built here
//! (offline).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use voice_studio::plugins::{BUILT_PLUGIN_DIR, PluginHost, PluginHostOptions, PluginKind};

use super::run;

/// This checkout's root (the workspace).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// The workspace's target folder (the built plugins live in `<target>/plugins`).
fn target_dir() -> PathBuf {
    Path::new(BUILT_PLUGIN_DIR)
        .parent()
        .expect("the plugin folder is inside the target folder")
        .to_path_buf()
}

/// `voice-studio plugin new NAME --role ROLE --dir DIR` in `cwd`.
fn plugin_new(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voice-studio"))
        .arg("plugin")
        .arg("new")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run voice-studio")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs cargo in a generated project with the workspace's target folder; returns the seconds.
fn cargo(project: &Path, args: &[&str]) -> f64 {
    let started = Instant::now();
    let output = cargo_output(project, args, Path::new(env!("CARGO_BIN_EXE_voice-studio")));
    assert!(
        output.status.success(),
        "cargo {args:?} in {} failed:\n{}",
        project.display(),
        text(&output)
    );
    started.elapsed().as_secs_f64()
}

/// Runs cargo in a generated project; its component test runs `studio` (`VOICE_STUDIO`).
fn cargo_output(project: &Path, args: &[&str], studio: &Path) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("VOICE_STUDIO", studio)
        .stdin(Stdio::null());
    // This test's own cargo settings (its package, flags for this build) are not the project's.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_")
            || key == "CARGO_MANIFEST_DIR"
            || key == "CARGO_MANIFEST_PATH"
            || key == "CARGO_CRATE_NAME"
            || key == "CARGO_PRIMARY_PACKAGE"
            || key == "RUSTFLAGS"
        {
            command.env_remove(key.as_ref());
        }
    }
    command.output().expect("run cargo")
}

/// Writes the project for `role` into `parent/NAME` and gives it the workspace's lock file.
fn generate(parent: &Path, name: &str, role: &str) -> PathBuf {
    let project = parent.join(name);
    let output = plugin_new(parent, &[name, "--role", role]);
    assert!(output.status.success(), "{}", text(&output));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("cargo build --release --target wasm32-wasip2"),
        "{said}"
    );
    assert!(said.contains("voice-studio plugin install"), "{said}");
    for file in [
        "Cargo.toml",
        "README.md",
        ".gitignore",
        "src/lib.rs",
        "tests/component.rs",
        "tests/common/mod.rs",
    ] {
        assert!(project.join(file).is_file(), "{name}: {file} missing");
    }
    let readme = std::fs::read_to_string(project.join("README.md")).expect("README");
    for step in [
        "cargo test",
        "voice-studio plugin check",
        "voice-studio plugin install",
        "Try it in a studio",
    ] {
        assert!(readme.contains(step), "{name}'s README lacks {step:?}");
    }
    assert!(!readme.contains("{{"), "a placeholder is left: {readme}");
    std::fs::copy(workspace().join("Cargo.lock"), project.join("Cargo.lock")).expect("lock");
    project
}

/// What the studio's runtime says about `wasm` after loading it as plugin `name`.
fn describe(wasm: &Path, name: &str, capabilities: &str) -> (PluginKind, String, String) {
    let studio = tempfile::tempdir().expect("tempdir");
    std::fs::copy(wasm, studio.path().join(format!("{name}.wasm"))).expect("copy component");
    let manifest = studio.path().join("plugins.toml");
    std::fs::write(
        &manifest,
        format!(
            "[studio]\nplugin_dir = \".\"\n[plugins.{name}]\npath = \"{name}.wasm\"\ncapabilities = {capabilities}\n"
        ),
    )
    .expect("plugins.toml");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let host = runtime
        .block_on(PluginHost::start(PluginHostOptions {
            manifest_path: manifest,
            cache_dir: Some(studio.path().join("cache")),
            watch: false,
            ..Default::default()
        }))
        .expect("the studio's runtime loads the component");
    let status = host
        .plugins()
        .into_iter()
        .find(|p| p.name == name)
        .expect("the plugin is listed");
    assert_eq!(status.last_error, None);
    let info = status.info.expect("describe() answered");
    (info.kind, info.name, info.contract)
}

#[test]
fn rust_projects_for_every_role_build_test_and_load_in_the_studio_runtime() {
    let parent = tempfile::tempdir().expect("tempdir");
    let roles = [
        ("llm", PluginKind::Llm, "[\"log\", \"config\"]"),
        ("stt", PluginKind::Stt, "[\"log\", \"config\"]"),
        ("tts", PluginKind::Tts, "[\"log\", \"config\"]"),
        ("policy", PluginKind::Policy, "[\"log\"]"),
    ];
    let mut times = Vec::new();
    for (role, kind, capabilities) in roles {
        let name = format!("new-{role}-plugin");
        let project = generate(parent.path(), &name, role);
        let build = cargo(
            &project,
            &[
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--offline",
            ],
        );
        // Its own tests: the unit tests, then `plugin check` on the component.
        let test = cargo(&project, &["test", "--offline"]);
        if role == "llm" {
            // Without the studio program the component test fails and says how to get it.
            let missing = cargo_output(
                &project,
                &["test", "--offline", "--test", "component"],
                &parent.path().join("no-such-voice-studio"),
            );
            let said = text(&missing);
            assert!(!missing.status.success(), "{said}");
            assert!(said.contains("cargo install --path host"), "{said}");
        }
        times.push(format!("{role}: build {build:.0} s, tests {test:.0} s"));
        let wasm = target_dir()
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", name.replace('-', "_")));
        let (loaded_kind, loaded_name, contract) = describe(&wasm, &name, capabilities);
        assert_eq!(
            (loaded_kind, loaded_name.as_str(), contract.as_str()),
            (kind, name.as_str(), "0.1.0")
        );
    }
    // Timings for the log (CI time matters), not assertions.
    eprintln!("plugin new, Rust: {}", times.join("; "));
}

#[test]
fn plugin_new_refuses_bad_names_and_folders_it_would_overwrite() {
    let parent = tempfile::tempdir().expect("tempdir");
    for bad in ["Parrot", "2fast", "has space", "std", "x-"] {
        let output = plugin_new(parent.path(), &[bad, "--role", "llm"]);
        assert_eq!(output.status.code(), Some(2), "{bad}: {}", text(&output));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(bad),
            "{}",
            text(&output)
        );
    }
    std::fs::create_dir(parent.path().join("taken")).expect("mkdir");
    std::fs::write(parent.path().join("taken/notes.txt"), "mine").expect("write");
    let output = plugin_new(parent.path(), &["taken", "--role", "tts"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not empty"),
        "{}",
        text(&output)
    );
    assert_eq!(
        std::fs::read_dir(parent.path().join("taken"))
            .expect("read")
            .count(),
        1,
        "nothing was written next to the existing file"
    );
    // An empty folder is fine, and --dir places the project anywhere.
    std::fs::create_dir(parent.path().join("empty")).expect("mkdir");
    let output = plugin_new(
        parent.path(),
        &["fresh", "--role", "policy", "--dir", "empty"],
    );
    assert!(output.status.success(), "{}", text(&output));
    let manifest =
        std::fs::read_to_string(parent.path().join("empty/Cargo.toml")).expect("Cargo.toml");
    assert!(manifest.contains("name = \"fresh\""), "{manifest}");
    let sdk = workspace().join("sdk");
    let sdk = std::fs::canonicalize(sdk).expect("sdk");
    assert!(
        manifest.contains(&format!("path = {:?}", sdk.display().to_string())),
        "{manifest}"
    );
}

#[test]
fn plugin_new_without_an_sdk_says_how_to_point_at_one() {
    let parent = tempfile::tempdir().expect("tempdir");
    let output = plugin_new(
        parent.path(),
        &["parrot", "--role", "llm", "--sdk", "/nowhere/sdk"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("/nowhere/sdk"), "{err}");
    assert!(err.contains("--sdk /path/to/voice-studio/sdk"), "{err}");
    assert!(!parent.path().join("parrot").exists(), "nothing written");
    // `run` is the shared helper for commands that must not serve.
    let help = run(&["plugin", "new", "--help"]);
    assert!(help.status.success(), "{}", text(&help));
}

/// Runs `program` in `dir` and fails the test with its output when it fails; returns the seconds.
fn run_tool(dir: &Path, program: &Path, args: &[&str], env: &[(&str, &Path)]) -> f64 {
    let started = Instant::now();
    let mut command = Command::new(program);
    command.args(args).current_dir(dir).stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", program.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed:\n{}",
        program.display(),
        text(&output)
    );
    started.elapsed().as_secs_f64()
}

/// Writes a foreign-language project and checks it carries the contract's WIT, its own world and
/// a README with every step.
fn generate_foreign(parent: &Path, name: &str, role: &str, lang: &str) -> PathBuf {
    let output = plugin_new(parent, &[name, "--role", role, "--lang", lang]);
    assert!(output.status.success(), "{}", text(&output));
    let project = parent.join(name);
    for wit in ["types", "capabilities", "roles", "worlds", "plugin"] {
        let file = project.join(format!("wit/{wit}.wit"));
        let contract = std::fs::read_to_string(&file).expect("the contract's WIT is written");
        assert!(
            contract.contains("studio:plugin@0.1.0"),
            "{}",
            file.display()
        );
    }
    let world = std::fs::read_to_string(project.join("wit/plugin.wit")).expect("plugin.wit");
    assert!(world.contains(&format!("export {role};")), "{world}");
    let readme = std::fs::read_to_string(project.join("README.md")).expect("README");
    for step in [
        "## Build",
        "voice-studio plugin check",
        "voice-studio plugin install",
        "Try it in a studio",
    ] {
        assert!(readme.contains(step), "{name}'s README lacks {step:?}");
    }
    assert!(!readme.contains("{{"), "a placeholder is left: {readme}");
    project
}

/// `voice-studio plugin check WASM --role ROLE`, with a compile cache of its own: it must pass
/// (warnings allowed). Returns the seconds it took.
fn plugin_check(wasm: &Path, name: &str, role: &str) -> f64 {
    let started = Instant::now();
    let cache = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_voice-studio"))
        .args(["plugin", "check"])
        .arg(wasm)
        .args(["--role", role])
        .env("PLUGIN_CACHE_DIR", cache.path())
        .stdin(Stdio::null())
        .output()
        .expect("run voice-studio plugin check");
    let report = text(&output);
    assert!(output.status.success(), "{name}: {report}");
    assert!(
        report.contains(&format!("{name} 0.1.0 ({role} plugin, contract 0.1.0)")),
        "{report}"
    );
    assert!(report.contains(" 0 failed"), "{report}");
    started.elapsed().as_secs_f64()
}

/// The module that holds a foreign project's logic (and names its test file).
fn logic_module(role: &str) -> &'static str {
    match role {
        "stt" => "listener",
        "tts" => "tones",
        "llm" => "reply",
        _ => "rules",
    }
}

const ROLES: [&str; 4] = ["stt", "tts", "llm", "policy"];

/// Python and JavaScript projects for every role: each is generated by the real binary, passes
/// its own unit tests with plain `python3 -m unittest` / `node --test`, builds with the tools
/// `.ci/setup` installs into `<target>/tools` (the test fails when one is missing), and passes
/// `voice-studio plugin check` for its role (describe, streaming, cancellation, limits and the
/// capabilities it imports). One test, run sequentially: each build and each check's first
/// compile take seconds to tens of seconds, and a 2-core CI runner gains nothing from running
/// them side by side. `plugin check` rather than a bare load: it costs the same (the component
/// is compiled either way) and proves the role works, not only that `describe()` answers.
#[test]
fn python_and_javascript_projects_for_every_role_build_and_pass_plugin_check() {
    let componentize_py = target_dir().join("tools/python/bin/componentize-py");
    assert!(
        componentize_py.is_file(),
        "componentize-py is missing ({}): run .ci/setup",
        componentize_py.display()
    );
    let js_tools = target_dir().join("tools/js");
    assert!(
        js_tools
            .join("node_modules/@bytecodealliance/componentize-js/package.json")
            .is_file(),
        "componentize-js is missing in {}: run .ci/setup",
        js_tools.display()
    );
    let js_tools_arg = js_tools.to_string_lossy().into_owned();
    let parent = tempfile::tempdir().expect("tempdir");
    let mut times = Vec::new();
    for role in ROLES {
        let logic = logic_module(role);

        let name = format!("new-python-{role}");
        let project = generate_foreign(parent.path(), &name, role, "python");
        assert!(project.join(format!("{logic}.py")).is_file());
        // build.sh runs the unit tests (`python3 -m unittest`) first, then componentize-py.
        let build = run_tool(
            &project,
            &project.join("build.sh"),
            &[],
            &[("COMPONENTIZE_PY", &componentize_py)],
        );
        let check = plugin_check(&project.join(format!("dist/{name}.wasm")), &name, role);
        times.push(format!(
            "python {role}: build {build:.0} s, check {check:.0} s"
        ));

        let name = format!("new-js-{role}");
        let project = generate_foreign(parent.path(), &name, role, "js");
        let node = Path::new("node");
        let test_file = format!("test/{logic}.test.js");
        run_tool(&project, node, &["--test", &test_file], &[]);
        let build = run_tool(
            &project,
            node,
            &["build.mjs", "--tools", &js_tools_arg],
            &[],
        );
        let check = plugin_check(&project.join(format!("dist/{name}.wasm")), &name, role);
        times.push(format!("js {role}: build {build:.0} s, check {check:.0} s"));
    }
    // Timings for the log (CI time matters), not assertions.
    eprintln!("plugin new, Python and JavaScript: {}", times.join("; "));
}
