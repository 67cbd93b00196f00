//! WebVTT caption files: strict structure checks here, and the real ffmpeg WebVTT demuxer.

use std::process::Command;

use voice_studio::recording::{CaptionFile, Recorder, RecorderConfig};
use voice_studio::speakers::Speaker;

/// A parsed cue: id, start and end in ms, text lines.
#[derive(Debug, PartialEq)]
struct Cue {
    id: String,
    start_ms: u64,
    end_ms: u64,
    text: Vec<String>,
}

fn parse_timestamp(text: &str) -> u64 {
    let (hms, millis) = text
        .split_once('.')
        .unwrap_or_else(|| panic!("timestamp {text:?} has no millis"));
    assert_eq!(
        millis.len(),
        3,
        "timestamp {text:?}: three millisecond digits"
    );
    let parts: Vec<&str> = hms.split(':').collect();
    assert_eq!(parts.len(), 3, "timestamp {text:?}: HH:MM:SS.mmm");
    let number = |s: &str| {
        assert!(s.chars().all(|c| c.is_ascii_digit()), "digits in {text:?}");
        s.parse::<u64>().unwrap_or_else(|e| panic!("{text:?}: {e}"))
    };
    let (h, m, s) = (number(parts[0]), number(parts[1]), number(parts[2]));
    assert!(
        parts[1].len() == 2 && parts[2].len() == 2 && m < 60 && s < 60,
        "{text:?}"
    );
    ((h * 60 + m) * 60 + s) * 1000 + number(millis)
}

/// Parses a WebVTT file strictly: header, blank-line separated blocks of id, timing, text.
fn parse_vtt(text: &str) -> Vec<Cue> {
    let body = text
        .strip_prefix("WEBVTT\n\n")
        .unwrap_or_else(|| panic!("no WEBVTT header: {text:?}"));
    assert!(
        body.is_empty() || body.ends_with("\n\n"),
        "file ends with a blank line"
    );
    body.split("\n\n")
        .filter(|block| !block.is_empty())
        .map(|block| {
            let mut lines = block.lines();
            let id = lines.next().unwrap_or_default().to_owned();
            assert!(!id.contains("-->"), "cue id {id:?}");
            let timing = lines.next().unwrap_or_default();
            let (start, end) = timing
                .split_once(" --> ")
                .unwrap_or_else(|| panic!("timing line {timing:?}"));
            let text: Vec<String> = lines.map(str::to_owned).collect();
            assert!(!text.is_empty(), "cue {id} has text");
            for line in &text {
                assert!(
                    !line.contains('<') && !line.contains("-->"),
                    "unescaped {line:?}"
                );
                let unescaped = line
                    .replace("&amp;", "")
                    .replace("&lt;", "")
                    .replace("&gt;", "");
                assert!(!unescaped.contains('&'), "bare & in {line:?}");
            }
            let cue = Cue {
                id,
                start_ms: parse_timestamp(start),
                end_ms: parse_timestamp(end),
                text,
            };
            assert!(cue.end_ms > cue.start_ms, "cue {cue:?} lasts");
            cue
        })
        .collect()
}

#[test]
fn captions_are_valid_webvtt_with_escaped_text_and_session_times() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("claude.vtt");
    let mut captions =
        CaptionFile::create(&path, "claude").unwrap_or_else(|e| panic!("create: {e}"));
    let appended = [
        (1_250, 3_900, "Fish & chips <b>are</b> great --> right?"),
        (
            3_723_045,
            3_725_000,
            "first line\n\nsecond line after a blank",
        ),
        (5_000, 5_000, "zero length"),
    ];
    for (start, end, text) in appended {
        captions
            .append(start, end, text)
            .unwrap_or_else(|e| panic!("append: {e}"));
    }
    // Written cue by cue: the file is complete now, before anything is closed.
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read: {e}"));
    let cues = parse_vtt(&text);
    assert_eq!(
        cues[0],
        Cue {
            id: "claude-1".to_owned(),
            start_ms: 1_250,
            end_ms: 3_900,
            text: vec!["Fish &amp; chips &lt;b&gt;are&lt;/b&gt; great --&gt; right?".to_owned()],
        }
    );
    assert_eq!(cues[1].start_ms, 3_723_045);
    assert_eq!(cues[1].text, ["first line", "second line after a blank"]);
    assert_eq!((cues[2].start_ms, cues[2].end_ms), (5_000, 5_001));
    assert_eq!(cues.len(), 3);

    // ffmpeg's WebVTT demuxer reads every cue and converts it to SubRip.
    let srt = dir.path().join("claude.srt");
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&path)
        .arg(&srt)
        .output()
        .unwrap_or_else(|e| panic!("ffmpeg could not run ({e}); install ffmpeg"));
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "ffmpeg rejected the VTT: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let srt_text = std::fs::read_to_string(&srt).unwrap_or_else(|e| panic!("read srt: {e}"));
    assert!(
        srt_text.contains("00:00:01,250 --> 00:00:03,900"),
        "{srt_text}"
    );
    assert!(
        srt_text.contains("01:02:03,045 --> 01:02:05,000"),
        "{srt_text}"
    );
    assert!(srt_text.contains("Fish & chips"), "{srt_text}");
    let timings = srt_text
        .lines()
        .filter(|l| l.len() == 29 && l.as_bytes()[12..17] == *b" --> ".as_slice())
        .count();
    assert_eq!(timings, 3, "{srt_text}");
}

#[test]
fn each_speaker_gets_its_own_caption_file_from_the_recorder() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut recorder = Recorder::create(RecorderConfig::new(dir.path(), "ep", "s"))
        .unwrap_or_else(|e| panic!("create: {e}"));
    recorder
        .caption(Speaker::You, 0, 900, "Guest, your view?")
        .unwrap_or_else(|e| panic!("{e}"));
    recorder
        .caption(Speaker::Guest, 1_000, 2_000, "I disagree.")
        .unwrap_or_else(|e| panic!("{e}"));
    let summary = recorder
        .finish(2_000)
        .unwrap_or_else(|e| panic!("finish: {e}"));
    let read = |name: &str| {
        std::fs::read_to_string(summary.folder.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    assert_eq!(parse_vtt(&read("you.vtt"))[0].text, ["Guest, your view?"]);
    assert_eq!(parse_vtt(&read("guest.vtt"))[0].id, "guest-1");
    assert!(parse_vtt(&read("claude.vtt")).is_empty());
}
