//! Builds every plugin crate (`plugins/*`, `test-plugins/*`) for `wasm32-wasip2`, so that building the
//! plugin runtime (and so the host, and the plugin harness) builds its plugins too: `cargo run` and
//! `cargo test` need no second step.
//!
//! The plugins are compiled by a nested `cargo build` into their own target directory
//! (`<target>/wasm`), which avoids waiting on the lock of the outer build, and are then copied to
//! `<target>/plugins/<crate-name>.wasm`. That folder is compiled into the runtime (`BUILT_PLUGIN_DIR`):
//! a program that runs from inside the target folder (a checkout's own build) loads its plugins
//! from there.
//!
//! The first-party plugins (`plugins/*`, not the test plugins) are also embedded in the runtime:
//! the script writes `$OUT_DIR/embedded_plugins.rs`, one `include_bytes!` per plugin, which
//! `src/embedded.rs` includes. So a binary copied or installed away from its checkout still has
//! its plugins (see `embedded.rs` for when a folder wins over them).
//!
//! All of this is the default feature `embedded-plugins`; without it (the SDK's test harness
//! depends on the runtime with `default-features = false`) the script builds and embeds nothing.
//!
//! Set `STUDIO_SKIP_PLUGIN_BUILD=1` to skip this step (for example while editing only host code);
//! whatever is already in `<target>/plugins` is embedded then.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const WASM_TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .ancestors()
        .nth(2)
        .expect("host/runtime/ lives two folders inside the workspace")
        .to_path_buf();
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                workspace.join(dir)
            }
        })
        .unwrap_or_else(|| workspace.join("target"));
    let plugin_dir = target_dir.join("plugins");
    println!("cargo:rustc-env=BUILT_PLUGIN_DIR={}", plugin_dir.display());
    println!("cargo:rerun-if-env-changed=STUDIO_SKIP_PLUGIN_BUILD");
    // What `voice-studio --version` reports: the WIT contract and the first-party plugins.
    println!("cargo:rustc-env=WIT_CONTRACT={}", wit_contract(&workspace));
    println!(
        "cargo:rustc-env=FIRST_PARTY_PLUGINS={}",
        crates_under(&workspace, "plugins").join(",")
    );
    // Without the `embedded-plugins` feature (the SDK's test harness turns it off) nothing is
    // built or embedded: a plugin author's `cargo test` compiles the runtime, not 17 plugins.
    if env::var_os("CARGO_FEATURE_EMBEDDED_PLUGINS").is_none() {
        println!("cargo:rerun-if-changed={}", workspace.join("wit").display());
        write_embedded(&plugin_dir, &[]);
        return;
    }
    for watched in [
        "plugins",
        "test-plugins",
        "sdk/src",
        "sdk/Cargo.toml",
        "wit",
        "Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let first_party = crates_under(&workspace, "plugins");
    if env::var_os("STUDIO_SKIP_PLUGIN_BUILD").is_some_and(|v| v != "0") {
        println!("cargo:warning=STUDIO_SKIP_PLUGIN_BUILD is set: plugins were not rebuilt");
        write_embedded(&plugin_dir, &first_party);
        return;
    }

    let crates = plugin_crates(&workspace);
    let started = Instant::now();
    let mut terminal = Terminal::open();
    terminal.say(&format!(
        "voice-studio: building {} WebAssembly plugins for {WASM_TARGET} (the first build takes a few minutes)",
        crates.len()
    ));
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--target",
            WASM_TARGET,
            // Plugins ship without DWARF: it tripled their size (and so the binary that embeds
            // them) and slowed their build; the name section stays, so traps still name functions.
            "--config",
            "profile.release.debug=false",
            "--config",
            "profile.release.strip=\"debuginfo\"",
            "--target-dir",
        ])
        .arg(target_dir.join("wasm"));
    // Cargo hides a build script's output until it ends; on a terminal the nested build's own
    // progress goes straight to the user instead of minutes of silence.
    if let Some(stderr) = terminal.stderr() {
        build.stderr(stderr);
    }
    for name in &crates {
        build.args(["-p", name]);
    }
    // The outer build's settings (flags for the host target, clippy's wrapper, jobserver) must not
    // leak into the wasm build.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        let keep = key == "CARGO_HOME" || key == "CARGO_NET_OFFLINE" || key == "CARGO_TERM_COLOR";
        if (key.starts_with("CARGO_") && !keep)
            || key.starts_with("RUSTC_")
            || key == "RUSTFLAGS"
            || key == "RUSTDOCFLAGS"
            || key == "TARGET"
            || key == "HOST"
        {
            build.env_remove(key.as_ref());
        }
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build the plugins: {e}"));
    if !status.success() {
        panic!(
            "building the plugins for {WASM_TARGET} failed (see the errors above). \
             Is the target installed? `rustup target add {WASM_TARGET}`"
        );
    }

    terminal.say(&format!(
        "voice-studio: plugins built in {:.0} s",
        started.elapsed().as_secs_f64()
    ));

    fs::create_dir_all(&plugin_dir).expect("create the plugin output folder");
    let built = target_dir.join("wasm").join(WASM_TARGET).join("release");
    for name in &crates {
        let file = format!("{}.wasm", name.replace('-', "_"));
        let from = built.join(&file);
        let to = plugin_dir.join(format!("{name}.wasm"));
        copy_if_changed(&from, &to);
    }
    write_embedded(&plugin_dir, &first_party);
}

