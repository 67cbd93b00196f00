//! A whole session recorded by `Recorder`: aligned tracks, folders never reused, events.jsonl
//! and session.yml readable by real parsers.

use crate::support::recording::{ffmpeg_decode_errors, ffprobe, probed_duration_ms, voice_frame};
use voice_studio::recording::{
    BriefingRecord, Event, PluginRecord, Recorder, RecorderConfig, RecordingError, TurnMetrics,
};
use voice_studio::speakers::Speaker;

fn config(dir: &std::path::Path, episode: &str) -> RecorderConfig {
    let mut config = RecorderConfig::new(dir, episode, "session-1");
    config.participant = Some("Basil \"the host\"".to_owned());
    config.session_config = serde_json::json!({"roles": {"stt": "mock-stt"}});
    config
}

/// Pushes `frames` voice frames of `speaker` starting at session time `from_ms`.
fn speak(recorder: &mut Recorder, speaker: Speaker, from_ms: u64, frames: u64) {
    for n in 0..frames {
        recorder
            .push_frame(speaker, from_ms + n * 20, &voice_frame(n))
            .unwrap_or_else(|e| panic!("{speaker:?} frame {n}: {e}"));
    }
}

#[test]
fn three_tracks_with_gaps_end_within_one_frame_of_each_other() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut recorder =
        Recorder::create(config(dir.path(), "ep-1")).unwrap_or_else(|e| panic!("create: {e}"));
    // The human talks 0-2 s, claude 2.5-5 s, the guest only 6-6.5 s; the session ends at 8.03 s.
    speak(&mut recorder, Speaker::You, 0, 100);
    speak(&mut recorder, Speaker::Claude, 2500, 125);
    recorder
        .advance_to(6000)
        .unwrap_or_else(|e| panic!("advance: {e}"));
    speak(&mut recorder, Speaker::Guest, 6000, 25);
    let summary = recorder
        .finish(8030)
        .unwrap_or_else(|e| panic!("finish: {e}"));

    let mut durations = Vec::new();
    for speaker in ["you", "claude", "guest"] {
        let path = summary.folder.join(format!("{speaker}.webm"));
        assert_eq!(
            ffmpeg_decode_errors(&path, &[]),
            "",
            "{speaker}.webm decodes"
        );
        let duration = probed_duration_ms(&ffprobe(&path));
        assert!(
            (duration - 8020.0).abs() <= 20.0,
            "{speaker}.webm lasts {duration} ms, the session 8030 ms"
        );
        durations.push(duration);
    }
    let longest = durations.iter().cloned().fold(f64::MIN, f64::max);
    let shortest = durations.iter().cloned().fold(f64::MAX, f64::min);
    assert!(longest - shortest <= 20.0, "track durations {durations:?}");

    let names: Vec<&str> = summary.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "you.webm",
            "claude.webm",
            "guest.webm",
            "you.vtt",
            "claude.vtt",
            "guest.vtt",
            "events.jsonl",
            "session.yml"
        ]
    );
    for file in &summary.files {
        let on_disk = std::fs::metadata(&file.path)
            .unwrap_or_else(|e| panic!("{}: {e}", file.name))
            .len();
        assert_eq!(file.bytes, on_disk, "{} size", file.name);
    }
}

#[test]
fn a_second_session_of_an_episode_gets_a_numbered_folder_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let first = Recorder::create(config(dir.path(), "ep-7")).unwrap_or_else(|e| panic!("{e}"));
    let second = Recorder::create(config(dir.path(), "ep-7")).unwrap_or_else(|e| panic!("{e}"));
    let third = Recorder::create(config(dir.path(), "ep-7")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.folder(), dir.path().join("ep-7"));
    assert_eq!(second.folder(), dir.path().join("ep-7-2"));
    assert_eq!(third.folder(), dir.path().join("ep-7-3"));
    for recorder in [first, second, third] {
        recorder
            .finish(40)
            .unwrap_or_else(|e| panic!("finish: {e}"));
    }
}

#[test]
fn an_unwritable_recording_dir_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap_or_else(|e| panic!("{e}"));
    let result = Recorder::create(config(&not_a_dir, "ep"));
    assert!(
        matches!(result, Err(RecordingError::CreateFolder { .. })),
        "got {:?}",
        result.err()
    );
}

