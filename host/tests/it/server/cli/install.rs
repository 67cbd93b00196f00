//! `plugin install` and `plugin remove` on the real binary: a component installed next to a
//! running server (with hot reload on) is served without a restart and removed the same way; the
//! grants are shown before they are given (and asked about on a terminal) and `describe()`'s unmet
//! asks are named; plugins.toml keeps the operator's comments; reading or touching the watched
//! files reloads nothing; and every refusal (no confirmation, not a component, a name with a
//! path, no editable plugins.toml, a role still using the plugin) exits 2 and changes nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{run_in, text};
use crate::support::plugins::{built, touch};
use crate::support::server::{Server, ServerSetup, TEST_MANIFEST};

const NOTE: &str = "# The operator's own notes: keep them.";
/// The server's `STUDIO_ADMIN_TOKEN`, for `/metrics`.
const ADMIN_TOKEN: &str = "install-test-admin-token-0123456789abcdef";

/// A studio folder with its own plugin folder (PLUGIN_DIR) holding copies of the test plugins,
/// and a plugins.toml with a comment.
fn studio() -> ServerSetup {
    let setup = ServerSetup::new();
    let plugins = setup.path().join("plugins");
    std::fs::create_dir(&plugins).expect("plugins folder");
    for name in ["frame-counter", "fault-injector", "echo-policy"] {
        std::fs::copy(built(name), plugins.join(format!("{name}.wasm"))).expect("copy plugin");
    }
    let plugins = plugins.display().to_string();
    setup
        .manifest(&format!("{NOTE}\n{TEST_MANIFEST}"))
        .var("PLUGIN_DIR", plugins)
}

fn manifest(setup: &ServerSetup) -> String {
    std::fs::read_to_string(setup.path().join("plugins.toml")).expect("read plugins.toml")
}

fn installed(setup: &ServerSetup, name: &str) -> PathBuf {
    setup.path().join("plugins").join(format!("{name}.wasm"))
}

fn arg(path: &Path) -> String {
    path.display().to_string()
}

