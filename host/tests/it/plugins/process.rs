//! The `process` capability keeps to its declared shape: the real fault-injector plugin spawns
//! real programs, and what `[plugins.NAME.process]` does not declare (an argument, an environment
//! variable, a loader variable at all) is refused naming the plugin and the rule; what runs, runs
//! in an empty folder of its own, in its own process group, under rlimits, and dies with its
//! whole group on a fork loop, a cancel and a drop.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::support::plugins::{Studio, request, token_collector};
use voice_studio::plugins::{CallError, LlmHandle, PluginHost};
use voice_studio::speakers::Ai;

/// A host whose `claude` is the fault-injector as `prober`, granted `executables` with the
/// `[plugins.prober.process]` table `process`.
async fn prober(executables: &str, process: &str) -> (Studio, Arc<PluginHost>) {
    let studio = Studio::with_plugins(&["fault-injector"]);
    studio.write_manifest(&format!(
        r#"
[roles]
claude = "prober"
[plugins.prober]
path = "fault-injector.wasm"
capabilities = ["log", "config", "process"]
allowed_executables = {executables}
[plugins.prober.process]
{process}
"#
    ));
    let host = studio.start(false).await;
    (studio, host)
}

/// Runs `spawn:COMMAND` (program and arguments split by `|`) with `env` (`NAME=VALUE` lines) set
/// for the child, and returns the streamed output.
async fn spawn(handle: &mut LlmHandle, command: &str, env: &str) -> Result<String, CallError> {
    let model = match command.split_once(':') {
        Some((mode, rest)) if mode.starts_with("spawn") => format!("{mode}:{rest}"),
        _ => format!("spawn:{command}"),
    };
    let mut request = request(&model, "");
    request.system = env.to_string();
    // Whole files are read back (/proc/self/limits): no bound on pieces, the host's on characters.
    request.max_tokens = 0;
    let (tx, collector) = token_collector();
    let result = handle.complete(request, tx).await;
    let text = collector.await.expect("collector task");
    result.map(|_| text)
}

fn denied(result: Result<String, CallError>) -> String {
    match result {
        Err(CallError::Denied { message, .. }) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn host_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// The state letter of a process, `None` when it is gone.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// Processes (zombies aside) in process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.get(2) == Some(&pgid.to_string().as_str()) && fields.first() != Some(&"Z") {
            members.push(pid);
        }
    }
    members
}

