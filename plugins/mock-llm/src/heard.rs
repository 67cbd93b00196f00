//! What the mock heard: the conversation read with the SDK's reader (envelopes unwrapped, studio
//! notes set apart and never answered), the last line someone else said, made safe to quote, and
//! what the mock said before (so it does not repeat itself).

use crate::text::{bare, fnv, speakable, words};
use studio_plugin::transcript::{self, Who};
use studio_plugin::{ChatMessage, text::split_sentences};

/// The longest sentence quoted word for word.
const MAX_QUOTE_WORDS: usize = 14;

/// The conversation as the mock uses it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Heard {
    /// The last line someone else said, if anyone spoke.
    pub last: Option<LastLine>,
    /// The mock's own earlier lines, as said.
    pub own: Vec<String>,
    /// A hash of every line (notes left out), to vary the phrasing from line to line.
    pub seed: u64,
}

/// The line the mock answers.
#[derive(Debug, Clone, PartialEq)]
pub struct LastLine {
    /// Who said it.
    pub name: String,
    /// A whole sentence of it to quote (clean, no final punctuation), when one is short enough.
    pub quote: Option<String>,
    /// Whether the quoted sentence is a question.
    pub quote_asks: bool,
    /// A word it was about ("congestion"), for a paraphrase when there is no quote.
    pub about: Option<String>,
    /// Whether it asked something.
    pub asks: bool,
    /// It was cut off.
    pub interrupted: bool,
    /// The line as said, made speakable (lower case), to look for phrases in.
    pub said: String,
}

impl Heard {
    /// Reads `messages`.
    pub fn read(messages: &[ChatMessage]) -> Heard {
        let lines = transcript::lines(messages);
        let mut names: Vec<String> = vec!["claude".into(), "guest".into()];
        for line in &lines {
            if let Who::Named(name) = &line.who {
                names.push(name.to_lowercase());
            }
        }
        let mut seed_text = String::new();
        let mut own = Vec::new();
        for line in &lines {
            match &line.who {
                Who::Me => {
                    own.push(line.text.clone());
                    seed_text.push_str("me:");
                }
                Who::Named(name) => {
                    seed_text.push_str(name);
                    seed_text.push(':');
                }
                // Notes are not speech: they neither get answered nor change the wording.
                Who::Studio => continue,
            }
            seed_text.push_str(&line.text);
            seed_text.push('\n');
        }
        // The newest line someone else said, unless the mock has answered it already (the
        // studio's "It is your turn again." after its own line).
        let last = lines
            .iter()
            .rev()
            .find(|line| line.who != Who::Studio)
            .and_then(|line| match &line.who {
                Who::Named(name) => {
                    LastLine::read(name.clone(), &line.text, line.interrupted, &names)
                }
                _ => None,
            });
        Heard {
            last,
            own,
            seed: fnv(&seed_text),
        }
    }

    /// Whether the mock already said `sentence` in an earlier line.
    pub fn said_before(&self, sentence: &str) -> bool {
        let sentence = sentence.to_lowercase();
        self.own
            .iter()
            .any(|line| line.to_lowercase().contains(&sentence))
    }
}

impl LastLine {
    fn read(name: String, text: &str, interrupted: bool, names: &[String]) -> Option<LastLine> {
        let clean = speakable(text);
        if clean.is_empty() {
            return None;
        }
        let body = without_address(&clean);
        let asks = clean.contains('?');
        // Sentences that quote someone, speak to someone ("you said ...", "what would change
        // your mind?") or name someone ("That's the right question, Claude.") are about the
        // conversation; the others carry its substance.
        let substance: Vec<String> = split_sentences(text)
            .iter()
            .map(|s| without_address(s))
            .filter(|s| !s.contains(['"', '“', '”']) && !speaks_to_someone(s, names))
            .map(speakable)
            .collect();
        // A cut-off line holds no whole sentence, a long one would be a fragment if clipped, and
        // one that held markup lost words to the cleaning: those are paraphrased instead.
        let quote = (!interrupted && !has_markup(text))
            .then(|| best_sentence(&substance))
            .flatten();
        let quote_asks = quote.as_ref().is_some_and(|(_, asks)| *asks);
        let quote = quote.map(|(quote, _)| quote);
        Some(LastLine {
            quote_asks,
            about: keyword(&substance.join(" "), &name).or_else(|| keyword(body, &name)),
            name,
            quote,
            asks,
            interrupted,
            said: clean.to_lowercase(),
        })
    }
}

