//! A Socket.IO client over a hand-made WebSocket from a chosen loopback address, and what it
//! hears (also used by the traces test, `studio::traces`).

use super::*;

pub(crate) fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// What arrives on a Socket.IO connection, in order.
#[derive(Debug, Clone)]
pub(crate) enum Incoming {
    /// An event (binary attachments are not kept; `audio.out` is timed by its packet).
    Event {
        at: Instant,
        name: String,
        payload: Value,
    },
    /// The WebSocket closed: the close code if the server sent one, else what ended it.
    Closed(Result<u16, String>),
}

/// A minimal Socket.IO v5 client over a raw WebSocket, bound to a chosen loopback address.
pub(crate) struct Client {
    out: mpsc::UnboundedSender<Message>,
    pub(crate) events: mpsc::UnboundedReceiver<Incoming>,
}

pub(super) type Ws = WebSocketStream<TcpStream>;

/// A WebSocket to the server's Socket.IO endpoint from `source`: the upgrade by hand.
pub(super) async fn websocket(
    source: IpAddr,
    addr: SocketAddr,
    config: Option<WebSocketConfig>,
) -> Result<Ws, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| format!("bind {source}: {e}"))?;
    let mut stream = socket
        .connect(addr)
        .await
        .map_err(|e| format!("connect from {source}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let request = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("upgrade: {e}"))?;
    // Byte by byte up to the end of the head, so no frame after it is swallowed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = stream
            .read_u8()
            .await
            .map_err(|e| format!("upgrade: {e}"))?;
        head.push(byte);
        if head.len() > 8192 {
            return Err("upgrade answer too long".into());
        }
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(format!(
            "upgrade refused: {}",
            String::from_utf8_lossy(&head)
        ));
    }
    Ok(WebSocketStream::from_raw_socket(stream, WsRole::Client, config).await)
}

/// Engine.IO open, then the Socket.IO connect to namespace `/`.
pub(super) async fn handshake(ws: &mut Ws) -> Result<(), String> {
    let next = async |ws: &mut Ws| match tokio::time::timeout(DEADLINE, ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => Ok(t.as_str().to_owned()),
        other => Err(format!("handshake: {other:?}")),
    };
    let open = next(ws).await?;
    if !open.starts_with('0') {
        return Err(format!("expected the Engine.IO open, got {open}"));
    }
    ws.send(Message::text("40"))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let packet = next(ws).await?;
        if packet == "2" {
            ws.send(Message::text("3"))
                .await
                .map_err(|e| e.to_string())?;
        } else if packet.starts_with("40") {
            return Ok(());
        } else if packet.starts_with("44") {
            return Err(format!("connect refused: {packet}"));
        }
    }
}

impl Client {
    pub(crate) async fn connect(source: IpAddr, addr: SocketAddr) -> Result<Self, String> {
        let mut ws = websocket(source, addr, None).await?;
        handshake(&mut ws).await?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (events_tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(message) = out_rx.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let pong = out.clone();
        tokio::spawn(async move {
            let ended = loop {
                let message = match stream.next().await {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => break Err(e.to_string()),
                    None => break Err("ended without a close frame".into()),
                };
                let text = match message {
                    Message::Text(t) => t.as_str().to_owned(),
                    Message::Close(frame) => {
                        break frame
                            .map(|f| u16::from(f.code))
                            .ok_or_else(|| "close without a code".to_owned());
                    }
                    _ => continue,
                };
                if text == "2" {
                    let _ = pong.send(Message::text("3"));
                    continue;
                }
                if let Some((name, payload)) = parse_event(&text) {
                    let at = Instant::now();
                    if events_tx
                        .send(Incoming::Event { at, name, payload })
                        .is_err()
                    {
                        return;
                    }
                }
            };
            let _ = events_tx.send(Incoming::Closed(ended));
        });
        Ok(Self { out, events })
    }

    pub(crate) fn emit(&self, name: &str, payload: Value) {
        let _ = self
            .out
            .send(Message::text(format!("42{}", json!([name, payload]))));
    }

    pub(super) fn emit_bare(&self, name: &str) {
        let _ = self.out.send(Message::text(format!("42{}", json!([name]))));
    }

    pub(crate) fn send_audio(&self, chunk: &[u8]) {
        let _ = self.out.send(Message::text(
            r#"451-["audio.chunk",{"_placeholder":true,"num":0}]"#,
        ));
        let _ = self.out.send(Message::binary(chunk.to_vec()));
    }

    /// The next event named `name` (others are passed to `seen`), or `None` at the deadline
    /// or when the connection ends.
    pub(crate) async fn wait_for(
        &mut self,
        name: &str,
        within: Duration,
        mut seen: impl FnMut(&Incoming),
    ) -> Option<Value> {
        let until = tokio::time::Instant::now() + within;
        loop {
            let incoming = tokio::time::timeout_at(until, self.events.recv())
                .await
                .ok()??;
            seen(&incoming);
            match incoming {
                Incoming::Event {
                    name: n, payload, ..
                } if n == name => return Some(payload),
                Incoming::Closed(_) => return None,
                Incoming::Event { .. } => {}
            }
        }
    }

    /// Says hello and waits for its ack (`hello <name>`); the error or the events seen if not.
    pub(crate) async fn join(&mut self, hello: Value, within: Duration) -> Result<(), String> {
        let expected = format!("hello {}", hello["participantName"].as_str().unwrap_or(""));
        self.emit("hello", hello);
        let mut seen = Vec::new();
        loop {
            let ack = self
                .wait_for("server.ack", within, |i| seen.push(format!("{i:?}")))
                .await;
            match ack {
                Some(a) if a == json!(expected) => return Ok(()),
                Some(_) => {}
                None => return Err(format!("no `{expected}` ack; saw {seen:?}")),
            }
        }
    }

    /// A client from 127.0.0.1 that has joined with `hello` (panics otherwise): the start of
    /// most single-host session tests.
    pub(crate) async fn joined(addr: SocketAddr, hello: Value, within: Duration) -> Self {
        let mut client = Self::connect(loopback(1), addr)
            .await
            .expect("the client connects");
        client.join(hello, within).await.expect("the host joins");
        client
    }

    /// Everything that arrived so far.
    pub(crate) fn drain(&mut self) -> Vec<Incoming> {
        let mut all = Vec::new();
        while let Ok(incoming) = self.events.try_recv() {
            all.push(incoming);
        }
        all
    }

    pub(crate) fn close(&self) {
        let _ = self.out.send(Message::Close(None));
    }
}

/// `42[...]` or `45N-[...]`: the event name and its first argument.
pub(super) fn parse_event(text: &str) -> Option<(String, Value)> {
    let packet = text.strip_prefix('4')?;
    let json = if let Some(rest) = packet.strip_prefix('5') {
        rest.split_once('-').map(|(_, json)| json)?
    } else {
        packet.strip_prefix('2')?
    };
    let Value::Array(args) = serde_json::from_str(json).ok()? else {
        return None;
    };
    let name = args.first()?.as_str()?.to_owned();
    Some((name, args.get(1).cloned().unwrap_or(Value::Null)))
}

/// Error codes by count.
pub(super) fn count_codes(incoming: &[Incoming], codes: &mut BTreeMap<String, usize>) {
    for i in incoming {
        match i {
            Incoming::Event { name, payload, .. } if name == "error" => {
                let code = payload["code"].as_str().unwrap_or("?").to_owned();
                *codes.entry(code).or_default() += 1;
            }
            Incoming::Closed(how) => *codes.entry(format!("(closed: {how:?})")).or_default() += 1,
            Incoming::Event { .. } => {}
        }
    }
}
