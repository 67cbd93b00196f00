//! What of a language model's reply may be spoken: the studio's markup taken out as the tokens
//! stream, before the clause splitter, so neither TTS nor captions ever get it.
//!
//! Models see the conversation in [`markup`](super::markup) envelopes and are told never to write
//! them, but some imitate them: a reply that opens with `<speaker name="Claude">`, repeats a
//! `<studio>` note or escapes its own text. [`SpokenFilter`] drops envelope tags and any other
//! tag, drops a studio note with its text, and reads entities back (`&amp;` as `&`; an escaped
//! tag such as `&lt;b&gt;` is read back and then dropped as a tag). Everything else passes
//! unchanged, as soon as it is known not to start markup; how the reply is cut into tokens never
//! changes the result.

/// Longest tag (in bytes) the filter waits for before it takes a `<` as text.
const MAX_TAG: usize = 200;
/// Longest entity name (`&` and `;` not counted).
const MAX_ENTITY: usize = 8;
/// What closes a studio note: its end tag, or the same escaped.
const NOTE_ENDS: [&str; 2] = ["</studio>", "&lt;/studio&gt;"];

/// Streams a reply's text with the markup taken out: [`push`](SpokenFilter::push) each token,
/// then [`finish`](SpokenFilter::finish).
#[derive(Debug, Clone, Default)]
pub struct SpokenFilter {
    /// Text received and not yet decided.
    pending: String,
    /// Inside a `<studio>` note: nothing is spoken until it closes.
    in_note: bool,
}

/// What the text at the start of `pending` is.
enum Piece {
    /// Plain text up to this byte offset.
    Text(usize),
    /// A tag of this many bytes, dropped.
    Tag(usize),
    /// An entity at this byte offset, of this many bytes, read back as this text, which is read
    /// again (an escaped `<` may open a tag, an escaped `&` an entity, a tag may end in an
    /// escaped `>`).
    Entity(usize, usize, &'static str),
    /// A studio note opens here (its tag is this long).
    NoteOpens(usize),
    /// The next characters decide, and they have not arrived yet.
    Undecided,
}

impl SpokenFilter {
    /// A filter at the start of a reply.
    pub fn new() -> SpokenFilter {
        SpokenFilter::default()
    }

    /// Adds the next token; returns the text now known to be speech.
    pub fn push(&mut self, token: &str) -> String {
        self.pending.push_str(token);
        self.drain(false)
    }

    /// Ends the reply: the rest of the text (an unfinished tag or entity is taken as text, an
    /// unclosed studio note is dropped).
    pub fn finish(&mut self) -> String {
        self.drain(true)
    }

    fn drain(&mut self, at_end: bool) -> String {
        let mut out = String::new();
        loop {
            if self.in_note {
                let end = NOTE_ENDS
                    .iter()
                    .filter_map(|e| self.pending.find(e).map(|at| at + e.len()))
                    .min();
                match end {
                    Some(end) => {
                        self.pending.drain(..end);
                        self.in_note = false;
                        continue;
                    }
                    None => {
                        // Keep only what could be the start of a closing tag.
                        let longest = NOTE_ENDS.iter().map(|e| e.len()).max().unwrap_or(1);
                        let keep = self.pending.len().min(longest - 1);
                        let mut cut = self.pending.len() - keep;
                        while !self.pending.is_char_boundary(cut) {
                            cut += 1;
                        }
                        self.pending.drain(..cut);
                        if at_end {
                            self.pending.clear();
                        }
                        return out;
                    }
                }
            }
            if self.pending.is_empty() {
                return out;
            }
            match piece(&self.pending, at_end) {
                Piece::Text(len) => {
                    out.push_str(&self.pending[..len]);
                    self.pending.drain(..len);
                }
                Piece::Tag(len) => {
                    self.pending.drain(..len);
                }
                Piece::Entity(at, len, with) => {
                    self.pending.replace_range(at..at + len, with);
                }
                Piece::NoteOpens(len) => {
                    self.pending.drain(..len);
                    self.in_note = true;
                }
                Piece::Undecided => return out,
            }
        }
    }
}

/// What starts `text`; `at_end`: no more text will come.
fn piece(text: &str, at_end: bool) -> Piece {
    let plain = text.find(['<', '&']).unwrap_or(text.len());
    if plain > 0 {
        return Piece::Text(plain);
    }
    let decided = |piece: Option<Piece>| match piece {
        Some(piece) => piece,
        None if at_end => Piece::Text(1),
        None => Piece::Undecided,
    };
    if text.starts_with('<') {
        decided(tag(text))
    } else {
        decided(entity(text))
    }
}

/// A tag at the start of `text`: `Some(Text(1))` when the `<` is plain text, `None` when more
/// text is needed to tell.
fn tag(text: &str) -> Option<Piece> {
    let rest = &text[1..];
    let closing = rest.starts_with('/');
    let name_part = if closing { &rest[1..] } else { rest };
    let first = name_part.chars().next()?;
    if !first.is_ascii_alphabetic() {
        return Some(Piece::Text(1));
    }
    // The tag ends at the first `>`; an entity on the way is read back first (a tag escaped
    // whole ends in `&gt;`), and a `<` or a line break means the `<` was prose.
    let mut end = None;
    for (at, c) in text.char_indices().skip(1) {
        if at > MAX_TAG {
            return Some(Piece::Text(1));
        }
        match c {
            '>' => {
                end = Some(at);
                break;
            }
            '<' | '\n' => return Some(Piece::Text(1)),
            '&' => {
                if let Some((len, with)) = known_entity(&text[at..]) {
                    return Some(Piece::Entity(at, len, with));
                }
                if may_become_entity(&text[at..]) {
                    return None;
                }
            }
            _ => {}
        }
    }
    let end = end?;
    let name: String = name_part
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let opens_note = !closing && name.eq_ignore_ascii_case("studio") && !text[..end].ends_with('/');
    Some(if opens_note {
        Piece::NoteOpens(end + 1)
    } else {
        Piece::Tag(end + 1)
    })
}

/// An entity at the start of `text`, read back; `Some(Text(1))` when the `&` is plain text.
fn entity(text: &str) -> Option<Piece> {
    let body = &text[1..];
    let name_len = body
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '#')
        .count();
    if name_len == body.len() && name_len <= MAX_ENTITY {
        // Still reading the name.
        return None;
    }
    Some(match known_entity(text) {
        Some((len, with)) => Piece::Entity(0, len, with),
        None => Piece::Text(1),
    })
}

