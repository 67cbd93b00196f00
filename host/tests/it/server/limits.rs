//! Connection-level limits on the real server binary over real TCP: connections per address and
//! in total (`MAX_CONNECTIONS_PER_IP`, `MAX_CONNECTIONS`), message sizes (`MAX_MESSAGE_BYTES`:
//! WebSocket messages, long-polling payloads, Socket.IO binary attachments), and slow clients
//! (`HTTP_HEADER_TIMEOUT_SECONDS`, `HTTP_BODY_TIMEOUT_SECONDS`).
//!
//! Other peers are other loopback addresses: the client socket is bound to 127.0.0.2... before
//! it connects (Linux routes all of 127/8 to lo). Deadlines here only guard against a hung
//! test; nothing asserts how fast the server was.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::support::server::ServerSetup;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Guards every wait; generous for a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(30);

type Ws = WebSocketStream<TcpStream>;

/// A TCP connection to `server` from the loopback address `127.0.0.<last>`.
async fn connect_from(last: u8, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), 0);
    socket.bind(local).expect("bind a loopback address");
    socket.connect(server).await.expect("connect")
}

/// Sends `request` and reads the answer until the server closes the connection.
async fn exchange(mut stream: TcpStream, request: &str) -> String {
    // The server may answer (and close) before reading a refused request: a failed write is fine.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server neither answered nor closed");
    String::from_utf8_lossy(&answer).into_owned()
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: studio\r\nConnection: close\r\n\r\n")
}

/// `GET /health` from `127.0.0.<last>`: the whole answer.
async fn health_from(last: u8, server: SocketAddr) -> String {
    exchange(connect_from(last, server).await, &get("/health")).await
}

/// A connection that the server has taken a slot for: it answered one keep-alive request on it.
async fn open_connection(last: u8, server: SocketAddr) -> TcpStream {
    try_open_connection(last, server)
        .await
        .unwrap_or_else(|head| panic!("not served: {head}"))
}

