//! Builds this plugin's component once per test run (`cargo build --release --target
//! wasm32-wasip2`, as the README says), so `cargo test` always tests what the studio would load,
//! and runs the installed `voice-studio plugin check` against it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use studio_plugin::json::Value;

/// The target the studio loads plugins for: WebAssembly components with WASI 0.2.
const WASM_TARGET: &str = "wasm32-wasip2";

/// The built `.wasm`, fresh from this checkout's sources.
pub fn wasm() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(path) => path.clone(),
        Err(message) => panic!("{message}"),
    }
}

/// Runs `voice-studio plugin check --json` on the built component for `role` with the grants its
/// describe() declares (what `plugin install` grants); panics with the readable report when a
/// check fails. Returns the JSON report.
pub fn check(role: &str) -> Value {
    let wasm = wasm();
    // `VOICE_STUDIO` names the binary to use; else the one on PATH (`cargo install` puts it there).
    let studio = std::env::var_os("VOICE_STUDIO").unwrap_or_else(|| "voice-studio".into());
    let run = |json: bool| {
        let mut command = Command::new(&studio);
        command.args(["plugin", "check"]).arg(&wasm).args(["--role", role]);
        if json {
            command.arg("--json");
        }
        command.output().unwrap_or_else(|e| {
            panic!(
                "could not run `{}` ({e}): install voice-studio (`cargo install --path host --locked` \
                 in a voice-studio checkout) or set VOICE_STUDIO to its binary",
                studio.to_string_lossy()
            )
        })
    };
    let output = run(true);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = studio_plugin::json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "`voice-studio plugin check --json` printed no report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    if !output.status.success() {
        // The same run, as people read it: one line per check, with why it failed.
        let readable = run(false);
        panic!(
            "the component fails the studio's {role} contract:\n{}{}",
            String::from_utf8_lossy(&readable.stdout),
            String::from_utf8_lossy(&readable.stderr)
        );
    }
    report
}

fn build() -> Result<PathBuf, String> {
    // This test runs from <target>/<profile>/deps/: the component goes into the same target
    // folder (wherever CARGO_TARGET_DIR or a config put it), next to a manual build's.
    let exe = std::env::current_exe().map_err(|e| format!("where is this test? {e}"))?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or_else(|| format!("{} is not inside a target folder", exe.display()))?
        .to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            WASM_TARGET,
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`cargo build --release --target {WASM_TARGET}` failed (see above); \
             is the target installed? `rustup target add {WASM_TARGET}`"
        ));
    }
    let file = format!("{}.wasm", env!("CARGO_PKG_NAME").replace('-', "_"));
    Ok(target.join(WASM_TARGET).join("release").join(file))
}
