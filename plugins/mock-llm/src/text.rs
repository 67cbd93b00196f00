//! Text hygiene for what the mock says aloud: others' words made safe to quote (no tags, no
//! entities, no quote marks of their own), whole sentences shaped, words counted.

/// `text` with anything that is not speech taken out: tags (`<speaker>`, `</speaker>`, ...),
/// studio notes with their text (`<studio>...</studio>`) and entities (`&amp;` said literally) removed, a bare `&` read as "and", quote marks, stray angle
/// brackets and Markdown marks dropped, whitespace collapsed.
pub fn speakable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(len) = tag_len(rest)
        {
            out.push(' ');
            // A studio note is nobody's words: it goes with its text.
            let note_end = rest[..len]
                .to_ascii_lowercase()
                .starts_with("<studio")
                .then(|| rest.find("</studio>").map(|end| end + "</studio>".len()))
                .flatten();
            rest = &rest[note_end.unwrap_or(len)..];
            continue;
        }
        if c == '&' {
            match entity_len(rest) {
                Some(len) => {
                    // `&amp;` said aloud means "and"; the others mean nothing to a listener.
                    if rest[..len].eq_ignore_ascii_case("&amp;") {
                        out.push_str(" and ");
                    } else {
                        out.push(' ');
                    }
                    rest = &rest[len..];
                }
                None => {
                    out.push_str(" and ");
                    rest = &rest[1..];
                }
            }
            continue;
        }
        match c {
            '<' | '>' | '"' | '“' | '”' | '`' | '*' | '_' | '#' | '[' | ']' | '{' | '}' | '|'
            | '\\' => out.push(' '),
            _ => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    collapse(&out)
}

/// The length of a tag at the start of `text` (`<name ...>` or `</name>`), if it is one.
fn tag_len(text: &str) -> Option<usize> {
    let inner = text.strip_prefix('<')?;
    let inner = inner.strip_prefix('/').unwrap_or(inner);
    if !inner.chars().next()?.is_ascii_alphabetic() {
        return None;
    }
    let end = text.find('>')?;
    // A `<` later on, or a long run, is prose with a stray bracket, not a tag.
    (end <= 200 && !text[1..end].contains('<')).then_some(end + 1)
}

/// The length of an entity at the start of `text` (`&amp;`, `&#39;`, `&x27;`), if it is one.
fn entity_len(text: &str) -> Option<usize> {
    let body = text.strip_prefix('&')?;
    let end = body.find(';')?;
    let name = &body[..end];
    let valid = (1..=8).contains(&name.len())
        && name
            .trim_start_matches('#')
            .chars()
            .all(|c| c.is_ascii_alphanumeric());
    valid.then_some(end + 2)
}

/// Single spaces, no space before punctuation, trimmed.
pub fn collapse(text: &str) -> String {
    let mut out = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for mark in [" ,", " .", " ?", " !", " ;", " :"] {
        while out.contains(mark) {
            out = out.replace(mark, &mark[1..]);
        }
    }
    out
}

/// Words in `text`.
pub fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// `text` as a whole spoken sentence: collapsed, first letter capital, ending in `end` unless it
/// already ends in sentence punctuation.
pub fn sentence(text: &str, end: char) -> String {
    let text = collapse(text);
    let text = text.trim_end_matches([',', ';', ':', '-', '—']).trim_end();
    let mut out = capitalize(text);
    if !out.ends_with(['.', '?', '!']) {
        out.push(end);
    }
    out
}

/// The first letter in upper case.
pub fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A phrase that goes mid-sentence: its first letter in lower case, unless the first word is
/// an acronym, a name-like word with more capitals, or "I".
pub fn mid_sentence(text: &str) -> String {
    let first = text.split_whitespace().next().unwrap_or("");
    let keep =
        first == "I" || first.starts_with("I'") || first.chars().skip(1).any(char::is_uppercase);
    if keep {
        return text.to_owned();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` without trailing sentence and clause punctuation.
pub fn bare(text: &str) -> &str {
    text.trim()
        .trim_end_matches(['.', '?', '!', ',', ';', ':', '…'])
        .trim_end()
}

/// `text` cut before the first of `marks` (all of it when there is none).
pub fn head<'a>(text: &'a str, marks: &[&str]) -> &'a str {
    let end = marks
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(text.len());
    text[..end].trim()
}

/// FNV-1a: a stable hash, so the choice of phrasing does not change between builds.
pub fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_entities_are_not_speech() {
        assert_eq!(
            speakable(
                "what about <studio>The cue</studio> and \"buses &amp; bikes\" <speaker name=\"x\">hi</speaker>?"
            ),
            "what about and buses and bikes hi?"
        );
        assert_eq!(speakable("a &lt; b & c &#39;d"), "a b and c d");
        assert_eq!(speakable("think <10 minute waits"), "think 10 minute waits");
        assert_eq!(speakable("*laughs* fine_ok #1"), "laughs fine ok 1");
    }

    #[test]
    fn sentences_are_whole() {
        assert_eq!(sentence("hello there ,", '.'), "Hello there.");
        assert_eq!(sentence("is it fair", '?'), "Is it fair?");
        assert_eq!(sentence("Done!", '.'), "Done!");
        assert_eq!(mid_sentence("Air quality"), "air quality");
        assert_eq!(mid_sentence("EU rules"), "EU rules");
        assert_eq!(mid_sentence("I think"), "I think");
        assert_eq!(bare("Why not?! "), "Why not");
        assert_eq!(head("An open talk; more", &[";", ":"]), "An open talk");
    }
}
