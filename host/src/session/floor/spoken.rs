//! An AI's line as it plays: the clauses TTS spoke, where each starts in the line's audio, and
//! the text that was heard by a given point. Pure bookkeeping, so the barge-in cut is unit-tested.

use crate::audio::SAMPLE_RATE;

/// Samples per millisecond at the studio rate.
const SAMPLES_PER_MS: u64 = SAMPLE_RATE as u64 / 1000;

/// One clause of a line and where its audio sits in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    text: String,
    /// First sample of the clause in the line's 48 kHz audio.
    start: u64,
    /// One past its last sample; `None` while TTS still speaks it.
    end: Option<u64>,
}

/// The clauses of one AI line, in order, with their audio positions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SpokenLine {
    clauses: Vec<Clause>,
    /// Samples of audio queued for the line so far.
    samples: u64,
}

impl SpokenLine {
    /// A clause whose audio starts after everything queued so far.
    pub(super) fn begin_clause(&mut self, text: String) {
        self.close_clause();
        self.clauses.push(Clause {
            text,
            start: self.samples,
            end: None,
        });
    }

    /// Audio of the current clause arrived.
    pub(super) fn add_audio(&mut self, samples: usize) {
        self.samples += samples as u64;
    }

    /// The current clause has all its audio.
    pub(super) fn close_clause(&mut self) {
        if let Some(last) = self.clauses.last_mut()
            && last.end.is_none()
        {
            last.end = Some(self.samples);
        }
    }

    /// How many clauses have begun playing once `played` samples of the line were released
    /// (a clause shows as its audio starts).
    pub(super) fn clauses_started(&self, played: u64) -> usize {
        self.clauses.iter().take_while(|c| c.start < played).count()
    }

    /// The text of the first `count` clauses, for a caption that follows the audio.
    pub(super) fn text_of_first(&self, count: usize) -> String {
        join(self.clauses.iter().take(count).map(|c| c.text.as_str()))
    }

    /// Everything the line says (all its clauses).
    pub(super) fn full_text(&self) -> String {
        self.text_of_first(self.clauses.len())
    }

    /// What a listener heard after `played_ms` of the line: whole clauses that finished, plus
    /// the share of words of the clause that was cut, in proportion to its audio played.
    pub(super) fn heard_after(&self, played_ms: u64) -> String {
        let played = played_ms * SAMPLES_PER_MS;
        let mut parts: Vec<String> = Vec::new();
        for clause in &self.clauses {
            if clause.start >= played {
                break;
            }
            let end = clause.end.unwrap_or(self.samples).max(clause.start);
            if end <= played {
                parts.push(clause.text.clone());
                continue;
            }
            let length = (end - clause.start).max(1);
            let fraction = (played - clause.start) as f64 / length as f64;
            let words: Vec<&str> = clause.text.split_whitespace().collect();
            let keep = ((words.len() as f64) * fraction).floor() as usize;
            if keep > 0 {
                parts.push(words[..keep.min(words.len())].join(" "));
            }
            break;
        }
        join(parts.iter().map(String::as_str))
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for part in parts.map(str::trim).filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two clauses of one second each (48 000 samples).
    fn two_second_line() -> SpokenLine {
        let mut line = SpokenLine::default();
        line.begin_clause("Cities should keep some cars,".into());
        line.add_audio(48_000);
        line.begin_clause("but only for deliveries and buses.".into());
        line.add_audio(48_000);
        line.close_clause();
        line
    }

    #[test]
    fn a_line_heard_to_the_end_keeps_every_clause() {
        let line = two_second_line();
        assert_eq!(
            line.heard_after(2_000),
            "Cities should keep some cars, but only for deliveries and buses."
        );
        assert_eq!(line.full_text(), line.heard_after(5_000));
    }

    #[test]
    fn a_line_cut_mid_clause_keeps_the_words_played_so_far() {
        let line = two_second_line();
        // Half of the second clause's six words.
        assert_eq!(
            line.heard_after(1_500),
            "Cities should keep some cars, but only for"
        );
        assert_eq!(line.heard_after(0), "");
        assert_eq!(line.heard_after(1_000), "Cities should keep some cars,");
    }

    #[test]
    fn captions_show_a_clause_once_its_audio_starts() {
        let line = two_second_line();
        assert_eq!(line.clauses_started(0), 0);
        assert_eq!(line.clauses_started(960), 1);
        assert_eq!(line.clauses_started(48_000), 1);
        assert_eq!(line.clauses_started(48_960), 2);
        assert_eq!(line.text_of_first(1), "Cities should keep some cars,");
    }
}
