//! Subtitle cues from transcript lines, shared by SRT and VTT: the text on one line, wrapped at
//! spaces into short lines, two lines to a cue, each cue timed by its share of the line's text.

use textwrap::{Options, WordSeparator, WrapAlgorithm};

use super::{TranscriptLine, speaker_label};

/// Widest subtitle line, in display columns: the common broadcast guideline (about 42), which
/// fits a phone screen at a readable size.
pub const MAX_LINE_WIDTH: usize = 42;

/// Lines shown at once; a longer line of speech becomes several cues in a row.
pub const MAX_LINES_PER_CUE: usize = 2;

/// One subtitle cue, with plain (not yet escaped) text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    /// Start, in ms from the start of the session.
    pub start_ms: u64,
    /// End, always after `start_ms`.
    pub end_ms: u64,
    /// Who speaks (the label of [`speaker_label`]).
    pub speaker: &'static str,
    /// The text, one entry per display line, at most [`MAX_LINES_PER_CUE`].
    pub lines: Vec<String>,
}

/// The cues of a transcript in start order: a line with no text gives none, an interrupted line
/// ends with a dash (the subtitle convention for speech cut off).
///
/// `first_line_prefix` is the width taken before each cue's first line (SRT writes the speaker's
/// name there; VTT's voice tag takes none), so the prefixed line still fits [`MAX_LINE_WIDTH`].
pub fn cues(lines: &[TranscriptLine], first_line_prefix: impl Fn(&str) -> usize) -> Vec<Cue> {
    let mut out = Vec::new();
    for line in super::in_time_order(lines) {
        let mut text = line.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            continue;
        }
        if line.interrupted {
            text.push_str(" —");
        }
        let speaker = speaker_label(line.speaker);
        let chunks = chunks(&text, first_line_prefix(speaker));
        let total: usize = chunks.iter().map(|c| weight(c)).sum::<usize>().max(1);
        // Each cue lasts its share of the line, by characters; the last ends with the line.
        let end = line.end_ms.max(line.start_ms + chunks.len() as u64);
        let span = end - line.start_ms;
        let mut before = 0usize;
        let mut start_ms = line.start_ms;
        for (i, chunk) in chunks.iter().enumerate() {
            before += weight(chunk);
            let end_ms = if i + 1 == chunks.len() {
                end
            } else {
                let share = (span as u128 * before as u128 / total as u128) as u64;
                (line.start_ms + share).max(start_ms + 1)
            };
            out.push(Cue {
                start_ms,
                end_ms,
                speaker,
                lines: chunk.clone(),
            });
            start_ms = end_ms;
        }
    }
    // WebVTT wants cues in start order, and a long line's later cues may start after the next
    // line began (speakers overlap): stable, so equal starts keep the lines' order.
    out.sort_by_key(|c| c.start_ms);
    out
}

/// What a chunk of lines counts for when a line's time is shared out: its characters.
fn weight(chunk: &[String]) -> usize {
    chunk.iter().map(|l| l.chars().count()).sum::<usize>() + chunk.len()
}

