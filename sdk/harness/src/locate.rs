//! Where a plugin named by its crate name was built. A plugin author's project builds its own
//! `.wasm` into its own target folder (`CARGO_TARGET_DIR` when set), which the runtime's build
//! knows nothing about; so the harness looks where cargo puts it at test time, and the newest
//! file wins.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What the lookup reads from the test's process.
struct Env {
    cargo_target_dir: Option<PathBuf>,
    manifest_dir: Option<PathBuf>,
    exe: Option<PathBuf>,
}

impl Env {
    fn current() -> Env {
        Env {
            cargo_target_dir: std::env::var_os("CARGO_TARGET_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
            manifest_dir: std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
            exe: std::env::current_exe().ok(),
        }
    }
}

/// The newest existing `.wasm` for `name`, or every place looked at.
pub(crate) fn built_plugin(name: &str) -> Result<PathBuf, Vec<PathBuf>> {
    newest(name, &Env::current())
}

fn newest(name: &str, env: &Env) -> Result<PathBuf, Vec<PathBuf>> {
    let candidates = candidates(name, env);
    let newest = candidates
        .iter()
        .filter_map(|path| {
            let modified = path
                .metadata()
                .ok()?
                .modified()
                .unwrap_or(SystemTime::UNIX_EPOCH);
            path.is_file().then(|| (modified, path.clone()))
        })
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, path)| path);
    newest.ok_or(candidates)
}

/// Every place `name` may have been built to, in no particular order.
fn candidates(name: &str, env: &Env) -> Vec<PathBuf> {
    let file = format!("{}.wasm", name.replace('-', "_"));
    let mut places = Vec::new();
    for target in target_dirs(env) {
        // The voice-studio workspace's own build copies its plugins here.
        places.push(target.join("plugins").join(format!("{name}.wasm")));
        for profile in ["release", "debug"] {
            places.push(target.join("wasm32-wasip2").join(profile).join(&file));
        }
    }
    places.push(Path::new(studio_plugin_runtime::BUILT_PLUGIN_DIR).join(format!("{name}.wasm")));
    places.dedup();
    places
}

/// The target folders of the build running this test: `CARGO_TARGET_DIR` (absolute, or relative
/// to the package or one of its parent folders, as the workspace root may be), and the folder
/// the test program itself runs from (`<target>/debug/deps/...`, marked by cargo's
/// `CACHEDIR.TAG`).
fn target_dirs(env: &Env) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let manifest = env.manifest_dir.clone();
    if let Some(dir) = &env.cargo_target_dir {
        if dir.is_absolute() {
            dirs.push(dir.clone());
        } else {
            let bases = manifest
                .iter()
                .flat_map(|m| m.ancestors().map(Path::to_path_buf))
                .chain(std::env::current_dir().ok());
            dirs.extend(bases.map(|base| base.join(dir)).filter(|d| d.is_dir()));
        }
    }
    if let Some(exe) = &env.exe
        && let Some(target) = exe.ancestors().find(|a| a.join("CACHEDIR.TAG").is_file())
    {
        dirs.push(target.to_path_buf());
    }
    if let Some(manifest) = manifest {
        dirs.extend(
            manifest
                .ancestors()
                .map(|a| a.join("target"))
                .filter(|t| t.is_dir()),
        );
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, b"\0asm").expect("write");
    }

    #[test]
    fn cargo_target_dir_is_honoured_absolute_or_relative_to_the_project() {
        let project = tempfile::tempdir().expect("tempdir");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        let built = elsewhere
            .path()
            .join("wasm32-wasip2/release/my_plugin.wasm");
        touch(&built);
        let env = Env {
            cargo_target_dir: Some(elsewhere.path().to_path_buf()),
            manifest_dir: Some(project.path().to_path_buf()),
            exe: None,
        };
        assert_eq!(newest("my-plugin", &env), Ok(built));

        let relative = project
            .path()
            .join("out/wasm32-wasip2/debug/my_plugin.wasm");
        touch(&relative);
        let env = Env {
            cargo_target_dir: Some(PathBuf::from("out")),
            manifest_dir: Some(project.path().join("crates/my-plugin")),
            exe: None,
        };
        assert_eq!(newest("my-plugin", &env), Ok(relative));
    }

    #[test]
    fn the_test_programs_own_target_folder_is_searched_and_misses_list_every_place() {
        let target = tempfile::tempdir().expect("tempdir");
        touch(&target.path().join("CACHEDIR.TAG"));
        let env = Env {
            cargo_target_dir: None,
            manifest_dir: None,
            exe: Some(target.path().join("debug/deps/component-1234")),
        };
        let looked = newest("my-plugin", &env).expect_err("not built");
        assert!(
            looked.contains(&target.path().join("wasm32-wasip2/release/my_plugin.wasm")),
            "{looked:?}"
        );
        let built = target.path().join("plugins/my-plugin.wasm");
        touch(&built);
        assert_eq!(newest("my-plugin", &env), Ok(built));
    }
}
