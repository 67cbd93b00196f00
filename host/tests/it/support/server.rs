//! Runs the real `voice-studio` binary for tests: a temp working folder (so no `.env` of the
//! checkout leaks in), a plugins.toml of real test plugins, PORT=0 on 127.0.0.1, and a minimal
//! HTTP/1.1 client over a real socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Guards against a hung server; never a timing assertion.
const DEADLINE: Duration = Duration::from_secs(120);

/// Real plugins that load without network or keys: every role but tts.
pub const TEST_MANIFEST: &str = r#"
[roles]
stt = "frame-counter"
claude = "fault-injector"
guest = "fault-injector"
policy = "echo-policy"

[plugins.frame-counter]
path = "frame-counter.wasm"
capabilities = ["log"]

[plugins.fault-injector]
path = "fault-injector.wasm"
capabilities = ["log", "config"]

[plugins.echo-policy]
path = "echo-policy.wasm"
capabilities = ["log"]
"#;

/// A working folder with plugins.toml and the variables a test server needs.
pub struct ServerSetup {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    /// Command-line arguments (none: the bare command, which serves).
    pub args: Vec<String>,
}

impl ServerSetup {
    /// PORT=0 on 127.0.0.1, recordings in the temp folder, the test plugins.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("plugins.toml"), TEST_MANIFEST).expect("write plugins.toml");
        let env = vec![
            ("HOST".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            (
                "PLUGIN_DIR".into(),
                voice_studio::plugins::BUILT_PLUGIN_DIR.into(),
            ),
            (
                "RECORDING_DIR".into(),
                dir.path().join("recordings").display().to_string(),
            ),
            ("PLUGINS_WATCH".into(), "false".into()),
            ("RUST_LOG".into(), "info".into()),
            // Test suites open many studios from 127.0.0.1 within one grace period; the limit
            // tests set MAX_STUDIOS_PER_IP back to what they check.
            ("MAX_STUDIOS_PER_IP".into(), "1000".into()),
        ];
        Self {
            dir,
            env,
            args: Vec::new(),
        }
    }

    /// Adds a command-line argument.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets (or replaces) a variable.
    pub fn var(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// Replaces plugins.toml with `manifest`.
    pub fn manifest(self, manifest: &str) -> Self {
        std::fs::write(self.dir.path().join("plugins.toml"), manifest).expect("write plugins.toml");
        self
    }

    /// Writes `.env` in the working folder.
    pub fn dotenv(self, contents: &str) -> Self {
        std::fs::write(self.dir.path().join(".env"), contents).expect("write .env");
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn recording_dir(&self) -> PathBuf {
        self.dir.path().join("recordings")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_voice-studio"));
        cmd.args(&self.args)
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs the binary expecting it to stop by itself (a configuration error); returns its exit
    /// status and stderr.
    pub fn run_to_exit(&self) -> (ExitStatus, String) {
        let mut child = self.command().spawn().expect("spawn voice-studio");
        let status = wait_with_deadline(&mut child);
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            e.read_to_string(&mut stderr).expect("read stderr");
        }
        (status, stderr)
    }

    /// Starts the server and waits until its banner names the address it listens on.
    pub fn start(self) -> Server {
        let mut child = self.command().spawn().expect("spawn voice-studio");
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("Listening on:")
                    && let Some(addr) = rest.trim().strip_prefix("http://")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let (log_tx, log_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut all = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut all);
            let _ = log_tx.send(all);
        });
        let addr = match rx.recv_timeout(DEADLINE) {
            Ok(addr) => addr.parse().expect("banner address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = log_rx
                    .recv_timeout(Duration::from_secs(5))
                    .unwrap_or_default();
                panic!("voice-studio did not start; its log:\n{log}");
            }
        };
        Server {
            child,
            addr,
            log: Some(log_rx),
            setup: self,
        }
    }
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: Option<mpsc::Receiver<String>>,
    pub setup: ServerSetup,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        http(self.addr, "GET", path, &[], None)
    }

    pub fn post(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> HttpResponse {
        http(self.addr, "POST", path, headers, Some(body))
    }

    /// Sends SIGTERM and waits for the exit; returns the status and the server's log.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let exit = wait_with_deadline(&mut self.child);
        let log = self
            .log
            .take()
            .and_then(|rx| rx.recv_timeout(Duration::from_secs(10)).ok())
            .unwrap_or_default();
        (exit, log)
    }
}

