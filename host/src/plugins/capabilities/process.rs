//! The `process` capability: child processes (for local engines such as Piper) started only from
//! the plugin's `allowed_executables`, by exact path.
//!
//! A child gets no environment but `PATH` and what the plugin passes, its standard error is kept
//! (the last 64 KiB) for error messages, every read waits at most the plugin's timeout, and the
//! child is killed when the plugin drops it, when the call is cancelled while it waits on the
//! child, and when the instance goes away.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use wasmtime::component::Resource;

use super::super::bindings::process;
use super::super::bindings::types::PluginError;
use super::super::manifest::{Capability, find_on_path};
use super::super::sandbox::PluginState;
use super::denied;

/// Standard error kept per child.
const STDERR_KEEP_BYTES: usize = 64 << 10;
/// Largest piece of standard output handed over in one read.
const MAX_READ_BYTES: usize = 1 << 20;
/// Longest wait for the child to take one write on its standard input.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running child process.
pub struct ProcessChild {
    child: Child,
    program: String,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
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
}

fn spawn(
    program: &str,
    args: Vec<String>,
    env: Vec<(String, String)>,
) -> Result<ProcessChild, PluginError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(env);
    let mut child = command
        .spawn()
        .map_err(|e| PluginError::Unavailable(format!("cannot start {program}: {e}")))?;
    let stderr = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(mut pipe) = child.stderr.take() {
        let kept = stderr.clone();
        tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buffer).await {
                let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
                kept.extend(&buffer[..n]);
                let excess = kept.len().saturating_sub(STDERR_KEEP_BYTES);
                kept.drain(..excess);
            }
        });
    }
    Ok(ProcessChild {
        stdin: child.stdin.take(),
        stdout: child.stdout.take(),
        child,
        program: program.to_string(),
        stderr,
    })
}

impl process::Host for PluginState {
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
        match spawn(&resolved.to_string_lossy(), args, env) {
            Ok(child) => {
                tracing::debug!(plugin = self.plugin(), %program, pid = child.child.id(), "child process started");
                Ok(Ok(self.table.push(child)?))
            }
            Err(error) => {
                tracing::warn!(plugin = self.plugin(), %program, "child process could not start: {error:?}");
                Ok(Err(error))
            }
        }
    }
}

impl process::HostChild for PluginState {
    async fn write_stdin(
        &mut self,
        child: Resource<ProcessChild>,
        bytes: Vec<u8>,
    ) -> wasmtime::Result<Result<(), PluginError>> {
        let cancel = self.cancel.clone();
        let child = self.table.get_mut(&child)?;
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
                let _ = child.child.start_kill();
                return Ok(Err(PluginError::Cancelled));
            }
        };
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
                let _ = child.child.start_kill();
                return Ok(Err(PluginError::Cancelled));
            }
        };
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
                let _ = child.child.start_kill();
                return Ok(Err(PluginError::Cancelled));
            }
        };
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
        let _ = child.child.start_kill();
        Ok(())
    }

    async fn drop(&mut self, child: Resource<ProcessChild>) -> wasmtime::Result<()> {
        // kill_on_drop ends the process; tokio reaps it in the background.
        let child = self.table.delete(child)?;
        drop(child);
        Ok(())
    }
}
