//! Text helpers for adapters: streaming clause splitting, shared by the studio host (LLM reply ->
//! TTS, so the first audio starts as soon as the first clause is complete) and by plugins (a TTS
//! adapter that sends one sentence per request). One set of rules on both sides; they are listed
//! on [`ClauseSplitter`].
//!
//! [`markup`]: the envelopes of the chat messages the studio sends a language model, written by the
//! host and read by plugins through [`crate::transcript`]; [`spoken`]: a reply with any markup the
//! model imitated taken out, as it streams, before it is split and spoken.

pub mod markup;
pub mod spoken;

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
///
/// - A clause ends at a sentence end (`.`, `?`, `!`, `…`, possibly followed by closing quotes or
///   brackets) followed by whitespace, or at a line break.
/// - A full stop does not end a sentence inside a number (`3.5`), a URL or a domain
///   (`example.com`), or after an abbreviation (`Dr.`, `Mr.`, `vs.`), a dotted abbreviation
///   (`e.g.`, `U.S.`, `a.m.`, `Ph.D.`) or an initial (`J. Smith`). `etc.` and `no.` do end one:
///   in speech they mostly close a sentence.
/// - An ellipsis (`...`, `…`) ends a sentence only before a capitalized word other than the
///   pronoun `I` (`Très bien… Merci.` splits, `Well... I suppose` and `Hmm… maybe` do not).
/// - A mark inside brackets (`(really!)`, `(quietly.)`) ends the sentence only if the next word is
///   not in lower case (`Then (really!) he left.` stays whole).
/// - Once a clause has [`min_clause_chars`](ClauseSplitter::with_min_clause_chars) characters
///   (default [`MIN_CLAUSE_CHARS`]), a `,` `;` `:` or `–` followed by whitespace, a spaced ` - `,
///   or an em dash `—` ends it too: shorter fragments sound choppy on their own.
/// - With a [`max_clause_chars`](ClauseSplitter::with_max_clause_chars) set, a clause that reaches
///   it without ending is cut at its last weak break (above, whatever its length), or else at its
///   last space (a single longer word waits for the space after it), so a run-on sentence does
///   not hold speech back (or exceed a provider's limit).
///
/// Every decision needs only the text up to a few characters after the punctuation, and the
/// splitter waits for them, so how the text is cut into tokens never changes the clauses.
#[derive(Debug, Clone)]
pub struct ClauseSplitter {
    /// Text received but not yet given out as a clause.
    pending: String,
    /// Byte offset in `pending` before which no clause can end (saves rescanning).
    scanned: usize,
    /// See [`MIN_CLAUSE_CHARS`].
    min_clause_chars: usize,
    /// Longest clause before a forced cut; 0: no limit.
    max_clause_chars: usize,
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
    /// The next characters decide, and they have not arrived yet.
    Undecided,
}

/// The first word after a sentence end, as far as it has arrived.
enum NextWord {
    /// Only whitespace so far.
    NotYet,
    /// A line break comes first.
    LineBreak,
    /// The word's first character and the one after it (if it has arrived).
    Starts(char, Option<char>),
}

impl ClauseSplitter {
    /// A splitter that breaks long clauses at [`MIN_CLAUSE_CHARS`], with no length limit (the
    /// host's LLM -> TTS path).
    pub fn new() -> ClauseSplitter {
        ClauseSplitter::with_min_clause_chars(MIN_CLAUSE_CHARS)
    }

    /// A splitter that breaks at `,` `;` `:` and dashes only once a clause has `min` characters.
    pub fn with_min_clause_chars(min: usize) -> ClauseSplitter {
        ClauseSplitter {
            pending: String::new(),
            scanned: 0,
            min_clause_chars: min,
            max_clause_chars: 0,
        }
    }

    /// Whole sentences only, each cut (at a weak break or a space) once it passes `max`
    /// characters; 0: never cut. For a TTS adapter that sends one sentence per request.
    pub fn sentences(max: usize) -> ClauseSplitter {
        ClauseSplitter::with_min_clause_chars(usize::MAX).with_max_clause_chars(max)
    }

