//! Real-time release of AI speech: bursts of TTS samples in, one 20 ms frame per 20 ms out.
//!
//! TTS plugins deliver audio faster than real time and in bursts. Sending it to browsers as it
//! comes would fill their buffers with seconds of speech that a barge-in can no longer take back,
//! so the pacer keeps the queue on the host and releases frame `n` of an utterance at
//! `anchor + n * 20 ms - lead`, where `anchor` is when its first samples arrived. Deadlines are
//! computed from the anchor, never from the previous tick, so the clock does not drift, and a
//! frame whose deadline has passed goes out at once (the catch-up of tokio's
//! `MissedTickBehavior::Burst`). `lead` keeps a small jitter buffer in the browser.
//!
//! The pacer is a plain value owned by the session actor, which awaits [`Pacer::next`] in a
//! `select!` next to its inputs; `next` is cancel-safe, so a barge-in handled in another branch
//! can call [`Pacer::stop`] at once and no further frame of that utterance leaves.
//!
//! Frames leave in pairs ([`PacerConfig::frames_per_wake`]): frame `2k + 1` goes with frame
//! `2k`, 20 ms before its own release time. Each release wakes the studio and its clients'
//! connections and costs a `send` to each client; two frames a wake halve both (the server's
//! `sendto` calls at 100 studios, docs/BENCHMARKS.md "Host-added latency"), which counts most
//! behind a TLS proxy. The browser then holds 100-120 ms of audio.
//!
//! The lead is 100 ms, not less, for the hold below: the VAD needs 60 ms of speech to call a
//! barge-in, the frames that bring it may come late on a busy host or network, and every held
//! frame must still leave before its play time. With 60 ms, holds lapsed at 320 studios and the
//! AI's next frames reached the client after the human had begun (docs/BENCHMARKS.md).
//!
//! A possible barge-in can [`Pacer::hold`] releases while the VAD makes up its mind: a frame
//! then waits up to its play time less [`HOLD_MARGIN`], so the first loud frame of the human
//! already silences the AI, and a false alarm (a cough, a click) only spends part of the lead,
//! which the backlog's catch-up restores, without a late frame.
//!
//! The queue is bounded ([`MAX_QUEUED_MS`]): a TTS plugin that pushes audio without end cannot
//! grow a studio's memory without end. Samples beyond the bound are dropped, with one log line
//! per utterance.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use super::frame::Frame;
use super::{FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE};

const FRAME: Duration = Duration::from_millis(FRAME_MS);

/// Most audio one voice may have waiting to play: 3 minutes (17 MiB at 48 kHz). A usual
/// 30-word line is about 12 s; the longest line the prompts ask for (a prepared answer of 600
/// tokens, queued whole when thinking mode ends) stays under it.
pub const MAX_QUEUED_MS: u64 = 180_000;
/// [`MAX_QUEUED_MS`] in 48 kHz samples.
pub const MAX_QUEUED_SAMPLES: usize = (MAX_QUEUED_MS * SAMPLE_RATE as u64 / 1000) as usize;

/// A hold never delays a frame past its play time less this: the browser still gets each frame
/// before it must play it.
pub const HOLD_MARGIN: Duration = Duration::from_millis(10);

/// How much the queue grows at a time: half a second (47 KiB).
const GROW_SAMPLES: usize = SAMPLE_RATE as usize / 2;

/// Pacing settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacerConfig {
    /// How far ahead of its play time a frame may leave (the browser's jitter buffer).
    pub lead: Duration,
    /// Frames released together: the later ones of a group leave with the first, up to
    /// `(frames_per_wake - 1) * 20 ms` before their own release time. At least 1.
    pub frames_per_wake: u32,
}

impl Default for PacerConfig {
    fn default() -> Self {
        Self {
            lead: Duration::from_millis(100),
            frames_per_wake: 2,
        }
    }
}

