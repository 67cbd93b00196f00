//! A real Redis for the cluster tests: Debian's `redis-server` (installed by `.ci/setup`), started
//! by the test on a free local port with no persistence and no config file, and stopped when
//! dropped. Each test gets its own empty server, so tests never share keys.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to answer its first `PING`; a guard against a hung start, not a
/// timing assertion (Redis starts in milliseconds).
const STARTUP: Duration = Duration::from_secs(30);
/// Starts tried before giving up: the free port is found by binding port 0 and closing it, so
/// another process may take it before the server binds it; the next start picks another port.
const ATTEMPTS: usize = 3;

/// A running `redis-server`.
pub struct RedisServer {
    child: Child,
    pub addr: SocketAddr,
    /// The server's working folder (`--dir`) and log; removed when dropped, after the server.
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts `redis-server` on a free 127.0.0.1 port and waits until it answers `PING`.
    pub fn start() -> Self {
        let program = system_program("redis-server");
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            match Self::try_start(&program) {
                Ok(server) => return server,
                Err(failure) => failures.push(failure),
            }
        }
        panic!(
            "redis-server did not start in {ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    /// One start on a fresh port; `Err` with the reason and the server's log when it exited
    /// before answering (a port taken meanwhile, most likely).
    fn try_start(program: &Path) -> Result<Self, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("redis.log");
        let port = free_port();
        let child = Command::new(program)
            // Command-line options only: no config file, so the machine's /etc/redis/redis.conf
            // (and its service's port 6379) play no part.
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            // No RDB snapshots and no append-only file: a test server keeps nothing.
            .args(["--save", "", "--appendonly", "no"])
            // Protected mode refuses clients of a password-less server that are not on
            // loopback; this one listens on loopback only, so it is off and changes nothing.
            .args(["--protected-mode", "no"])
            // Anything it would write goes to its own temp folder, not the test's working folder.
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            _dir: dir,
        };
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "redis-server on port {port} exited ({status}); its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            // A TCP connect alone could reach another program that took the port; the answer
            // to PING proves it is this Redis and that it accepts commands.
            if ping(server.addr) {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                // Dropping `server` kills the child.
                return Err(format!(
                    "redis-server on port {port} did not answer PING within {STARTUP:?}; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a Redis listens at `addr` and answers `PING` with `+PONG` (not `-LOADING` or an
/// error), over a raw socket in RESP.
fn ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    if stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .is_err()
        || stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_err()
    {
        return false;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line == "+PONG\r\n"
}

/// A port nobody listens on at the moment of the call.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A program from the machine's packages: found on `PATH`, else in /usr/bin or /usr/sbin (a
/// non-root `PATH` often lacks /usr/sbin, where Debian puts haproxy). Panics naming the fix when
/// it is not installed.
pub fn system_program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed: run .ci/setup (it installs the Debian package)")
        })
}
