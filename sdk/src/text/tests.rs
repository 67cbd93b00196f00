//! The rules on both sides of the studio: the host's LLM -> TTS tests, then the plugin SDK's
//! sentence tests, then properties over a corpus.

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

// The plugin SDK's sentence splitting (a TTS adapter sending one sentence per request).

#[test]
fn sentences_come_out_as_soon_as_the_next_word_starts() {
    let mut splitter = ClauseSplitter::sentences(160);
    assert!(splitter.push("Hello there").is_empty());
    assert!(splitter.push(".").is_empty());
    assert_eq!(splitter.push(" How"), vec!["Hello there."]);
    assert!(splitter.push(" are you").is_empty());
}

#[test]
fn streamed_tokens_split_into_sentences() {
    let mut splitter = ClauseSplitter::sentences(160);
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
    let mut splitter = ClauseSplitter::sentences(160);
    assert!(splitter.push("It costs 3.").is_empty());
    assert!(splitter.push("5 dollars").is_empty());
    assert_eq!(splitter.push(". Next"), vec!["It costs 3.5 dollars."]);
    assert_eq!(splitter.finish().as_deref(), Some("Next"));
}

#[test]
fn sentences_keep_abbreviations_and_initials() {
    assert_eq!(
        split_sentences("Dr. Smith met J. Doe, e.g. at noon. Then they left!"),
        vec!["Dr. Smith met J. Doe, e.g. at noon.", "Then they left!"]
    );
}

#[test]
fn a_mark_in_brackets_before_a_lower_case_word_is_an_aside() {
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
fn long_sentences_are_cut_at_a_comma() {
    let mut splitter = ClauseSplitter::sentences(40);
    let out =
        splitter.push("This is a long run-on clause, which keeps going and going without a stop");
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
fn long_sentences_without_marks_are_cut_at_a_space() {
    let mut splitter = ClauseSplitter::sentences(20);
    let out = splitter.push("aaaa bbbb cccc dddd eeee ffff");
    assert_eq!(out.first().map(String::as_str), Some("aaaa bbbb cccc dddd"));
}

#[test]
fn an_ellipsis_before_a_capitalized_word_ends_the_sentence() {
    assert_eq!(
        split_sentences("Ça va? Très bien… Merci."),
        vec!["Ça va?", "Très bien…", "Merci."]
    );
    assert_eq!(
        split_sentences("Well... I'm not sure… Italy, maybe."),
        vec!["Well... I'm not sure…", "Italy, maybe."]
    );
}

#[test]
fn a_one_word_clause_past_the_limit_waits_for_a_space() {
    let mut splitter = ClauseSplitter::sentences(5);
    assert!(splitter.push("abcdefghij").is_empty());
    assert_eq!(splitter.push("k lm"), vec!["abcdefghijk"]);
    assert_eq!(splitter.finish().as_deref(), Some("lm"));
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

#[test]
fn with_a_length_limit_chunking_does_not_change_the_clauses_either() {
    let mut rng = Lcg(11);
    for text in CORPUS {
        for limit in [12, 30, 60] {
            let split_with = |pieces: &[&str]| {
                let mut splitter = ClauseSplitter::new().with_max_clause_chars(limit);
                let mut clauses: Vec<String> =
                    pieces.iter().flat_map(|p| splitter.push(p)).collect();
                clauses.extend(splitter.finish());
                clauses
            };
            let whole = split_with(&[text]);
            assert_eq!(
                without_whitespace(&whole.concat()),
                without_whitespace(text),
                "{text}"
            );
            for _ in 0..50 {
                let pieces = random_pieces(text, &mut rng);
                assert_eq!(split_with(&pieces), whole, "{limit}: {pieces:?}");
            }
        }
    }
}