/// One released frame of an utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct PacedFrame {
    /// The audio (the last frame of an utterance is padded with silence).
    pub frame: Frame,
    /// Index of the frame in its utterance, from 0.
    pub seq: u64,
    /// When the frame should start playing; the jitter buffer is `due - now`.
    pub due: Instant,
    /// The frame left after `due`: the TTS did not keep up and the listener heard a gap.
    pub late: bool,
}

/// What the pacer has for the session next.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "boxing the frame would allocate once per frame on the audio path; it moves once"
)]
pub enum PacerEvent {
    /// A frame to send now.
    Frame(PacedFrame),
    /// The utterance ended (after [`Pacer::finish`]) and its last frame has played out.
    Finished {
        /// Duration of the audio released in the utterance.
        played_ms: u64,
    },
}

/// What a [`Pacer::stop`] cut, so captions and transcripts keep only what was heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacerStop {
    /// Audio released to the browser before the stop.
    pub released_ms: u64,
    /// Of that, audio whose play time had come: what the listener has heard by now.
    pub played_ms: u64,
    /// Audio that was queued and is now dropped.
    pub dropped_ms: u64,
}

/// Turns bursts of 48 kHz AI speech into 20 ms frames released on a real-time clock.
#[derive(Debug)]
pub struct Pacer {
    config: PacerConfig,
    queue: VecDeque<i16>,
    /// Play time of frame 0 of the current utterance; `None` while idle.
    anchor: Option<Instant>,
    next_seq: u64,
    released_samples: u64,
    finishing: bool,
    late_frames: u64,
    /// Samples dropped because the queue was full, since the pacer was made.
    dropped_samples: u64,
    /// Whether the current utterance already overflowed (one log line each).
    overflowed: bool,
    /// Releases wait until then (a possible barge-in); kept across utterances.
    hold: Option<Instant>,
}

impl Pacer {
    /// An idle pacer.
    pub fn new(config: PacerConfig) -> Self {
        Self {
            config,
            // Nothing while idle: most voices are silent most of the time. An utterance grows the
            // queue in half-second steps and gives the memory back when it ends.
            queue: VecDeque::new(),
            anchor: None,
            next_seq: 0,
            released_samples: 0,
            finishing: false,
            late_frames: 0,
            dropped_samples: 0,
            overflowed: false,
            hold: None,
        }
    }

    /// Holds every release until `until` (`None` lifts the hold): speech may be starting and the
    /// VAD has not called it yet. Each frame still leaves by its play time less
    /// [`HOLD_MARGIN`], so a hold never makes a frame late; when it is lifted, the frames it
    /// kept back leave at once and the lead is whole again.
    pub fn hold(&mut self, until: Option<Instant>) {
        self.hold = until;
    }

    /// Queues 48 kHz samples; the first samples of an utterance start its clock. Beyond
    /// [`MAX_QUEUED_MS`] waiting, the rest is dropped and logged once per utterance; returns
    /// how many samples were dropped.
    pub fn push(&mut self, samples: &[i16]) -> usize {
        if samples.is_empty() {
            return 0;
        }
        if self.anchor.is_none() {
            self.anchor = Some(Instant::now());
        }
        let room = MAX_QUEUED_SAMPLES.saturating_sub(self.queue.len());
        let (kept, dropped) = samples.split_at(samples.len().min(room));
        if self.queue.capacity() - self.queue.len() < kept.len() {
            // Exact steps, not doubling: the studio keeps TTS about 1.5 s ahead of playback, and
            // doubling would hold up to twice that per speaking voice.
            self.queue.reserve_exact(kept.len().max(GROW_SAMPLES));
        }
        self.queue.extend(kept);
        if !dropped.is_empty() {
            self.dropped_samples += dropped.len() as u64;
            if !std::mem::replace(&mut self.overflowed, true) {
                tracing::warn!(
                    queued_ms = self.queued_ms(),
                    "AI speech queue is full ({MAX_QUEUED_MS} ms waiting to play); the TTS is far ahead of playback, and audio beyond is dropped"
                );
            }
        }
        dropped.len()
    }

