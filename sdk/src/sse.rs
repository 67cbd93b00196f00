//! Server-sent events (the `text/event-stream` format that Anthropic, OpenAI and most LLM APIs stream in).
//!
//! [`SseParser`] takes the response body in whatever pieces the network delivers and yields whole
//! events, following the WHATWG parsing rules: `event`, `data` (several lines joined with `\n`), `id`,
//! `retry`, comment lines starting with `:`, and LF, CRLF or CR line endings, even when a line or a
//! CRLF pair is split across two reads.

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; `message` when the stream did not name one.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last `id:` seen on the stream so far, if any.
    pub id: Option<String>,
    /// The `retry:` reconnection delay in ms, when this event carried one.
    pub retry_ms: Option<u64>,
}

/// An incremental parser: feed it bytes, take out complete events.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not yet ended.
    line: Vec<u8>,
    /// The previous piece ended with `\r`, so a `\n` at the start of the next piece belongs to it.
    after_cr: bool,
    event: Option<String>,
    data: Option<String>,
    last_id: Option<String>,
    retry_ms: Option<u64>,
    ready: std::collections::VecDeque<SseEvent>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece of the body and returns the events it completed, oldest first.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        for &byte in bytes {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    // The LF of a CRLF pair split across reads: the line already ended.
                    continue;
                }
            }
            match byte {
                b'\n' => self.end_line(),
                b'\r' => {
                    self.end_line();
                    self.after_cr = true;
                }
                _ => self.line.push(byte),
            }
        }
        self.ready.drain(..).collect()
    }

    /// Ends the stream: an event whose blank line never came is discarded, as the specification says.
    /// Returns the events still waiting (none unless `feed` was not drained).
    pub fn finish(&mut self) -> Vec<SseEvent> {
        self.line.clear();
        self.event = None;
        self.data = None;
        self.retry_ms = None;
        self.ready.drain(..).collect()
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        let line = String::from_utf8_lossy(&line);
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if line.starts_with(':') {
            return; // A comment (often a keep-alive).
        }
        let (field, value) = match line.find(':') {
            Some(at) => {
                let value = &line[at + 1..];
                (&line[..at], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            // An id containing NUL is ignored by the specification.
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            "retry" => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry_ms = Some(ms);
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        let event = self.event.take();
        let retry_ms = self.retry_ms.take();
        // Without data there is no event to dispatch (a lone `retry:` still updates nothing else).
        let Some(data) = self.data.take() else { return };
        self.ready.push_back(SseEvent {
            event: event
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "message".to_owned()),
            data,
            id: self.last_id.clone(),
            retry_ms,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for piece in pieces {
            events.extend(parser.feed(piece));
        }
        events.extend(parser.finish());
        events
    }

    #[test]
    fn named_event_with_data_is_dispatched_on_blank_line() {
        let events = parse_all(&[b"event: content_block_delta\ndata: {\"a\":1}\n\n"]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event, "content_block_delta");
        assert_eq!(events[0].data, "{\"a\":1}");
        assert_eq!(events[0].id, None);
    }

    #[test]
    fn unnamed_event_is_called_message() {
        let events = parse_all(&[b"data: hello\n\n"]);
        assert_eq!(events[0].event, "message");
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let events = parse_all(&[b"data: first\ndata: second\ndata:third\n\n"]);
        assert_eq!(events[0].data, "first\nsecond\nthird");
    }

    #[test]
    fn comments_are_ignored() {
        let events = parse_all(&[b": keep-alive\n\n:ping\ndata: x\n\n"]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "x");
    }

    #[test]
    fn crlf_and_cr_line_endings_work() {
        let events = parse_all(&[b"event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\r"]);
        assert_eq!(events.len(), 2);
        assert_eq!(
            (events[0].event.as_str(), events[0].data.as_str()),
            ("a", "1")
        );
        assert_eq!(
            (events[1].event.as_str(), events[1].data.as_str()),
            ("b", "2")
        );
    }

    #[test]
    fn events_split_across_reads_are_reassembled() {
        let whole = b"event: delta\r\ndata: {\"text\":\"Hel\"}\r\n\r\nevent: delta\r\ndata: {\"text\":\"lo\"}\r\n\r\n";
        for split in 1..whole.len() {
            let events = parse_all(&[&whole[..split], &whole[split..]]);
            assert_eq!(events.len(), 2, "split at {split}");
            assert_eq!(events[0].data, "{\"text\":\"Hel\"}", "split at {split}");
            assert_eq!(events[1].data, "{\"text\":\"lo\"}", "split at {split}");
        }
        let one_byte_at_a_time: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(parse_all(&one_byte_at_a_time).len(), 2);
    }

    #[test]
    fn id_persists_and_retry_is_parsed() {
        let events =
            parse_all(&[b"id: 7\nretry: 1500\ndata: a\n\ndata: b\n\nretry: soon\ndata: c\n\n"]);
        assert_eq!(events[0].id.as_deref(), Some("7"));
        assert_eq!(events[0].retry_ms, Some(1500));
        assert_eq!(events[1].id.as_deref(), Some("7"));
        assert_eq!(events[1].retry_ms, None);
        assert_eq!(events[2].retry_ms, None);
    }

    #[test]
    fn field_without_colon_and_value_without_space() {
        let events = parse_all(&[b"data\n\ndata:x\n\n"]);
        assert_eq!(events[0].data, "");
        assert_eq!(events[1].data, "x");
    }

    #[test]
    fn unterminated_event_at_end_of_stream_is_dropped() {
        let events = parse_all(&[b"data: done\n\ndata: partial"]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "done");
    }

    #[test]
    fn blank_lines_without_data_dispatch_nothing() {
        let events = parse_all(&[b"\n\nevent: ping\n\n"]);
        assert!(events.is_empty());
    }

    #[test]
    fn utf8_split_across_reads_is_preserved() {
        let whole = "data: héllo wörld\n\n".as_bytes();
        let at = whole
            .iter()
            .position(|&b| b == 0xC3)
            .map(|p| p + 1)
            .unwrap_or(1);
        let events = parse_all(&[&whole[..at], &whole[at..]]);
        assert_eq!(events[0].data, "héllo wörld");
    }
}
