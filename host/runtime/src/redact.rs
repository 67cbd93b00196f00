//! The host's one redactor: every secret value a plugin may be granted is cut out of text that
//! leaves the sandbox towards people (plugin errors, plugin log lines, `events.jsonl`, client
//! `error` events), whichever plugin or provider put it there.
//!
//! Plugins are hostile and providers echo keys back ("Incorrect API key provided:
//! sk-proj-****abcd"), so redaction cannot be left to each adapter. The secret store rebuilds
//! the redactor whenever a secret changes (start, reload, a key set in the settings), and every
//! path that carries plugin text out calls [`Redactor::redact`]. This module is a leaf: the
//! secret store (`secrets`) owns the redactor and feeds it.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use aho_corasick::{AhoCorasick, MatchKind};
use tracing_subscriber::fmt::MakeWriter;

/// Values shorter than this are not redacted: a short value (`groq`, `true`) would mangle
/// ordinary text, and is no key anyway.
pub const MIN_REDACTED_LEN: usize = 8;

/// The shortest visible end of a masked echo that identifies a key (`sk-...abcd`).
const MIN_MASKED_TAIL: usize = 4;

/// The shortest visible start of a masked echo that identifies a key (`sk-ant-api03-...`).
const MIN_MASKED_HEAD: usize = 6;

/// Cuts the current secret values (and masked echoes of them) out of text.
#[derive(Debug, Default)]
pub struct Redactor {
    current: RwLock<Arc<Needles>>,
}

/// One compiled set of secrets.
#[derive(Debug, Default)]
struct Needles {
    /// Every secret value (and its JSON-escaped form), longest match first.
    matcher: Option<AhoCorasick>,
    /// The replacement of each pattern of `matcher`, in pattern order.
    replacements: Vec<String>,
    /// `(replacement, value)` of each secret, for masked echoes.
    secrets: Vec<(String, String)>,
}

impl Redactor {
    /// A redactor for `secrets` (`(name, value)` pairs).
    pub fn new(secrets: impl IntoIterator<Item = (String, String)>) -> Redactor {
        let redactor = Redactor::default();
        redactor.set_secrets(secrets);
        redactor
    }

    /// Replaces the secrets this redactor cuts out. Values shorter than [`MIN_REDACTED_LEN`]
    /// (after trimming) are ignored.
    pub fn set_secrets(&self, secrets: impl IntoIterator<Item = (String, String)>) {
        let mut patterns = Vec::new();
        let mut replacements = Vec::new();
        let mut kept = Vec::new();
        for (name, value) in secrets {
            let value = value.trim();
            if value.chars().count() < MIN_REDACTED_LEN {
                continue;
            }
            let replacement = replacement_for(&name);
            // Inside JSON (`events.jsonl`, a provider's error body) a value with quotes,
            // backslashes or control characters appears escaped.
            if let Ok(quoted) = serde_json::to_string(value) {
                let escaped = &quoted[1..quoted.len() - 1];
                if escaped != value {
                    patterns.push(escaped.to_string());
                    replacements.push(replacement.clone());
                }
            }
            patterns.push(value.to_string());
            replacements.push(replacement.clone());
            kept.push((replacement, value.to_string()));
        }
        let matcher = if patterns.is_empty() {
            None
        } else {
            match AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
            {
                Ok(matcher) => Some(matcher),
                Err(error) => {
                    // Only a pattern set beyond aho-corasick's size limits fails; keep the
                    // masked-echo check and say so, rather than leave the old secrets in force.
                    tracing::error!(%error, "cannot build the secret redactor; secret values are not redacted");
                    None
                }
            }
        };
        let needles = Needles {
            matcher,
            replacements,
            secrets: kept,
        };
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(needles);
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.needles().secrets.is_empty()
    }

    /// `text` with every secret value and masked echo of one replaced by `[redacted NAME]`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let needles = self.needles();
        if needles.secrets.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut text = Cow::Borrowed(text);
        if let Some(matcher) = &needles.matcher
            && matcher.is_match(text.as_ref())
        {
            text = Cow::Owned(matcher.replace_all(text.as_ref(), &needles.replacements));
        }
        if let Some(masked) = redact_masked(&text, &needles.secrets) {
            text = Cow::Owned(masked);
        }
        text
    }

    /// Redacts `text` in place.
    pub fn redact_string(&self, text: &mut String) {
        if let Cow::Owned(redacted) = self.redact(text) {
            *text = redacted;
        }
    }

    fn needles(&self) -> Arc<Needles> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The redactors of the live plugin hosts of the process, for [`RedactedLog`].
