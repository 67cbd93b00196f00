//! From AssemblyAI's `Turn` messages to the studio's transcripts: partials while a turn grows, one
//! final when it ends, the formatted copy preferred when `format_turns` is on (waiting for it a
//! bounded time). Pure (time comes in as an argument), unit tested natively.

use studio_plugin::Transcript;

use crate::messages::Turn;

/// Tracks the turns of one connection; a new connection starts a new tracker's session with
/// [`TurnTracker::new_session`] (turn numbers and word times restart there).
#[derive(Debug)]
pub struct TurnTracker {
    /// Whether a formatted copy of each final is expected.
    format_turns: bool,
    /// How long to wait for the formatted copy.
    format_wait_ms: u64,
    /// Ms of audio before this session began (word times are relative to the session).
    offset_ms: u64,
    /// The last partial pushed (a repeat is not pushed again).
    last_partial: String,
    /// The current turn's order and span (ms of the stream), from the words seen so far.
    current: Option<(u64, u64, u64)>,
    /// An ended turn waiting for its formatted copy until `deadline`.
    pending: Option<Pending>,
    /// The last turn that got its final (later copies of it are ignored).
    finished: Option<u64>,
    /// Where the last final ended, in ms of the stream: the audio before it is fully recognized.
    settled_ms: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    order: u64,
    transcript: Transcript,
    deadline_ms: u64,
}

impl TurnTracker {
    /// A tracker for a stream starting at 0 ms.
    pub fn new(format_turns: bool, format_wait_ms: u64) -> Self {
        Self {
            format_turns,
            format_wait_ms,
            offset_ms: 0,
            last_partial: String::new(),
            current: None,
            pending: None,
            finished: None,
            settled_ms: 0,
        }
    }

    /// A new connection began after `offset_ms` of audio: call [`TurnTracker::flush`] first.
    pub fn new_session(&mut self, offset_ms: u64) {
        self.offset_ms = offset_ms;
        self.last_partial.clear();
        self.current = None;
        self.pending = None;
        self.finished = None;
    }

    /// A `Turn` arrived at `now_ms`: the transcripts to push.
    pub fn on_turn(&mut self, turn: &Turn, now_ms: u64) -> Vec<Transcript> {
        let mut out = Vec::new();
        if self.finished.is_some_and(|done| turn.order <= done) {
            return out; // a late copy of a turn already delivered
        }
        if let Some(pending) = self.pending.take_if(|p| p.order != turn.order) {
            // The next turn began before the formatted copy came: the plain text stands.
            self.finish(pending.order, pending.transcript, &mut out);
        }
        let (start, end) = self.span(turn);
        let text = turn.text_so_far();
        if !turn.end_of_turn {
            if !text.is_empty() && text != self.last_partial && self.pending.is_none() {
                self.last_partial = text.clone();
                out.push(Transcript::partial(text, start, end));
            }
            return out;
        }
        let mut transcript = Transcript::final_(text, start, end);
        transcript.confidence = turn.confidence();
        if let Some(pending) = self.pending.take() {
            // This is the formatted copy (or a repeat): keep the times of the first.
            transcript.start_ms = pending.transcript.start_ms;
            transcript.end_ms = pending.transcript.end_ms;
            transcript.confidence = transcript.confidence.or(pending.transcript.confidence);
            if transcript.text.is_empty() {
                transcript.text = pending.transcript.text;
            }
        } else if self.format_turns && !turn.formatted {
            self.pending = Some(Pending {
                order: turn.order,
                transcript,
                deadline_ms: now_ms + self.format_wait_ms,
            });
            return out;
        }
        self.finish(turn.order, transcript, &mut out);
        out
    }

    /// Time passed: an ended turn whose formatted copy is late is delivered as it is.
    pub fn on_tick(&mut self, now_ms: u64) -> Vec<Transcript> {
        let mut out = Vec::new();
        if let Some(pending) = self.pending.take_if(|p| now_ms >= p.deadline_ms) {
            self.finish(pending.order, pending.transcript, &mut out);
        }
        out
    }

    /// How long until [`TurnTracker::on_tick`] has something to do (None: nothing is waiting).
    pub fn wait_ms(&self, now_ms: u64) -> Option<u64> {
        self.pending
            .as_ref()
            .map(|p| p.deadline_ms.saturating_sub(now_ms))
    }