/// Like [`open_connection`]; the answer's head when it was not 200.
async fn try_open_connection(last: u8, server: SocketAddr) -> Result<TcpStream, String> {
    let mut stream = connect_from(last, server).await;
    let _ = stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: studio\r\n\r\n")
        .await;
    let mut head = Vec::new();
    tokio::time::timeout(DEADLINE, async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&head).contains("\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("an answer");
    let head = String::from_utf8_lossy(&head).into_owned();
    if head.starts_with("HTTP/1.1 200") {
        Ok(stream)
    } else {
        Err(head)
    }
}

/// A slot from `127.0.0.<last>` once one is free: a connection the server just closed frees its
/// slot a moment after the client sees the close.
async fn open_connection_when_free(last: u8, server: SocketAddr) -> TcpStream {
    let start = Instant::now();
    loop {
        match try_open_connection(last, server).await {
            Ok(stream) => return stream,
            Err(head) if start.elapsed() > DEADLINE => panic!("no slot freed: {head}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Polls `GET /health` from `127.0.0.<last>` until it is answered 200 (a slot freed).
async fn wait_for_ok(last: u8, server: SocketAddr) -> String {
    let start = Instant::now();
    loop {
        let answer = health_from(last, server).await;
        if answer.starts_with("HTTP/1.1 200") || start.elapsed() > DEADLINE {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_address_cap_are_refused_naming_the_variable_and_others_still_connect()
 {
    // Held keep-alive connections must not be cut by the header timeout on a slow machine.
    let server = ServerSetup::new()
        .var("MAX_CONNECTIONS_PER_IP", "3")
        .var("HTTP_HEADER_TIMEOUT_SECONDS", "600")
        .start();
    let addr = server.addr;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(open_connection(1, addr).await);
    }

    let refused = health_from(1, addr).await;
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(refused.contains("MAX_CONNECTIONS_PER_IP"), "{refused}");
    assert!(refused.contains("at most 3"), "{refused}");

    // Another address is not affected.
    let other = health_from(2, addr).await;
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");

    // A closed connection frees its slot.
    held.pop();
    let freed = wait_for_ok(1, addr).await;
    assert!(freed.starts_with("HTTP/1.1 200"), "{freed}");
    // ...and only that one: the two still held plus one new fill the cap again.
    let _again = open_connection_when_free(1, addr).await;
    let refused = health_from(1, addr).await;
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");

    let (_, log) = server.terminate();
    assert!(log.contains("MAX_CONNECTIONS_PER_IP"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_total_cap_are_refused_from_any_address() {
    let server = ServerSetup::new()
        .var("MAX_CONNECTIONS", "3")
        .var("HTTP_HEADER_TIMEOUT_SECONDS", "600")
        .start();
    let addr = server.addr;
    let _held = [
        open_connection(2, addr).await,
        open_connection(3, addr).await,
        open_connection(4, addr).await,
    ];
    let refused = health_from(5, addr).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("(MAX_CONNECTIONS)"), "{refused}");
    assert!(refused.contains("at most 3"), "{refused}");
}

/// A WebSocket connected to Socket.IO's namespace `/` from `127.0.0.<last>`.
async fn socketio_client(last: u8, server: SocketAddr) -> Ws {
    let stream = connect_from(last, server).await;
    let url = format!("ws://{server}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("WebSocket handshake");
    let open = next_text(&mut ws).await.expect("engine.io open");
    assert!(open.starts_with('0'), "{open}");
    ws.send(Message::text("40")).await.expect("send connect");
    let connected = next_text(&mut ws).await.expect("socket.io connect");
    assert!(connected.starts_with("40"), "{connected}");
    ws
}

/// The next text packet, answering engine.io pings; `None` once the connection is closed.
async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        let message = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("the server neither sent nor closed");
        match message {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                ws.send(Message::text("3")).await.ok()?;
            }
            Some(Ok(Message::Text(text))) => return Some(text.as_str().to_owned()),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// How the server ended `ws`: its close frame (if any) and the end of the stream. Pings are
/// answered, so only the limit under test can end the connection.
async fn closing(ws: &mut Ws) -> String {
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        let message = tokio::time::timeout_at(until, ws.next())
            .await
            .expect("the connection was not closed");
        match message {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                if ws.send(Message::text("3")).await.is_err() {
                    return "closed while answering a ping".to_owned();
                }
            }
            Some(Ok(Message::Close(frame))) => return format!("close frame {frame:?}"),
            Some(Err(e)) => return format!("error {e}"),
            None => return "end of stream".to_owned(),
            Some(Ok(_)) => {}
        }
    }
}

/// The other client is still served: it asks for the state and gets the snapshot.
async fn assert_still_served(ws: &mut Ws) {
    ws.send(Message::text(r#"42["client.request-state"]"#))
        .await
        .expect("send on the other connection");
    loop {
        let text = next_text(ws).await.expect("the other connection is open");
        if text.contains("state.snapshot") {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_message_over_the_cap_closes_only_that_connection() {
    let server = ServerSetup::new().start();
    let addr = server.addr;
    let mut bystander = socketio_client(1, addr).await;
    let mut attacker = socketio_client(2, addr).await;

    // A real Socket.IO event of 2 MiB (the cap is 1 MiB), in one WebSocket frame.
    let big = format!(r#"42["client.request-state","{}"]"#, "a".repeat(2 << 20));
    // The server may close while the frame is still being written.
    let _ = attacker.send(Message::text(big)).await;
    let how = closing(&mut attacker).await;
    eprintln!("a 2 MiB message ended its connection with: {how}");

    assert_still_served(&mut bystander).await;
    let fresh = health_from(1, addr).await;
    assert!(fresh.starts_with("HTTP/1.1 200"), "{fresh}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_attachments_over_the_cap_in_total_close_the_connection() {
    let server = ServerSetup::new().start();
    let addr = server.addr;
    let mut bystander = socketio_client(1, addr).await;
    let mut attacker = socketio_client(2, addr).await;

    // Two attachments of 600 KiB: each under the 1 MiB cap, together over it.
    attacker
        .send(Message::text(
            r#"452-["audio.chunk",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        ))
        .await
        .expect("send the event");
    for _ in 0..2 {
        let _ = attacker.send(Message::binary(vec![0u8; 600 * 1024])).await;
    }
    let how = closing(&mut attacker).await;
    eprintln!("attachments over the cap ended their connection with: {how}");

    assert_still_served(&mut bystander).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_polling_payload_over_the_cap_is_refused() {
    let server = ServerSetup::new()
        .var("MAX_MESSAGE_BYTES", "262144")
        .start();
    let addr = server.addr;
    let open = exchange(
        connect_from(1, addr).await,
        &get("/socket.io/?EIO=4&transport=polling"),
    )
    .await;
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no sid in {open}"));

    let body = format!(
        r#"42["hello",{{"participantName":"{}"}}]"#,
        "a".repeat(300_000)
    );
    let post = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: studio\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = exchange(connect_from(1, addr).await, &post).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

/// Sends `head` then `trickle` one byte every 100 ms until the server closes the connection;
/// returns whether it did within the deadline, and what it answered.
async fn trickle_until_closed(mut stream: TcpStream, head: &str, trickle: &[u8]) -> (bool, String) {
    stream.write_all(head.as_bytes()).await.expect("send head");
    let start = Instant::now();
    let mut answer = Vec::new();
    let mut bytes = trickle.iter().cycle();
    let silent = trickle.is_empty();
    let mut buf = [0u8; 4096];
    while start.elapsed() < DEADLINE {
        tokio::select! {
            () = tokio::time::sleep(DEADLINE), if silent => break,
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return (true, String::from_utf8_lossy(&answer).into_owned()),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            },
            () = tokio::time::sleep(Duration::from_millis(100)), if !silent => {
                let byte = [*bytes.next().expect("cycle")];
                if stream.write_all(&byte).await.is_err() {
                    return (true, String::from_utf8_lossy(&answer).into_owned());
                }
            }
        }
    }
    (false, String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_cut_after_the_header_timeout() {
    let server = ServerSetup::new()
        .var("HTTP_HEADER_TIMEOUT_SECONDS", "1")
        .start();
    let addr = server.addr;
    let (closed, answer) = trickle_until_closed(
        connect_from(1, addr).await,
        "GET /health HTTP/1.1\r\n",
        b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
    )
    .await;
    assert!(closed, "still open after {DEADLINE:?}; answered: {answer}");

    // A connection that sends nothing at all is cut too (it would hold its slot forever).
    let (closed, _) = trickle_until_closed(connect_from(1, addr).await, "", b"").await;
    assert!(
        closed,
        "a silent connection was still open after {DEADLINE:?}"
    );

    // The server itself is fine.
    let ok = health_from(1, addr).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_body_is_cut_after_the_body_timeout() {
    let server = ServerSetup::new()
        .var("HTTP_BODY_TIMEOUT_SECONDS", "1")
        .start();
    let addr = server.addr;
    let open = exchange(
        connect_from(1, addr).await,
        &get("/socket.io/?EIO=4&transport=polling"),
    )
    .await;
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no sid in {open}"));
    // A Socket.IO message whose body would take 100 s at this pace.
    let head = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: studio\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 1000\r\n\r\n42[\"hello\",{{\"participantName\":\""
    );
    let (closed, answer) = trickle_until_closed(connect_from(1, addr).await, &head, b"a").await;
    assert!(closed, "still open after {DEADLINE:?}; answered: {answer}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("HTTP_BODY_TIMEOUT_SECONDS"), "{answer}");
}