    /// Samples dropped because the queue was full, since the pacer was made.
    pub fn dropped_samples(&self) -> u64 {
        self.dropped_samples
    }

    /// Marks the end of the utterance: the tail is padded to a frame and `Finished` follows it.
    pub fn finish(&mut self) {
        if self.anchor.is_some() {
            self.finishing = true;
        }
    }

    /// Waits for the next frame's release time (or the utterance's end) and returns it.
    ///
    /// Pending forever while idle or while the queue waits for more samples; cancel-safe, so it
    /// belongs in a `select!` with whatever pushes samples or stops the pacer.
    pub async fn next(&mut self) -> PacerEvent {
        let Some(anchor) = self.anchor else {
            return std::future::pending().await;
        };
        let has_frame =
            self.queue.len() >= FRAME_SAMPLES || (self.finishing && !self.queue.is_empty());
        if !has_frame {
            if !self.finishing {
                return std::future::pending().await;
            }
            sleep_until(anchor + samples_to_duration(self.released_samples)).await;
            let played_ms = samples_to_ms(self.released_samples);
            self.reset();
            return PacerEvent::Finished { played_ms };
        }
        let seq = self.next_seq;
        let mut due = anchor + FRAME * seq as u32;
        // The first frame of this one's group sets the release time of the whole group.
        let group_start = seq - seq % u64::from(self.config.frames_per_wake.max(1));
        let mut release = (anchor + FRAME * group_start as u32)
            .checked_sub(self.config.lead)
            .unwrap_or(anchor);
        if let Some(hold) = self.hold {
            release = release.max(hold.min(due.checked_sub(HOLD_MARGIN).unwrap_or(due)));
        }
        // A release time already passed (the rest of a pair, a catch-up) is ready in this poll:
        // no timer, and the studio sends the frame in the same wake-up as the one before it.
        if release > Instant::now() {
            sleep_until(release).await;
        }
        // Everything below runs without awaiting: a cancelled `next` has changed nothing.
        let mut frame = Frame::silent();
        let real = self.queue.len().min(FRAME_SAMPLES);
        for (slot, sample) in frame.samples_mut().iter_mut().zip(self.queue.drain(..real)) {
            *slot = sample;
        }
        self.released_samples += real as u64;
        self.next_seq += 1;
        let now = Instant::now();
        let late = now > due;
        if late {
            // The listener already heard a gap; restart the schedule here rather than bursting
            // every later frame out late too.
            self.late_frames += 1;
            self.anchor = Some(now.checked_sub(FRAME * seq as u32).unwrap_or(now));
            due = now;
        }
        PacerEvent::Frame(PacedFrame {
            frame,
            seq,
            due,
            late,
        })
    }

    /// Barge-in: drops everything queued at once and reports what had been released and played.
    pub fn stop(&mut self) -> PacerStop {
        let released_ms = samples_to_ms(self.released_samples);
        let played_ms = self.anchor.map_or(0, |anchor| {
            let elapsed = Instant::now().saturating_duration_since(anchor).as_millis();
            released_ms.min(u64::try_from(elapsed).unwrap_or(u64::MAX))
        });
        let stop = PacerStop {
            released_ms,
            played_ms,
            dropped_ms: samples_to_ms(self.queue.len() as u64),
        };
        self.reset();
        stop
    }

    /// Whether no utterance is in progress.
    pub fn is_idle(&self) -> bool {
        self.anchor.is_none()
    }

    /// Audio waiting to be released, in milliseconds.
    pub fn queued_ms(&self) -> u64 {
        samples_to_ms(self.queue.len() as u64)
    }

    /// Frames released after their play time since the pacer was made.
    pub fn late_frames(&self) -> u64 {
        self.late_frames
    }

