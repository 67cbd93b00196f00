//! Streaming clause splitting for the LLM -> TTS path: the first audio can start as soon as the
//! first clause is complete, while the LLM is still writing the rest.
//!
//! A clause ends at a sentence end (`.`, `?`, `!`, possibly followed by closing quotes or
//! brackets, then whitespace), at a line break, or, once the clause is long enough to be worth
//! speaking on its own, at a `,` `;` `:` followed by whitespace or a dash. A full stop does not end
//! a clause inside a number (`3.5`), after an abbreviation or initial (`Dr.`, `e.g.`, `U.S.`,
//! `J.`), in an ellipsis (`...`, `…`) or inside a URL. Every decision needs at most the character
//! after the punctuation, and the splitter waits for it, so how the text is cut into tokens never
//! changes the clauses.

/// Shortest clause (in characters) that a comma, semicolon, colon or dash may end: shorter
/// fragments sound choppy when spoken on their own.
pub const MIN_CLAUSE_CHARS: usize = 40;

/// Words that take a full stop without ending a sentence (compared in lower case). `etc` and `no`
/// are left out on purpose: they end sentences too often in speech.
const ABBREVIATIONS: [&str; 19] = [
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "cf", "approx", "fig", "mt", "rev",
    "gen", "col", "lt", "sgt", "capt",
];

/// Characters that may follow a sentence end and belong to it.
fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '»')
}

/// Characters that may precede a word and are not part of it.
fn is_opener(c: char) -> bool {
    matches!(c, '"' | '\'' | '“' | '‘' | '(' | '[' | '«')
}

fn is_sentence_end(c: char) -> bool {
    matches!(c, '.' | '?' | '!' | '…')
}

/// Cuts a stream of text into clauses: [`push`](ClauseSplitter::push) each token as it arrives,
/// then [`finish`](ClauseSplitter::finish) for the rest.
#[derive(Debug, Clone)]
pub struct ClauseSplitter {
    /// Text received but not yet given out as a clause.
    pending: String,
    /// Byte offset in `pending` before which no clause can end (saves rescanning).
    scanned: usize,
    /// See [`MIN_CLAUSE_CHARS`].
    min_clause_chars: usize,
}

impl Default for ClauseSplitter {
    fn default() -> ClauseSplitter {
        ClauseSplitter::new()
    }
}

/// What the text at a position says about a clause ending there.
enum Boundary {
    /// A clause ends before this byte offset.
    At(usize),
    /// No clause ends here; scanning goes on from this byte offset.
    Not(usize),
    /// The next character decides, and it has not arrived yet.
    Undecided,
}

impl ClauseSplitter {
    /// A splitter that breaks long clauses at [`MIN_CLAUSE_CHARS`].
    pub fn new() -> ClauseSplitter {
        ClauseSplitter::with_min_clause_chars(MIN_CLAUSE_CHARS)
    }

    /// A splitter that breaks at `,` `;` `:` and dashes only once a clause has `min` characters.
    pub fn with_min_clause_chars(min: usize) -> ClauseSplitter {
        ClauseSplitter {
            pending: String::new(),
            scanned: 0,
            min_clause_chars: min,
        }
    }

    /// Adds the next piece of text and returns the clauses it completed (trimmed, non-empty).
    pub fn push(&mut self, token: &str) -> Vec<String> {
        self.pending.push_str(token);
        let mut clauses = Vec::new();
        while let Some(end) = self.next_end() {
            let clause = self.pending[..end].trim();
            if !clause.is_empty() {
                clauses.push(clause.to_owned());
            }
            self.pending.drain(..end);
            self.scanned = 0;
        }
        clauses
    }

    /// Ends the stream: the text still pending, as the last clause, if there is any.
    pub fn finish(&mut self) -> Option<String> {
        let rest = self.pending.trim().to_owned();
        self.pending.clear();
        self.scanned = 0;
        (!rest.is_empty()).then_some(rest)
    }