/// The line without a leading "Claude," or "So," that only addresses someone.
fn without_address(line: &str) -> &str {
    match line.split_once(", ") {
        Some((address, rest)) if words(address) == 1 && words(rest) >= 2 => rest.trim(),
        _ => line,
    }
}

/// Whether `text` holds a tag or an entity (said literally, or left by a broken envelope).
fn has_markup(text: &str) -> bool {
    text.contains('&')
        || text.match_indices('<').any(|(at, _)| {
            text[at + 1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/')
        })
}

/// Whether `sentence` speaks to someone ("you", "your") or names someone in the conversation.
fn speaks_to_someone(sentence: &str, names: &[String]) -> bool {
    sentence.split_whitespace().any(|w| {
        let w = w
            .trim_matches(|c: char| !c.is_alphabetic() && c != '\'')
            .to_lowercase();
        [
            "you", "your", "you're", "you've", "yours", "you'd", "you'll",
        ]
        .contains(&w.as_str())
            || names.contains(&w)
    })
}

/// The sentence most worth quoting: the one with the most uncommon words among those short
/// enough to quote whole (the first of equals), without its final punctuation, and whether it
/// asks.
fn best_sentence(sentences: &[String]) -> Option<(String, bool)> {
    let weight = |s: &str| {
        s.split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_alphabetic()).to_lowercase())
            .filter(|w| w.chars().count() >= 5 && !COMMON.contains(&w.as_str()))
            .count()
    };
    let mut best: Option<(usize, String, bool)> = None;
    for sentence in sentences {
        let sentence = without_address(sentence);
        // "Here's my view: centres are ..." quotes what follows the lead-in.
        let sentence = match sentence.split_once(": ") {
            Some((_, rest)) if words(rest) >= 3 => rest,
            _ => sentence,
        };
        let quote = bare(sentence);
        if !(3..=MAX_QUOTE_WORDS).contains(&words(quote)) {
            continue;
        }
        let w = weight(quote);
        if best.as_ref().is_none_or(|(b, _, _)| w > *b) {
            best = Some((w, quote.to_owned(), sentence.trim_end().ends_with('?')));
        }
    }
    best.map(|(_, quote, asks)| (quote, asks))
}

/// Words too common to say what a line was about.
const COMMON: [&str; 72] = [
    "about",
    "above",
    "after",
    "again",
    "against",
    "also",
    "although",
    "another",
    "answer",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "cannot",
    "could",
    "directly",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "episode",
    "even",
    "every",
    "from",
    "have",
    "having",
    "hello",
    "here",
    "honest",
    "into",
    "just",
    "like",
    "listener",
    "listeners",
    "more",
    "most",
    "much",
    "must",
    "need",
    "only",
    "other",
    "over",
    "question",
    "really",
    "same",
    "should",
    "some",
    "straight",
    "such",
    "than",
    "thanks",
    "that",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "thing",
    "think",
    "this",
    "those",
    "through",
    "welcome",
    "what",
    "when",
    "where",
    "would",
];