/// Waits (a few seconds at most, polling) until `done` holds; a SIGKILL is sent at once but the
/// reaping of a group's processes takes a moment.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ld_preload_in_the_environment_is_refused_naming_the_plugin_and_the_rule() {
    let (_studio, host) = prober(r#"["/bin/cat"]"#, r#"env = ["GREETING"]"#).await;
    let mut claude = host.llm(Ai::Claude);
    let message = denied(spawn(&mut claude, "/bin/cat", "LD_PRELOAD=/tmp/evil.so").await);
    assert!(
        message.starts_with(
            "prober is not granted process /bin/cat environment variable LD_PRELOAD, never allowed"
        ),
        "{message}"
    );
    assert!(
        message.contains("[plugins.prober.process] env"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_environment_variable_is_refused_and_a_declared_one_passes() {
    let (_studio, host) = prober(r#"["/usr/bin/env"]"#, r#"env = ["GREETING", "VOICE"]"#).await;
    let mut claude = host.llm(Ai::Claude);
    let message = denied(spawn(&mut claude, "/usr/bin/env", "HOME=/root").await);
    assert_eq!(
        message,
        "prober is not granted process /usr/bin/env environment variable HOME, not declared in `env` ([plugins.prober.process] env) in plugins.toml"
    );
    let environment = spawn(&mut claude, "/usr/bin/env", "VOICE=alto")
        .await
        .expect("declared variables pass");
    let mut names: Vec<&str> = environment
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["GREETING", "PATH", "VOICE"], "{environment}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_argument_is_refused_while_the_declared_shape_runs() {
    let (_studio, host) = prober(
        r#"["/bin/sh"]"#,
        r#"env = ["GREETING"]
args = ["-c", "echo speed $0 $1", "{number}", { optional = ["{slow|fast}"] }]"#,
    )
    .await;
    let mut claude = host.llm(Ai::Claude);
    let ran = spawn(&mut claude, "/bin/sh|-c|echo speed $0 $1|1.5|fast", "")
        .await
        .expect("the declared shape runs");
    assert_eq!(ran, "speed 1.5 fast\nexit 0");
    let ran = spawn(&mut claude, "/bin/sh|-c|echo speed $0 $1|-2", "")
        .await
        .expect("the optional word may be left out");
    assert_eq!(ran, "speed -2\nexit 0");

    let script = denied(spawn(&mut claude, "/bin/sh|-c|id", "").await);
    assert_eq!(
        script,
        "prober is not granted process /bin/sh argument 2 `id` (expected `echo speed $0 $1`) ([plugins.prober.process] args) in plugins.toml"
    );
    let injected = denied(spawn(&mut claude, "/bin/sh|-c|echo speed $0 $1|1; id", "").await);
    assert!(
        injected.contains("argument 3 `1; id` (expected {number})"),
        "{injected}"
    );
    let extra = denied(spawn(&mut claude, "/bin/sh|-c|echo speed $0 $1|1|fast|-x", "").await);
    assert!(
        extra.contains("argument 5 `-x` (expected nothing more)"),
        "{extra}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_starts_in_an_empty_folder_of_its_own_removed_after() {
    let (_studio, host) = prober(
        r#"["/bin/sh"]"#,
        r#"env = ["GREETING"]
args = ["-c", "pwd; ls -A; touch made-here && echo writable"]"#,
    )
    .await;
    let mut claude = host.llm(Ai::Claude);
    // (`|` splits the fault-injector's command, so `ls -A` lists straight into the output.)
    let command = "/bin/sh|-c|pwd; ls -A; touch made-here && echo writable";
    let output = spawn(&mut claude, command, "").await.expect("runs");
    let lines: Vec<&str> = output.lines().collect();
    let folder = Path::new(lines[0]);
    assert!(
        folder.starts_with(std::env::temp_dir()) && folder != std::env::temp_dir(),
        "{output}"
    );
    assert_eq!(
        lines[1..],
        ["writable", "exit 0"],
        "an empty folder the child may write in: {output}"
    );
    assert!(
        eventually(|| !folder.exists()).await,
        "{} is removed with the child",
        folder.display()
    );
    let again = spawn(&mut claude, command, "").await.expect("runs");
    assert_ne!(
        again.lines().next(),
        Some(lines[0]),
        "a fresh folder per child"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_leads_its_own_process_group() {
    let (_studio, host) = prober(
        r#"["/bin/cat"]"#,
        r#"env = ["GREETING"]
args = ["/proc/self/stat"]"#,
    )
    .await;
    let mut claude = host.llm(Ai::Claude);
    let stat = spawn(&mut claude, "/bin/cat|/proc/self/stat", "")
        .await
        .expect("runs");
    let pid: u32 = stat
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("pid");
    let fields: Vec<&str> = stat[stat.rfind(')').expect("name") + 1..]
        .split_whitespace()
        .collect();
    let pgrp: u32 = fields[2].parse().expect("pgrp");
    assert_eq!(pgrp, pid, "the child leads its group: {stat}");
    let own = std::fs::read_to_string("/proc/self/stat").expect("own stat");
    let own_pgrp = own[own.rfind(')').expect("name") + 1..]
        .split_whitespace()
        .nth(2)
        .expect("own pgrp")
        .to_string();
    assert_ne!(own_pgrp, pgrp.to_string(), "not the host's group");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rlimits_are_in_force_in_the_child() {
    let (_studio, host) = prober(
        r#"["/bin/cat"]"#,
        r#"env = ["GREETING"]
args = ["{/proc/self/limits|/proc/self/status}"]
cpu_seconds = 7
memory_mb = 512
file_size_mb = 3
max_processes = 10"#,
    )
    .await;
    let mut claude = host.llm(Ai::Claude);
    let limits = spawn(&mut claude, "/bin/cat|/proc/self/limits", "")
        .await
        .expect("runs");
    let limit = |name: &str| -> Vec<String> {
        let line = limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {limits}"));
        line[name.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(limit("Max cpu time")[..2], ["7", "7"], "{limits}");
    assert_eq!(
        limit("Max address space")[..2],
        ["536870912", "536870912"],
        "{limits}"
    );
    assert_eq!(
        limit("Max file size")[..2],
        ["3145728", "3145728"],
        "{limits}"
    );
    assert_eq!(limit("Max core file size")[..2], ["0", "0"], "{limits}");
    let status = spawn(&mut claude, "/bin/cat|/proc/self/status", "")
        .await
        .expect("runs");
    let uid_line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("Uid line");
    if host_is_root() {
        // Root ignores RLIMIT_NPROC: the child runs as nobody, where the kernel's cap holds.
        assert_eq!(
            uid_line.split_whitespace().collect::<Vec<_>>(),
            ["Uid:", "65534", "65534", "65534", "65534"]
        );
        assert_eq!(
            limit("Max processes")[..2],
            ["266", "266"],
            "max_processes plus room for threads: {limits}"
        );
    } else {
        let own = std::fs::read_to_string("/proc/self/status").expect("own status");
        let own_uid = own.lines().find(|l| l.starts_with("Uid:")).expect("Uid");
        assert_eq!(uid_line, own_uid, "a non-root host cannot change users");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_loop_is_capped_and_its_whole_group_killed() {
    // A real fork loop, bounded three ways: the watchdog (max_processes), the kernel's per-user
    // cap (as root) and the CPU limit.
    let script = r#"echo $$; while :; do sh -c "sleep 5" & done"#;
    let (_studio, host) = prober(
        r#"["/bin/sh"]"#,
        &format!(
            r#"env = ["GREETING"]
args = ["-c", '{script}']
max_processes = 8
cpu_seconds = 5"#
        ),
    )
    .await;
    let mut claude = host.llm(Ai::Claude);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1024);
    let call = tokio::spawn(async move {
        let result = claude
            .complete(request(&format!("spawn:/bin/sh|-c|{script}"), ""), tx)
            .await;
        (claude, result)
    });
    let first = rx.recv().await.expect("the loop's pid");
    let pgid: u32 = first.trim().parse().expect("a pid");
    let (_claude, result) = tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .expect("the fork loop is stopped")
        .expect("call task");
    match result {
        Err(CallError::Denied { plugin, message }) => {
            assert_eq!(plugin, "prober");
            assert_eq!(
                message,
                "prober's child process /bin/sh was killed: its process group passed max_processes = 8 ([plugins.prober.process])"
            );
        }
        other => panic!("expected the watchdog's refusal, got {other:?}"),
    }
    assert!(
        eventually(|| group_members(pgid).is_empty()).await,
        "the whole group is gone: {:?}",
        group_members(pgid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_call_kills_the_whole_group_grandchildren_too() {
    let script = "sleep 300 & echo $!; echo $$; wait";
    let (_studio, host) = prober(
        r#"["/bin/sh"]"#,
        &format!(
            r#"env = ["GREETING"]
args = ["-c", "{script}"]"#
        ),
    )
    .await;
    let mut claude = host.llm(Ai::Claude);
    let cancel = claude.canceller();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(16);
    let call = tokio::spawn(async move {
        claude
            .complete(request(&format!("spawn:/bin/sh|-c|{script}"), ""), tx)
            .await
    });
    let mut printed = String::new();
    while printed.lines().count() < 2 {
        printed.push_str(&rx.recv().await.expect("the pids"));
    }
    let pids: Vec<u32> = printed
        .lines()
        .map(|l| l.trim().parse().expect("a pid"))
        .collect();
    let (grandchild, child) = (pids[0], pids[1]);
    assert_eq!(state(grandchild).map(|s| s != 'Z'), Some(true));
    cancel.cancel();
    let result = call.await.expect("call task");
    assert!(result.is_err(), "a cancelled call ends with an error");
    for pid in [child, grandchild] {
        assert!(
            eventually(|| matches!(state(pid), None | Some('Z'))).await,
            "process {pid} still runs after the call was cancelled"
        );
    }
    assert!(eventually(|| group_members(child).is_empty()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grandchild_left_behind_dies_when_the_child_is_dropped() {
    // The child exits at once; the grandchild it leaves in the group would sleep on.
    let script = "sleep 300 >/dev/null 2>&1 & echo $!";
    let (_studio, host) = prober(
        r#"["/bin/sh"]"#,
        &format!(
            r#"env = ["GREETING"]
args = ["-c", "{script}"]"#
        ),
    )
    .await;
    let mut claude = host.llm(Ai::Claude);
    let output = spawn(&mut claude, &format!("/bin/sh|-c|{script}"), "")
        .await
        .expect("runs");
    let grandchild: u32 = output
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("the grandchild's pid");
    assert!(output.ends_with("exit 0"), "{output}");
    assert!(
        eventually(|| matches!(state(grandchild), None | Some('Z'))).await,
        "the grandchild {grandchild} outlived the dropped child"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_declaring_a_loader_variable_is_refused_at_load() {
    let studio = Studio::with_plugins(&["fault-injector"]);
    studio.write_manifest(
        r#"
[plugins.prober]
path = "fault-injector.wasm"
capabilities = ["log", "config", "process"]
allowed_executables = ["/bin/cat"]
[plugins.prober.process]
env = ["LD_LIBRARY_PATH"]
"#,
    );
    let error = PluginHost::start(studio.options(false))
        .await
        .expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("[plugins.prober.process] env: `LD_LIBRARY_PATH` is never passed to a child"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_may_hold_only_max_children_at_once() {
    let (_studio, host) = prober(
        r#"["/bin/sleep"]"#,
        r#"env = ["GREETING"]
args = ["30"]
max_children = 2"#,
    )
    .await;
    let mut claude = host.llm(Ai::Claude);
    let two = spawn(&mut claude, "spawn-many:2|/bin/sleep|30", "").await;
    assert_eq!(two.expect("two fit"), "2 children");
    let message = denied(spawn(&mut claude, "spawn-many:3|/bin/sleep|30", "").await);
    assert_eq!(
        message,
        "prober is not granted process /bin/sleep: 2 children are alive, max_children = 2 ([plugins.prober.process]) in plugins.toml"
    );
    // The children of a finished call are gone, so the count starts again.
    let again = spawn(&mut claude, "spawn-many:2|/bin/sleep|30", "").await;
    assert_eq!(again.expect("two fit again"), "2 children");
}

/// The nice value of a `/proc/.../stat` text (field 19).
fn nice_in_stat(stat: &str) -> i32 {
    let (_, rest) = stat.rsplit_once(')').expect("stat has a name");
    rest.split_whitespace()
        .nth(19 - 3)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("nice in {stat}"))
}

/// The server's workers may run at a raised priority (`LIVE_AUDIO_NICE`); a plugin's program
/// started from one must not inherit it: it runs at the normal nice.
#[cfg(target_os = "linux")]
#[test]
fn a_child_runs_at_the_normal_nice_even_when_the_worker_that_starts_it_is_raised() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(voice_studio::scheduling::runtime_thread_started)
        .on_thread_unpark(|| voice_studio::scheduling::live_audio_worker_unparked(-5))
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (_studio, host) = prober(
            r#"["/bin/cat"]"#,
            r#"env = ["GREETING"]
args = ["/proc/self/stat"]"#,
        )
        .await;
        let (worker_nice, child_stat) = tokio::spawn(async move {
            let worker =
                std::fs::read_to_string("/proc/thread-self/stat").expect("the worker's stat");
            let mut claude = host.llm(Ai::Claude);
            let child = spawn(&mut claude, "/bin/cat|/proc/self/stat", "")
                .await
                .expect("runs");
            (nice_in_stat(&worker), child)
        })
        .await
        .expect("task");
        // Raising needs the privilege (root in CI); without it the worker stays at 0 as well.
        let own = std::fs::read_to_string("/proc/self/status").expect("own status");
        if own
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        {
            assert_eq!(
                worker_nice, -5,
                "the worker that started the child was raised"
            );
        }
        assert_eq!(nice_in_stat(&child_stat), 0, "{child_stat}");
    });
}