impl Server {
    /// The server's process id (a test that kills it with SIGKILL itself).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log of a server that was killed from outside, once it has exited.
    pub fn log_after_exit(mut self) -> String {
        wait_with_deadline(&mut self.child);
        self.log
            .take()
            .and_then(|rx| rx.recv_timeout(Duration::from_secs(10)).ok())
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn wait_with_deadline(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for voice-studio") {
            return status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("voice-studio did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request with `Connection: close` over a real TCP socket.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    if let Some(body) = body {
        request.push_str(body);
    }
    stream.write_all(request.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// A response whose body is kept as bytes (recordings are binary).
#[derive(Debug)]
pub struct BinaryResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl BinaryResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `GET` (or `HEAD`) of a raw request target, sent exactly as given (no normalisation, so
/// traversal attempts reach the server as an attacker would send them).
pub fn get_bytes(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> BinaryResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = &raw[split + 4..];
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk_bytes(body)
    } else {
        body.to_vec()
    };
    BinaryResponse {
        status,
        headers,
        body,
    }
}

fn dechunk_bytes(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..eol]).into_owned();
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let after = &rest[eol + 2..];
        if n == 0 || after.len() < n {
            break;
        }
        out.extend_from_slice(&after[..n]);
        rest = after[n..].strip_prefix(b"\r\n").unwrap_or(&after[n..]);
    }
    out
}

/// The Node end-to-end suites (`tests/e2e`), run with the official `socket.io-client`.
pub mod node {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};
    use std::sync::{Mutex, PoisonError};

    /// `tests/e2e` of the checkout.
    pub fn e2e_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("tests")
            .join("e2e")
    }

    /// Installs the pinned socket.io-client once (`npm ci` from the committed lock file).
    pub fn install_client(dir: &Path) {
        // Tests of one binary run in parallel; one `npm ci` at a time.
        static INSTALL: Mutex<()> = Mutex::new(());
        let _one_at_a_time = INSTALL.lock().unwrap_or_else(PoisonError::into_inner);
        if !dir.join("node_modules").join("socket.io-client").is_dir() {
            let install = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(dir)
                .output()
                .expect("run npm ci (is Node.js installed?)");
            assert!(
                install.status.success(),
                "npm ci failed:\n{}\n{}",
                String::from_utf8_lossy(&install.stdout),
                String::from_utf8_lossy(&install.stderr)
            );
        }
    }

    /// Runs `node --test` on `files` of `tests/e2e` with `env`; returns its output.
    pub fn run_suites(files: &[&str], env: &[(&str, String)]) -> Output {
        let dir = e2e_dir();
        install_client(&dir);
        let mut cmd = Command::new("node");
        cmd.arg("--test").current_dir(&dir);
        for file in files {
            cmd.arg(dir.join(file));
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output()
            .expect("run node --test (is Node.js installed?)")
    }

    /// Asserts that the run passed and that tests actually ran (a runner that found none would
    /// also exit 0).
    pub fn assert_all_passed(run: &Output) {
        let stdout = String::from_utf8_lossy(&run.stdout);
        let stderr = String::from_utf8_lossy(&run.stderr);
        // The runner's report, for `--nocapture` (which scenarios ran, how long each took).
        println!("{stdout}");
        assert!(
            run.status.success(),
            "scenarios failed:\n{stdout}\n{stderr}"
        );
        assert!(stdout.contains("# pass"), "{stdout}");
        assert!(!stdout.contains("# pass 0"), "no scenario ran:\n{stdout}");
        assert!(stdout.contains("# fail 0"), "{stdout}");
        assert!(
            stdout.contains("# skipped 0"),
            "a scenario was skipped:\n{stdout}"
        );
    }
}
