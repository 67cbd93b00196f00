//! One simulated studio client over a hand-made Socket.IO WebSocket: it speaks a turn every few
//! seconds in real time and logs when each AI frame and event arrives.

use super::*;

/// One studio's client: joins its episode, streams 20 ms frames in real time (speech at its
/// turns, silence between), records what comes back.
pub(super) async fn run_client(
    addr: SocketAddr,
    episode: String,
    speech: Arc<Vec<u8>>,
    start: Instant,
    offset: Duration,
    end: Instant,
    log: Arc<Mutex<ClientLog>>,
) -> Result<(), String> {
    let ws = connect(addr).await?;
    let (mut tx, mut rx) = ws.split();
    // Engine.IO open, then the Socket.IO connect to namespace `/`.
    expect_text(&mut rx, '0').await?;
    tx.send(Message::text("40"))
        .await
        .map_err(|e| e.to_string())?;
    // The connect answer; a ping may come first when the server is busy.
    while expect_text(&mut rx, '4').await? == "2" {
        tx.send(Message::text("3"))
            .await
            .map_err(|e| e.to_string())?;
    }
    let hello = serde_json::json!(["hello", {"episodeId": episode, "participantName": "bench"}]);
    tx.send(Message::text(format!("42{hello}")))
        .await
        .map_err(|e| e.to_string())?;
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let reader_log = log.clone();
    let reader = tokio::spawn(async move { read_events(rx, reader_log, pong_tx).await });

    // Every frame as shared bytes, cut once: sending one allocates nothing.
    let silence = tokio_tungstenite::tungstenite::Bytes::from(vec![0u8; FRAME_BYTES]);
    let speech = tokio_tungstenite::tungstenite::Bytes::from(speech.as_ref().clone());
    let frames_per_turn = speech.len() / FRAME_BYTES;
    let turn_frames = (TURN_EVERY.as_millis() / FRAME.as_millis()) as usize;
    let offset_frames = (offset.as_millis() / FRAME.as_millis()) as usize;
    let mut ticker = tokio::time::interval_at(start.into(), FRAME);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut index: usize = 0;
    let mut speech_started = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            Some(()) = pong_rx.recv() => {
                tx.send(Message::text("3")).await.map_err(|e| e.to_string())?;
                continue;
            }
        }
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Frame `index` of the client's own timeline; turn k starts at offset + k * 8 s.
        let in_turn = (index + turn_frames - offset_frames % turn_frames) % turn_frames;
        let speaking = index >= offset_frames && in_turn < frames_per_turn;
        let frame = if speaking {
            if in_turn == 0 {
                speech_started = Some(now);
            }
            speech.slice(in_turn * FRAME_BYTES..(in_turn + 1) * FRAME_BYTES)
        } else {
            silence.clone()
        };
        // The event and its attachment in one write, as a browser's socket.io-client sends them
        // back to back: `feed` queues, `send` flushes both.
        tx.feed(Message::text(
            r#"451-["audio.chunk",{"_placeholder":true,"num":0}]"#,
        ))
        .await
        .map_err(|e| e.to_string())?;
        tx.send(Message::binary(frame))
            .await
            .map_err(|e| e.to_string())?;
        if speaking
            && in_turn + 1 == frames_per_turn
            && let Some(started) = speech_started.take()
        {
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .turns
                .push((started, Instant::now()));
        }
        index += 1;
    }
    let _ = tx.send(Message::Close(None)).await;
    reader.abort();
    Ok(())
}

/// What a client reads of an `audio.out` event's JSON part.
#[derive(serde::Deserialize)]
struct AudioOutHead<'a> {
    speaker: &'a str,
    seq: u64,
}

pub(super) type WsRead = futures::stream::SplitStream<WebSocketStream<TcpStream>>;

/// Reads events until the socket closes; answers Engine.IO pings through `pong`.
pub(super) async fn read_events(
    mut rx: WsRead,
    log: Arc<Mutex<ClientLog>>,
    pong: tokio::sync::mpsc::UnboundedSender<()>,
) {
    // A binary event's JSON part waits here for its attachment.
    let mut pending_audio: Option<(String, u64)> = None;
    while let Some(Ok(message)) = rx.next().await {
        let at = Instant::now();
        match message {
            Message::Text(text) => {
                let text = text.as_str();
                if text == "2" {
                    let _ = pong.send(());
                    continue;
                }
                let Some(packet) = text.strip_prefix('4') else {
                    continue;
                };
                let json = if let Some(rest) = packet.strip_prefix('5') {
                    rest.split_once('-').map_or(rest, |(_, json)| json)
                } else if let Some(rest) = packet.strip_prefix('2') {
                    rest
                } else {
                    continue;
                };
                // Most events are audio.out heads: read those without building a JSON tree, so
                // the clients stay cheap next to the server they measure.
                if json.starts_with(r#"["audio.out","#)
                    && let Ok((_, head)) = serde_json::from_str::<(&str, AudioOutHead)>(json)
                {
                    *log.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .seen
                        .entry("audio.out".to_owned())
                        .or_default() += 1;
                    pending_audio = Some((head.speaker.to_owned(), head.seq));
                    continue;
                }
                let Ok(serde_json::Value::Array(args)) = serde_json::from_str(json) else {
                    continue;
                };
                let name = args.first().and_then(|v| v.as_str()).unwrap_or_default();
                let payload = args.get(1).cloned().unwrap_or_default();
                let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                *log.seen.entry(name.to_owned()).or_default() += 1;
                match name {
                    "audio.out" => {
                        let speaker = payload["speaker"].as_str().unwrap_or_default().to_owned();
                        let seq = payload["seq"].as_u64().unwrap_or_default();
                        pending_audio = Some((speaker, seq));
                    }
                    "audio.stop" => log.stops.push(at),
                    "turn.end" => log.turn_ends.push((at, payload)),
                    "caption" if payload["speaker"] != "you" => {
                        let text = payload["text"].as_str().unwrap_or_default().to_owned();
                        log.ai_captions.push((at, text));
                    }
                    "error" => log.errors.push(payload),
                    _ => {}
                }
            }
            Message::Binary(bytes) => {
                if let Some((speaker, seq)) = pending_audio.take() {
                    log.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .frames
                        .push((at, speaker, seq, bytes.len()));
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
}

/// The next text packet if it is of `kind` or a ping (`"2"`, returned as such).
pub(super) async fn expect_text(rx: &mut WsRead, kind: char) -> Result<String, String> {
    match tokio::time::timeout(Duration::from_secs(10), rx.next()).await {
        Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "2" || t.as_str().starts_with(kind) => {
            Ok(t.as_str().to_owned())
        }
        other => Err(format!("expected a {kind} packet, got {other:?}")),
    }
}

/// A WebSocket to the server's Socket.IO endpoint: the HTTP upgrade by hand, then framing.
pub(super) async fn connect(addr: SocketAddr) -> Result<WebSocketStream<TcpStream>, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
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
    Ok(WebSocketStream::from_raw_socket(stream, Role::Client, None).await)
}