/// The entities the filter reads back, and their text.
const ENTITIES: [(&str, &str); 7] = [
    ("&amp;", "&"),
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&quot;", "\""),
    ("&#39;", "'"),
    ("&apos;", "'"),
    ("&#x27;", "'"),
];

/// The entity `text` starts with, if it is one the filter reads back: its length and its text.
fn known_entity(text: &str) -> Option<(usize, &'static str)> {
    ENTITIES
        .iter()
        .find(|(e, _)| {
            text.get(..e.len())
                .is_some_and(|t| t.eq_ignore_ascii_case(e))
        })
        .map(|(e, with)| (e.len(), *with))
}

/// Whether `text` (starting with `&`) is the start of a known entity that has not all arrived.
fn may_become_entity(text: &str) -> bool {
    ENTITIES.iter().any(|(e, _)| {
        text.len() < e.len() && e.as_bytes()[..text.len()].eq_ignore_ascii_case(text.as_bytes())
    })
}

/// `text` with the markup taken out, all at once.
pub fn spoken(text: &str) -> String {
    let mut filter = SpokenFilter::new();
    let mut out = filter.push(text);
    out.push_str(&filter.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text fed in every split into two tokens, and byte by byte: the result never changes.
    fn check(text: &str, expected: &str) {
        assert_eq!(spoken(text), expected, "{text}");
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        for (at, _) in &chars {
            let mut filter = SpokenFilter::new();
            let mut out = filter.push(&text[..*at]);
            out.push_str(&filter.push(&text[*at..]));
            out.push_str(&filter.finish());
            assert_eq!(out, expected, "{text} cut at {at}");
        }
        let mut filter = SpokenFilter::new();
        let mut out = String::new();
        for (at, c) in &chars {
            out.push_str(&filter.push(&text[*at..*at + c.len_utf8()]));
        }
        out.push_str(&filter.finish());
        assert_eq!(out, expected, "{text} char by char");
    }

    #[test]
    fn envelopes_are_unwrapped_and_notes_dropped() {
        check(
            "<speaker name=\"Claude\">Buses win.</speaker>",
            "Buses win.",
        );
        check(
            "<studio>The recording has started.</studio>Hello, Basil.",
            "Hello, Basil.",
        );
        check(
            "Sure. <studio>It is your turn again.</studio> Next.",
            "Sure.  Next.",
        );
        check("<STUDIO>x</studio>ok", "ok");
        check("<br/>a <em>b</em>", "a b");
        check("unclosed <studio>note", "unclosed ");
    }

    #[test]
    fn entities_are_read_back() {
        check("Buses &amp; bikes", "Buses & bikes");
        check("&quot;fair&quot; &#39;ok&apos;", "\"fair\" 'ok'");
        check("&lt;b&gt;now&lt;/b&gt;", "now");
        check("&lt;studio&gt;cue&lt;/studio&gt; ok", " ok");
        check("think &lt;10 minute waits", "think <10 minute waits");
        check("5 &gt; 4", "5 > 4");
        check("R&D & more &bogus; &", "R&D & more &bogus; &");
        check("double &amp;amp; &amp;lt;i&amp;gt;x", "double & x");
        check(
            "say &lt;b&gt;now&lt;/b&gt;.</speaker> <speaker name=\"B\">Hi</speaker>",
            "say now. Hi",
        );
    }

    #[test]
    fn prose_with_brackets_is_left_alone() {
        check("think <10 minute waits", "think <10 minute waits");
        check("3 < 4 and 5 > 2", "3 < 4 and 5 > 2");
        check("a <b\nc> d", "a <b\nc> d");
        check("plain — text… “quoted” é", "plain — text… “quoted” é");
        check("", "");
    }
}
