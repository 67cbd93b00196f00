//! A real load balancer in front of several hosts for the cluster tests: Debian's `haproxy`
//! (installed by `.ci/setup`), run in the foreground on a free local port with a config written
//! into a temp folder, and stopped when dropped. It balances round-robin as a production
//! balancer without sticky sessions would, so clients of one episode land on different hosts.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::redis::{free_port, system_program};

/// How long haproxy may take to listen; a guard against a hung start, not a timing assertion.
const STARTUP: Duration = Duration::from_secs(30);
/// Starts tried before giving up: the free port is found by binding port 0 and closing it, so
/// another process may take it before haproxy binds it; the next start picks another port.
const ATTEMPTS: usize = 3;

/// A running haproxy balancing HTTP and WebSockets over some backends.
pub struct Balancer {
    child: Child,
    pub addr: SocketAddr,
    /// Holds haproxy.cfg and haproxy's log; removed when dropped, after haproxy.
    dir: tempfile::TempDir,
}

impl Balancer {
    /// Starts haproxy on a free 127.0.0.1 port in front of `backends` and waits until it accepts
    /// connections. The backends need not be up yet: haproxy's health checks (`GET /health`
    /// every 500 ms) take a backend out of rotation after 2 failures and back after 2 passes.
    pub fn start(backends: &[SocketAddr]) -> Self {
        assert!(
            !backends.is_empty(),
            "a balancer needs at least one backend"
        );
        let program = system_program("haproxy");
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            match Self::try_start(&program, backends) {
                Ok(balancer) => return balancer,
                Err(failure) => failures.push(failure),
            }
        }
        panic!(
            "haproxy did not start in {ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    /// One start on a fresh port; `Err` with the reason and haproxy's log when it exited before
    /// listening (a port taken meanwhile, most likely).
    fn try_start(program: &Path, backends: &[SocketAddr]) -> Result<Self, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("haproxy.cfg");
        std::fs::write(&config, config_text(port, backends)).expect("write haproxy.cfg");
        // haproxy in the foreground (-db) logs its alerts and the servers' state changes to
        // stderr: kept in a file for the failure message and `log()`, never a full pipe.
        let log = std::fs::File::create(dir.path().join("haproxy.log")).expect("create log");
        let child = Command::new(program)
            .arg("-f")
            .arg(&config)
            .arg("-db")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let mut balancer = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(Some(status)) = balancer.child.try_wait() {
                return Err(format!(
                    "haproxy on port {port} exited ({status}); its log:\n{}",
                    balancer.log()
                ));
            }
            if TcpStream::connect_timeout(&balancer.addr, Duration::from_secs(1)).is_ok() {
                // A connect could reach another program that took the port just before haproxy
                // failed to bind it: haproxy still running is the proof it is listening.
                if matches!(balancer.child.try_wait(), Ok(None)) {
                    return Ok(balancer);
                }
                continue;
            }
            if Instant::now() >= deadline {
                // Dropping `balancer` kills the child.
                return Err(format!(
                    "haproxy on port {port} did not listen within {STARTUP:?}; its log:\n{}",
                    balancer.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What haproxy logged so far: start-up alerts and each server going DOWN or UP, for a test's
    /// failure message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// haproxy.cfg: `port` on loopback, round-robin over `backends` (servers `h0`, `h1`, ...).
fn config_text(port: u16, backends: &[SocketAddr]) -> String {
    // No `user`, `chroot` or `daemon` in `global`: the test runs haproxy as whoever runs the
    // tests, in the foreground, so the test owns the process and kills it.
    let mut text = format!(
        "\
global
    maxconn 1000

defaults
    mode http
    timeout connect 2s
    # A client or server silent this long ends an HTTP exchange (long-polling waits 25 s).
    timeout client 60s
    timeout server 60s
    # Once a connection is upgraded (a WebSocket), this replaces the two above: a studio's
    # WebSocket lives for the length of a show.
    timeout tunnel 1h

frontend studio
    bind 127.0.0.1:{port}
    default_backend hosts

backend hosts
    balance roundrobin
    # /health, not /ready: it answers 200 whenever the process serves HTTP, while /ready also
    # needs every role's plugin, which the tests' plugin sets do not all have.
    option httpchk GET /health
    # A connection refused (a host killed before the checks noticed) is retried up to 3 times,
    # each time on another server (redispatch on every retry), so the client sees no error.
    option redispatch 1
    retries 3
"
    );
    for (i, addr) in backends.iter().enumerate() {
        text.push_str(&format!(
            "    server h{i} {addr} check inter 500 fall 2 rise 2\n"
        ));
    }
    text
}
