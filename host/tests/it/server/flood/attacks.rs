//! The attacks, each from its own loopback addresses, each bounded in time.

use super::*;

/// Hundreds of hellos, each naming a new studio, from 8 connections of one address (a client
/// that moves leaves its old studio, so 8 clients want 8 studios at once: more than the 4 allowed).
pub(super) async fn hello_storm(addr: SocketAddr) -> BTreeMap<String, usize> {
    let mut tasks = Vec::new();
    for c in 0..8 {
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(loopback(2), addr).await.expect("storm connects");
            // Spread over ~7.5 s (6 a second, three times the hello rate), while the AI speaks.
            for i in 0..50 {
                client.emit("hello", json!({"episodeId": format!("storm-{c}-{i}"), "participantName": "storm"}));
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            let mut codes = BTreeMap::new();
            let all = client.drain();
            count_codes(&all, &mut codes);
            let acks = all
                .iter()
                .filter(|i| matches!(i, Incoming::Event { name, payload, .. } if name == "server.ack" && payload != "connected"))
                .count();
            *codes.entry("(hello acks)".into()).or_default() += acks;
            client.close();
            codes
        }));
    }
    let mut codes = BTreeMap::new();
    for task in tasks {
        for (code, n) in task.await.expect("storm task") {
            *codes.entry(code).or_default() += n;
        }
    }
    codes
}

/// One 60 MiB WebSocket message; returns how the server ended the connection (its close code, or
/// what ended it) and how many bytes of the message the attacker managed to write.
///
/// Written as raw frame bytes (a 60 MiB binary frame header, then zeros in 64 KiB writes with a
/// zero masking key) so the attacker costs little CPU itself: the test measures the server.
pub(super) async fn huge_message(addr: SocketAddr) -> (Result<u16, String>, u64) {
    let mut ws = match websocket(loopback(3), addr, None).await {
        Ok(ws) => ws,
        Err(e) => return (Err(e), 0),
    };
    if let Err(e) = handshake(&mut ws).await {
        return (Err(e), 0);
    }
    let stream = ws.into_inner();
    let (mut read, mut write) = stream.into_split();
    let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = written.clone();
    let writer = tokio::spawn(async move {
        let len: u64 = HUGE_MESSAGE;
        let mut header = vec![0x82, 0x80 | 127];
        header.extend_from_slice(&len.to_be_bytes());
        header.extend_from_slice(&[0, 0, 0, 0]);
        write.write_all(&header).await?;
        let zeros = vec![0u8; 64 * 1024];
        let mut sent = 0u64;
        while sent < len {
            write.write_all(&zeros).await?;
            sent += zeros.len() as u64;
            counter.store(sent, std::sync::atomic::Ordering::Relaxed);
        }
        Ok::<u64, std::io::Error>(sent)
    });
    // Server frames are not masked: read frames until a close (opcode 8) and take its code.
    let answer = tokio::time::timeout(DEADLINE, async {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            while let Some((opcode, payload, used)) = server_frame(&buf) {
                if opcode == 8 {
                    return payload
                        .get(..2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .ok_or_else(|| "close without a code".to_owned());
                }
                buf.drain(..used);
            }
            match read.read(&mut chunk).await {
                Ok(0) => return Err("connection ended without a close frame".to_owned()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("connection error: {e}")),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err("no answer to a 60 MiB message".into()));
    writer.abort();
    (answer, written.load(std::sync::atomic::Ordering::Relaxed))
}

/// The first complete unmasked frame in `buf`: opcode, payload, bytes used.
pub(super) fn server_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let (len, start) = match b1 & 0x7f {
        126 => (
            usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])),
            4,
        ),
        127 => {
            let bytes: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
            (usize::try_from(u64::from_be_bytes(bytes)).ok()?, 10)
        }
        n => (usize::from(n), 2),
    };
    let payload = buf.get(start..start + len)?.to_vec();
    Some((b0 & 0x0f, payload, start + len))
}

/// A microphone in its own studio at 10x real time for 8 s.
pub(super) async fn fast_audio(addr: SocketAddr) -> BTreeMap<String, usize> {
    let mut client = Client::connect(loopback(4), addr)
        .await
        .expect("fast audio connects");
    let hello = json!({"episodeId": "flood-fast-audio", "participantName": "fast"});
    if let Err(e) = client.join(hello, DEADLINE).await {
        panic!("the fast microphone joins its studio: {e}");
    }
    let silence = vec![0u8; CHUNK_BYTES];
    let mut ticker = tokio::time::interval(CHUNK / 10);
    // 4000 chunks of 20 ms (80 s of audio) every 2 ms: 8 s at 10x real time.
    for _ in 0..4000 {
        ticker.tick().await;
        client.send_audio(&silence);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut codes = BTreeMap::new();
    count_codes(&client.drain(), &mut codes);
    client.close();
    codes
}

/// A viewer of the victim's studio spamming control events: toggles, state requests, an end.
pub(super) async fn viewer_spam(addr: SocketAddr, token: String) -> BTreeMap<String, usize> {
    let mut client = Client::connect(loopback(5), addr)
        .await
        .expect("viewer connects");
    let hello = json!({"episodeId": VICTIM_EPISODE, "participantName": "viewer", "token": token});
    if let Err(e) = client.join(hello, DEADLINE).await {
        panic!("the viewer joins the victim's studio: {e}");
    }
    let mut codes = BTreeMap::new();
    for round in 0..2000 {
        match round % 4 {
            0 => client.emit("client.toggle-autopilot", json!(true)),
            1 => client.emit("client.toggle-autopilot", json!(false)),
            2 => client.emit_bare("client.request-state"),
            _ => client.emit_bare("client.end-session"),
        }
        // ~270 events a second for ~7.5 s.
        if round % 8 == 7 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            count_codes(&client.drain(), &mut codes);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    count_codes(&client.drain(), &mut codes);
    client.close();
    codes
}

/// 200 connections one after another from 127.0.0.6-9, each saying hello to the same studio of
/// its address and leaving; returns how many were greeted.
pub(super) async fn reconnects(addr: SocketAddr) -> usize {
    let mut tasks = Vec::new();
    for last in 6..=9u8 {
        tasks.push(tokio::spawn(async move {
            let mut greeted = 0;
            for _ in 0..50 {
                let Ok(mut client) = Client::connect(loopback(last), addr).await else {
                    continue;
                };
                let hello = json!({"episodeId": format!("flood-reconnect-{last}"), "participantName": "again"});
                match client.join(hello, ANSWER_DEADLINE).await {
                    Ok(()) => greeted += 1,
                    Err(e) => eprintln!("a reconnect from 127.0.0.{last} was not greeted: {e}"),
                }
                client.close();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            greeted
        }));
    }
    let mut greeted = 0;
    for task in tasks {
        greeted += task.await.expect("reconnect task");
    }
    greeted
}

/// Runs one attack with a deadline, so a server that hangs it fails the test instead of hanging it.
pub(super) async fn bounded(name: &str, t0: Instant, attack: impl Future<Output = Value>) -> Value {
    let result = tokio::time::timeout(ATTACK_DEADLINE, attack).await;
    eprintln!("{name}: done after {:.1} s", t0.elapsed().as_secs_f64());
    result.unwrap_or_else(|_| json!("timed out"))
}

/// The line `studio ended` logged for `episode`, as JSON.
pub(super) fn studio_ended_line(log: &str, episode: &str) -> Option<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["message"] == "studio ended" && v["fields"]["episode"] == episode)
}