    /// The same splitter, cutting a clause that grows past `max` characters (0: never).
    pub fn with_max_clause_chars(mut self, max: usize) -> ClauseSplitter {
        self.max_clause_chars = max;
        self
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
        // Characters of the clause before `at`, leading whitespace not counted.
        let mut length = self.pending[..at].trim_start().chars().count();
        while let Some(c) = self.pending[at..].chars().next() {
            if self.max_clause_chars > 0
                && length >= self.max_clause_chars
                && let Some(cut) = self.forced_cut(at)
            {
                return Some(cut);
            }
            match self.boundary(at, c) {
                Boundary::At(end) => return Some(end),
                Boundary::Not(next) => {
                    for skipped in self.pending[at..next].chars() {
                        if length > 0 || !skipped.is_whitespace() {
                            length += 1;
                        }
                    }
                    at = next;
                }
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
                    if c != '-' || self.space_before(at) {
                        Boundary::At(after)
                    } else {
                        // A hyphen ends a clause only as a spaced dash (" - "), never in a word.
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

    /// Whether whitespace comes just before byte offset `at`.
    fn space_before(&self, at: usize) -> bool {
        self.pending[..at]
            .chars()
            .next_back()
            .is_some_and(char::is_whitespace)
    }

    /// Where to cut a clause that reached `max_clause_chars` at byte offset `at`: after its last
    /// weak break, or else after its last space; `None` if it has neither (one long word).
    fn forced_cut(&self, at: usize) -> Option<usize> {
        let head = &self.pending[..at];
        let after_space = |i: usize| {
            self.pending[i..]
                .chars()
                .next()
                .is_some_and(char::is_whitespace)
        };
        let weak = head
            .char_indices()
            .filter(|&(i, c)| {
                let after = i + c.len_utf8();
                match c {
                    ',' | ';' | ':' | '–' => after_space(after),
                    '-' => after_space(after) && self.space_before(i),
                    '—' => true,
                    _ => false,
                }
            })
            .map(|(i, c)| i + c.len_utf8())
            .next_back();
        let trimmed_start = head.len() - head.trim_start().len();
        weak.or_else(|| {
            head.char_indices()
                .filter(|&(i, c)| c.is_whitespace() && i > trimmed_start)
                .map(|(i, c)| i + c.len_utf8())
                .next_back()
        })
    }

    /// The first word after byte offset `from`, as far as it has arrived.
    fn next_word(&self, from: usize) -> NextWord {
        let mut chars = self.pending[from..].chars();
        for c in chars.by_ref() {
            if c == '\n' {
                return NextWord::LineBreak;
            }
            if !c.is_whitespace() {
                return NextWord::Starts(c, chars.next());
            }
        }
        NextWord::NotYet
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
        let closers = &rest[run_len..];
        let closers_len: usize = closers
            .chars()
            .take_while(|&c| is_closer(c))
            .map(char::len_utf8)
            .sum();
        let closers = &closers[..closers_len];
        let end = at + run_len + closers_len;
        let Some(next) = self.pending[end..].chars().next() else {
            return Boundary::Undecided;
        };
        if !next.is_whitespace() {
            // "3.5", "example.com", "e.g.," and "?q=1" go on.
            return Boundary::Not(end);
        }
        if run == "." && self.abbreviation_before(at) {
            return Boundary::Not(end);
        }
        let ellipsis = run.contains('…') || run.matches('.').count() > 1;
        let in_brackets = closers.contains([')', ']']);
        if !ellipsis && !in_brackets {
            return Boundary::At(end);
        }
        match self.next_word(end) {
            NextWord::NotYet => Boundary::Undecided,
            NextWord::LineBreak => Boundary::At(end),
            NextWord::Starts('I', None) if ellipsis => Boundary::Undecided,
            // The pronoun ("I", "I'm") says nothing about a new sentence.
            NextWord::Starts('I', Some(second)) if ellipsis && !second.is_alphabetic() => {
                Boundary::Not(end)
            }
            NextWord::Starts(first, _) if ellipsis => {
                if first.is_uppercase() {
                    Boundary::At(end)
                } else {
                    Boundary::Not(end)
                }
            }
            // In brackets: an aside ("(really!) he left") unless a new sentence starts.
            NextWord::Starts(first, _) => {
                if first.is_lowercase() {
                    Boundary::Not(end)
                } else {
                    Boundary::At(end)
                }
            }
        }
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

/// Splits a whole text into sentences at once (no length limit, no breaks at commas).
pub fn split_sentences(text: &str) -> Vec<String> {
    let mut splitter = ClauseSplitter::sentences(0);
    let mut out = splitter.push(text);
    out.extend(splitter.finish());
    out
}

#[cfg(test)]
mod tests;
