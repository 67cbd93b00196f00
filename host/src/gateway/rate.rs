//! Per-client limits of the gateway: token buckets for `hello` and control events, and a budget
//! in media seconds for microphone audio, so one client can neither keep the server busy with
//! events nor feed a studio (and its paid STT) faster than real time. Over a limit the event is
//! dropped before it reaches a studio, and the client is told without amplification: one
//! `rate-limited` error a second at most, one `audio-too-fast` per studio join.
//!
//! The bucket is our own (a dozen lines, GCRA form) rather than the `governor` crate: one type
//! serves whole events and fractional media time alike, it takes the time as an argument so its
//! tests count exactly without sleeping, it is 24 bytes per client, and it brings no dependency
//! tree with a clock of its own.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use audiopus::SampleRate;
use audiopus::packet::{Packet, nb_samples};

use super::protocol::{AudioEncoding, InputFormat};
use crate::config::{ClientLimits, EventRate};

/// How often at most a client hears `rate-limited`: telling it about every dropped event would
/// answer a flood with a flood.
pub const NOTICE_INTERVAL: Duration = Duration::from_secs(1);
/// Media a client may send ahead of its rate at once: network jitter, a paused tab or a
/// reconnect deliver buffered audio in a burst, and a stall of the server's own receive loop
/// looks the same; 2 s keeps a 2x burst for a second (and such stalls) whole.
pub const MIC_BURST: Duration = Duration::from_secs(2);
/// What an Opus packet whose duration cannot be read costs: the longest packet (120 ms), so
/// garbage cannot pass for free.
pub const UNREADABLE_OPUS_COST: Duration = Duration::from_millis(120);

/// A token bucket in the GCRA form: instead of a token count it keeps the time at which it will
/// be full again, so refilling needs no timer and no rounding. Spending `cost` moves that time
/// later; a spend that would move it more than `tolerance` (the burst) past now is refused.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tolerance: Duration,
    full_at: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket that holds `tolerance` of refill time.
    pub fn new(tolerance: Duration) -> Self {
        Self {
            tolerance,
            full_at: None,
        }
    }

    /// Spends `cost` (the refill time it takes) if the bucket holds it at `now`.
    pub fn try_spend(&mut self, cost: Duration, now: Instant) -> bool {
        let from = self.full_at.map_or(now, |t| t.max(now));
        let Some(until) = from.checked_add(cost) else {
            return false;
        };
        if until.saturating_duration_since(now) > self.tolerance {
            return false;
        }
        self.full_at = Some(until);
        true
    }
}

/// Events at a steady rate with a burst: each costs `1 / rate` of refill time.
#[derive(Debug, Clone)]
struct EventBucket {
    bucket: TokenBucket,
    cost: Duration,
}

impl EventBucket {
    fn new(rate: EventRate) -> Self {
        let cost = Duration::from_secs_f64(1.0 / rate.per_second);
        Self {
            bucket: TokenBucket::new(cost.saturating_mul(rate.burst)),
            cost,
        }
    }

    fn try_take(&mut self, now: Instant) -> bool {
        self.bucket.try_spend(self.cost, now)
    }
}

/// Microphone audio as media time: refilled at `factor` media seconds per wall second, with
/// [`MIC_BURST`] of media ahead.
#[derive(Debug, Clone)]
pub struct MediaBudget {
    bucket: TokenBucket,
    /// The factor in millionths, so a 20 ms chunk at 1.25x costs exactly 16 ms of wall time.
    factor_ppm: u128,
}

impl MediaBudget {
    /// A full budget for audio at most `factor` times real time.
    pub fn new(factor: f64) -> Self {
        let factor_ppm = ((factor * 1e6).round() as u128).max(1);
        let mut budget = Self {
            bucket: TokenBucket::new(Duration::ZERO),
            factor_ppm,
        };
        budget.bucket.tolerance = budget.wall_time(MIC_BURST);
        budget
    }

    /// Spends `media` of audio if the budget holds it at `now`.
    pub fn try_spend(&mut self, media: Duration, now: Instant) -> bool {
        let cost = self.wall_time(media);
        self.bucket.try_spend(cost, now)
    }

