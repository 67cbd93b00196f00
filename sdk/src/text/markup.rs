//! The markup of the chat messages the studio sends a language model, written by the host and read
//! by plugins, so both sides share one definition.
//!
//! A `user` message holds one or more envelopes, one per line, separated by `\n`:
//! - `<speaker name="NAME">TEXT</speaker>`: a line someone else said (the human or the other AI);
//!   `interrupted="true"` follows the name when the speaker was cut off. `TEXT` and `NAME` are
//!   escaped (`&` `&amp;`, `<` `&lt;`, `>` `&gt;`, and in `NAME` also `"` `&quot;`), so the text
//!   never holds a tag.
//! - `<studio>NOTE</studio>`: a note from the studio, not something anyone said.
//!
//! An `assistant` message is the prompted AI's own words, plain and not escaped, one line per
//! `\n`; a line that ends in `—` was cut off there.

/// Escapes a line's text for the inside of an envelope.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes a name for the `name="..."` attribute.
pub fn escape_attribute(text: &str) -> String {
    escape(text).replace('"', "&quot;")
}

/// Undoes [`escape`] and [`escape_attribute`] (also `&#39;` and `&apos;`); an `&` that starts no
/// known entity stays as it is.
pub fn unescape(text: &str) -> String {
    const ENTITIES: [(&str, char); 6] = [
        ("&amp;", '&'),
        ("&lt;", '<'),
        ("&gt;", '>'),
        ("&quot;", '"'),
        ("&#39;", '\''),
        ("&apos;", '\''),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match ENTITIES.iter().find(|(entity, _)| rest.starts_with(entity)) {
            Some((entity, c)) => {
                out.push(*c);
                rest = &rest[entity.len()..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The envelope of a line `name` said (`interrupted`: cut off), as the host writes it.
pub fn speaker_envelope(name: &str, text: &str, interrupted: bool) -> String {
    let interrupted = if interrupted {
        " interrupted=\"true\""
    } else {
        ""
    };
    format!(
        "<speaker name=\"{}\"{interrupted}>{}</speaker>",
        escape_attribute(name),
        escape(text)
    )
}

/// A note from the studio, as the host writes it.
pub fn studio_note(note: &str) -> String {
    format!("<studio>{}</studio>", escape(note))
}

/// What marks the prompted AI's own line as cut off.
pub const CUT_OFF: char = '—';

/// Who a line is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// The prompted AI itself (an `assistant` message).
    Me,
    /// Someone else, by the name the studio calls them (a `<speaker>` envelope).
    Named(String),
    /// The studio (a `<studio>` note, or text outside any envelope).
    Studio,
}

/// One line of the conversation, unwrapped and unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Who said it.
    pub who: Who,
    /// What was said (trimmed; for a cut-off line, up to the cut, without the mark).
    pub text: String,
    /// Whether the speaker was cut off.
    pub interrupted: bool,
}

impl Line {
    /// The line as plain text: `NAME: TEXT` for someone else, `(Studio: NOTE)` for a note, the
    /// words alone for the AI's own; a cut-off line ends in `—`.
    pub fn plain(&self) -> String {
        let cut = if self.interrupted { "—" } else { "" };
        match &self.who {
            Who::Me => format!("{}{cut}", self.text),
            Who::Named(name) => format!("{name}: {}{cut}", self.text),
            Who::Studio => format!("(Studio: {})", self.text),
        }
    }
}

/// The lines of a `user` message: each `<speaker>` envelope and `<studio>` note in order. Text
/// outside envelopes (which the host does not write) comes back as a studio line, as it is.
pub fn user_lines(content: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut rest = content;
    loop {
        let next = [find_open(rest, "speaker"), find_open(rest, "studio")]
            .into_iter()
            .flatten()
            .min_by_key(|(at, _)| *at);
        let Some((at, tag)) = next else {
            outside(&mut lines, rest);
            return lines;
        };
        outside(&mut lines, &rest[..at]);
        let after = &rest[at + 1 + tag.len()..];
        let Some(close) = after.find('>') else {
            // An opening tag that never ends: keep it as text.
            outside(&mut lines, &rest[at..]);
            return lines;
        };
        let attributes = &after[..close];
        let body_and_rest = &after[close + 1..];
        let end_tag = format!("</{tag}>");
        let (body, next_rest) = match body_and_rest.find(&end_tag) {
            Some(end) => (&body_and_rest[..end], &body_and_rest[end + end_tag.len()..]),
            None => (body_and_rest, ""),
        };
        let text = unescape(body.trim());
        lines.push(if tag == "speaker" {
            Line {
                who: Who::Named(attribute(attributes, "name").unwrap_or_default()),
                text,
                interrupted: attribute(attributes, "interrupted").as_deref() == Some("true"),
            }
        } else {
            Line {
                who: Who::Studio,
                text,
                interrupted: false,
            }
        });
        rest = next_rest;
    }
}

/// The lines of an `assistant` message: the AI's own, one per `\n`, with the cut-off mark read.
pub fn own_lines(content: &str) -> Vec<Line> {
    content
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (text, interrupted) = match line.strip_suffix(CUT_OFF) {
                Some(text) => (text.trim_end(), true),
                None => (line, false),
            };
            Line {
                who: Who::Me,
                text: text.to_owned(),
                interrupted,
            }
        })
        .collect()
}

/// Where the next `<tag` opening (followed by a space or `>`) is.
fn find_open<'a>(text: &str, tag: &'a str) -> Option<(usize, &'a str)> {
    let open = format!("<{tag}");
    let mut from = 0;
    while let Some(found) = text[from..].find(&open) {
        let at = from + found;
        let next = text[at + open.len()..].chars().next();
        if matches!(next, Some('>') | Some(' ') | Some('\t') | Some('\n')) {
            return Some((at, tag));
        }
        from = at + open.len();
    }
    None
}