#[test]
fn events_jsonl_has_one_parsable_event_per_line_on_the_session_clock() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let config = config(dir.path(), "ep-events");
    let started = config.started_at_epoch_ms;
    let mut recorder = Recorder::create(config).unwrap_or_else(|e| panic!("create: {e}"));
    let logged = [
        (
            100,
            Event::VadSpeechStart {
                speaker: Speaker::You,
                confidence: Some(0.9),
            },
        ),
        (
            900,
            Event::SttFinal {
                speaker: Speaker::You,
                text: "Claude, what \"now\"?\nline two".to_owned(),
                confidence: None,
                typed: false,
            },
        ),
        (
            950,
            Event::TurnStart {
                speaker: Speaker::Claude,
            },
        ),
        (
            1200,
            Event::LlmComplete {
                speaker: Speaker::Claude,
                latency: 250,
                text: None,
            },
        ),
        (
            1300,
            Event::BargeIn {
                interrupter: Speaker::You,
                interrupted: vec![Speaker::Claude],
            },
        ),
        (
            1310,
            Event::TurnEnd {
                speaker: Speaker::Claude,
                metrics: TurnMetrics {
                    duration_ms: Some(360),
                    interrupted: true,
                    ..TurnMetrics::default()
                },
            },
        ),
        (
            1400,
            Event::Error {
                error: "rate limited".to_owned(),
                service: Some("llm:guest".to_owned()),
                context: Some(serde_json::json!({"retryAfterMs": 1000})),
            },
        ),
    ];
    for (t, event) in &logged {
        recorder
            .event(*t, event)
            .unwrap_or_else(|e| panic!("event: {e}"));
    }
    let summary = recorder
        .finish(2000)
        .unwrap_or_else(|e| panic!("finish: {e}"));

    let text = std::fs::read_to_string(summary.folder.join("events.jsonl"))
        .unwrap_or_else(|e| panic!("read events: {e}"));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();
    // session.start, the seven events, session.end.
    assert_eq!(lines.len(), logged.len() + 2);
    assert_eq!(lines[0]["type"], "session.start");
    assert_eq!(lines[0]["episodeId"], "ep-events");
    assert_eq!(lines[0]["config"]["roles"]["stt"], "mock-stt");
    assert_eq!(lines[8]["type"], "session.end");
    assert_eq!(lines[8]["duration"], 2000);
    for (line, (t, event)) in lines[1..8].iter().zip(&logged) {
        assert_eq!(line["sessionId"], "session-1");
        assert_eq!(line["t"], *t);
        assert_eq!(line["timestamp"], started + t);
        let parsed: Event = serde_json::from_value(line.clone())
            .unwrap_or_else(|e| panic!("{line} is no Event: {e}"));
        assert_eq!(&parsed, event);
    }
    assert_eq!(lines[1]["type"], "vad.speech-start");
    assert_eq!(lines[4]["type"], "llm.complete");
    assert_eq!(lines[4]["latency"], 250);
    assert_eq!(lines[5]["interrupted"][0], "claude");
    assert_eq!(lines[6]["metrics"]["durationMs"], 360);
    assert_eq!(lines[7]["service"], "llm:guest");
}

#[test]
fn session_yml_parses_and_records_plugins_briefing_tracks_and_turns() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut recorder =
        Recorder::create(config(dir.path(), "ep-yml")).unwrap_or_else(|e| panic!("create: {e}"));
    recorder
        .set_plugins(vec![PluginRecord {
            role: "stt".to_owned(),
            name: "mock-stt".to_owned(),
            version: "0.1.0".to_owned(),
            hash: "9f2c".to_owned(),
        }])
        .unwrap_or_else(|e| panic!("plugins: {e}"));
    recorder
        .set_briefing(BriefingRecord {
            path: "briefings/ai: friend or foe?.md".to_owned(),
            title: Some("AI: friend # or foe?\n- yes".to_owned()),
        })
        .unwrap_or_else(|e| panic!("briefing: {e}"));
    for (t, speaker) in [
        (0, Speaker::You),
        (500, Speaker::Claude),
        (900, Speaker::You),
    ] {
        recorder
            .event(t, &Event::TurnStart { speaker })
            .unwrap_or_else(|e| panic!("turn: {e}"));
    }
    speak(&mut recorder, Speaker::You, 0, 60);
    recorder
        .caption(Speaker::You, 0, 1200, "hello")
        .unwrap_or_else(|e| panic!("caption: {e}"));
    let summary = recorder
        .finish(1500)
        .unwrap_or_else(|e| panic!("finish: {e}"));

    let text = std::fs::read_to_string(summary.folder.join("session.yml"))
        .unwrap_or_else(|e| panic!("read session.yml: {e}"));
    let yml: serde_json::Value =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("session.yml:\n{text}\n{e}"));
    assert_eq!(yml["episode"], "ep-yml");
    assert_eq!(yml["session"], "session-1");
    assert_eq!(yml["participant"], "Basil \"the host\"");
    assert_eq!(yml["durationMs"], 1500);
    assert_eq!(yml["plugins"][0]["name"], "mock-stt");
    assert_eq!(yml["plugins"][0]["hash"], "9f2c");
    assert_eq!(yml["briefing"]["title"], "AI: friend # or foe?\n- yes");
    assert_eq!(yml["tracks"]["you"]["durationMs"], 1500);
    assert_eq!(yml["tracks"]["you"]["cues"], 1);
    let you_bytes = summary.files[0].bytes;
    assert_eq!(yml["tracks"]["you"]["bytes"], you_bytes);
    assert_eq!(yml["turns"]["you"], 2);
    assert_eq!(yml["turns"]["claude"], 1);
    assert_eq!(yml["turns"]["guest"], 0);
    let started = yml["startedAt"].as_str().unwrap_or_default();
    assert!(
        started.ends_with('Z') && started.len() == 24,
        "startedAt {started}"
    );
}