    /// Wall time `media` takes at the allowed factor.
    fn wall_time(&self, media: Duration) -> Duration {
        let nanos = media.as_nanos().saturating_mul(1_000_000) / self.factor_ppm;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// How long `chunk` plays in the client's declared format: PCM from its length, Opus from its
/// table of contents (RFC 6716 section 3.1, read by libopus, which is fuzzed upstream).
pub fn media_duration(chunk: &[u8], format: &InputFormat) -> Duration {
    match format.encoding {
        AudioEncoding::PcmS16le => {
            let frame = 2 * u128::from(format.channels.max(1));
            let frames = chunk.len() as u128 / frame;
            let rate = u128::from(format.sample_rate.max(1));
            Duration::from_nanos(u64::try_from(frames * 1_000_000_000 / rate).unwrap_or(u64::MAX))
        }
        AudioEncoding::Opus => Packet::try_from(chunk)
            .and_then(|p| nb_samples(p, SampleRate::Hz48000))
            .ok()
            // A code-3 packet may claim zero frames; it would otherwise pass for free.
            .filter(|samples| *samples > 0)
            .map_or(UNREADABLE_OPUS_COST, |samples| {
                Duration::from_nanos(samples as u64 * 1_000_000 / 48)
            }),
    }
}

/// The address a per-address limit counts under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its
/// /64, since one subscriber usually holds a whole /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// What to do with a client's event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Within the limit: handle it.
    Admit,
    /// Over the limit: drop it silently (the client was told recently).
    Drop,
    /// Over the limit: drop it and send the client this `error` message (its code is the
    /// limit's: `rate-limited` or `audio-too-fast`).
    DropAndTell(String),
}

/// Kinds of rate-limited events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `hello`.
    Hello,
    /// `client.toggle-autopilot`, `client.request-state`, `client.end-session`, unknown events.
    Control,
}

/// One client's limits and what it has spent: one per Socket.IO connection. The lock is only
/// ever taken by that connection's receive loop, so it is never contended.
#[derive(Debug)]
pub struct ClientGate {
    limits: ClientLimits,
    state: Mutex<GateState>,
}

#[derive(Debug)]
struct GateState {
    hello: EventBucket,
    control: EventBucket,
    microphone: MediaBudget,
    /// Events dropped since the client was last told, by kind.
    dropped_hello: u64,
    dropped_control: u64,
    last_notice: Option<Instant>,
    /// Whether the client heard `audio-too-fast` since it last joined a studio.
    audio_told: bool,
    /// Audio dropped since it last joined a studio.
    audio_dropped: Duration,
}