    /// Where the last final ended (ms of the stream); the audio after it is not recognized for good.
    pub fn settled_ms(&self) -> u64 {
        self.settled_ms
    }

    /// The connection was lost: a turn waiting for its formatting is final as it is; the words of
    /// an unfinished turn are dropped, because the audio after [`TurnTracker::settled_ms`] is sent
    /// again on the next connection and recognized there.
    pub fn abandon(&mut self) -> Vec<Transcript> {
        let mut out = Vec::new();
        if let Some(pending) = self.pending.take() {
            self.finish(pending.order, pending.transcript, &mut out);
        }
        self.last_partial.clear();
        self.current = None;
        out
    }

    /// The stream or the connection ended: what is known becomes final (the turn waiting for
    /// its formatting, or the words of a turn that never ended).
    pub fn flush(&mut self) -> Vec<Transcript> {
        let mut out = Vec::new();
        if let Some(pending) = self.pending.take() {
            self.finish(pending.order, pending.transcript, &mut out);
        } else if !self.last_partial.is_empty()
            && let Some((order, start, end)) = self.current
        {
            let text = std::mem::take(&mut self.last_partial);
            self.finish(order, Transcript::final_(text, start, end), &mut out);
        }
        out
    }

    fn finish(&mut self, order: u64, transcript: Transcript, out: &mut Vec<Transcript>) {
        self.finished = Some(order);
        self.settled_ms = self.settled_ms.max(transcript.end_ms);
        self.last_partial.clear();
        self.current = None;
        if !transcript.text.trim().is_empty() {
            out.push(transcript);
        }
    }