    /// Whether no text is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.trim().is_empty()
    }

    /// The byte offset the first complete clause in `pending` ends at, if one is complete.
    fn next_end(&mut self) -> Option<usize> {
        let mut at = self.scanned;
        while let Some(c) = self.pending[at..].chars().next() {
            match self.boundary(at, c) {
                Boundary::At(end) => return Some(end),
                Boundary::Not(next) => at = next,
                Boundary::Undecided => {
                    self.scanned = at;
                    return None;
                }
            }
        }
        self.scanned = at;
        None
    }

    fn boundary(&self, at: usize, c: char) -> Boundary {
        let after = at + c.len_utf8();
        match c {
            '\n' if !self.pending[..at].trim().is_empty() => Boundary::At(after),
            c if is_sentence_end(c) => self.sentence_end(at),
            ',' | ';' | ':' | '–' | '-' => match self.pending[after..].chars().next() {
                None => Boundary::Undecided,
                Some(next) if next.is_whitespace() && self.long_enough(after) => {
                    // A hyphen ends a clause only as a spaced dash (" - "), never in a word.
                    let spaced = c != '-'
                        || self.pending[..at]
                            .chars()
                            .next_back()
                            .is_some_and(char::is_whitespace);
                    if spaced {
                        Boundary::At(after)
                    } else {
                        Boundary::Not(after)
                    }
                }
                Some(_) => Boundary::Not(after),
            },
            '—' if self.long_enough(after) => Boundary::At(after),
            _ => Boundary::Not(after),
        }
    }

    /// Whether the clause ending before `end` is long enough to be cut at a weak break.
    fn long_enough(&self, end: usize) -> bool {
        self.pending[..end].trim().chars().count() >= self.min_clause_chars
    }

    /// Decides on a run of `.?!…` starting at `at`, with the closers after it.
    fn sentence_end(&self, at: usize) -> Boundary {
        let rest = &self.pending[at..];
        let run_len: usize = rest
            .chars()
            .take_while(|&c| is_sentence_end(c))
            .map(char::len_utf8)
            .sum();
        let run = &rest[..run_len];
        let closers_len: usize = rest[run_len..]
            .chars()
            .take_while(|&c| is_closer(c))
            .map(char::len_utf8)
            .sum();
        let end = at + run_len + closers_len;
        let Some(next) = self.pending[end..].chars().next() else {
            return Boundary::Undecided;
        };
        if !next.is_whitespace() {
            // "3.5", "example.com", "e.g.," and "?q=1" go on.
            return Boundary::Not(end);
        }
        let ellipsis = run.contains('…') || run.matches('.').count() > 1;
        if ellipsis || (run == "." && self.abbreviation_before(at)) {
            return Boundary::Not(end);
        }
        Boundary::At(end)
    }

    /// Whether the word just before the full stop at `at` is an abbreviation or an initial.
    fn abbreviation_before(&self, at: usize) -> bool {
        let before = &self.pending[..at];
        let word_start = before
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = before[word_start..].trim_start_matches(is_opener);
        if word.is_empty() {
            return false;
        }
        // Initials: "J." in "J. Smith".
        let mut chars = word.chars();
        if let (Some(first), None) = (chars.next(), chars.next()) {
            return first.is_uppercase();
        }
        // Dotted abbreviations: "e.g", "U.S", "a.m", "Ph.D".
        if word.contains('.') {
            return word.split('.').all(|part| {
                (1..=2).contains(&part.chars().count()) && part.chars().all(char::is_alphabetic)
            });
        }
        let lower = word.to_lowercase();
        ABBREVIATIONS.contains(&lower.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All clauses of `text` fed in the given pieces, with `finish` at the end.
    fn split_pieces<'a>(pieces: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut splitter = ClauseSplitter::new();
        let mut clauses: Vec<String> = pieces.into_iter().flat_map(|p| splitter.push(p)).collect();
        clauses.extend(splitter.finish());
        clauses
    }

    fn split(text: &str) -> Vec<String> {
        split_pieces([text])
    }

    #[test]
    fn sentences_end_at_terminal_punctuation_followed_by_space() {
        assert_eq!(
            split("Hello there. How are you? I'm well!  Thanks."),
            ["Hello there.", "How are you?", "I'm well!", "Thanks."]
        );
    }

    #[test]
    fn a_complete_sentence_comes_out_before_the_rest_arrives() {
        let mut splitter = ClauseSplitter::new();
        assert!(splitter.push("Hello there").is_empty());
        assert!(
            splitter.push(".").is_empty(),
            "a full stop alone could still be 'there.com'"
        );
        assert_eq!(splitter.push(" How"), ["Hello there."]);
        assert_eq!(splitter.push(" are you?"), Vec::<String>::new());
        assert_eq!(splitter.finish().as_deref(), Some("How are you?"));
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn numbers_are_never_split() {
        assert_eq!(
            split("The dose was 3.5 mg, or 1,000 mg a year. It costs $4.99 at 10:30 today."),
            [
                "The dose was 3.5 mg, or 1,000 mg a year.",
                "It costs $4.99 at 10:30 today."
            ]
        );
        let mut splitter = ClauseSplitter::new();
        assert!(splitter.push("It is 3.").is_empty());
        assert_eq!(splitter.push("5 now. So"), ["It is 3.5 now."]);
    }

    #[test]
    fn abbreviations_and_initials_do_not_end_sentences() {
        assert_eq!(
            split(
                "Dr. Smith met Mr. Jones and J. R. Hartley, e.g. at the U.S. embassy at 9 a.m. sharp. Then they left."
            ),
            [
                "Dr. Smith met Mr. Jones and J. R. Hartley,",
                "e.g. at the U.S. embassy at 9 a.m. sharp.",
                "Then they left."
            ]
        );
    }

    #[test]
    fn ellipses_do_not_end_sentences() {
        assert_eq!(
            split("Well... I suppose so. Hmm… maybe not? Right."),
            ["Well... I suppose so.", "Hmm… maybe not?", "Right."]
        );
    }

    #[test]
    fn urls_stay_whole() {
        assert_eq!(
            split("See https://example.com/a.b?c=1&d=2 for more. Or www.example.org. Done!"),
            [
                "See https://example.com/a.b?c=1&d=2 for more.",
                "Or www.example.org.",
                "Done!"
            ]
        );
    }

    #[test]
    fn closing_quotes_and_brackets_stay_with_their_sentence() {
        assert_eq!(
            split("He said \"stop.\" Then he left (quietly.) Fine?! Yes."),
            [
                "He said \"stop.\"",
                "Then he left (quietly.)",
                "Fine?!",
                "Yes."
            ]
        );
    }

    #[test]
    fn long_clauses_break_at_commas_semicolons_colons_and_dashes() {
        assert_eq!(
            split(
                "When the first trams came back to the centre in the nineties, shops on the route did well; footfall rose within a year: even the most sceptical shopkeepers agreed — and the rest followed."
            ),
            [
                "When the first trams came back to the centre in the nineties,",
                "shops on the route did well; footfall rose within a year:",
                "even the most sceptical shopkeepers agreed —",
                "and the rest followed."
            ]
        );
    }

    #[test]
    fn short_clauses_do_not_break_at_commas() {
        assert_eq!(
            split("Yes, I agree: cars, vans — all of them. No - never."),
            ["Yes, I agree: cars, vans — all of them.", "No - never."]
        );
    }

    #[test]
    fn hyphens_inside_words_are_not_dashes() {
        let mut s = ClauseSplitter::with_min_clause_chars(5);
        let mut clauses = s.push("A well-known car-free plan - mostly good.");
        clauses.extend(s.finish());
        assert_eq!(clauses, ["A well-known car-free plan -", "mostly good."]);
    }

    #[test]
    fn line_breaks_end_clauses() {
        assert_eq!(
            split("First thought\n\nSecond thought"),
            ["First thought", "Second thought"]
        );
    }

    #[test]
    fn whitespace_only_input_gives_no_clauses() {
        assert!(split("  \n \n ").is_empty());
        assert!(ClauseSplitter::new().push("   ").is_empty());
    }

    /// Texts that exercise every rule at once, for the properties below.
    const CORPUS: [&str; 6] = [
        "Hello there. How are you? I'm well!  Thanks.",
        "Dr. Smith met Mr. Jones and J. R. Hartley, e.g. at the U.S. embassy at 9 a.m. sharp. Then they left.",
        "When the first trams came back to the centre in the nineties, shops on the route did well; footfall rose: the rest — as they say — is history... or is it? \"Yes.\" (Maybe.) See https://example.com/x.y?z=1, then 3.5% of 1,000.\nNew line here",
        "Well… I suppose so. Hmm... maybe not?! Right.   ",
        "Ünïcödé sentences work. Ça va? Oui — très bien, merci beaucoup mon ami, vraiment, à bientôt.",
        "No punctuation at all in this one",
    ];

    fn without_whitespace(text: &str) -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    }

    /// A small deterministic generator, so the "random" chunkings are the same on every run.
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n
        }
    }

    /// Cuts `text` into pieces of 1 to 8 characters chosen by `rng`.
    fn random_pieces<'a>(text: &'a str, rng: &mut Lcg) -> Vec<&'a str> {
        let bounds: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let mut pieces = Vec::new();
        let mut at = 0;
        while at < bounds.len() - 1 {
            let next = (at + 1 + rng.below(8)).min(bounds.len() - 1);
            pieces.push(&text[bounds[at]..bounds[next]]);
            at = next;
        }
        pieces
    }

    #[test]
    fn clauses_reproduce_the_text_apart_from_whitespace() {
        for text in CORPUS {
            let clauses = split(text);
            assert!(
                clauses.iter().all(|c| !c.is_empty() && c.trim() == c),
                "{clauses:?}"
            );
            assert_eq!(
                without_whitespace(&clauses.concat()),
                without_whitespace(text),
                "{text}"
            );
        }
    }

    #[test]
    fn how_the_text_is_chunked_does_not_change_the_clauses() {
        let mut rng = Lcg(7);
        for text in CORPUS {
            let whole = split(text);
            assert!(
                whole.len() > 1 || text.starts_with("No punctuation"),
                "{whole:?}"
            );
            let chars: Vec<String> = text.chars().map(String::from).collect();
            assert_eq!(
                split_pieces(chars.iter().map(String::as_str)),
                whole,
                "char by char: {text}"
            );
            for (i, _) in text.char_indices() {
                assert_eq!(
                    split_pieces([&text[..i], &text[i..]]),
                    whole,
                    "cut at {i}: {text}"
                );
            }
            for _ in 0..200 {
                let pieces = random_pieces(text, &mut rng);
                assert_eq!(split_pieces(pieces.iter().copied()), whole, "{pieces:?}");
            }
        }
    }
}
