//! The `process` capability: child processes (for local engines such as Piper) started only from
//! the plugin's `allowed_executables`, by exact path, with the command line and environment
//! `[plugins.NAME.process]` declares (see `manifest::ProcessRules`).
//!
//! A child gets no environment but `PATH` and the declared variables the plugin sets; it starts in
//! a fresh empty folder (removed after), in its own process group, under rlimits (CPU seconds,
//! address space, file size, no core dumps). When the host runs as root the child runs as an
//! unprivileged user (`nobody` by default), so the kernel's per-user process cap applies as a
//! backstop. A watchdog thread counts each group's processes and kills a group past
//! `max_processes` (a fork loop). The whole group is killed when the plugin drops or kills the
//! child, when the call is cancelled while it waits on the child, when the instance goes away,
//! and on host shutdown ([`kill_all_children`]). Standard error is kept (the last 64 KiB) for
//! error messages and every read waits at most the plugin's timeout.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use wasmtime::component::Resource;

use super::super::bindings::process;
use super::super::bindings::types::PluginError;
use super::super::manifest::{Capability, ProcessRules, find_on_path};
use super::denied;
use super::{InstanceCtx, PluginView};

mod groups;
pub use groups::kill_all_children;
use groups::{LiveGroup, kill_group, live_groups, register};

/// Standard error kept per child.
const STDERR_KEEP_BYTES: usize = 64 << 10;
/// How long `wait` lets the stderr reader catch up after the child exited: the last lines a
/// dying program writes (its error) would otherwise be missing from the plugin's error message.
/// Bounded, because a grandchild may hold the pipe open.
const STDERR_DRAIN: std::time::Duration = std::time::Duration::from_millis(500);
/// Largest piece of standard output handed over in one read.
const MAX_READ_BYTES: usize = 1 << 20;
/// Longest wait for the child to take one write on its standard input.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Room above `max_processes` in the kernel's per-user cap (threads count there too, and
/// onnxruntime starts one per core).
const NPROC_HEADROOM: u64 = 256;

/// The live children of one plugin instance, to cap them at `max_children`.
#[derive(Debug, Default)]
pub(crate) struct LiveChildren(Arc<AtomicUsize>);

/// A running child process and its group.
pub struct ProcessChild {
    child: Child,
    program: String,
    /// The process group: the child's pid (it leads its own group).
    pgid: i32,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    /// The task reading stderr into `stderr`; it ends at the pipe's end.
    stderr_reader: Option<tokio::task::JoinHandle<()>>,
    /// Set by the watchdog when it killed the group, with the reason.
    stopped: Arc<OnceLock<String>>,
    /// The instance's count of live children, decremented on drop.
    live: Arc<AtomicUsize>,
    /// The child's working folder; removed with the child.
    _workdir: tempfile::TempDir,
}