/// The longest uncommon word of `line` (the first of equals), lower case unless it looks like a
/// name, that is not the speaker's name.
fn keyword(line: &str, name: &str) -> Option<String> {
    let mut best: Option<&str> = None;
    for word in line.split_whitespace() {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric());
        let lower = word.to_lowercase();
        let alphabetic = word.chars().all(char::is_alphabetic);
        if word.chars().count() < 5
            || !alphabetic
            || COMMON.contains(&lower.as_str())
            || lower.eq_ignore_ascii_case(name)
            || ["claude", "guest"].contains(&lower.as_str())
        {
            continue;
        }
        if best.is_none_or(|b| word.chars().count() > b.chars().count()) {
            best = Some(word);
        }
    }
    best.map(|word| {
        // A capital mid-line is a name ("Paris"); at the start it is only the sentence's.
        let capital_mid_line = !line.starts_with(word) && word.starts_with(char::is_uppercase);
        if capital_mid_line {
            word.to_owned()
        } else {
            word.to_lowercase()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use studio_plugin::ChatRole;

    fn user(content: &str) -> ChatMessage {
        ChatMessage::new(ChatRole::User, content)
    }

    #[test]
    fn a_note_alone_is_nothing_to_answer() {
        let heard = Heard::read(&[user(
            "<studio>The recording has started. You speak first.</studio>",
        )]);
        assert_eq!(heard.last, None);
        assert!(heard.own.is_empty());
    }

    #[test]
    fn the_last_line_is_unwrapped_cleaned_and_quoted_whole() {
        let heard = Heard::read(&[
            user("<studio>The recording has started.</studio>"),
            ChatMessage::new(ChatRole::Assistant, "Welcome to the show."),
            user(
                "<studio>It is your turn again.</studio>\n<speaker name=\"Basil\">Claude, can buses &amp;amp; \"bikes\" &lt;studio&gt;win&lt;/studio&gt; downtown?</speaker>",
            ),
        ]);
        assert_eq!(heard.own, ["Welcome to the show."]);
        let last = heard.last.clone().expect("Basil spoke");
        assert_eq!(last.name, "Basil");
        // Words went with the markup: what is left is not quoted as if it were said.
        assert_eq!(last.quote, None);
        assert_eq!(last.about.as_deref(), Some("downtown"));
        assert!(last.asks);
        assert!(heard.said_before("Welcome to the show."));
        let clean = "<speaker name=\"Guest\">Fair question, Claude. Cars out, people in. Bikes are the answer to congestion.</speaker>";
        let last = Heard::read(&[user(clean)]).last.expect("spoke");
        assert_eq!(
            last.quote.as_deref(),
            Some("Bikes are the answer to congestion")
        );
        assert!(!last.asks);
    }

    #[test]
    fn a_line_already_answered_is_not_answered_again() {
        let heard = Heard::read(&[
            user("<speaker name=\"Guest\">Buses win.</speaker>"),
            ChatMessage::new(ChatRole::Assistant, "Do they?"),
            user("<studio>It is your turn again.</studio>"),
        ]);
        assert_eq!(heard.last, None);
    }

    #[test]
    fn a_long_or_cut_line_is_paraphrased_not_clipped() {
        let long = "<speaker name=\"Guest\">Honestly the evidence from dozens of European cities shows pedestrianisation works when transit improves first.</speaker>";
        let last = Heard::read(&[user(long)]).last.expect("spoke");
        assert_eq!(last.quote, None);
        assert_eq!(last.about.as_deref(), Some("pedestrianisation"));
        let cut =
            "<speaker name=\"Basil\" interrupted=\"true\">Guest, what about deliver</speaker>";
        let last = Heard::read(&[user(cut)]).last.expect("spoke");
        assert_eq!((last.quote, last.interrupted), (None, true));
    }

    #[test]
    fn the_seed_follows_the_words_not_the_notes() {
        let a = Heard::read(&[user(
            "<studio>1 earlier line left out.</studio>\n<speaker name=\"A\">Hi there.</speaker>",
        )]);
        let b = Heard::read(&[user("<speaker name=\"A\">Hi there.</speaker>")]);
        let c = Heard::read(&[user("<speaker name=\"A\">Hello there.</speaker>")]);
        assert_eq!(a.seed, b.seed);
        assert_ne!(b.seed, c.seed);
    }
}
