//! SubRip (`.srt`): numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, the speaker's name before
//! each cue's text.

use std::fmt::Write as _;

use super::TranscriptLine;
use super::cues::cues;

/// The transcript as SubRip subtitles.
///
/// SubRip has no escapes, and readers take `<...>` for formatting tags (ffmpeg and most players
/// drop tags they do not know, words and all), so angle brackets are written as `‹` and `›`,
/// which also leaves no `-->` (a timing line) in the text; blank lines (which end a cue) never
/// appear inside one.
pub fn render(lines: &[TranscriptLine]) -> String {
    let mut out = String::new();
    let prefix = |speaker: &str| speaker.chars().count() + 2;
    for (n, cue) in cues(lines, prefix).iter().enumerate() {
        let _ = writeln!(
            out,
            "{}\n{} --> {}",
            n + 1,
            timestamp(cue.start_ms),
            timestamp(cue.end_ms)
        );
        for (i, text) in cue.lines.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "{}: ", cue.speaker);
            }
            out.push_str(&without_tags(text));
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// `text` without angle brackets: `‹` and `›` in their place.
fn without_tags(text: &str) -> String {
    text.replace('<', "‹").replace('>', "›")
}

/// `HH:MM:SS,mmm` (hours grow past 99 rather than wrap).
fn timestamp(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02},{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speakers::Speaker;

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
    fn timestamps_use_a_comma_before_the_millis() {
        assert_eq!(timestamp(0), "00:00:00,000");
        assert_eq!(timestamp(3_723_045), "01:02:03,045");
        assert_eq!(timestamp(100 * 3_600_000 + 1), "100:00:00,001");
    }

    #[test]
    fn cues_are_numbered_from_one_in_time_order_with_speaker_names() {
        let srt = render(&[
            line(Speaker::Claude, 2_000, 3_500, "Welcome back."),
            line(Speaker::You, 500, 1_800, "Hello & <welcome>."),
            line(Speaker::Guest, 4_000, 4_000, ""),
        ]);
        assert_eq!(
            srt,
            "1\n00:00:00,500 --> 00:00:01,800\nHost: Hello & ‹welcome›.\n\n\
             2\n00:00:02,000 --> 00:00:03,500\nClaude: Welcome back.\n\n"
        );
    }

    #[test]
    fn an_arrow_in_the_text_cannot_pass_for_a_timing_line_nor_a_tag_for_markup() {
        let srt = render(&[line(
            Speaker::Guest,
            0,
            1000,
            "a\n\n00:00:01,000 --> 00:00:02,000",
        )]);
        assert_eq!(srt.matches("-->").count(), 1, "{srt}");
        assert!(srt.contains("00:00:01,000 --› 00:00:02,000"), "{srt}");
        assert!(
            !srt.trim_end().contains("\n\n"),
            "no blank line inside: {srt:?}"
        );
    }

    #[test]
    fn an_empty_transcript_is_an_empty_file() {
        assert_eq!(render(&[]), "");
    }
}