impl ProcessChild {
    fn stderr_text(&self) -> String {
        let kept = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        let (a, b) = kept.as_slices();
        let mut bytes = a.to_vec();
        bytes.extend_from_slice(b);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The end of standard error, for messages.
    fn stderr_tail(&self) -> String {
        let text = self.stderr_text();
        let tail: String = text.trim().chars().rev().take(300).collect();
        tail.chars().rev().collect()
    }

    /// Kills the child and everything it started that is still in its group.
    fn kill_group(&mut self) {
        kill_group(self.pgid);
        let _ = self.child.start_kill();
    }

    /// The watchdog's refusal, once it killed the group.
    fn stopped(&self) -> Option<PluginError> {
        self.stopped
            .get()
            .map(|reason| PluginError::Denied(reason.clone()))
    }
}

impl Drop for ProcessChild {
    fn drop(&mut self) {
        // Grandchildren left in the group die with it, even after the child itself exited.
        kill_group(self.pgid);
        live_groups().remove(&self.pgid);
        self.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether this host runs as root (then children are started as `rules.uid`).
fn host_is_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

fn spawn(
    plugin: &str,
    program: &Path,
    args: Vec<String>,
    env: Vec<(String, String)>,
    rules: &ProcessRules,
    live: &Arc<AtomicUsize>,
) -> Result<ProcessChild, PluginError> {
    let name = program.display().to_string();
    let drop_to = (host_is_root() && rules.uid != 0).then_some((rules.uid, rules.gid));
    let workdir = tempfile::Builder::new()
        .prefix("voice-studio-child-")
        .tempdir()
        .map_err(|e| {
            PluginError::Internal(format!("cannot make a working folder for {name}: {e}"))
        })?;
    if let Some((uid, gid)) = drop_to {
        std::os::unix::fs::chown(workdir.path(), Some(uid), Some(gid)).map_err(|e| {
            PluginError::Internal(format!(
                "cannot hand the working folder of {name} to uid {uid}: {e}"
            ))
        })?;
    }
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .current_dir(workdir.path())
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(env);
    let mib = |mb: u64| mb.saturating_mul(1 << 20);
    let limits = &rules.limits;
    let mut rlimits = vec![
        (libc::RLIMIT_CPU, limits.cpu_seconds),
        (libc::RLIMIT_AS, mib(limits.memory_mb)),
        (libc::RLIMIT_FSIZE, mib(limits.file_size_mb)),
        (libc::RLIMIT_CORE, 0),
    ];
    if let Some((uid, gid)) = drop_to {
        // std sets no supplementary groups when root changes uid.
        command.uid(uid).gid(gid);
        // RLIMIT_NPROC counts every process of the user and root ignores it: meaningful only for
        // a child running as its own unprivileged user. A backstop to the watchdog (which sees
        // only the group) against a process that leaves the group.
        rlimits.push((
            libc::RLIMIT_NPROC,
            limits.max_processes.saturating_add(NPROC_HEADROOM),
        ));
    }
    // SAFETY: the closure runs in the forked child before exec and only makes two system calls
    // (setpriority, setrlimit), on values computed before the fork.
    unsafe {
        command.pre_exec(move || {
            // The worker that forked may run at the studio's raised live-audio priority; the
            // program runs at the normal one (lowering is always allowed).
            if libc::setpriority(libc::PRIO_PROCESS, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            for (resource, value) in &rlimits {
                let limit = libc::rlimit {
                    rlim_cur: *value,
                    rlim_max: *value,
                };
                if libc::setrlimit(*resource, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| PluginError::Unavailable(format!("cannot start {name}: {e}")))?;
    let Some(pgid) = child.id().and_then(|id| i32::try_from(id).ok()) else {
        let _ = child.start_kill();
        return Err(PluginError::Internal(format!(
            "{name} ended before it could be watched"
        )));
    };
    let stopped = Arc::new(OnceLock::new());
    register(
        pgid,
        LiveGroup {
            plugin: plugin.to_string(),
            program: name.clone(),
            max_processes: limits.max_processes,
            stopped: stopped.clone(),
        },
    );
    live.fetch_add(1, Ordering::AcqRel);
    let stderr = Arc::new(Mutex::new(VecDeque::new()));
    let stderr_reader = child.stderr.take().map(|mut pipe| {
        let kept = stderr.clone();
        tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buffer).await {
                let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
                kept.extend(&buffer[..n]);
                let excess = kept.len().saturating_sub(STDERR_KEEP_BYTES);
                kept.drain(..excess);
            }
        })
    });
    Ok(ProcessChild {
        stdin: child.stdin.take(),
        stdout: child.stdout.take(),
        child,
        program: name,
        pgid,
        stderr,
        stderr_reader,
        stopped,
        live: live.clone(),
        _workdir: workdir,
    })
}

impl InstanceCtx {
    /// Checks a spawn against `[plugins.NAME.process]`: the `denied` error when it breaks a rule.
    fn check_process_rules(
        &self,
        program: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<(), PluginError> {
        let plugin = self.plugin();
        let rules = &self.grant.entry.process;
        if let Err(mismatch) = rules.check_args(args) {
            return Err(denied(
                self,
                &format!("process {program} {mismatch} ([plugins.{plugin}.process] args)"),
            ));
        }
        for (name, _) in env {
            if let Err(why) = rules.check_env(name) {
                return Err(denied(
                    self,
                    &format!(
                        "process {program} environment variable {name}, {why} ([plugins.{plugin}.process] env)"
                    ),
                ));
            }
        }
        let live = self.children.0.load(Ordering::Acquire);
        if live >= rules.max_children as usize {
            return Err(denied(
                self,
                &format!(
                    "process {program}: {live} children are alive, max_children = {} ([plugins.{plugin}.process])",
                    rules.max_children
                ),
            ));
        }
        Ok(())
    }
}

impl process::Host for PluginView<'_> {
    async fn spawn(
        &mut self,
        program: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<Resource<ProcessChild>, PluginError>> {
        if !self.check(Capability::Process) {
            return Ok(Err(denied(self, "process")));
        }
        // A bare name (PIPER_PATH=piper) means the program on PATH, as the manifest resolved it.
        let resolved = if Path::new(&program).is_absolute() {
            PathBuf::from(&program)
        } else {
            match find_on_path(&program) {
                Some(found) => found,
                None => {
                    return Ok(Err(PluginError::Config(format!(
                        "`{program}` is not on PATH: install it or give its full path"
                    ))));
                }
            }
        };
        let Some(resolved) = Some(resolved).filter(|path| {
            self.grant
                .entry
                .allowed_executables
                .iter()
                .any(|allowed| allowed == path)
        }) else {
            return Ok(Err(denied(self, &format!("process/{program}"))));
        };
        if let Err(refused) = self.check_process_rules(&program, &args, &env) {
            return Ok(Err(refused));
        }
        let live = self.children.0.clone();
        match spawn(
            self.plugin(),
            &resolved,
            args,
            env,
            &self.grant.entry.process,
            &live,
        ) {
            Ok(child) => {
                tracing::debug!(plugin = self.plugin(), %program, pid = child.pgid, "child process started");
                Ok(Ok(self.table.push(child)?))
            }
            Err(error) => {
                tracing::warn!(plugin = self.plugin(), %program, "child process could not start: {error:?}");
                Ok(Err(error))
            }
        }
    }
}

impl process::HostChild for PluginView<'_> {
    async fn write_stdin(
        &mut self,
        child: Resource<ProcessChild>,
        bytes: Vec<u8>,
    ) -> wasmtime::Result<Result<(), PluginError>> {
        let cancel = self.cancel.clone();
        let child = self.table.get_mut(&child)?;
        if let Some(stopped) = child.stopped() {
            return Ok(Err(stopped));
        }
        let Some(stdin) = child.stdin.as_mut() else {
            return Ok(Err(PluginError::Internal(format!(
                "the standard input of {} is already closed",
                child.program
            ))));
        };
        let written = tokio::select! {
            written = tokio::time::timeout(WRITE_TIMEOUT, async {
                stdin.write_all(&bytes).await?;
                stdin.flush().await
            }) => written,
            () = cancel.cancelled() => {
                child.kill_group();
                return Ok(Err(PluginError::Cancelled));
            }
        };
        if let Some(stopped) = child.stopped() {
            return Ok(Err(stopped));
        }
        Ok(match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(PluginError::Unavailable(format!(
                "{} stopped reading its input: {error}; stderr: {}",
                child.program,
                child.stderr_tail()
            ))),
            Err(_) => Err(PluginError::Unavailable(format!(
                "{} did not take its input within {} s",
                child.program,
                WRITE_TIMEOUT.as_secs()
            ))),
        })
    }

    async fn close_stdin(&mut self, child: Resource<ProcessChild>) -> wasmtime::Result<()> {
        let child = self.table.get_mut(&child)?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.shutdown().await;
        }
        Ok(())
    }

    async fn read_stdout(
        &mut self,
        child: Resource<ProcessChild>,
        max_bytes: u32,
        timeout_ms: Option<u32>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, PluginError>> {
        let cancel = self.cancel.clone();
        let child = self.table.get_mut(&child)?;
        if let Some(stopped) = child.stopped() {
            return Ok(Err(stopped));
        }
        let Some(stdout) = child.stdout.as_mut() else {
            return Ok(Ok(None));
        };
        let max = usize::try_from(max_bytes)
            .unwrap_or(usize::MAX)
            .clamp(1, MAX_READ_BYTES);
        let mut buffer = vec![0u8; max];
        let read = async {
            match timeout_ms {
                Some(ms) => tokio::time::timeout(
                    Duration::from_millis(u64::from(ms)),
                    stdout.read(&mut buffer),
                )
                .await
                .ok(),
                None => Some(stdout.read(&mut buffer).await),
            }
        };
        let read = tokio::select! {
            read = read => read,
            () = cancel.cancelled() => {
                child.kill_group();
                return Ok(Err(PluginError::Cancelled));
            }
        };
        // The end of output after a watchdog kill is the kill, not a clean end.
        if let Some(stopped) = child.stopped() {
            return Ok(Err(stopped));
        }
        Ok(match read {
            // Timed out: nothing yet.
            None => Ok(Some(Vec::new())),
            Some(Ok(0)) => {
                child.stdout = None;
                Ok(None)
            }
            Some(Ok(n)) => {
                buffer.truncate(n);
                Ok(Some(buffer))
            }
            Some(Err(error)) => Err(PluginError::Unavailable(format!(
                "reading the output of {} failed: {error}",
                child.program
            ))),
        })
    }

    async fn stderr(&mut self, child: Resource<ProcessChild>) -> wasmtime::Result<String> {
        Ok(self.table.get(&child)?.stderr_text())
    }

    async fn wait(
        &mut self,
        child: Resource<ProcessChild>,
    ) -> wasmtime::Result<Result<i32, PluginError>> {
        let cancel = self.cancel.clone();
        let child = self.table.get_mut(&child)?;
        // The child may block writing to a full stdout pipe nobody reads: close our end first.
        child.stdin = None;
        let status = tokio::select! {
            status = child.child.wait() => status,
            () = cancel.cancelled() => {
                child.kill_group();
                return Ok(Err(PluginError::Cancelled));
            }
        };
        if let Some(reader) = child.stderr_reader.take() {
            let _ = tokio::time::timeout(STDERR_DRAIN, reader).await;
        }
        if let Some(stopped) = child.stopped() {
            return Ok(Err(stopped));
        }
        Ok(match status {
            Ok(status) => Ok(status.code().unwrap_or(-1)),
            Err(error) => Err(PluginError::Internal(format!(
                "waiting for {} failed: {error}",
                child.program
            ))),
        })
    }

    async fn kill(&mut self, child: Resource<ProcessChild>) -> wasmtime::Result<()> {
        let child = self.table.get_mut(&child)?;
        child.kill_group();
        Ok(())
    }

    async fn drop(&mut self, child: Resource<ProcessChild>) -> wasmtime::Result<()> {
        // Dropping it kills the group (see `Drop`); tokio reaps the child in the background.
        let child = self.table.delete(child)?;
        drop(child);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
