//! The real server binary under test: started on a free port, its CPU and memory read from
//! /proc.

use super::*;

/// The server under test: the real binary, its output drained so it never blocks on a pipe.
pub(super) struct Server {
    pub(super) child: Child,
    pub(super) addr: SocketAddr,
}

impl Server {
    /// Starts the server, exporting its traces to the OTLP receiver at `otlp_endpoint`.
    pub(super) fn start(work: &Path, otlp_endpoint: &str) -> Self {
        if let Err(e) = std::fs::write(work.join("plugins.toml"), manifest()) {
            fail(&format!("cannot write plugins.toml: {e}"));
        }
        // `STUDIO_BENCH_SERVER_WRAP`: a program the server runs under (a heap profiler, say).
        let mut command = match std::env::var("STUDIO_BENCH_SERVER_WRAP") {
            Ok(wrapper) if !wrapper.is_empty() => {
                let mut c = Command::new(wrapper);
                c.arg(env!("CARGO_BIN_EXE_voice-studio"));
                c
            }
            _ => Command::new(env!("CARGO_BIN_EXE_voice-studio")),
        };
        command.env_clear();
        // Extra variables for the server, `KEY=VALUE` separated by spaces (allocator knobs, say).
        for pair in std::env::var("STUDIO_BENCH_SERVER_ENV")
            .unwrap_or_default()
            .split_whitespace()
        {
            if let Some((key, value)) = pair.split_once('=') {
                command.env(key, value);
            }
        }
        let spawned = command
            .current_dir(work)
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("PLUGIN_DIR", voice_studio::plugins::BUILT_PLUGIN_DIR)
            .env("RECORDING_DIR", work.join("recordings"))
            .env("PLUGINS_WATCH", "false")
            .env("STUDIO_GRACE_SECONDS", "1")
            // Every benchmark client shares 127.0.0.1: the per-address caps would stop it at 32.
            .env("MAX_CONNECTIONS", "100000")
            .env("MAX_CONNECTIONS_PER_IP", "100000")
            // Each benchmark client opens its own studio from 127.0.0.1.
            .env("MAX_STUDIOS", "100000")
            .env("MAX_STUDIOS_PER_IP", "100000")
            .env("RUST_LOG", "warn")
            // Each line's trace (the host's own time between stages), exported twice a second.
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_endpoint)
            .env("OTEL_BSP_SCHEDULE_DELAY", "500")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => fail(&format!("cannot start voice-studio: {e}")),
        };
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            fail("voice-studio output not piped");
        };
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = stderr.read_to_end(&mut sink);
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line
                    .strip_prefix("Listening on:")
                    .and_then(|r| r.trim().strip_prefix("http://"))
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let addr = match rx
            .recv_timeout(Duration::from_secs(60))
            .ok()
            .and_then(|a| a.parse().ok())
        {
            Some(a) => a,
            None => {
                let _ = child.kill();
                fail("voice-studio did not start");
            }
        };
        Self { child, addr }
    }

    /// utime + stime of the server process, in clock ticks.
    pub(super) fn cpu_ticks(&self) -> u64 {
        process_cpu_ticks(&self.child.id().to_string())
    }

    pub(super) fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// Live studios, from /health.
    pub(super) fn studios(&self) -> usize {
        let Ok(mut stream) = std::net::TcpStream::connect(self.addr) else {
            return 0;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        if std::io::Write::write_all(&mut stream, request.as_bytes()).is_err() {
            return 0;
        }
        let mut body = String::new();
        let _ = stream.read_to_string(&mut body);
        body.split_once("\r\n\r\n")
            .and_then(|(_, json)| serde_json::from_str::<serde_json::Value>(json).ok())
            .and_then(|v| v["studios"].as_u64())
            .map_or(0, |n| n as usize)
    }

    pub(super) fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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

pub(super) fn ticks_per_second() -> f64 {
    // USER_HZ is 100 on every Linux this runs on (getconf CLK_TCK).
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of process `pid` (`self` for this one), in clock ticks.
pub(super) fn process_cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat(5), i.e. 11 and 12 after the name.
    field(11) + field(12)
}