    /// The turn's span in ms of the stream, remembered for copies without words.
    fn span(&mut self, turn: &Turn) -> (u64, u64) {
        let known = self.current.filter(|(order, _, _)| *order == turn.order);
        let span = match (turn.span_ms(), known) {
            (Some((start, end)), _) => (start + self.offset_ms, end + self.offset_ms),
            (None, Some((_, start, end))) => (start, end),
            (None, None) => (self.offset_ms, self.offset_ms),
        };
        self.current = Some((turn.order, span.0, span.1));
        span
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Word;
    use studio_plugin::TranscriptKind;

    fn turn(
        order: u64,
        end: bool,
        formatted: bool,
        transcript: &str,
        words: &[(&str, u64, bool)],
    ) -> Turn {
        Turn {
            order,
            formatted,
            end_of_turn: end,
            transcript: transcript.into(),
            words: words
                .iter()
                .map(|(text, start, is_final)| Word {
                    text: (*text).into(),
                    start_ms: *start,
                    end_ms: start + 80,
                    confidence: Some(0.9),
                    is_final: *is_final,
                })
                .collect(),
        }
    }

    fn texts(out: &[Transcript]) -> Vec<(TranscriptKind, &str, u64, u64)> {
        out.iter()
            .map(|t| (t.kind, t.text.as_str(), t.start_ms, t.end_ms))
            .collect()
    }

    #[test]
    fn partials_grow_and_the_formatted_copy_becomes_the_final() {
        let mut tracker = TurnTracker::new(true, 500);
        let out = tracker.on_turn(
            &turn(
                0,
                false,
                false,
                "hi",
                &[("hi", 100, true), ("my", 300, false)],
            ),
            0,
        );
        assert_eq!(
            texts(&out),
            vec![(TranscriptKind::Partial, "hi my", 100, 380)]
        );
        // The same text again is not pushed again.
        let out = tracker.on_turn(
            &turn(
                0,
                false,
                false,
                "hi my",
                &[("hi", 100, true), ("my", 300, true)],
            ),
            10,
        );
        assert!(out.is_empty());
        let plain = turn(
            0,
            true,
            false,
            "hi my name",
            &[("hi", 100, true), ("my", 300, true), ("name", 500, true)],
        );
        assert!(
            tracker.on_turn(&plain, 20).is_empty(),
            "waits for the formatted copy"
        );
        assert_eq!(tracker.wait_ms(120), Some(400));
        let out = tracker.on_turn(&turn(0, true, true, "Hi, my name.", &[]), 30);
        assert_eq!(
            texts(&out),
            vec![(TranscriptKind::Final, "Hi, my name.", 100, 580)]
        );
        assert!((out[0].confidence.expect("confidence") - 0.9).abs() < 1e-6);
        assert_eq!(tracker.wait_ms(40), None);
    }

    #[test]
    fn a_late_formatted_copy_is_not_waited_for_past_the_bound() {
        let mut tracker = TurnTracker::new(true, 500);
        tracker.on_turn(
            &turn(
                0,
                true,
                false,
                "hello there",
                &[("hello", 0, true), ("there", 200, true)],
            ),
            1000,
        );
        assert!(tracker.on_tick(1499).is_empty());
        let out = tracker.on_tick(1500);
        assert_eq!(
            texts(&out),
            vec![(TranscriptKind::Final, "hello there", 0, 280)]
        );
        // The copy arriving later is ignored.
        assert!(
            tracker
                .on_turn(&turn(0, true, true, "Hello there.", &[]), 1600)
                .is_empty()
        );
    }

    #[test]
    fn the_next_turn_releases_a_final_still_waiting_for_formatting() {
        let mut tracker = TurnTracker::new(true, 500);
        tracker.on_turn(&turn(0, true, false, "first", &[("first", 0, true)]), 0);
        let out = tracker.on_turn(&turn(1, false, false, "", &[("second", 900, false)]), 10);
        assert_eq!(
            texts(&out),
            vec![
                (TranscriptKind::Final, "first", 0, 80),
                (TranscriptKind::Partial, "second", 900, 980)
            ]
        );
    }

    #[test]
    fn without_formatting_or_with_formatted_turns_the_end_of_turn_is_final_at_once() {
        let mut plain = TurnTracker::new(false, 500);
        let out = plain.on_turn(&turn(0, true, false, "hi", &[("hi", 0, true)]), 0);
        assert_eq!(texts(&out), vec![(TranscriptKind::Final, "hi", 0, 80)]);
        let mut formatted = TurnTracker::new(true, 500);
        let out = formatted.on_turn(&turn(0, true, true, "Hi.", &[("Hi.", 0, true)]), 0);
        assert_eq!(texts(&out), vec![(TranscriptKind::Final, "Hi.", 0, 80)]);
    }

    #[test]
    fn a_new_session_shifts_times_by_the_audio_before_it() {
        let mut tracker = TurnTracker::new(false, 500);
        tracker.on_turn(&turn(0, false, false, "", &[("lost", 100, false)]), 0);
        let out = tracker.flush();
        assert_eq!(texts(&out), vec![(TranscriptKind::Final, "lost", 100, 180)]);
        tracker.new_session(5000);
        let out = tracker.on_turn(&turn(0, true, false, "again", &[("again", 200, true)]), 0);
        assert_eq!(
            texts(&out),
            vec![(TranscriptKind::Final, "again", 5200, 5280)]
        );
    }

    #[test]
    fn a_lost_connection_keeps_finals_and_drops_unfinished_words() {
        let mut tracker = TurnTracker::new(true, 500);
        tracker.on_turn(&turn(0, true, false, "done", &[("done", 100, true)]), 0);
        tracker.on_turn(&turn(1, false, false, "", &[("half", 900, false)]), 10);
        assert_eq!(
            tracker.settled_ms(),
            180,
            "the released final settled its audio"
        );
        assert!(
            tracker.abandon().is_empty(),
            "the unfinished turn is recognized again later"
        );
        assert!(tracker.flush().is_empty());
        tracker.on_turn(
            &turn(5, true, false, "waiting", &[("waiting", 300, true)]),
            20,
        );
        let out = tracker.abandon();
        assert_eq!(
            texts(&out),
            vec![(TranscriptKind::Final, "waiting", 300, 380)]
        );
        assert_eq!(tracker.settled_ms(), 380);
    }

    #[test]
    fn empty_turns_push_nothing() {
        let mut tracker = TurnTracker::new(false, 500);
        assert!(
            tracker
                .on_turn(&turn(0, false, false, "", &[]), 0)
                .is_empty()
        );
        assert!(
            tracker
                .on_turn(&turn(0, true, false, "", &[]), 0)
                .is_empty()
        );
        assert!(tracker.flush().is_empty());
    }
}
