//! Splitting streamed text into speakable pieces: the studio hands TTS one sentence (or a long
//! clause) at a time, so speech starts while the LLM is still writing.

/// Collects streamed text and hands out whole sentences as soon as they are complete.
///
/// A sentence ends at `.`, `!`, `?` or `…` followed by whitespace (so `3.5` and `e.g.x` do not
/// split), or at a newline. Common abbreviations (`Dr.`, `e.g.`, `Mr.`) do not end a sentence.
/// A clause longer than `max_chars` is cut at its last `,`, `;`, `:` or dash, so a run-on sentence
/// does not delay speech.
#[derive(Debug, Clone)]
pub struct SentenceSplitter {
    pending: String,
    max_chars: usize,
}

/// Words that end with a period but rarely end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "approx", "no",
    "inc", "ltd", "co", "fig", "u.s", "a.m", "p.m",
];

impl Default for SentenceSplitter {
    fn default() -> Self {
        Self::new(160)
    }
}

impl SentenceSplitter {
    /// A splitter that cuts clauses longer than `max_chars` (0 disables clause cutting).
    pub fn new(max_chars: usize) -> Self {
        Self {
            pending: String::new(),
            max_chars,
        }
    }

    /// Adds the next piece of text and returns the sentences it completed, trimmed, oldest first.
    pub fn push(&mut self, text: &str) -> Vec<String> {
        self.pending.push_str(text);
        let mut out = Vec::new();
        while let Some(end) = self.next_boundary() {
            let rest = self.pending.split_off(end);
            let piece = std::mem::replace(&mut self.pending, rest);
            let piece = piece.trim();
            if !piece.is_empty() {
                out.push(piece.to_owned());
            }
        }
        out
    }

    /// Returns whatever is left at the end of the stream (an unfinished last sentence), if anything.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        let rest = rest.trim();
        (!rest.is_empty()).then(|| rest.to_owned())
    }

    /// The byte index just after the first complete sentence or over-long clause, if there is one.
    fn next_boundary(&self) -> Option<usize> {
        let text = &self.pending;
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            let after = at + c.len_utf8();
            if c == '\n' {
                return Some(after);
            }
            if matches!(c, '.' | '!' | '?' | '…') {
                // Closing quotes and brackets belong to the sentence they end.
                let mut end = after;
                let mut in_brackets = false;
                while let Some(&(next_at, next)) = chars.peek() {
                    if matches!(next, '"' | '\'' | ')' | ']' | '”' | '’' | '.' | '!' | '?') {
                        in_brackets |= matches!(next, ')' | ']');
                        end = next_at + next.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                if in_brackets {
                    continue; // "(really!) he left": the mark ends an aside, not the sentence.
                }
                match chars.peek() {
                    // Without the next character we cannot know yet ("3." may become "3.5").
                    None => return None,
                    Some(&(_, next)) if next.is_whitespace() => {
                        if c == '.' && ends_with_abbreviation(&text[..at]) {
                            continue;
                        }
                        return Some(end);
                    }
                    Some(_) => continue,
                }
            }
        }
        if self.max_chars > 0 && text.chars().count() > self.max_chars {
            return clause_cut(text, self.max_chars);
        }
        None
    }
}

/// Whether the word just before a period is an abbreviation or a single initial ("J. Smith").
fn ends_with_abbreviation(before_period: &str) -> bool {
    let word = before_period
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("");
    let word = word.to_lowercase();
    if word.chars().count() == 1 && word.chars().all(char::is_alphabetic) {
        return true;
    }
    ABBREVIATIONS.contains(&word.as_str())
}

/// The byte index after the last clause mark within the first `max_chars` characters, or after the
/// last space there when there is none.
fn clause_cut(text: &str, max_chars: usize) -> Option<usize> {
    let limit = text
        .char_indices()
        .nth(max_chars)
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    let head = &text[..limit];
    let mark = head
        .char_indices()
        .filter(|&(i, c)| {
            matches!(c, ',' | ';' | ':' | '—' | '–')
                && head[i + c.len_utf8()..].starts_with(char::is_whitespace)
        })
        .map(|(i, c)| i + c.len_utf8())
        .next_back();
    mark.or_else(|| head.rfind(' ').filter(|&i| i > 0).map(|i| i + 1))
}