/// The plugins `/health` lists, with their versions.
fn served(server: &Server) -> Vec<(String, Option<String>)> {
    let health = server.get("/health");
    assert_eq!(health.status, 200, "{}", health.body);
    let body: serde_json::Value = serde_json::from_str(&health.body).expect("health JSON");
    body["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["version"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// A sample from `/metrics`, `name` with its labels as the exposition writes them (0 when absent).
fn metric(server: &Server, name: &str) -> f64 {
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let metrics = server_get(server, "/metrics", &bearer);
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

fn reload_passes(server: &Server) -> f64 {
    metric(server, "studio_plugin_reload_passes_total")
}

fn watch_batches(server: &Server, outcome: &str) -> f64 {
    metric(
        server,
        &format!("studio_plugin_watch_batches_total{{outcome=\"{outcome}\"}}"),
    )
}

fn server_get(server: &Server, path: &str, bearer: &str) -> String {
    let response =
        crate::support::server::http(server.addr, "GET", path, &[("Authorization", bearer)], None);
    assert_eq!(response.status, 200, "{}", response.body);
    response.body
}

/// Waits until `/health` satisfies `wanted`; the bound guards against a hang, it is not a timing
/// check.
fn until_served(server: &Server, what: &str, wanted: impl Fn(&[(String, Option<String>)]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let plugins = served(server);
        if wanted(&plugins) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: /health lists {plugins:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn install_serves_on_a_running_server_and_remove_takes_it_out() {
    let server = studio()
        .var("PLUGINS_WATCH", "true")
        .var("STUDIO_ADMIN_TOKEN", ADMIN_TOKEN)
        .start();
    assert!(!served(&server).iter().any(|(name, _)| name == "shouter"));
    // Reading plugins.toml and the plugins (as `cat` or a backup does) and touching them without
    // changing a byte reload nothing; each reload counted below is a real change.
    let watched = [
        server.setup.path().join("plugins.toml"),
        installed(&server.setup, "fault-injector"),
        installed(&server.setup, "frame-counter"),
    ];
    for _ in 0..50 {
        for file in &watched {
            std::fs::read(file).expect("read a watched file");
        }
    }
    touch(&watched);
    // The watcher has looked at the touches (a bound against a hang, not a timing check) and
    // found nothing changed: no reload asked for, none run.
    let deadline = Instant::now() + Duration::from_secs(60);
    while watch_batches(&server, "unchanged") + watch_batches(&server, "changed") < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the watcher never looked at the touches"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(watch_batches(&server, "changed"), 0.0);
    assert_eq!(reload_passes(&server), 0.0);

    let component = built("fault-injector-next");
    let out = run_in(
        &server.setup,
        &[
            "plugin",
            "install",
            &arg(&component),
            "--name",
            "shouter",
            "--grant",
            "log",
            "--grant",
            "config",
            "--yes",
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    for line in [
        "plugin:        fault-injector 2.0.0 (llm plugin",
        "[plugins.shouter] (new)",
        "grants:        log, config",
        "allowed hosts: (none)",
        // describe() asks for these too; the operator is told, and how to grant them.
        "not granted:   http, websocket, process",
        "--grant http --grant websocket --grant process",
    ] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
    let copy = installed(&server.setup, "shouter");
    assert_eq!(
        std::fs::read(&copy).expect("the copy"),
        std::fs::read(&component).expect("the component")
    );
    let text_after = manifest(&server.setup);
    assert!(text_after.starts_with(NOTE), "{text_after}");
    assert!(
        text_after.contains(
            "[plugins.shouter]\npath = \"shouter.wasm\"\ncapabilities = [\"log\", \"config\"]\n"
        ),
        "{text_after}"
    );
    until_served(&server, "the installed plugin is served", |plugins| {
        plugins.contains(&("shouter".into(), Some("2.0.0".into())))
    });
    // One pass for the install (the new plugins.toml; the new file was not watched yet), none for
    // the reads and touches before it, none for the install's own reads afterwards.
    assert_eq!(reload_passes(&server), 1.0);
    // `plugins --json` (what an operator runs) agrees.
    let listed = run_in(&server.setup, &["plugins", "--json"]);
    assert!(
        text(&listed.stdout).contains("\"shouter\""),
        "{}",
        text(&listed.stdout)
    );

    let out = run_in(&server.setup, &["plugin", "remove", "shouter"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!copy.exists(), "the copied file is deleted");
    let text_removed = manifest(&server.setup);
    assert!(!text_removed.contains("shouter"), "{text_removed}");
    assert!(text_removed.starts_with(NOTE), "{text_removed}");
    until_served(&server, "the removed plugin is gone", |plugins| {
        !plugins.iter().any(|(name, _)| name == "shouter")
    });
    assert_eq!(reload_passes(&server), 2.0);
    // The rest kept serving through both swaps.
    assert_eq!(server.get("/ready").status, 200);
}

#[test]
fn a_role_takes_the_plugin_and_keeps_it_from_being_removed_without_force() {
    let setup = studio();
    let component = arg(&built("fault-injector-next"));
    let wrong = run_in(
        &setup,
        &[
            "plugin", "install", &component, "--name", "shouter", "--role", "stt", "--yes",
        ],
    );
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        text(&wrong.stderr).contains("llm plugin"),
        "{}",
        text(&wrong.stderr)
    );

    let out = run_in(
        &setup,
        &[
            "plugin", "install", &component, "--name", "shouter", "--role", "claude", "--grant",
            "log", "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        manifest(&setup).contains("claude = \"shouter\""),
        "{}",
        manifest(&setup)
    );

    let before = manifest(&setup);
    let refused = run_in(&setup, &["plugin", "remove", "shouter"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("claude") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(
        manifest(&setup),
        before,
        "a refused remove changed plugins.toml"
    );
    assert!(installed(&setup, "shouter").exists());

    let forced = run_in(&setup, &["plugin", "remove", "shouter", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    assert!(
        !manifest(&setup).contains("shouter"),
        "{}",
        manifest(&setup)
    );
    assert!(!installed(&setup, "shouter").exists());
    // What is left is a plugins.toml the other commands still accept.
    let check = run_in(&setup, &["plugins", "--json"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
}

#[test]
fn refusals_exit_2_and_change_nothing() {
    let setup = studio();
    let before = manifest(&setup);
    let component = arg(&built("fault-injector-next"));
    let not_wasm = setup.path().join("notes.wasm");
    std::fs::write(&not_wasm, "just text").expect("write");
    let cases: [(&[&str], &str); 4] = [
        // Not on a terminal and no --yes: nothing can be asked.
        (
            &["plugin", "install", &component, "--name", "shouter"],
            "--yes",
        ),
        (
            &[
                "plugin",
                "install",
                &arg(&not_wasm),
                "--name",
                "shouter",
                "--yes",
            ],
            "not a WebAssembly component",
        ),
        (
            &[
                "plugin",
                "install",
                &component,
                "--name",
                "../shouter",
                "--yes",
            ],
            "path separator",
        ),
        (&["plugin", "remove", "nobody"], "no [plugins.nobody] table"),
    ];
    for (args, says) in cases {
        let out = run_in(&setup, args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{args:?}: {says:?} missing: {stderr}"
        );
        assert_eq!(manifest(&setup), before, "{args:?} changed plugins.toml");
        assert!(
            !installed(&setup, "shouter").exists(),
            "{args:?} copied a file"
        );
    }
    // The plan is shown even when it is refused for want of a confirmation.
    let out = run_in(
        &setup,
        &["plugin", "install", &component, "--name", "shouter"],
    );
    assert!(
        text(&out.stdout).contains("grants:"),
        "{}",
        text(&out.stdout)
    );

    // Only the built-in plugins.toml: nothing to edit; say how to get one.
    let bare = ServerSetup::new();
    std::fs::remove_file(bare.path().join("plugins.toml")).expect("remove plugins.toml");
    let out = run_in(
        &bare,
        &[
            "plugin", "install", &component, "--name", "shouter", "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("voice-studio init"),
        "{}",
        text(&out.stderr)
    );
}

/// On a terminal install asks before it grants: "n" (or anything but yes) changes nothing, "y"
/// installs. The terminal is a real pseudo-terminal from `script` (util-linux, in every Debian).
#[test]
fn on_a_terminal_it_asks_and_only_yes_installs() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let setup = studio();
    let before = manifest(&setup);
    let component = arg(&built("fault-injector-next"));
    let command = [
        env!("CARGO_BIN_EXE_voice-studio"),
        "plugin",
        "install",
        &component,
        "--name",
        "shouter",
        "--grant",
        "log",
    ]
    .map(|word| format!("'{word}'"))
    .join(" ");
    let answer = |reply: &str| {
        let mut child = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .current_dir(setup.path())
            .env_clear()
            .envs(setup.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`script` (util-linux) is missing: run .ci/setup");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(reply.as_bytes())
            .expect("answer");
        let out = child.wait_with_output().expect("script");
        (out.status.code(), text(&out.stdout))
    };

    let (code, shown) = answer("n\n");
    assert_eq!(code, Some(2), "{shown}");
    assert!(
        shown.contains("Install it with these grants? [y/N]"),
        "{shown}"
    );
    assert!(shown.contains("not confirmed"), "{shown}");
    assert_eq!(manifest(&setup), before, "a refusal changed plugins.toml");
    assert!(!installed(&setup, "shouter").exists());

    let (code, shown) = answer("y\n");
    assert_eq!(code, Some(0), "{shown}");
    assert!(installed(&setup, "shouter").exists(), "{shown}");
    assert!(manifest(&setup).contains("[plugins.shouter]"));
}
