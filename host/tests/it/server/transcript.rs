//! `GET /api/episodes/{id}/transcript` on the real binary: a real session (the shipped mock
//! plugins, a Socket.IO client over a real WebSocket, a typed line the guest answers) read back in
//! all four formats, the SRT and VTT parsed by ffmpeg; and who may read it. The renderers' tricky
//! cases (markup, arrows, long lines) also go through ffmpeg here, without a session.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use studio_test_kit::manifest::Manifest;
use voice_studio::speakers::Speaker;
use voice_studio::transcript::{Format, TranscriptLine};

use crate::server::flood::client::{Client, Incoming};
use crate::support::server::{HttpResponse, Server, ServerSetup, http};

/// A valid `STUDIO_ADMIN_TOKEN` (>= 32 characters).
const ADMIN: &str = "transcript-admin-token-0123456789abcdef";

/// Guards against a hung server; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// What the host types: markup and an arrow, which SRT and VTT must carry safely.
const SAID: &str = "Fish & <chips> --> really?";

/// The shipped mocks, paced for a test.
fn manifest() -> String {
    Manifest::shipped()
        .config("mock-tts", "words_per_minute", 400)
        .config("mock-llm", "token_delay_ms", 5)
        .to_string()
}

/// Converts `input` with ffmpeg (its SRT or WebVTT demuxer reads every cue) to `output`, whose
/// format its extension names; fails on any complaint. Never skips: ffmpeg is a test dependency.
fn ffmpeg_convert(input: &Path, output: &Path) -> String {
    let run = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(input)
        .arg(output)
        .output()
        .unwrap_or_else(|e| panic!("ffmpeg could not run ({e}); install ffmpeg"));
    assert!(
        run.status.success() && run.stderr.is_empty(),
        "ffmpeg rejected {}: {}",
        input.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read_to_string(output).unwrap_or_else(|e| panic!("read {}: {e}", output.display()))
}

/// The cues of an SRT file ffmpeg wrote: (start, end, text lines).
fn srt_cues(text: &str) -> Vec<(String, String, Vec<String>)> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut lines = block.lines().skip(1);
            let timing = lines.next().unwrap_or_default();
            let (start, end) = timing
                .split_once(" --> ")
                .unwrap_or_else(|| panic!("{block}"));
            (
                start.to_owned(),
                end.to_owned(),
                lines.map(str::to_owned).collect(),
            )
        })
        .collect()
}

