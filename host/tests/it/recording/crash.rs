//! Crash safety: a process recording in real time is killed with SIGKILL; the track it leaves
//! behind still probes and decodes, losing at most the last second.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::recording::{ffmpeg_decode_errors, ffprobe, probed_duration_ms, voice_frame};
use voice_studio::recording::{
    Event, OpusSettings, Recorder, RecorderConfig, RecordingWriter, Track, TurnMetrics,
};
use voice_studio::speakers::Speaker;

/// Where the child writes; set only in the child process.
const CHILD_PATH: &str = "VOICE_STUDIO_CRASH_CHILD_WEBM";
/// The recording dir of the whole-session child; set only in that child process.
const CHILD_DIR: &str = "VOICE_STUDIO_CRASH_CHILD_DIR";
/// The recording dir of the writer-thread child; set only in that child process.
const WRITER_CHILD_DIR: &str = "VOICE_STUDIO_CRASH_WRITER_CHILD_DIR";
/// Frames the parent waits for before the kill: 3.3 s, in the middle of the fourth Cluster.
const FRAMES_BEFORE_KILL: u64 = 165;

/// The child: writes a track in real time, printing `sent N` after each frame, until killed.
/// Run alone (no parent), it records one second into a temp dir and checks it reached the disk.
#[test]
#[ignore = "the child half of sigkill_mid_recording_loses_at_most_the_last_second; run by it"]
fn crash_child_records_in_real_time_until_killed() {
    let (path, frames, _keep) = match std::env::var_os(CHILD_PATH) {
        Some(path) => (std::path::PathBuf::from(path), u64::MAX, None),
        None => {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
            (dir.path().join("alone.webm"), 50, Some(dir))
        }
    };
    let mut track = Track::create(&path, "you", OpusSettings::default())
        .unwrap_or_else(|e| panic!("create track: {e}"));
    let start = Instant::now();
    let mut stdout = std::io::stdout();
    for n in 0..frames {
        track
            .push_frame(n * 20, &voice_frame(n))
            .unwrap_or_else(|e| panic!("frame {n}: {e}"));
        let _ = writeln!(stdout, "sent {}", n + 1);
        let _ = stdout.flush();
        let next = start + Duration::from_millis((n + 1) * 20);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    assert_eq!(track.flushed_ms(), 1000);
}

/// Starts this test binary running only `child_test`, with `env` set; returns it with its stdout.
fn spawn_child(child_test: &str, env: (&str, &std::path::Path)) -> std::process::Child {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("own test binary: {e}"));
    // Test names are module paths without the crate's name: `recording::crash::<test>`.
    let module = module_path!()
        .split_once("::")
        .map_or("", |(_crate, module)| module);
    let full_name = format!("{module}::{child_test}");
    Command::new(exe)
        .args([
            "--exact",
            &full_name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(env.0, env.1)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn child: {e}"))
}

/// Reads the child's `sent N` lines until N reaches `frames`, then SIGKILLs it; returns N.
fn kill_after(mut child: std::process::Child, frames: u64) -> u64 {
    let stdout = child
        .stdout
        .take()
        .unwrap_or_else(|| panic!("child has no stdout"));
    let mut sent = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_else(|e| panic!("child stdout: {e}"));
        if let Some(count) = line.strip_prefix("sent ") {
            sent = count.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"));
            if sent >= frames {
                break;
            }
        }
    }
    assert!(sent >= frames, "child stopped after {sent} frames");
    child
        .kill()
        .unwrap_or_else(|e| panic!("SIGKILL child: {e}")); // SIGKILL on Unix
    let status = child.wait().unwrap_or_else(|e| panic!("wait child: {e}"));
    assert!(!status.success(), "the child was killed, not finished");
    sent
}

/// The child of the whole-session test: the human speaks in real time, claude answers, every
/// event and caption is logged, until the parent kills it.
#[test]
#[ignore = "the child half of sigkill_mid_session_leaves_every_file_readable; run by it"]
fn crash_child_records_a_session_until_killed() {
    let (dir, frames, _keep) = match std::env::var_os(CHILD_DIR) {
        Some(dir) => (std::path::PathBuf::from(dir), u64::MAX, None),
        None => {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
            (dir.path().to_path_buf(), 60, Some(dir))
        }
    };
    let mut recorder = Recorder::create(RecorderConfig::new(&dir, "crash-ep", "crash-session"))
        .unwrap_or_else(|e| panic!("create: {e}"));
    let start = Instant::now();
    let mut stdout = std::io::stdout();
    for n in 0..frames {
        let at = n * 20;
        // Turns of one second: the human on even seconds, claude on odd ones.
        let speaker = if (at / 1000) % 2 == 0 {
            Speaker::You
        } else {
            Speaker::Claude
        };
        if at.is_multiple_of(1000) {
            let turn = Event::TurnStart { speaker };
            recorder.event(at, &turn).unwrap_or_else(|e| panic!("{e}"));
        }
        recorder
            .push_frame(speaker, at, &voice_frame(n))
            .unwrap_or_else(|e| panic!("frame {n}: {e}"));
        recorder
            .advance_to(at + 20)
            .unwrap_or_else(|e| panic!("{e}"));
        if at % 1000 == 980 {
            let name = if speaker == Speaker::You {
                "you"
            } else {
                "claude"
            };
            let text = format!("turn of {name} ending at {}", at + 20);
            recorder
                .caption(speaker, at - 980, at + 20, &text)
                .unwrap_or_else(|e| panic!("{e}"));
            let end = Event::TurnEnd {
                speaker,
                metrics: TurnMetrics::default(),
            };
            recorder
                .event(at + 20, &end)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let _ = writeln!(stdout, "sent {}", n + 1);
        let _ = stdout.flush();
        let next = start + Duration::from_millis((n + 1) * 20);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let summary = recorder
        .finish(frames * 20)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.files.len(), 8);
}

#[test]
fn sigkill_mid_session_leaves_every_file_readable() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let child = spawn_child(
        "crash_child_records_a_session_until_killed",
        (CHILD_DIR, dir.path()),
    );
    // 2.5 s: two whole turns logged and captioned, the third cut in its middle.
    let sent = kill_after(child, 125);
    let sent_ms = (sent * 20) as f64;
    let folder = dir.path().join("crash-ep");

    for track in ["you.webm", "claude.webm", "guest.webm"] {
        let path = folder.join(track);
        let duration = probed_duration_ms(&ffprobe(&path));
        assert!(
            duration <= sent_ms && sent_ms - duration <= 1000.0,
            "{track}: after {sent_ms} ms the killed file lasts {duration} ms"
        );
        assert_eq!(ffmpeg_decode_errors(&path, &[]), "", "{track}");
    }
    let events = std::fs::read_to_string(folder.join("events.jsonl"))
        .unwrap_or_else(|e| panic!("events.jsonl: {e}"));
    let types: Vec<String> = events
        .lines()
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            value["type"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(types[0], "session.start");
    let turn_ends = types.iter().filter(|t| *t == "turn.end").count();
    assert!(turn_ends >= 2, "turn.end lines: {types:?}");
    for (name, speaker) in [("you.vtt", "you"), ("claude.vtt", "claude")] {
        let vtt =
            std::fs::read_to_string(folder.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(vtt.starts_with("WEBVTT\n\n"), "{name}: {vtt:?}");
        assert!(
            vtt.contains(&format!("turn of {speaker} ending at")),
            "{name}: {vtt:?}"
        );
        assert!(
            vtt.ends_with("\n\n"),
            "{name} ends with a whole cue: {vtt:?}"
        );
    }
    let yml = std::fs::read_to_string(folder.join("session.yml"))
        .unwrap_or_else(|e| panic!("session.yml: {e}"));
    let yml: serde_json::Value =
        serde_yaml_ng::from_str(&yml).unwrap_or_else(|e| panic!("session.yml: {e}"));
    assert_eq!(yml["episode"], "crash-ep");
    assert!(
        yml["endedAt"].is_null(),
        "a killed session has no end: {yml}"
    );
}

#[test]
fn sigkill_mid_recording_loses_at_most_the_last_second() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("you.webm");
    let child = spawn_child(
        "crash_child_records_in_real_time_until_killed",
        (CHILD_PATH, &path),
    );
    let sent = kill_after(child, FRAMES_BEFORE_KILL);
    let sent_ms = (sent * 20) as f64;
    let probe = ffprobe(&path);
    assert_eq!(probe["streams"][0]["codec_name"], "opus");
    let duration = probed_duration_ms(&probe);
    assert!(
        duration <= sent_ms && sent_ms - duration <= 1000.0,
        "after sending {sent_ms} ms the killed file lasts {duration} ms"
    );
    assert_eq!(ffmpeg_decode_errors(&path, &[]), "");
}

/// The child of the writer-thread test: the studio's side of a session in real time, every
/// write handed to a `RecordingWriter` (its own thread writes), until the parent kills it.
#[test]
#[ignore = "the child half of sigkill_with_the_writer_thread_loses_at_most_the_last_second; run by it"]
fn crash_child_records_through_the_writer_thread_until_killed() {
    let (dir, frames, _keep) = match std::env::var_os(WRITER_CHILD_DIR) {
        Some(dir) => (std::path::PathBuf::from(dir), u64::MAX, None),
        None => {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
            (dir.path().to_path_buf(), 60, Some(dir))
        }
    };
    let mut writer = RecordingWriter::start(
        RecorderConfig::new(&dir, "crash-writer", "crash-session"),
        || {},
    );
    let start = Instant::now();
    let mut stdout = std::io::stdout();
    for n in 0..frames {
        let at = n * 20;
        // The human speaks throughout and claude over it, as in a barge-in; the guest is silent.
        for speaker in [Speaker::You, Speaker::Claude] {
            writer
                .push_frame(speaker, at, &voice_frame(n))
                .unwrap_or_else(|e| panic!("frame {n}: {e}"));
        }
        if at.is_multiple_of(1000) {
            writer
                .advance_to(at)
                .and_then(|()| {
                    writer.event(
                        at,
                        &Event::TurnStart {
                            speaker: Speaker::You,
                        },
                    )
                })
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let _ = writeln!(stdout, "sent {}", n + 1);
        let _ = stdout.flush();
        let next = start + Duration::from_millis((n + 1) * 20);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    assert_eq!(writer.dropped(), 0, "a healthy disk keeps up in real time");
}

#[test]
fn sigkill_with_the_writer_thread_loses_at_most_the_last_second() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let child = spawn_child(
        "crash_child_records_through_the_writer_thread_until_killed",
        (WRITER_CHILD_DIR, dir.path()),
    );
    let sent = kill_after(child, FRAMES_BEFORE_KILL);
    let sent_ms = (sent * 20) as f64;
    let folder = dir.path().join("crash-writer");
    for track in ["you.webm", "claude.webm", "guest.webm"] {
        let path = folder.join(track);
        let duration = probed_duration_ms(&ffprobe(&path));
        assert!(
            duration <= sent_ms && sent_ms - duration <= 1000.0,
            "{track}: after {sent_ms} ms handed to the writer, the killed file lasts {duration} ms"
        );
        assert_eq!(ffmpeg_decode_errors(&path, &[]), "", "{track}");
    }
    let events = std::fs::read_to_string(folder.join("events.jsonl"))
        .unwrap_or_else(|e| panic!("events.jsonl: {e}"));
    let turns = events.lines().filter(|l| l.contains("turn.start")).count();
    assert!(
        turns >= 3,
        "the turns of the first seconds were written: {events}"
    );
}