/// `text` (single spaces) wrapped into groups of at most [`MAX_LINES_PER_CUE`] lines.
fn chunks(text: &str, prefix_width: usize) -> Vec<Vec<String>> {
    // Room is kept for the prefix on every cue's first line: the indent stands in for it.
    let indent = " ".repeat(prefix_width.min(MAX_LINE_WIDTH / 2));
    let options = Options::new(MAX_LINE_WIDTH)
        .initial_indent(&indent)
        .word_separator(WordSeparator::AsciiSpace)
        .wrap_algorithm(WrapAlgorithm::FirstFit)
        .break_words(true);
    let mut rest = text;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let wrapped = textwrap::wrap(rest, &options);
        let mut taken = Vec::new();
        let mut consumed = 0usize;
        for (i, line) in wrapped.iter().enumerate() {
            let line: &str = if i == 0 {
                line.strip_prefix(indent.as_str()).unwrap_or(line)
            } else {
                line
            };
            // A word that fits a line but not beside the prefix leaves the first line empty:
            // the cue starts with the next one (a little wider than the rest, the word whole).
            if line.is_empty() {
                continue;
            }
            if taken.len() == MAX_LINES_PER_CUE {
                break;
            }
            // The wrapped line is the text from `consumed` on (a broken word has no space).
            let at = rest[consumed..]
                .find(line)
                .map_or(consumed, |o| consumed + o);
            consumed = at + line.len();
            taken.push(line.to_owned());
        }
        if taken.is_empty() || consumed == 0 {
            // Nothing fits (cannot happen with break_words); keep the rest whole.
            out.push(vec![rest.to_owned()]);
            break;
        }
        out.push(taken);
        rest = rest[consumed..].trim_start();
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
    fn a_short_line_is_one_cue_with_its_own_times() {
        let cues = cues(&[line(Speaker::Claude, 1000, 2500, "Hello there.")], |_| 0);
        assert_eq!(
            cues,
            [Cue {
                start_ms: 1000,
                end_ms: 2500,
                speaker: "Claude",
                lines: vec!["Hello there.".into()],
            }]
        );
    }

    #[test]
    fn a_long_line_wraps_into_cues_of_two_short_lines_that_share_its_time() {
        let words = "one two three four five six seven eight nine ten ".repeat(8);
        let cues = cues(&[line(Speaker::Guest, 10_000, 40_000, &words)], |_| 7);
        assert!(cues.len() > 2, "{cues:?}");
        assert_eq!(cues[0].start_ms, 10_000);
        assert_eq!(cues.last().map(|c| c.end_ms), Some(40_000));
        for pair in cues.windows(2) {
            assert_eq!(pair[0].end_ms, pair[1].start_ms, "{cues:?}");
            assert!(pair[0].start_ms < pair[0].end_ms);
        }
        for cue in &cues {
            assert!(cue.lines.len() <= MAX_LINES_PER_CUE);
            assert!(
                cue.lines[0].chars().count() + 7 <= MAX_LINE_WIDTH,
                "{cue:?}"
            );
            for l in &cue.lines {
                assert!(l.chars().count() <= MAX_LINE_WIDTH, "{l}");
                assert_eq!(l.trim(), l);
            }
        }
        // Nothing is lost or repeated.
        let joined: Vec<String> = cues.iter().flat_map(|c| c.lines.clone()).collect();
        assert_eq!(joined.join(" "), words.trim());
    }

    #[test]
    fn a_word_longer_than_a_line_is_broken_not_lost() {
        let long = "x".repeat(100);
        let cues = cues(&[line(Speaker::You, 0, 1000, &long)], |_| 0);
        let joined: String = cues
            .iter()
            .flat_map(|c| c.lines.concat().chars().collect::<Vec<_>>())
            .collect();
        assert_eq!(joined, long);
    }

    #[test]
    fn a_word_that_does_not_fit_beside_the_name_starts_the_cue_without_an_empty_line() {
        let word = "w".repeat(38);
        let text = format!("{word} and then some more words");
        let cues = cues(&[line(Speaker::Guest, 0, 1000, &text)], |_| 7);
        for cue in &cues {
            assert!(cue.lines.iter().all(|l| !l.is_empty()), "{cues:?}");
        }
        assert!(cues[0].lines[0].starts_with(&word), "{cues:?}");
        let joined: Vec<String> = cues.iter().flat_map(|c| c.lines.clone()).collect();
        assert_eq!(joined.join(" "), text);
    }

    #[test]
    fn empty_lines_give_no_cue_and_cut_lines_end_with_a_dash() {
        let mut cut = line(Speaker::Claude, 500, 900, "So the point");
        cut.interrupted = true;
        let cues = cues(&[line(Speaker::You, 0, 400, "  \n "), cut], |_| 0);
        assert_eq!(cues.len(), 1);
        assert_eq!(cues[0].lines, ["So the point —"]);
    }

    #[test]
    fn cues_come_in_start_order_when_a_long_line_overlaps_the_next() {
        let long = "word ".repeat(40);
        let cues = cues(
            &[
                line(Speaker::Guest, 0, 10_000, &long),
                line(Speaker::Claude, 2_000, 3_000, "Overlap."),
            ],
            |_| 0,
        );
        assert!(cues.len() > 2);
        for pair in cues.windows(2) {
            assert!(pair[0].start_ms <= pair[1].start_ms, "{cues:?}");
        }
        assert!(cues.iter().any(|c| c.speaker == "Claude"));
    }

    #[test]
    fn a_line_without_duration_still_lasts() {
        let cues = cues(&[line(Speaker::You, 700, 700, "Yes.")], |_| 0);
        assert_eq!((cues[0].start_ms, cues[0].end_ms), (700, 701));
    }
}