/// The text of `cues` read in order, each cue's `prefix` taken off: what was said, whole.
fn spoken(cues: &[(String, String, Vec<String>)], prefix: &str) -> String {
    cues.iter()
        .map(|c| {
            let text = c.2.join(" ");
            text.strip_prefix(prefix).unwrap_or(&text).to_owned()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn get(server: &Server, path: &str, token: Option<&str>) -> HttpResponse {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    http(server.addr, "GET", path, &headers, None)
}

fn mint(server: &Server) -> Value {
    let bearer = format!("Bearer {ADMIN}");
    let minted = server.post("/api/episodes", "", &[("Authorization", &bearer)]);
    assert_eq!(minted.status, 200, "{}", minted.body);
    minted.json()
}

/// Waits for the first event that `pick` accepts; panics with what arrived if none does.
async fn expect(client: &mut Client, what: &str, pick: impl Fn(&str, &Value) -> bool) -> Value {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, client.events.recv()).await {
            Ok(Some(Incoming::Event { name, payload, .. })) => {
                if pick(&name, &payload) {
                    return payload;
                }
                seen.push(format!("{name} {payload}"));
            }
            Ok(Some(Incoming::Closed(how))) => panic!("closed ({how:?}) before {what}: {seen:?}"),
            Ok(None) | Err(_) => panic!("no {what}; saw {seen:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_sessions_transcript_comes_in_four_formats_that_ffmpeg_reads() {
    let server = ServerSetup::new()
        .manifest(&manifest())
        .var("STUDIO_ADMIN_TOKEN", ADMIN)
        .start();
    let minted = mint(&server);
    let host = minted["host"]["token"]
        .as_str()
        .expect("host token")
        .to_owned();
    let viewer = minted["viewer"]["token"]
        .as_str()
        .expect("viewer")
        .to_owned();
    let episode = minted["episodeId"].as_str().expect("episodeId").to_owned();

    let hello = json!({"token": host, "participantName": "host"});
    let mut client = Client::joined(server.addr, hello, PATIENCE).await;
    client.emit("text.say", json!({"text": SAID, "to": "guest"}));
    let answer = expect(&mut client, "the guest's answer", |name, p| {
        name == "turn.end" && p["speaker"] == "guest"
    })
    .await;
    let answered = answer["text"].as_str().unwrap_or_default().to_owned();
    assert!(!answered.trim().is_empty(), "{answer}");
    client.emit("client.end-session", Value::Null);
    let ready = expect(&mut client, "recording.ready", |name, _| {
        name == "recording.ready"
    })
    .await;
    client.close();
    let folder = ready["folder"].as_str().unwrap_or(&episode).to_owned();
    let base = format!("/api/episodes/{folder}/transcript");

    // The store takes the session's writes on its own thread: wait (bounded) until both lines
    // are there.
    let deadline = std::time::Instant::now() + PATIENCE;
    let document = loop {
        let reply = get(&server, &base, Some(ADMIN));
        if reply.status == 200 {
            let body = reply.json();
            if body["lines"].as_array().is_some_and(|l| l.len() >= 2) {
                assert_eq!(reply.header("content-type"), Some("application/json"));
                break body;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the transcript never held both lines: {} {}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(document["episode"], folder.as_str());
    let lines: Vec<TranscriptLine> =
        serde_json::from_value(document["lines"].clone()).expect("TranscriptLine JSON");
    assert_eq!(lines[0].speaker, Speaker::You, "{document}");
    assert_eq!(lines[0].text, format!("Guest, {SAID}"), "{document}");
    let guest = lines
        .iter()
        .find(|l| l.speaker == Speaker::Guest)
        .unwrap_or_else(|| panic!("no guest line: {document}"));
    assert!(guest.start_ms >= lines[0].start_ms && guest.end_ms > guest.start_ms);
    for pair in lines.windows(2) {
        assert!(
            pair[0].start_ms <= pair[1].start_ms,
            "time order: {document}"
        );
    }

    let dir = tempfile::tempdir().expect("temp dir");
    for format in ["md", "srt", "vtt"] {
        let reply = get(&server, &format!("{base}?format={format}"), Some(ADMIN));
        assert_eq!(reply.status, 200, "{format}: {}", reply.body);
        assert_eq!(
            reply.header("content-disposition"),
            Some(format!("attachment; filename=\"{folder}-transcript.{format}\"").as_str()),
        );
        let expected = Format::from_name(format).expect("format");
        assert_eq!(reply.header("content-type"), Some(expected.content_type()));
        // The body is the renderer's output for the stored lines (the title comes from the store).
        if format != "md" {
            assert_eq!(
                reply.body,
                expected.render(&folder, None, &lines),
                "{format}"
            );
        }
        std::fs::write(dir.path().join(format!("t.{format}")), &reply.body).expect("write");
    }
    let md = std::fs::read_to_string(dir.path().join("t.md")).expect("md");
    assert!(md.starts_with("# "), "{md}");
    assert!(
        md.contains(r"**Host** (00:0") && md.contains(r"Guest, Fish \& \<chips\> --\> really?"),
        "{md}"
    );
    assert!(md.contains("**Guest** ("), "{md}");

    // ffmpeg reads the VTT: its cues, times and unescaped text.
    let from_vtt = ffmpeg_convert(&dir.path().join("t.vtt"), &dir.path().join("vtt.srt"));
    let cues = srt_cues(&from_vtt);
    assert!(cues.len() >= 2, "{from_vtt}");
    assert!(
        cues[0].2.join(" ").contains("Fish & <chips> --> really?"),
        "{from_vtt}"
    );
    // ffmpeg reads the SRT: the host's cue first, then the guest's answer, whole, in cues of
    // its own (SRT keeps room for the name on each cue's first line, so its cues differ from
    // the VTT's).
    let from_srt = ffmpeg_convert(&dir.path().join("t.srt"), &dir.path().join("srt.srt"));
    let srt = srt_cues(&from_srt);
    assert_eq!(srt[0].0, cues[0].0, "{from_srt}\n{from_vtt}");
    assert_eq!(
        srt[0].2.join(" "),
        "Host: Guest, Fish & ‹chips› --› really?",
        "{from_srt}"
    );
    let guest_said = guest.text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(spoken(&srt[1..], "Guest: "), guest_said, "{from_srt}");
    assert_eq!(spoken(&cues[1..], ""), guest_said, "{from_vtt}");
    assert_eq!(srt.last().map(|c| &c.1), cues.last().map(|c| &c.1));

    // The episode's own tokens open it, as a bearer or as ?token=.
    let as_host = get(&server, &base, Some(&host));
    assert_eq!(as_host.status, 200, "{}", as_host.body);
    let as_viewer = get(&server, &format!("{base}?format=vtt&token={viewer}"), None);
    assert_eq!(as_viewer.status, 200, "{}", as_viewer.body);
    // Another episode's token gets the same answer as a missing episode.
    let other = mint(&server);
    let other_host = other["host"]["token"].as_str().expect("token");
    let refused = get(&server, &base, Some(other_host));
    assert_eq!(refused.status, 404, "{}", refused.body);
    let missing = get(&server, "/api/episodes/ep-none/transcript", Some(ADMIN));
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(refused.json(), missing.json());
    // No token: the admin door.
    assert_eq!(get(&server, &base, None).status, 401);
    // Not a format, not an id.
    let bad = get(&server, &format!("{base}?format=docx"), Some(ADMIN));
    assert_eq!(bad.status, 400, "{}", bad.body);
    let bad = get(&server, "/api/episodes/.hidden/transcript", Some(ADMIN));
    assert_eq!(bad.status, 400, "{}", bad.body);

    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
}

fn line(speaker: Speaker, start_ms: u64, end_ms: u64, text: &str) -> TranscriptLine {
    TranscriptLine {
        speaker,
        start_ms,
        end_ms,
        text: text.into(),
        interrupted: false,
    }
}

#[test]
fn ffmpeg_reads_every_tricky_case_of_the_subtitle_renderers() {
    let long = "This is a long answer that goes on and on, well past what two lines of a \
        subtitle can show at once, so it has to become several cues in a row that share the \
        time of the line between them, in order.";
    let mut cut = line(Speaker::Claude, 9_000, 9_400, "And yet the");
    cut.interrupted = true;
    let lines = [
        line(Speaker::Guest, 3_000, 12_000, long),
        line(
            Speaker::You,
            500,
            2_000,
            "a < b & c > d --> e <i>not italic</i>",
        ),
        line(Speaker::Claude, 2_500, 2_500, "Instant."),
        line(Speaker::You, 2_600, 2_900, "   "),
        line(
            Speaker::You,
            3_725_000,
            3_726_500,
            "An hour in.\n\nStill here.",
        ),
        cut,
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    let vtt_path = dir.path().join("t.vtt");
    let srt_path = dir.path().join("t.srt");
    std::fs::write(&vtt_path, Format::Vtt.render("ep", None, &lines)).expect("vtt");
    std::fs::write(&srt_path, Format::Srt.render("ep", None, &lines)).expect("srt");
    let from_vtt = srt_cues(&ffmpeg_convert(&vtt_path, &dir.path().join("v.srt")));
    let from_srt = srt_cues(&ffmpeg_convert(&srt_path, &dir.path().join("s.srt")));

    // Both in start order (the long line overlaps the cut one), none empty, two short lines at
    // most (SRT's cues hold the name too, so its cues differ from the VTT's).
    for cues in [&from_vtt, &from_srt] {
        assert!(cues.len() >= 7, "the long line is split: {cues:?}");
        for pair in cues.windows(2) {
            assert!(pair[0].0 <= pair[1].0, "{cues:?}");
        }
        for cue in cues {
            assert!(!cue.2.is_empty() && cue.2.len() <= 2, "{cue:?}");
            for text in &cue.2 {
                assert!(text.chars().count() <= 42, "{text}");
            }
        }
    }
    assert_eq!(from_vtt[0].0, "00:00:00,500");
    assert_eq!(
        from_vtt[0].2.join(" "),
        "a < b & c > d --> e <i>not italic</i>",
        "VTT keeps the text exactly"
    );
    assert_eq!(
        from_srt[0].2.join(" "),
        "Host: a ‹ b & c › d --› e ‹i›not italic‹/i›",
        "SRT shows the brackets, never as tags"
    );
    assert_eq!(
        (from_vtt[1].0.as_str(), from_vtt[1].1.as_str()),
        ("00:00:02,500", "00:00:02,501")
    );
    // The long line's cues run back to back from its start to its end.
    let guest: Vec<_> = from_srt
        .iter()
        .filter(|c| c.2[0].starts_with("Guest: "))
        .collect();
    assert!(guest.len() >= 3, "{guest:?}");
    assert_eq!(guest[0].0, "00:00:03,000");
    assert_eq!(guest.last().map(|c| c.1.as_str()), Some("00:00:12,000"));
    for pair in guest.windows(2) {
        assert_eq!(pair[0].1, pair[1].0);
    }
    let said: Vec<String> = guest.iter().flat_map(|c| c.2.clone()).collect();
    assert_eq!(
        said.join(" ")
            .strip_prefix("Guest: ")
            .map(|s| s.replace(" Guest: ", " ")),
        Some(long.split_whitespace().collect::<Vec<_>>().join(" ")),
        "nothing lost or repeated: {said:?}"
    );
    assert!(
        from_srt
            .iter()
            .any(|c| c.2.join(" ") == "Claude: And yet the —"),
        "{from_srt:?}"
    );
    let last = from_vtt.last().expect("cues");
    assert_eq!(last.0, "01:02:05,000");
    assert_eq!(last.2.join(" "), "An hour in. Still here.");
}