    fn reset(&mut self) {
        // An idle voice holds no audio memory (a long line may have grown the queue).
        self.queue = VecDeque::new();
        self.anchor = None;
        self.next_seq = 0;
        self.released_samples = 0;
        self.finishing = false;
        self.overflowed = false;
    }
}

fn samples_to_ms(samples: u64) -> u64 {
    samples * 1000 / u64::from(SAMPLE_RATE)
}

fn samples_to_duration(samples: u64) -> Duration {
    Duration::from_micros(samples * 1_000_000 / u64::from(SAMPLE_RATE))
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;
    use tokio::time::{sleep, timeout};

    use super::*;

    fn ms_since(start: Instant) -> u64 {
        u64::try_from(Instant::now().duration_since(start).as_millis()).unwrap_or(u64::MAX)
    }

    /// Samples numbered 1.. so every frame's content shows which part of the stream it carries.
    fn numbered(n: usize) -> Vec<i16> {
        (0..n).map(|i| (i % 30_000) as i16 + 1).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn frames_leave_on_the_clock_with_the_lead_ahead_then_finish_when_played() {
        let start = Instant::now();
        let mut pacer = Pacer::new(PacerConfig::default());
        let audio = numbered(FRAME_SAMPLES * 25);
        pacer.push(&audio);
        pacer.finish();
        let mut released = Vec::new();
        loop {
            match pacer.next().await {
                PacerEvent::Frame(paced) => {
                    assert!(!paced.late);
                    assert_eq!(paced.due, start + FRAME * paced.seq as u32);
                    let n = paced.seq as usize;
                    assert_eq!(
                        &paced.frame.samples()[..],
                        &audio[n * FRAME_SAMPLES..(n + 1) * FRAME_SAMPLES]
                    );
                    released.push((paced.seq, ms_since(start)));
                }
                PacerEvent::Finished { played_ms } => {
                    assert_eq!(played_ms, 500);
                    assert_eq!(ms_since(start), 500);
                    break;
                }
            }
        }
        // Frames leave in pairs: frame n with the first of its pair, 100 ms before that one plays.
        let expected: Vec<(u64, u64)> = (0..25u64)
            .map(|n| (n, ((n - n % 2) * 20).saturating_sub(100)))
            .collect();
        assert_eq!(released, expected);
        assert_eq!(pacer.late_frames(), 0);
        assert!(pacer.is_idle());
    }

    #[tokio::test(start_paused = true)]
    async fn one_frame_per_wake_releases_each_frame_at_its_own_time() {
        let start = Instant::now();
        let mut pacer = Pacer::new(PacerConfig {
            frames_per_wake: 1,
            ..PacerConfig::default()
        });
        pacer.push(&numbered(FRAME_SAMPLES * 8));
        let mut released = Vec::new();
        for _ in 0..8 {
            let PacerEvent::Frame(paced) = pacer.next().await else {
                panic!("frames");
            };
            released.push((paced.seq, ms_since(start)));
        }
        let expected: Vec<(u64, u64)> = (0..8u64)
            .map(|n| (n, (n * 20).saturating_sub(100)))
            .collect();
        assert_eq!(released, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn barge_in_stops_ai_audio_within_one_frame_and_reports_what_was_played() {
        let start = Instant::now();
        let mut pacer = Pacer::new(PacerConfig::default());
        pacer.push(&numbered(SAMPLE_RATE as usize));
        let (barge_in, mut barge_ins) = mpsc::channel::<()>(1);
        tokio::spawn(async move {
            sleep(Duration::from_millis(105)).await;
            let _ = barge_in.send(()).await;
        });
        let mut frames_sent = 0u64;
        let stop = loop {
            tokio::select! {
                event = pacer.next() => {
                    assert!(matches!(event, PacerEvent::Frame(_)));
                    frames_sent += 1;
                }
                Some(()) = barge_ins.recv() => break pacer.stop(),
            }
        };
        assert_eq!(ms_since(start), 105);
        // Frames 0..=11 left by 100 ms (the pair 2k, 2k + 1 at 2k * 20 - 100 ms); the pair 12, 13
        // was due out at 140 ms.
        assert_eq!(frames_sent, 12);
        assert_eq!(
            stop,
            PacerStop {
                released_ms: 240,
                played_ms: 105,
                dropped_ms: 760
            }
        );
        assert!(pacer.is_idle());
        assert_eq!(pacer.queued_ms(), 0);
        // Nothing of the stopped utterance ever comes out.
        assert!(timeout(Duration::from_secs(5), pacer.next()).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_keeps_frames_back_until_lifted_and_then_the_backlog_leaves_at_once() {
        let start = Instant::now();
        let mut pacer = Pacer::new(PacerConfig::default());
        pacer.push(&numbered(FRAME_SAMPLES * 20));
        // Frames 0..=5 leave by 0 ms (100 ms lead); a possible barge-in at 5 ms holds the rest.
        for _ in 0..6 {
            assert!(matches!(pacer.next().await, PacerEvent::Frame(_)));
        }
        sleep(Duration::from_millis(5)).await;
        pacer.hold(Some(start + Duration::from_millis(500)));
        assert!(
            timeout(Duration::from_millis(30), pacer.next())
                .await
                .is_err(),
            "frame 6 (release at 20 ms) waits while held"
        );
        // False alarm at 35 ms: lifted, frames 6 and 7 (their pair's release at 20 ms) leave at
        // once, the next pair at 60 ms.
        pacer.hold(None);
        let mut out = Vec::new();
        while out.len() < 3 {
            let PacerEvent::Frame(paced) = pacer.next().await else {
                panic!("frames");
            };
            out.push((paced.seq, paced.late, ms_since(start)));
        }
        assert_eq!(out, vec![(6, false, 35), (7, false, 35), (8, false, 60)]);
        assert_eq!(pacer.late_frames(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_that_is_never_lifted_still_lets_each_frame_out_before_its_play_time() {
        let start = Instant::now();
        let mut pacer = Pacer::new(PacerConfig::default());
        pacer.push(&numbered(FRAME_SAMPLES * 10));
        pacer.hold(Some(start + Duration::from_secs(3_600)));
        let mut out = Vec::new();
        for _ in 0..3 {
            let PacerEvent::Frame(paced) = pacer.next().await else {
                panic!("frames");
            };
            out.push((paced.seq, paced.late, ms_since(start)));
        }
        // Frame n plays at n * 20 ms and leaves 10 ms before (frame 0 at once: it plays now).
        assert_eq!(out, vec![(0, false, 0), (1, false, 10), (2, false, 30)]);
        assert_eq!(pacer.late_frames(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tts_stall_counts_late_frames_once_and_restarts_the_schedule() {
        let start = Instant::now();
        let mut pacer = Pacer::new(PacerConfig::default());
        pacer.push(&numbered(FRAME_SAMPLES * 2));
        for _ in 0..2 {
            assert!(matches!(
                pacer.next().await,
                PacerEvent::Frame(PacedFrame { late: false, .. })
            ));
        }
        // The queue is empty and the utterance not finished: the pacer waits, releasing nothing.
        assert!(
            timeout(Duration::from_millis(100), pacer.next())
                .await
                .is_err()
        );
        assert_eq!(ms_since(start), 100);
        pacer.push(&numbered(FRAME_SAMPLES * 3));
        pacer.finish();
        let mut late = Vec::new();
        let played_ms = loop {
            match pacer.next().await {
                PacerEvent::Frame(paced) => late.push((paced.seq, paced.late, ms_since(start))),
                PacerEvent::Finished { played_ms } => break played_ms,
            }
        };
        // Frame 2 was due at 40 ms and left at 100 ms; the rest follow the new schedule.
        assert_eq!(late, vec![(2, true, 100), (3, false, 100), (4, false, 100)]);
        assert_eq!(pacer.late_frames(), 1);
        assert_eq!(played_ms, 100);
        assert_eq!(ms_since(start), 160);
    }

    #[tokio::test(start_paused = true)]
    async fn the_tail_of_an_utterance_is_padded_and_the_next_utterance_starts_a_new_clock() {
        let mut pacer = Pacer::new(PacerConfig {
            lead: Duration::ZERO,
            frames_per_wake: 1,
        });
        pacer.push(&numbered(1_000));
        pacer.finish();
        let PacerEvent::Frame(first) = pacer.next().await else {
            panic!("a frame first");
        };
        assert_eq!(first.seq, 0);
        let PacerEvent::Frame(tail) = pacer.next().await else {
            panic!("then the padded tail");
        };
        assert_eq!(&tail.frame.samples()[..40], &numbered(1_000)[960..]);
        assert!(tail.frame.samples()[40..].iter().all(|&s| s == 0));
        assert_eq!(pacer.next().await, PacerEvent::Finished { played_ms: 20 });

        sleep(Duration::from_secs(3)).await;
        let second_start = Instant::now();
        pacer.push(&numbered(FRAME_SAMPLES));
        let PacerEvent::Frame(again) = pacer.next().await else {
            panic!("a frame of the second utterance");
        };
        assert_eq!((again.seq, again.late, again.due), (0, false, second_start));
    }

    #[tokio::test(start_paused = true)]
    async fn a_tts_pushing_without_end_is_held_to_the_queue_bound() {
        let mut pacer = Pacer::new(PacerConfig::default());
        let minute = vec![1i16; SAMPLE_RATE as usize * 60];
        for _ in 0..4 {
            pacer.push(&minute);
        }
        assert_eq!(pacer.queued_ms(), MAX_QUEUED_MS);
        assert_eq!(pacer.dropped_samples(), SAMPLE_RATE as u64 * 60);
        // Once a frame has played there is room for one frame more, and no more.
        assert!(matches!(pacer.next().await, PacerEvent::Frame(_)));
        pacer.push(&minute[..FRAME_SAMPLES * 2]);
        assert_eq!(pacer.queued_ms(), MAX_QUEUED_MS);
        // A stop empties it; the next utterance has the whole room again.
        pacer.stop();
        pacer.push(&minute);
        assert_eq!(pacer.queued_ms(), 60_000);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_voice_holds_no_audio_memory_and_a_line_grows_it_in_steps() {
        let mut pacer = Pacer::new(PacerConfig::default());
        assert_eq!(pacer.queue.capacity(), 0, "a new pacer holds nothing");
        // A TTS chunk of 100 ms reserves one step (0.5 s), not the chunk doubled again and again.
        pacer.push(&numbered(4_800));
        assert!(pacer.queue.capacity() >= GROW_SAMPLES);
        assert!(pacer.queue.capacity() < 2 * GROW_SAMPLES);
        // 1.6 s queued (the studio keeps TTS about 1.5 s ahead): four steps, not 2^n.
        for _ in 1..16 {
            pacer.push(&numbered(4_800));
        }
        assert!(pacer.queue.capacity() <= 2 * SAMPLE_RATE as usize);
        pacer.stop();
        assert_eq!(
            pacer.queue.capacity(),
            0,
            "a stopped line gives its memory back"
        );
        pacer.push(&numbered(FRAME_SAMPLES));
        pacer.finish();
        while !matches!(pacer.next().await, PacerEvent::Finished { .. }) {}
        assert_eq!(
            pacer.queue.capacity(),
            0,
            "a finished line gives its memory back"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_an_idle_pacer_reports_nothing() {
        let mut pacer = Pacer::new(PacerConfig::default());
        assert_eq!(pacer.stop(), PacerStop::default());
        pacer.finish();
        assert!(pacer.is_idle());
    }
}