impl ClientGate {
    /// A client with full buckets.
    pub fn new(limits: &ClientLimits) -> Self {
        Self {
            limits: *limits,
            state: Mutex::new(GateState {
                hello: EventBucket::new(limits.hello_rate),
                control: EventBucket::new(limits.control_event_rate),
                microphone: MediaBudget::new(limits.mic_realtime_factor),
                dropped_hello: 0,
                dropped_control: 0,
                last_notice: None,
                audio_told: false,
                audio_dropped: Duration::ZERO,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an event of `kind` arriving at `now` may be handled.
    pub fn event(&self, kind: EventKind, now: Instant) -> Admission {
        let mut state = self.state();
        let admitted = match kind {
            EventKind::Hello => state.hello.try_take(now),
            EventKind::Control => state.control.try_take(now),
        };
        if admitted {
            return Admission::Admit;
        }
        match kind {
            EventKind::Hello => state.dropped_hello += 1,
            EventKind::Control => state.dropped_control += 1,
        }
        if state
            .last_notice
            .is_some_and(|t| now.saturating_duration_since(t) < NOTICE_INTERVAL)
        {
            return Admission::Drop;
        }
        state.last_notice = Some(now);
        let mut rules = Vec::new();
        for (dropped, what, rate, variable) in [
            (
                state.dropped_hello,
                "hello",
                self.limits.hello_rate,
                "HELLO_RATE",
            ),
            (
                state.dropped_control,
                "control events",
                self.limits.control_event_rate,
                "CONTROL_EVENT_RATE",
            ),
        ] {
            if dropped > 0 {
                rules.push(format!(
                    "{what}: {dropped} dropped (at most {} per second, bursts of {}, {variable})",
                    rate.per_second, rate.burst
                ));
            }
        }
        state.dropped_hello = 0;
        state.dropped_control = 0;
        Admission::DropAndTell(format!(
            "too many events: {}; slow down (this notice comes at most once a second)",
            rules.join("; ")
        ))
    }

    /// Whether a microphone chunk of `media` arriving at `now` may go to the studio.
    pub fn audio(&self, media: Duration, now: Instant) -> Admission {
        let mut state = self.state();
        if state.microphone.try_spend(media, now) {
            return Admission::Admit;
        }
        state.audio_dropped = state.audio_dropped.saturating_add(media);
        if state.audio_told {
            return Admission::Drop;
        }
        state.audio_told = true;
        Admission::DropAndTell(format!(
            "microphone audio arrives faster than {}x real time (MIC_REALTIME_FACTOR, with {} s of burst); the excess is dropped. Send audio as it is captured (this notice comes once per studio join)",
            self.limits.mic_realtime_factor,
            MIC_BURST.as_secs()
        ))
    }

    /// The client joined a studio: it will be told about too-fast audio there once more. The
    /// budget itself carries over, so saying hello again does not refill it.
    pub fn joined(&self) -> Duration {
        let mut state = self.state();
        state.audio_told = false;
        std::mem::take(&mut state.audio_dropped)
    }

    /// Audio dropped since the client last joined a studio.
    pub fn audio_dropped(&self) -> Duration {
        self.state().audio_dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn limits() -> ClientLimits {
        ClientLimits::default()
    }

    fn admitted(gate: &ClientGate, kind: EventKind, n: usize, now: Instant) -> usize {
        (0..n)
            .filter(|_| gate.event(kind, now) == Admission::Admit)
            .count()
    }

    #[test]
    fn a_bucket_gives_its_burst_at_once_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut bucket = EventBucket::new(EventRate {
            per_second: 2.0,
            burst: 5,
        });
        let first: usize = (0..10).filter(|_| bucket.try_take(t0)).count();
        assert_eq!(first, 5, "the burst");
        // 2 per second: one every 500 ms.
        assert!(!bucket.try_take(t0 + 499 * MS));
        assert!(bucket.try_take(t0 + 500 * MS));
        assert!(!bucket.try_take(t0 + 500 * MS));
        let later: usize = (0..10).filter(|_| bucket.try_take(t0 + 2500 * MS)).count();
        assert_eq!(later, 4, "four more in two more seconds");
        // A long quiet spell refills to the burst, not beyond.
        let rested = t0 + Duration::from_secs(3600);
        let after_rest: usize = (0..10).filter(|_| bucket.try_take(rested)).count();
        assert_eq!(after_rest, 5);
    }

    #[test]
    fn a_refused_spend_costs_nothing() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(Duration::from_secs(1));
        assert!(bucket.try_spend(Duration::from_millis(800), t0));
        assert!(!bucket.try_spend(Duration::from_millis(300), t0));
        assert!(bucket.try_spend(Duration::from_millis(200), t0));
        assert!(!bucket.try_spend(Duration::from_nanos(1), t0));
    }

    #[test]
    fn a_control_storm_is_dropped_and_told_once_a_second_with_the_count() {
        let gate = ClientGate::new(&limits());
        let t0 = Instant::now();
        let verdicts: Vec<Admission> = (0..40)
            .map(|_| gate.event(EventKind::Control, t0))
            .collect();
        let passed = verdicts.iter().filter(|v| **v == Admission::Admit).count();
        let told: Vec<&String> = verdicts
            .iter()
            .filter_map(|v| match v {
                Admission::DropAndTell(m) => Some(m),
                _ => None,
            })
            .collect();
        assert_eq!(passed, 20, "the burst of CONTROL_EVENT_RATE");
        assert_eq!(told.len(), 1, "one notice for 20 drops");
        assert!(told[0].contains("control events: 1 dropped"), "{}", told[0]);
        assert!(told[0].contains("CONTROL_EVENT_RATE"), "{}", told[0]);
        // 999 ms refill 9 events (10 per second); the 10th is dropped silently, within the
        // second since the notice; at 1000 ms the 10th is there, and the notice after it
        // counts every drop since the first notice: 19 in the storm and these two.
        assert_eq!(admitted(&gate, EventKind::Control, 9, t0 + 999 * MS), 9);
        assert_eq!(
            gate.event(EventKind::Control, t0 + 999 * MS),
            Admission::Drop
        );
        assert_eq!(
            gate.event(EventKind::Control, t0 + 1000 * MS),
            Admission::Admit
        );
        match gate.event(EventKind::Control, t0 + 1000 * MS) {
            Admission::DropAndTell(m) => {
                assert!(m.contains("control events: 21 dropped"), "{m}")
            }
            other => panic!("expected a notice, got {other:?}"),
        }
    }

    #[test]
    fn hello_and_control_events_have_separate_buckets_and_one_notice_clock() {
        let gate = ClientGate::new(&limits());
        let t0 = Instant::now();
        assert_eq!(admitted(&gate, EventKind::Hello, 8, t0), 5);
        assert_eq!(admitted(&gate, EventKind::Control, 20, t0), 20);
        assert_eq!(gate.event(EventKind::Control, t0), Admission::Drop);
        match gate.event(EventKind::Hello, t0 + 1500 * MS) {
            Admission::DropAndTell(m) => {
                assert!(m.contains("HELLO_RATE"), "{m}");
                assert!(m.contains("CONTROL_EVENT_RATE"), "{m}");
            }
            // 2 per second: three refilled by 1.5 s.
            Admission::Admit => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    /// 20 ms of 48 kHz mono s16le.
    const FRAME: usize = 1920;

    #[test]
    fn real_time_audio_and_a_two_x_burst_for_a_second_pass_untouched() {
        let gate = ClientGate::new(&limits());
        let pcm = InputFormat::default();
        let frame = media_duration(&[0; FRAME], &pcm);
        assert_eq!(frame, 20 * MS);
        let t0 = Instant::now();
        // Ten minutes of real time: 50 chunks a second, on the dot.
        for i in 0..30_000u32 {
            assert_eq!(
                gate.audio(frame, t0 + frame * i),
                Admission::Admit,
                "chunk {i}"
            );
        }
        // Then a second at twice real time (a reconnect flushing its buffer).
        let t1 = t0 + frame * 30_000;
        for i in 0..100u32 {
            assert_eq!(
                gate.audio(frame, t1 + 10 * MS * i),
                Admission::Admit,
                "burst chunk {i}"
            );
        }
        assert_eq!(gate.audio_dropped(), Duration::ZERO);
    }

    #[test]
    fn audio_at_ten_times_real_time_gets_the_factor_plus_the_burst_and_one_notice() {
        let gate = ClientGate::new(&limits());
        let frame = 20 * MS;
        let t0 = Instant::now();
        // Two seconds at 10x: a 20 ms chunk every 2 ms, 1000 chunks (20 s of media).
        let verdicts: Vec<Admission> = (0..1000u32)
            .map(|i| gate.audio(frame, t0 + 2 * MS * i))
            .collect();
        let passed = verdicts.iter().filter(|v| **v == Admission::Admit).count() as u32;
        // A chunk costs 16 ms of wall time (20 ms / 1.25) and the burst is 1600 ms (2 s / 1.25):
        // by the last chunk, at 1998 ms, 16 n <= 1600 + 1998 admits n = 224 chunks (4.48 s).
        assert_eq!(passed, 224);
        let notices = verdicts
            .iter()
            .filter(|v| matches!(v, Admission::DropAndTell(_)))
            .count();
        assert_eq!(notices, 1);
        assert_eq!(gate.audio_dropped(), frame * (1000 - passed));
        // A new studio join tells again; the budget itself is not refilled by it.
        assert_eq!(gate.joined(), frame * (1000 - passed));
        assert!(
            matches!(gate.audio(frame, t0 + 1999 * MS), Admission::DropAndTell(m) if m.contains("1.25x"))
        );
        assert_eq!(gate.audio(frame, t0 + 1999 * MS), Admission::Drop);
        assert_eq!(gate.audio(frame, t0 + 2000 * MS), Admission::Admit);
    }

    #[test]
    fn media_time_is_read_from_pcm_length_and_opus_table_of_contents() {
        let stereo_16k = InputFormat {
            sample_rate: 16_000,
            channels: 2,
            ..InputFormat::default()
        };
        assert_eq!(media_duration(&[0; 640], &stereo_16k), 10 * MS);
        let opus = InputFormat {
            encoding: AudioEncoding::Opus,
            ..InputFormat::default()
        };
        // TOC config 1 (SILK NB 20 ms), code 0: one 20 ms frame.
        assert_eq!(media_duration(&[1 << 3, 0, 0], &opus), 20 * MS);
        // Config 16 (CELT 2.5 ms), code 3 with 48 frames: 120 ms.
        assert_eq!(media_duration(&[(16 << 3) | 3, 48, 0], &opus), 120 * MS);
        // Code 3 with 49 frames of 2.5 ms is over 120 ms: unreadable, charged the maximum.
        assert_eq!(
            media_duration(&[(16 << 3) | 3, 49], &opus),
            UNREADABLE_OPUS_COST
        );
        // Code 3 without its frame count byte.
        assert_eq!(
            media_duration(&[(16 << 3) | 3], &opus),
            UNREADABLE_OPUS_COST
        );
        assert_eq!(media_duration(&[], &opus), UNREADABLE_OPUS_COST);
    }

    #[test]
    fn arbitrary_opus_bytes_never_panic_and_cost_at_most_the_longest_packet() {
        let opus = InputFormat {
            encoding: AudioEncoding::Opus,
            ..InputFormat::default()
        };
        for toc in 0..=255u8 {
            for second in [0u8, 1, 2, 3, 47, 48, 63, 64, 128, 255] {
                let d = media_duration(&[toc, second, 0, 0], &opus);
                assert!(
                    d > Duration::ZERO && d <= UNREADABLE_OPUS_COST,
                    "{toc} {second}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn ipv6_clients_count_by_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().expect("ip");
        assert_eq!(
            address_key(mapped),
            "127.0.0.2".parse::<IpAddr>().expect("ip")
        );
    }
}
