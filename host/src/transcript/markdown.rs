//! Markdown (`.md`): a heading, then one paragraph per line with the speaker's name and when the
//! line began, for reading and for pasting into show notes.

use std::fmt::Write as _;

use super::{TranscriptLine, in_time_order, speaker_label};

/// The transcript as Markdown: `# <title>` (the episode id without one), then
/// `**Claude** (01:02): text` per line; a line cut by barge-in ends with *(interrupted)*. Lines
/// without text are left out. The speech is escaped, so nothing said turns into markup.
pub fn render(episode: &str, title: Option<&str>, lines: &[TranscriptLine]) -> String {
    let mut out = String::new();
    match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(title) => {
            out.push_str("# ");
            escape_into(&mut out, title);
            let _ = write!(out, "\n\nTranscript of episode `{episode}`.\n\n");
        }
        None => {
            let _ = write!(out, "# Transcript of episode `{episode}`\n\n");
        }
    }
    let mut any = false;
    for line in in_time_order(lines) {
        let text = line.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            continue;
        }
        any = true;
        let _ = write!(
            out,
            "**{}** ({}): ",
            speaker_label(line.speaker),
            clock(line.start_ms)
        );
        escape_into(&mut out, &text);
        if line.interrupted {
            out.push_str(" *(interrupted)*");
        }
        out.push_str("\n\n");
    }
    if !any {
        out.push_str("*Nothing was said.*\n\n");
    }
    // One newline at the end, as text files end.
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// `MM:SS`, or `H:MM:SS` from the first hour on.
fn clock(ms: u64) -> String {
    let seconds = ms / 1000;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// Backslash-escapes the characters CommonMark (and GitHub's tables and strikethrough) could read
/// as markup inside a paragraph or heading; any ASCII punctuation may be escaped, so the text reads
/// back unchanged. Block markers (`-`, `+`, `1.`, `=`) need none: no speech starts a line here.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speakers::Speaker;

    fn line(speaker: Speaker, start_ms: u64, text: &str, interrupted: bool) -> TranscriptLine {
        TranscriptLine {
            speaker,
            start_ms,
            end_ms: start_ms + 1000,
            text: text.into(),
            interrupted,
        }
    }

    #[test]
    fn lines_are_paragraphs_with_names_and_times_in_time_order() {
        let md = render(
            "ep-1",
            Some("Cars in cities"),
            &[
                line(Speaker::Claude, 62_000, "Welcome to the show.", false),
                line(Speaker::You, 3_000, "Hello,\neveryone.", false),
                line(Speaker::Guest, 3_725_000, "But the data", true),
                line(Speaker::Claude, 3_800_000, "   ", false),
            ],
        );
        assert_eq!(
            md,
            "# Cars in cities\n\nTranscript of episode `ep-1`.\n\n\
             **Host** (00:03): Hello, everyone.\n\n\
             **Claude** (01:02): Welcome to the show.\n\n\
             **Guest** (1:02:05): But the data *(interrupted)*\n"
        );
    }

    #[test]
    fn what_was_said_never_becomes_markup() {
        let md = render(
            "ep-1",
            None,
            &[line(
                Speaker::You,
                0,
                "# not a *heading* <b>& [link](x) - 1_000 `x`",
                false,
            )],
        );
        assert!(md.starts_with("# Transcript of episode `ep-1`\n\n"), "{md}");
        assert!(
            md.contains(
                r"**Host** (00:00): \# not a \*heading\* \<b\>\& \[link\](x) - 1\_000 \`x\`"
            ),
            "{md}"
        );
    }

    #[test]
    fn an_empty_transcript_says_so() {
        let md = render("ep-1", None, &[]);
        assert_eq!(
            md,
            "# Transcript of episode `ep-1`\n\n*Nothing was said.*\n"
        );
    }
}
