//! Text helpers for adapters: the studio's clause splitter (the host cuts LLM replies with the same
//! one; its rules are on [`ClauseSplitter`]) and the speaker envelope the studio wraps others'
//! lines in.

pub use studio_text::{ClauseSplitter, MIN_CLAUSE_CHARS, split_sentences};

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