/// Writes `$OUT_DIR/embedded_plugins.rs`: `EMBEDDED`, one `(name, include_bytes!(..))` per
/// first-party plugin found in `plugin_dir`. rustc tracks the included files itself, so a rebuilt
/// plugin is embedded again by the next build. A plugin not built yet (only possible with
/// `STUDIO_SKIP_PLUGIN_BUILD`) is left out with a warning rather than failing the build.
fn write_embedded(plugin_dir: &Path, names: &[String]) {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut code = String::from(
        "/// The first-party plugins built into this binary: (crate name, .wasm bytes).\n\
         pub(crate) static EMBEDDED: &[(&str, &[u8])] = &[\n",
    );
    for name in names {
        let file = plugin_dir.join(format!("{name}.wasm"));
        if file.is_file() {
            code.push_str(&format!(
                "    ({name:?}, include_bytes!({:?})),\n",
                file.display().to_string()
            ));
        } else {
            println!(
                "cargo:warning=plugin {name} is not built ({}); it is not embedded",
                file.display()
            );
        }
    }
    code.push_str("];\n");
    let target = out.join("embedded_plugins.rs");
    // Rewritten only when it changes, so an unchanged list does not recompile the runtime.
    if fs::read_to_string(&target).ok().as_deref() != Some(code.as_str()) {
        fs::write(&target, code).unwrap_or_else(|e| panic!("writing {}: {e}", target.display()));
    }
}

/// The package names of the plugin crates: one folder each under `plugins/` and `test-plugins/`,
/// named like the package.
fn plugin_crates(workspace: &Path) -> Vec<String> {
    let mut names = crates_under(workspace, "plugins");
    names.extend(crates_under(workspace, "test-plugins"));
    names.sort();
    names
}

/// Copies only when the bytes differ, so an unchanged plugin does not look modified to a running
/// server's hot-reload watcher.
fn copy_if_changed(from: &Path, to: &Path) {
    let new =
        fs::read(from).unwrap_or_else(|e| panic!("reading built plugin {}: {e}", from.display()));
    if fs::read(to).ok().as_deref() == Some(new.as_slice()) {
        return;
    }
    // Write then rename: a watcher never sees a half-written file.
    let partial = to.with_extension("wasm.partial");
    fs::write(&partial, &new).unwrap_or_else(|e| panic!("writing {}: {e}", partial.display()));
    fs::rename(&partial, to).unwrap_or_else(|e| panic!("installing {}: {e}", to.display()));
}

/// The crates in `workspace/folder`, one folder each named like its package, sorted.
fn crates_under(workspace: &Path, folder: &str) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(entries) = fs::read_dir(workspace.join(folder)) {
        for entry in entries.flatten() {
            if entry.path().join("Cargo.toml").is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    names
}

/// The stable contract's package and version, from the `package` line of
/// `wit/v0.1.0/worlds.wit` (`studio:plugin@0.1.0`). Each contract version has its own folder
/// under `wit/`; this one is what new plugins are told to target.
fn wit_contract(workspace: &Path) -> String {
    let worlds = workspace.join("wit").join("v0.1.0").join("worlds.wit");
    let text =
        fs::read_to_string(&worlds).unwrap_or_else(|e| panic!("read {}: {e}", worlds.display()));
    text.lines()
        .find_map(|line| line.trim().strip_prefix("package "))
        .map(|rest| rest.trim_end_matches(';').trim().to_string())
        .unwrap_or_else(|| panic!("no `package` line in {}", worlds.display()))
}

/// The user's terminal, when the build runs on one (`/dev/tty`): the only place a build script
/// can report progress while it runs. In CI and other non-interactive builds it is absent and the
/// build stays quiet.
struct Terminal(Option<fs::File>);

impl Terminal {
    fn open() -> Self {
        Self(fs::OpenOptions::new().write(true).open("/dev/tty").ok())
    }

    fn say(&mut self, line: &str) {
        use std::io::Write;
        if let Some(tty) = &mut self.0 {
            // A failed write only loses a progress line.
            let _ = writeln!(tty, "\r{line}");
        }
    }

    fn stderr(&self) -> Option<Stdio> {
        self.0
            .as_ref()
            .and_then(|tty| tty.try_clone().ok())
            .map(Stdio::from)
    }
}
