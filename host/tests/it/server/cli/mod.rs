//! The command line of the real binary: `--help` and `--version` answer and exit without binding
//! a port or reading the configuration, `serve` is the server, and a wrong command is a usage
//! error (exit 2) that says what to try. The operator commands are in `commands`, `plugin install`
//! and `plugin remove` in `install`, `plugin new` in `plugin_new`, the binary away from its
//! checkout in `installed`.

mod commands;
mod install;
mod installed;
mod plugin_new;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::server::ServerSetup;

/// Runs the binary with `args` in an empty folder, with a configuration that could not start a
/// server (a bad PORT): anything that tried to serve would exit 2 naming PORT instead.
fn run(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_voice-studio"));
    command
        .args(args)
        .current_dir(dir.path())
        .env("PORT", "not-a-port");
    finish(command, args)
}

/// Runs `program` with `args` in `dir` with exactly the variables `env`.
fn run_with(program: &Path, dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    finish(command, args)
}

/// Runs the binary as the test server of `setup` would be, with `args`.
fn run_in(setup: &ServerSetup, args: &[&str]) -> Output {
    run_with(
        Path::new(env!("CARGO_BIN_EXE_voice-studio")),
        setup.path(),
        &setup.env,
        args,
    )
}

/// Waits for `command` to exit and returns its output.
fn finish(mut command: Command, args: &[&str]) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start voice-studio");
    // Read while it runs, so a full pipe cannot stall it.
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = pipe.read_to_end(&mut all);
            all
        })
    };
    let (out, err) = (read(Box::new(stdout)), read(Box::new(stderr)));
    // A guard against a binary that started serving after all; never a timing assertion.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("voice-studio {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_the_commands_and_starts_nothing() {
    for args in [&["--help"][..], &["-h"], &["help"]] {
        let out = run(args);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(stdout.contains("Usage: voice-studio"), "{stdout}");
        for command in ["serve", "check", "plugins", "episodes", "init"] {
            assert!(stdout.contains(command), "{command} missing: {stdout}");
        }
        assert!(!stdout.contains("Listening on"), "{stdout}");
    }
    let out = run(&["serve", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("SIGTERM"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn version_names_the_contract_and_the_built_in_plugins() {
    let out = run(&["--version"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.starts_with(&format!("voice-studio {}", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "plugin contract: {}",
            voice_studio::plugins::WIT_CONTRACT
        )),
        "{stdout}"
    );
    assert!(voice_studio::plugins::WIT_CONTRACT.starts_with("studio:plugin@"));
    let supported = voice_studio::plugins::SUPPORTED_CONTRACTS.join(", ");
    assert!(
        stdout.contains(&format!("(loads versions {supported})")),
        "{stdout}"
    );
    for plugin in ["mock-stt", "mock-tts", "mock-llm", "host-led", "anthropic"] {
        assert!(stdout.contains(plugin), "{plugin} missing: {stdout}");
    }
    // Only first-party plugins: the misbehaving test plugins are not shipped.
    assert!(!stdout.contains("fault-injector"), "{stdout}");
    let short = run(&["-V"]);
    assert_eq!(short.status.code(), Some(0));
    assert!(text(&short.stdout).starts_with("voice-studio "));
}

#[test]
fn an_unknown_command_is_a_usage_error() {
    let out = run(&["broadcast"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unrecognized subcommand 'broadcast'"),
        "{stderr}"
    );
    assert!(stderr.contains("--help"), "{stderr}");
}

#[test]
fn serve_is_the_server_as_the_bare_command_is() {
    // Both read the configuration: a bad PORT stops both with exit 2 naming it.
    for args in [&[][..], &["serve"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("PORT"), "{}", text(&out.stderr));
    }
    // And `serve` serves: /ready answers on the test server's port.
    let server = ServerSetup::new().arg("serve").start();
    let ready = server.get("/ready");
    assert_eq!(ready.status, 200, "{}", ready.body);
}
