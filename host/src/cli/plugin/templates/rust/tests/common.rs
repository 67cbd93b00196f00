//! Builds this plugin's component once per test run (`cargo build --release --target
//! wasm32-wasip2`, as the README says), so `cargo test` always tests what the studio would load.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

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
