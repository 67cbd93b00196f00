//! WebVTT (`.vtt`): the `WEBVTT` header, numbered cues `HH:MM:SS.mmm --> HH:MM:SS.mmm`, each
//! cue's text in a voice span naming the speaker (`<v Claude>...</v>`).

use std::fmt::Write as _;

use super::TranscriptLine;
use super::cues::cues;
use crate::recording::{VttTimestamp, vtt_escape_into as escape_into};

/// The transcript as WebVTT captions.
///
/// The text is escaped (`&`, `<`, `>`), which also leaves no `-->` in it; blank lines (which end
/// a cue) never appear inside one.
pub fn render(lines: &[TranscriptLine]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for (n, cue) in cues(lines, |_| 0).iter().enumerate() {
        let _ = writeln!(
            out,
            "{}\n{} --> {}",
            n + 1,
            VttTimestamp(cue.start_ms),
            VttTimestamp(cue.end_ms)
        );
        let last = cue.lines.len().saturating_sub(1);
        for (i, text) in cue.lines.iter().enumerate() {
            if i == 0 {
                // The labels are the studio's own names: nothing in them needs escaping.
                let _ = write!(out, "<v {}>", cue.speaker);
            }
            escape_into(&mut out, text);
            if i == last {
                out.push_str("</v>");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
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
    fn cues_carry_the_speaker_as_a_voice_and_escape_markup() {
        let vtt = render(&[
            line(Speaker::Guest, 2_000, 3_500, "a --> b"),
            line(Speaker::You, 500, 1_800, "Fish & <chips>"),
            line(Speaker::Claude, 4_000, 5_000, " "),
        ]);
        assert_eq!(
            vtt,
            "WEBVTT\n\n\
             1\n00:00:00.500 --> 00:00:01.800\n<v Host>Fish &amp; &lt;chips&gt;</v>\n\n\
             2\n00:00:02.000 --> 00:00:03.500\n<v Guest>a --&gt; b</v>\n\n"
        );
    }

    #[test]
    fn a_cue_of_two_lines_opens_the_voice_on_the_first_and_closes_it_on_the_second() {
        let text = "This sentence is long enough that it has to wrap onto a second line.";
        let vtt = render(&[line(Speaker::Claude, 0, 4_000, text)]);
        let body: Vec<&str> = vtt.lines().skip(4).take(2).collect();
        assert!(body[0].starts_with("<v Claude>"), "{vtt}");
        assert!(
            body[1].ends_with("</v>") && !body[1].starts_with('<'),
            "{vtt}"
        );
    }

    #[test]
    fn an_empty_transcript_is_a_header_only() {
        assert_eq!(render(&[]), "WEBVTT\n\n");
    }
}