static LIVE: Mutex<Vec<Weak<Redactor>>> = Mutex::new(Vec::new());

/// Makes `redactor` apply to every log record written through a [`RedactedLog`], for as long
/// as it lives.
pub(crate) fn redact_the_log_with(redactor: &Arc<Redactor>) {
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.retain(|r| r.strong_count() > 0);
    live.push(Arc::downgrade(redactor));
}

/// The log's last line of defence: a `tracing-subscriber` writer that redacts each formatted
/// record with every live plugin host's redactor before it reaches `M`'s writer. It catches what
/// no call site can (a library logging a plugin's raw output at debug level, a future log line).
#[derive(Debug, Clone)]
pub struct RedactedLog<M>(M);

impl<M> RedactedLog<M> {
    /// Wraps `make_writer` (e.g. `std::io::stderr`).
    pub fn new(make_writer: M) -> RedactedLog<M> {
        RedactedLog(make_writer)
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactedLog<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

/// The writer of one log record (see [`RedactedLog`]).
#[derive(Debug)]
pub struct RedactingWriter<W>(W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The fmt layer writes each record with one `write_all` of its formatted line.
        let redactors: Vec<Arc<Redactor>> = LIVE
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let text = String::from_utf8_lossy(buf);
        let mut text = Cow::Borrowed(text.as_ref());
        for redactor in &redactors {
            if let Cow::Owned(redacted) = redactor.redact(&text) {
                text = Cow::Owned(redacted);
            }
        }
        self.0.write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// `[redacted NAME]`, with the name reduced to characters that are safe in JSON and logs.
fn replacement_for(name: &str) -> String {
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    if name.is_empty() {
        "[redacted]".to_string()
    } else {
        format!("[redacted {name}]")
    }
}

/// Characters a key (and its masked echo) is made of.
fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '.' | '…')
}

/// A masked echo of a secret (`sk-proj-****abcd`, `sk-...abcd`, `sk-ant-api03-abcdef…`): a
/// token with a mask (`**`, `...`, `…`) whose visible end ends a secret or whose visible start
/// begins one. Returns the text with each such token replaced, or None when there is none.
fn redact_masked(text: &str, secrets: &[(String, String)]) -> Option<String> {
    if !(text.contains("**") || text.contains("...") || text.contains('…')) {
        return None;
    }
    let mut out = String::new();
    let mut copied = 0;
    let mut rest = text.char_indices().peekable();
    while let Some((start, c)) = rest.next() {
        if !is_key_char(c) {
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(i, c)) = rest.peek() {
            if !is_key_char(c) {
                break;
            }
            end = i + c.len_utf8();
            rest.next();
        }
        let token = &text[start..end];
        if let Some((replacement, trimmed)) = masked_secret(token, secrets) {
            let token_start = start + (token.len() - token.trim_start_matches('.').len());
            out.push_str(&text[copied..token_start]);
            out.push_str(replacement);
            copied = token_start + trimmed.len();
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// The secret a masked token echoes, with the token as matched (sentence dots trimmed).
fn masked_secret<'t, 's>(
    token: &'t str,
    secrets: &'s [(String, String)],
) -> Option<(&'s str, &'t str)> {
    // A sentence's dots around the token are not part of it ("...: sk-...abcd.").
    let token = token.trim_start_matches('.');
    let trimmed = token.trim_end_matches('.');
    let trimmed = if trimmed.len() + 3 <= token.len() {
        // `sk-abcd...`: the trailing mask is the echo's own.
        token
    } else {
        trimmed
    };
    let (first, last) = mask_bounds(trimmed)?;
    let head = &trimmed[..first];
    let tail = &trimmed[last..];
    // A provider's own prefix (`sk-proj-`) says nothing about which key it was: the visible
    // start identifies a key only with enough characters after its last separator.
    let head_identifies = head.len() >= MIN_MASKED_HEAD
        && head.rsplit(['-', '_']).next().unwrap_or("").len() >= MIN_MASKED_TAIL;
    secrets
        .iter()
        .find(|(_, value)| {
            (tail.len() >= MIN_MASKED_TAIL && value.ends_with(tail))
                || (head_identifies && value.starts_with(head))
        })
        .map(|(replacement, _)| (replacement.as_str(), trimmed))
}

/// Byte range from the start of the first mask to the end of the last one in `token`.
fn mask_bounds(token: &str) -> Option<(usize, usize)> {
    let bytes = token.as_bytes();
    let mut first = None;
    let mut last = 0;
    let mut i = 0;
    while i < bytes.len() {
        let run_of = |b: u8| bytes[i..].iter().take_while(|&&x| x == b).count();
        let len = match bytes[i] {
            b'*' if run_of(b'*') >= 2 => run_of(b'*'),
            b'.' if run_of(b'.') >= 3 => run_of(b'.'),
            // `…` is three bytes in UTF-8, starting 0xE2 0x80 0xA6.
            0xE2 if bytes[i..].starts_with("…".as_bytes()) => 3,
            _ => 0,
        };
        if len == 0 {
            i += 1;
            continue;
        }
        first.get_or_insert(i);
        i += len;
        last = i;
    }
    first.map(|first| (first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor() -> Redactor {
        Redactor::new([
            (
                "OPENAI_API_KEY".to_string(),
                "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789wxyz".to_string(),
            ),
            (
                "ANTHROPIC_API_KEY".to_string(),
                "sk-ant-api03-ZyXwVuTsRqPoNmLk".to_string(),
            ),
            ("GUEST_PROVIDER".to_string(), "groq".to_string()),
        ])
    }

    #[test]
    fn a_secret_value_is_replaced_by_its_name() {
        let text = "request failed: 401 {\"key\": \"sk-ant-api03-ZyXwVuTsRqPoNmLk\"} again sk-ant-api03-ZyXwVuTsRqPoNmLk";
        assert_eq!(
            redactor().redact(text),
            "request failed: 401 {\"key\": \"[redacted ANTHROPIC_API_KEY]\"} again [redacted ANTHROPIC_API_KEY]"
        );
    }

    #[test]
    fn short_values_and_clean_text_are_left_alone() {
        let r = redactor();
        let text = "groq said: everything is fine... really** ok";
        assert!(matches!(r.redact(text), Cow::Borrowed(_)));
        assert_eq!(r.redact(text), text);
    }

    #[test]
    fn openai_style_masked_echoes_are_redacted() {
        let r = redactor();
        let body = "Incorrect API key provided: sk-proj-********************************wxyz. You can find your API key at https://platform.openai.com/account/api-keys.";
        assert_eq!(
            r.redact(body),
            "Incorrect API key provided: [redacted OPENAI_API_KEY]. You can find your API key at https://platform.openai.com/account/api-keys."
        );
        assert_eq!(
            r.redact("key sk-proj-****...wxyz was refused"),
            "key [redacted OPENAI_API_KEY] was refused"
        );
        assert_eq!(
            r.redact("key sk-...wxyz was refused"),
            "key [redacted OPENAI_API_KEY] was refused"
        );
        assert_eq!(
            r.redact("(sk-ant-api03-ZyXw…)"),
            "([redacted ANTHROPIC_API_KEY])"
        );
    }

    #[test]
    fn masks_of_unknown_keys_are_left_alone() {
        let r = redactor();
        let text = "key sk-proj-****0000 is not ours, and sk-...9999 neither";
        assert_eq!(r.redact(text), text);
    }

    #[test]
    fn json_escaped_values_are_redacted() {
        let r = Redactor::new([("ODD_KEY".to_string(), "abc\"def\\ghi".to_string())]);
        let line = serde_json::json!({"error": "echo abc\"def\\ghi"}).to_string();
        assert_eq!(r.redact(&line), r#"{"error":"echo [redacted ODD_KEY]"}"#);
    }

    #[test]
    fn new_secrets_replace_the_old_ones() {
        let r = redactor();
        r.set_secrets([("NEW_KEY".to_string(), "n3w-s3cret-value".to_string())]);
        assert_eq!(
            r.redact("sk-ant-api03-ZyXwVuTsRqPoNmLk n3w-s3cret-value"),
            "sk-ant-api03-ZyXwVuTsRqPoNmLk [redacted NEW_KEY]"
        );
        assert!(!r.is_empty());
    }
}