/// The value of `name="..."` (or single quotes) among `attributes`, unescaped.
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let mut rest = attributes;
    while let Some(at) = rest.find(name) {
        let before_ok = at == 0 || rest[..at].ends_with(char::is_whitespace);
        let after = rest[at + name.len()..].trim_start();
        if before_ok && let Some(value) = after.strip_prefix('=') {
            let value = value.trim_start();
            let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            let inner = &value[1..];
            let end = inner.find(quote)?;
            return Some(unescape(&inner[..end]));
        }
        rest = &rest[at + name.len()..];
    }
    None
}

fn outside(lines: &mut Vec<Line>, text: &str) {
    let text = text.trim();
    if !text.is_empty() {
        lines.push(Line {
            who: Who::Studio,
            text: text.to_owned(),
            interrupted: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str, text: &str, interrupted: bool) -> Line {
        Line {
            who: Who::Named(name.to_owned()),
            text: text.to_owned(),
            interrupted,
        }
    }

    fn studio(text: &str) -> Line {
        Line {
            who: Who::Studio,
            text: text.to_owned(),
            interrupted: false,
        }
    }

    #[test]
    fn a_user_message_holds_several_envelopes_and_notes_in_order() {
        let content = "<studio>The recording has started.</studio>\n\
                       <speaker name=\"Ana\">Welcome, both of you.</speaker>\n\
                       <speaker name=\"Guest\" interrupted=\"true\">Thanks, I&#39;d say</speaker>";
        assert_eq!(
            user_lines(content),
            [
                studio("The recording has started."),
                named("Ana", "Welcome, both of you.", false),
                named("Guest", "Thanks, I'd say", true),
            ]
        );
    }

    #[test]
    fn what_the_writer_escapes_the_reader_gives_back() {
        let name = "Dr. \"Q\" & <co>";
        let text = "Is 3 < 4 && 5 > 2? </speaker> <studio>no</studio>";
        let content = format!(
            "{}\n{}",
            speaker_envelope(name, text, false),
            studio_note("1 earlier line left out.")
        );
        assert_eq!(
            user_lines(&content),
            [named(name, text, false), studio("1 earlier line left out.")]
        );
        assert_eq!(unescape("a &amp;lt; b & c &bogus;"), "a &lt; b & c &bogus;");
    }

    #[test]
    fn text_outside_envelopes_and_broken_tags_are_kept_as_studio_text() {
        assert_eq!(user_lines("  just words "), [studio("just words")]);
        assert_eq!(user_lines("<speaker broken"), [studio("<speaker broken")]);
        assert_eq!(
            user_lines("<speakers>x</speakers>"),
            [studio("<speakers>x</speakers>")]
        );
        assert_eq!(
            user_lines("<speaker name='guest'> hi "),
            [named("guest", "hi", false)]
        );
        assert!(user_lines(" \n ").is_empty());
    }

    #[test]
    fn own_lines_read_the_cut_off_mark() {
        let lines = own_lines("I think so.\nBut the buses—");
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].text.as_str(), lines[0].interrupted),
            ("I think so.", false)
        );
        assert_eq!(
            (lines[1].text.as_str(), lines[1].interrupted),
            ("But the buses", true)
        );
        assert_eq!(lines[1].plain(), "But the buses—");
        assert_eq!(named("Ana", "Hi", false).plain(), "Ana: Hi");
        assert_eq!(studio("Go.").plain(), "(Studio: Go.)");
    }
}
