//! The cluster tests' own tools checked on their own: the Redis they run (`support::redis`) and
//! the load balancer they put in front of several hosts (`support::haproxy`). A cluster test that
//! fails should fail on the studio, not on a helper that never worked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::haproxy::Balancer;
use crate::support::redis::RedisServer;
use crate::support::server::http;

/// Guards against a hung helper; never a timing assertion.
const DEADLINE: Duration = Duration::from_secs(10);

#[test]
fn redis_answers_ping_and_keeps_what_is_set() {
    let redis = RedisServer::start();
    assert_eq!(redis.url(), format!("redis://{}/", redis.addr));
    let stream = TcpStream::connect(redis.addr).expect("connect to redis");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut conn = BufReader::new(stream);

    assert_eq!(command(&mut conn, &["PING"]), "+PONG");
    assert_eq!(
        command(&mut conn, &["GET", "studio:ep-1"]),
        "$-1",
        "a new server is empty"
    );
    // A value with a space and a CRLF: bulk strings carry any bytes.
    assert_eq!(
        command(&mut conn, &["SET", "studio:ep-1", "http://h1:4000 \r\n x"]),
        "+OK"
    );
    assert_eq!(
        command(&mut conn, &["GET", "studio:ep-1"]),
        "http://h1:4000 \r\n x"
    );
    // The placement lease's form: set only if absent, with an expiry.
    assert_eq!(
        command(
            &mut conn,
            &["SET", "studio:ep-1", "other", "NX", "PX", "10000"]
        ),
        "$-1",
        "NX does not replace a held key"
    );
}

#[test]
fn the_balancer_spreads_requests_and_serves_on_when_a_backend_stops() {
    let a = Backend::start("backend-a");
    let b = Backend::start("backend-b");
    let balancer = Balancer::start(&[a.addr, b.addr]);
    assert_eq!(balancer.url(), format!("http://{}", balancer.addr));

    // Round-robin: two requests in a row reach both backends. Retried until the deadline only
    // in case a backend is not yet in rotation (haproxy's first checks).
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut names = [get_name(&balancer), get_name(&balancer)];
        names.sort();
        if names == ["backend-a", "backend-b"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "two requests did not reach both backends (last: {names:?}); haproxy's log:\n{}",
            balancer.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    a.stop();
    // Before the checks notice, a connection refused by the stopped backend is redispatched to
    // the other one: no client sees an error.
    for _ in 0..4 {
        assert_eq!(get_name(&balancer), "backend-b");
    }
    // Then haproxy takes it out of rotation (2 failed checks 500 ms apart).
    let deadline = Instant::now() + DEADLINE;
    while !balancer.log().contains("Server hosts/h0 is DOWN") {
        assert!(
            Instant::now() < deadline,
            "haproxy never marked the stopped backend down; its log:\n{}",
            balancer.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..4 {
        assert_eq!(get_name(&balancer), "backend-b");
    }
}

/// `GET /health` through the balancer; the body names the backend that answered.
fn get_name(balancer: &Balancer) -> String {
    let response = http(balancer.addr, "GET", "/health", &[], None);
    assert_eq!(
        response.status,
        200,
        "{}; haproxy's log:\n{}",
        response.body,
        balancer.log()
    );
    response.body
}

/// Sends one command as a RESP array of bulk strings and reads its reply: a simple string,
/// error or integer as its line (`+OK`, `-ERR ...`, `:1`), a bulk string as its value, a null
/// bulk string as `$-1`.
fn command(conn: &mut BufReader<TcpStream>, args: &[&str]) -> String {
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    conn.get_mut()
        .write_all(request.as_bytes())
        .expect("send command");
    let mut line = String::new();
    conn.read_line(&mut line).expect("read reply");
    let line = line
        .strip_suffix("\r\n")
        .unwrap_or_else(|| panic!("a reply line ends with CRLF: {line:?}"));
    let Some(len) = line.strip_prefix('$') else {
        return line.to_owned();
    };
    let Ok(len) = len.parse::<usize>() else {
        return line.to_owned(); // $-1
    };
    let mut value = vec![0; len + 2];
    conn.read_exact(&mut value).expect("read bulk string");
    assert_eq!(&value[len..], b"\r\n", "a bulk string ends with CRLF");
    value.truncate(len);
    String::from_utf8(value).expect("UTF-8 value")
}

/// A tiny HTTP backend: answers every request (the balancer's health checks included, any
/// number of them) with 200 and its name as the body, until stopped.
struct Backend {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    fn start(name: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a backend");
        let addr = listener.local_addr().expect("backend address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    answer(stream, name);
                }
            }
            // The listener is dropped here: connections are refused from now on.
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Closes the listening socket and waits until it is closed.
    fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect(self.addr);
        thread.join().expect("backend thread");
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.shut();
    }
}

/// Reads one request's head and answers it; a client that sends nothing (a bare TCP check) or
/// goes away is let go.
fn answer(stream: TcpStream, name: &str) {
    let _ = stream.set_read_timeout(Some(DEADLINE));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
        name.len()
    );
    let _ = reader.get_mut().write_all(response.as_bytes());
}