/// Splits a whole text into sentences at once (the streaming splitter fed once, then finished).
pub fn split_sentences(text: &str) -> Vec<String> {
    let mut splitter = SentenceSplitter::new(0);
    let mut out = splitter.push(text);
    out.extend(splitter.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_come_out_as_soon_as_the_next_word_starts() {
        let mut splitter = SentenceSplitter::default();
        assert!(splitter.push("Hello there").is_empty());
        assert!(splitter.push(".").is_empty());
        assert_eq!(splitter.push(" How"), vec!["Hello there."]);
        assert!(splitter.push(" are you").is_empty());
    }

    #[test]
    fn streamed_tokens_split_into_sentences() {
        let mut splitter = SentenceSplitter::default();
        let mut out = Vec::new();
        for token in [
            "Hello", " there", ".", " How", " are", " you", "?", " I", " am", " fine", ".",
        ] {
            out.extend(splitter.push(token));
        }
        out.extend(splitter.finish());
        assert_eq!(out, vec!["Hello there.", "How are you?", "I am fine."]);
    }

    #[test]
    fn a_final_period_waits_for_what_follows() {
        let mut splitter = SentenceSplitter::default();
        assert!(splitter.push("It costs 3.").is_empty());
        assert!(splitter.push("5 dollars").is_empty());
        assert_eq!(splitter.push(". Next"), vec!["It costs 3.5 dollars."]);
        assert_eq!(splitter.finish().as_deref(), Some("Next"));
    }

    #[test]
    fn abbreviations_and_initials_do_not_end_sentences() {
        assert_eq!(
            split_sentences("Dr. Smith met J. Doe, e.g. at noon. Then they left!"),
            vec!["Dr. Smith met J. Doe, e.g. at noon.", "Then they left!"]
        );
    }

    #[test]
    fn closing_quotes_stay_with_their_sentence() {
        assert_eq!(
            split_sentences("She said \"no.\" Then (really!) he left."),
            vec!["She said \"no.\"", "Then (really!) he left."]
        );
    }

    #[test]
    fn newlines_end_pieces() {
        assert_eq!(
            split_sentences("A list\n- one\n- two"),
            vec!["A list", "- one", "- two"]
        );
    }

    #[test]
    fn long_clauses_are_cut_at_a_comma() {
        let mut splitter = SentenceSplitter::new(40);
        let out = splitter
            .push("This is a long run-on clause, which keeps going and going without a stop");
        assert_eq!(
            out,
            vec![
                "This is a long run-on clause,",
                "which keeps going and going without a"
            ]
        );
        assert_eq!(splitter.finish().as_deref(), Some("stop"));
    }

    #[test]
    fn long_clause_without_marks_is_cut_at_a_space() {
        let mut splitter = SentenceSplitter::new(20);
        let out = splitter.push("aaaa bbbb cccc dddd eeee ffff");
        assert_eq!(out.first().map(String::as_str), Some("aaaa bbbb cccc dddd"));
    }

    #[test]
    fn multibyte_text_is_handled() {
        assert_eq!(
            split_sentences("Ça va? Très bien… Merci."),
            vec!["Ça va?", "Très bien…", "Merci."]
        );
    }
}

/// Splits a `<speaker name="...">...</speaker>` envelope (how the studio hands others' lines to an
/// LLM) into the name and the inner text. Text without an envelope comes back whole with no name.
pub fn speaker_envelope(text: &str) -> (Option<&str>, &str) {
    let trimmed = text.trim();
    let Some(rest) = trimmed.strip_prefix("<speaker") else {
        return (None, trimmed);
    };
    let Some(close) = rest.find('>') else {
        return (None, trimmed);
    };
    let attributes = &rest[..close];
    let name = attributes
        .split_once("name=")
        .map(|(_, value)| value.trim())
        .and_then(|value| {
            let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            value[1..].split(quote).next()
        });
    let body = &rest[close + 1..];
    let body = body.strip_suffix("</speaker>").unwrap_or(body);
    (name, body.trim())
}

#[cfg(test)]
mod envelope_tests {
    use super::speaker_envelope;

    #[test]
    fn envelope_gives_name_and_inner_text() {
        assert_eq!(
            speaker_envelope("<speaker name=\"Basil\">Claude, what now?</speaker>"),
            (Some("Basil"), "Claude, what now?")
        );
        assert_eq!(
            speaker_envelope("<speaker name='guest'> hi </speaker>"),
            (Some("guest"), "hi")
        );
    }

    #[test]
    fn plain_text_has_no_name() {
        assert_eq!(speaker_envelope("  just words "), (None, "just words"));
        assert_eq!(
            speaker_envelope("<speaker broken"),
            (None, "<speaker broken")
        );
    }
}
