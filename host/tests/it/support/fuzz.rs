//! Structured random and mutation fuzzing of every decoder at the gateway, shared by the bench
//! `gateway_fuzz` (1,000,000+ inputs) and the test `gateway_fuzz` (a fast slice for CI).
//!
//! Each decoder runs the server's own code on each input inside `catch_unwind`, so a panic is
//! counted (with the seed and input index that reproduce it) instead of ending the run. Some
//! decoders also check a property of their answer (a range lies inside the file, a valid episode
//! id makes a folder name the recordings route serves, a mutated token never verifies); a broken
//! property counts as a violation.

use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::{Value, json};
use socketioxide_core::Str;
use socketioxide_core::packet::{Packet, PacketData};
use socketioxide_core::parser::{Parse, ParseConfig, ParserState};
use socketioxide_parser_common::CommonParser;
use voice_studio::audio::{InputDecoder, InputEncoding};
use voice_studio::config::AccessMode;
use voice_studio::gateway::access::{Access, Role};
use voice_studio::gateway::decoders::{
    ApiKeyField, BinaryPayload, Hello, InputFormat, RuntimeConfigUpdate, byte_range,
    check_audio_chunk, check_hello, is_recording_folder_name, is_valid_episode_id, parse_json,
};
use voice_studio::gateway::protocol::AudioEncoding;

/// The seed every run starts from unless `GATEWAY_FUZZ_SEED` says otherwise; printed with the table.
pub const DEFAULT_SEED: u64 = 0x5afe_2026_0011_f00d;

/// A small seeded xorshift64* generator: the same seed gives the same inputs on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (zero is mapped to a fixed non-zero state).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A length biased toward small values and the edges that matter (`limits`).
    pub fn length(&mut self, max: usize, limits: &[usize]) -> usize {
        match self.below(10) {
            0..=4 => self.below(16.min(max + 1)),
            5..=6 if !limits.is_empty() => {
                let l = *self.pick(limits);
                let delta = self.below(3);
                (l + delta).saturating_sub(1).min(max)
            }
            _ => self.below(max + 1),
        }
    }

    /// Random bytes of a [`Rng::length`].
    pub fn blob(&mut self, max: usize, limits: &[usize]) -> Vec<u8> {
        let len = self.length(max, limits);
        self.bytes(len)
    }

    /// Random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let word = self.next_u64().to_le_bytes();
            let take = (len - out.len()).min(8);
            out.extend_from_slice(&word[..take]);
        }
        out
    }

    /// A string from the alphabets an attacker would try: safe ids, JSON and path syntax,
    /// control characters, wide and odd Unicode.
    pub fn text(&mut self, len: usize) -> String {
        const SAFE: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
        const SYNTAX: &[&str] = &[
            "\"", "\\", "/", "..", "{", "}", "[", "]", ",", ":", "%00", "%2e", "\\u0000",
            "\\ud800", " ", "\t", "\n", "\r", "=", "bytes=", "-", "*", "?", "#", "&",
        ];
        const ODD: &[char] = &[
            '\u{0}',
            '\u{7}',
            '\u{1b}',
            '\u{7f}',
            '\u{85}',
            '\u{a0}',
            '\u{200b}',
            '\u{202e}',
            '\u{feff}',
            '\u{fffd}',
            '\u{ffff}',
            '\u{1f600}',
            '\u{10ffff}',
            'é',
            'ß',
            '日',
            'Ω',
        ];
        let mut s = String::with_capacity(len);
        let style = self.below(4);
        while s.chars().count() < len {
            match (style, self.below(10)) {
                (0, _) | (_, 0..=5) => s.push(*self.pick(SAFE) as char),
                (1, _) | (_, 6..=7) => s.push_str(self.pick::<&str>(SYNTAX)),
                _ => s.push(*self.pick(ODD)),
            }
        }
        s
    }

    /// A random JSON value of at most `depth` levels.
    pub fn json(&mut self, depth: usize) -> Value {
        let kinds = if depth == 0 { 6 } else { 8 };
        match self.below(kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.chance(50)),
            2 => json!(self.next_u64() as i64),
            3 => json!(*self.pick(&[0.5, -1.0, 1e300, -0.0, 48000.0, f64::MIN_POSITIVE])),
            4 => json!(*self.pick(&[0, 1, 2, -1, 8000, 48000, 96000, u32::MAX as i64 + 1])),
            5 => {
                let len = self.length(40, &[100, 128, 129]);
                Value::String(self.text(len))
            }
            6 => {
                let n = self.below(4);
                Value::Array((0..n).map(|_| self.json(depth - 1)).collect())
            }
            _ => {
                let n = self.below(4);
                let mut map = serde_json::Map::new();
                for _ in 0..n {
                    let key_len = self.length(12, &[]);
                    map.insert(self.text(key_len), self.json(depth - 1));
                }
                Value::Object(map)
            }
        }
    }

    /// `seed` mutated a few times: flipped, inserted, deleted, duplicated or truncated bytes and
    /// JSON tokens that parsers trip on. The result is made UTF-8 (a WebSocket text frame is).
    pub fn mutate(&mut self, seed: &str) -> String {
        const TOKENS: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            "\"",
            ",",
            ":",
            "null",
            "true",
            "1e999",
            "-0",
            "99999999999999999999",
            "\\u0000",
            "\\ud800",
            "{\"_placeholder\":true,\"num\":0}",
            "[[[[[[[[",
            "\"\\",
        ];
        let mut bytes = seed.as_bytes().to_vec();
        for _ in 0..=self.below(4) {
            let at = if bytes.is_empty() {
                0
            } else {
                self.below(bytes.len() + 1)
            };
            match self.below(6) {
                0 if at < bytes.len() => bytes[at] ^= 1 << self.below(8),
                1 => {
                    let token = self.pick(TOKENS).as_bytes().to_vec();
                    bytes.splice(at..at, token);
                }
                2 if at < bytes.len() => {
                    let end = (at + 1 + self.below(8)).min(bytes.len());
                    bytes.drain(at..end);
                }
                3 if at < bytes.len() => {
                    let end = (at + 1 + self.below(16)).min(bytes.len());
                    let copy = bytes[at..end].to_vec();
                    bytes.splice(at..at, copy);
                }
                4 => bytes.truncate(at),
                _ => {
                    let b = (self.next_u64() & 0x7f) as u8;
                    bytes.insert(at, b);
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// How one input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server would act on it.
    Accepted,
    /// The server would refuse it with an error (or ignore it).
    Refused,
    /// The answer broke a property the decoder promises (the message says which).
    Violation(&'static str),
}

/// The counts of one decoder's run.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// The decoder's name in the table.
    pub decoder: &'static str,
    /// Inputs tried.
    pub inputs: u64,
    /// Inputs the server would act on.
    pub accepted: u64,
    /// Inputs refused (error event, 400, 416, parse error).
    pub refused: u64,
    /// Inputs that panicked.
    pub panics: u64,
    /// Inputs whose answer broke the decoder's property.
    pub violations: u64,
    /// Time spent in the decoder (generation excluded).
    pub decoding: Duration,
    /// The first failure, with what reproduces it.
    pub first_failure: Option<String>,
}

impl Tally {
    /// Mean decoding time per input, in nanoseconds.
    pub fn ns_per_input(&self) -> u64 {
        if self.inputs == 0 {
            return 0;
        }
        (self.decoding.as_nanos() / u128::from(self.inputs)) as u64
    }
}

/// Runs `decode` on `inputs` inputs made by `generate`, each under `catch_unwind`.
fn fuzz<I: Debug>(
    decoder: &'static str,
    seed: u64,
    inputs: u64,
    mut generate: impl FnMut(&mut Rng) -> I,
    decode: impl Fn(&I) -> Outcome,
) -> Tally {
    let mut rng = Rng::new(seed ^ fnv(decoder));
    let mut tally = Tally {
        decoder,
        ..Tally::default()
    };
    for index in 0..inputs {
        let input = generate(&mut rng);
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| decode(&input)));
        tally.decoding += started.elapsed();
        tally.inputs += 1;
        let failure = match outcome {
            Ok(Outcome::Accepted) => {
                tally.accepted += 1;
                None
            }
            Ok(Outcome::Refused) => {
                tally.refused += 1;
                None
            }
            Ok(Outcome::Violation(rule)) => {
                tally.violations += 1;
                Some(format!("violation ({rule})"))
            }
            Err(panic) => {
                tally.panics += 1;
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                Some(format!("panic `{message}`"))
            }
        };
        if let Some(failure) = failure
            && tally.first_failure.is_none()
        {
            let mut shown = format!("{input:?}");
            if shown.len() > 400 {
                let cut = (0..=400)
                    .rev()
                    .find(|i| shown.is_char_boundary(*i))
                    .unwrap_or(0);
                shown.truncate(cut);
                shown.push_str("...");
            }
            tally.first_failure = Some(format!(
                "{decoder}: {failure} at input #{index} (seed {seed:#x}): {shown}"
            ));
        }
    }
    tally
}

fn fnv(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How many inputs each decoder gets out of a total budget, in table order.
const SHARES: &[(&str, u64)] = &[
    ("hello", 26),
    ("audio.chunk", 22),
    ("audio decode (studio)", 8),
    ("control events", 14),
    ("settings: api keys", 7),
    ("settings: runtime", 7),
    ("range header", 7),
    ("episode id / folder", 5),
    ("token", 4),
];

/// Runs every decoder with about `total` inputs in all, from `seed`.
pub fn run_all(seed: u64, total: u64) -> Vec<Tally> {
    // Panics are counted, not printed: silence the default hook while fuzzing.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let sum: u64 = SHARES.iter().map(|(_, s)| s).sum();
    let share = |name: &str| {
        let s = SHARES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, s)| *s);
        (total * s).div_ceil(sum)
    };
    let world = World::new();
    let tallies = vec![
        fuzz(
            "hello",
            seed,
            share("hello"),
            |r| world.hello_packet(r),
            |p| world.dispatch(p),
        ),
        fuzz(
            "audio.chunk",
            seed,
            share("audio.chunk"),
            |r| world.audio_packet(r),
            |p| world.dispatch(p),
        ),
        fuzz(
            "audio decode (studio)",
            seed,
            share("audio decode (studio)"),
            studio_audio_input,
            decode_studio_audio,
        ),
        fuzz(
            "control events",
            seed,
            share("control events"),
            |r| world.control_packet(r),
            |p| world.dispatch(p),
        ),
        fuzz(
            "settings: api keys",
            seed,
            share("settings: api keys"),
            api_keys_body,
            |body| {
                outcome(
                    parse_json(body)
                        .and_then(|v| ApiKeyField::parse_payload(&v))
                        .is_ok(),
                )
            },
        ),
        fuzz(
            "settings: runtime",
            seed,
            share("settings: runtime"),
            runtime_body,
            |body| {
                outcome(
                    parse_json(body)
                        .and_then(|v| RuntimeConfigUpdate::from_json(&v))
                        .is_ok(),
                )
            },
        ),
        fuzz(
            "range header",
            seed,
            share("range header"),
            range_input,
            decode_range,
        ),
        fuzz(
            "episode id / folder",
            seed,
            share("episode id / folder"),
            episode_id_input,
            |id| decode_episode_id(id),
        ),
        fuzz(
            "token",
            seed,
            share("token"),
            |r| world.token_input(r),
            |t| world.decode_token(t),
        ),
    ];
    std::panic::set_hook(previous);
    tallies
}

/// The table the bench prints (and the test prints on failure).
pub fn table(seed: u64, tallies: &[Tally], wall: Duration) -> String {
    let mut out = format!(
        "gateway fuzz, seed {seed:#x} (set GATEWAY_FUZZ_SEED to change)\n{:<24} {:>10} {:>10} {:>10} {:>7} {:>10} {:>9}\n",
        "decoder", "inputs", "accepted", "refused", "panics", "violations", "ns/input"
    );
    for t in tallies {
        out.push_str(&format!(
            "{:<24} {:>10} {:>10} {:>10} {:>7} {:>10} {:>9}\n",
            t.decoder,
            t.inputs,
            t.accepted,
            t.refused,
            t.panics,
            t.violations,
            t.ns_per_input()
        ));
    }
    let inputs: u64 = tallies.iter().map(|t| t.inputs).sum();
    let panics: u64 = tallies.iter().map(|t| t.panics).sum();
    let violations: u64 = tallies.iter().map(|t| t.violations).sum();
    out.push_str(&format!(
        "{:<24} {:>10} {:>10} {:>10} {:>7} {:>10}   wall {:.1} s\n",
        "total",
        inputs,
        tallies.iter().map(|t| t.accepted).sum::<u64>(),
        tallies.iter().map(|t| t.refused).sum::<u64>(),
        panics,
        violations,
        wall.as_secs_f64()
    ));
    for failure in tallies.iter().filter_map(|t| t.first_failure.as_deref()) {
        out.push_str(&format!("FIRST FAILURE {failure}\n"));
    }
    out
}

fn outcome(accepted: bool) -> Outcome {
    if accepted {
        Outcome::Accepted
    } else {
        Outcome::Refused
    }
}

/// A Socket.IO packet as it arrives: a text frame and the binary frames after it.
#[derive(Debug, Clone)]
pub struct RawPacket {
    /// The text frame (the engine.io `4` message prefix already removed, as engineioxide does).
    pub text: String,
    /// Binary attachments that follow.
    pub binaries: Vec<Vec<u8>>,
    /// The input format the client declared (the seat's), for `audio.chunk`.
    pub format: InputFormat,
    /// For control events: the decoded payload if it is a JSON boolean (what must be accepted).
    pub expect_bool: Option<bool>,
    /// Whether the server runs open access (else token access) for this input.
    pub open_access: bool,
}

/// What the decoders share: the token-mode access model and a few minted tokens.
pub struct World {
    access: Access,
    open: Access,
    valid_tokens: Vec<String>,
    foreign_tokens: Vec<String>,
    parse_config: ParseConfig,
}

const SECRET: &[u8] = b"fuzz-secret-fuzz-secret-fuzz-secret-0123";
const ALL_EVENTS: &[&str] = &[
    "hello",
    "audio.chunk",
    "client.toggle-autopilot",
    "client.request-state",
    "client.end-session",
];

impl World {
    fn new() -> Self {
        let ttl = Duration::from_secs(3600);
        let access = Access::with_key(AccessMode::Token, SECRET.to_vec(), ttl);
        let valid_tokens = vec![
            access.mint(Role::Host, Some("ep-1"), ttl),
            access.mint(Role::Viewer, Some("ep-2"), ttl),
            access.mint(Role::Admin, None, ttl),
        ];
        let other = Access::with_key(
            AccessMode::Token,
            b"another-secret-of-32-bytes-or-more!!".to_vec(),
            ttl,
        );
        let now = voice_studio::gateway::access::unix_now();
        let signed = |claims: Value| {
            let key = jsonwebtoken::EncodingKey::from_secret(SECRET);
            jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)
                .expect("signing test claims")
        };
        let iss = voice_studio::gateway::access::ISSUER;
        let foreign_tokens = vec![
            other.mint(Role::Host, Some("ep-1"), ttl),
            other.mint(Role::Admin, None, ttl),
            // Signed with the right key but expired an hour ago, without an episode, with an
            // episode id that is not one, from another issuer, or with an unknown role.
            signed(json!({"role": "host", "ep": "ep-1", "exp": now - 3600, "iss": iss})),
            signed(json!({"role": "host", "exp": now + 3600, "iss": iss})),
            signed(json!({"role": "viewer", "ep": "../etc", "exp": now + 3600, "iss": iss})),
            signed(json!({"role": "host", "ep": "ep-1", "exp": now + 3600, "iss": "elsewhere"})),
            signed(json!({"role": "root", "ep": "ep-1", "exp": now + 3600, "iss": iss})),
        ];
        let parse_config = ParseConfig {
            max_incoming_binary_buf_size: 1024 * 1024,
            max_incoming_binaries: 16,
            ..ParseConfig::default()
        };
        Self {
            open: Access::with_key(AccessMode::Open, SECRET.to_vec(), ttl),
            access,
            valid_tokens,
            foreign_tokens,
            parse_config,
        }
    }

    /// Parses a raw packet with socketioxide's own parser and runs the handler's decoding and
    /// checks for its event, as `socket.rs` does.
    fn dispatch(&self, raw: &RawPacket) -> Outcome {
        let state = ParserState::default();
        let mut packet =
            CommonParser.decode_str(&self.parse_config, &state, Str::from(raw.text.clone()));
        let mut binaries = raw.binaries.iter();
        while let Err(socketioxide_core::parser::ParseError::NeedsMoreBinaryData) = packet {
            let Some(bin) = binaries.next() else {
                return Outcome::Refused;
            };
            packet = CommonParser.decode_bin(&self.parse_config, &state, Bytes::from(bin.clone()));
        }
        let Ok(Packet { inner, ns }) = packet else {
            return Outcome::Refused;
        };
        if ns.as_str() != "/" {
            return Outcome::Refused;
        }
        let mut value = match inner {
            PacketData::Event(v, _) | PacketData::BinaryEvent(v, _) => v,
            _ => return Outcome::Refused,
        };
        let Ok(event) = CommonParser.read_event(&value).map(str::to_owned) else {
            return Outcome::Refused;
        };
        match event.as_str() {
            "hello" => {
                let Ok(hello) = CommonParser.decode_value::<Hello>(&mut value, true) else {
                    return Outcome::Refused;
                };
                let Ok(_checked) = check_hello(&hello) else {
                    return Outcome::Refused;
                };
                let access = if raw.open_access {
                    &self.open
                } else {
                    &self.access
                };
                outcome(access.admit(hello.token.as_deref()).is_ok())
            }
            "audio.chunk" => {
                let Ok(BinaryPayload(chunk)) =
                    CommonParser.decode_value::<BinaryPayload>(&mut value, true)
                else {
                    return Outcome::Refused;
                };
                if raw.binaries.is_empty() {
                    // Text, numbers and JSON must never be heard as audio.
                    return Outcome::Violation("audio.chunk accepted without a binary attachment");
                }
                outcome(check_audio_chunk(&chunk, &raw.format).is_ok())
            }
            "client.toggle-autopilot" => {
                let decoded = CommonParser.decode_value::<bool>(&mut value, true).ok();
                if raw.expect_bool.is_some() && decoded != raw.expect_bool {
                    return Outcome::Violation("toggle-autopilot misread a boolean");
                }
                outcome(decoded.is_some())
            }
            "client.request-state" | "client.end-session" => Outcome::Accepted,
            other => {
                // The handler quotes at most 64 characters of an unknown name back.
                let shown: String = other.chars().take(64).collect();
                if shown.len() > 64 * 4 {
                    return Outcome::Violation("unknown event name quoted whole");
                }
                Outcome::Refused
            }
        }
    }

    fn token(&self, rng: &mut Rng) -> String {
        match rng.below(6) {
            0 | 1 => rng.pick(&self.valid_tokens).clone(),
            2 => rng.pick(&self.foreign_tokens).clone(),
            3 => {
                let t = rng.pick(&self.valid_tokens).clone();
                rng.mutate(&t)
            }
            4 => {
                let len = rng.length(64, &[]);
                rng.text(len)
            }
            _ => "x".repeat(rng.length(5000, &[4096, 4097])),
        }
    }

    fn hello_packet(&self, rng: &mut Rng) -> RawPacket {
        let mut hello = serde_json::Map::new();
        if rng.chance(70) {
            let id = match rng.below(5) {
                0 => json!("ep-1"),
                1 => json!(format!("episode-{}", rng.next_u64() % 10_000_000)),
                2 => {
                    let len = rng.length(200, &[128, 129]);
                    json!(rng.text(len))
                }
                _ => rng.json(1),
            };
            hello.insert("episodeId".into(), id);
        }
        if rng.chance(70) {
            let name = if rng.chance(60) {
                let len = rng.length(150, &[100, 101]);
                json!(rng.text(len))
            } else {
                rng.json(1)
            };
            hello.insert("participantName".into(), name);
        }
        if rng.chance(50) {
            let mut format = serde_json::Map::new();
            if rng.chance(80) {
                let enc = if rng.chance(80) {
                    json!(rng.pick(&["pcm_s16le", "opus", "pcm", "PCM_S16LE", ""]))
                } else {
                    rng.json(1)
                };
                format.insert("encoding".into(), enc);
            }
            if rng.chance(80) {
                let rate = if rng.chance(70) {
                    json!(rng.pick(&[8000, 16000, 44100, 48000, 7999, 48001, 0, -48000, 96000]))
                } else {
                    rng.json(1)
                };
                format.insert("sampleRate".into(), rate);
            }
            if rng.chance(80) {
                let ch = if rng.chance(70) {
                    json!(rng.pick(&[0, 1, 2, 3, 255, 256, -1]))
                } else {
                    rng.json(1)
                };
                format.insert("channels".into(), ch);
            }
            if rng.chance(10) {
                format.insert("extra".into(), rng.json(1));
            }
            hello.insert("inputFormat".into(), Value::Object(format));
        }
        if rng.chance(50) {
            let token = if rng.chance(85) {
                json!(self.token(rng))
            } else {
                rng.json(1)
            };
            hello.insert("token".into(), token);
        }
        if rng.chance(10) {
            let len = rng.length(10, &[]);
            hello.insert(rng.text(len), rng.json(2));
        }
        let payload = if rng.chance(92) {
            Value::Object(hello)
        } else {
            rng.json(3)
        };
        let body = json!(["hello", payload]).to_string();
        let text = match rng.below(12) {
            0 => format!("2{}{body}", rng.next_u64() % 1000),
            1 => format!("2/admin,{body}"),
            2 => rng.mutate(&format!("2{body}")),
            3 => {
                let junk = rng.text(40);
                rng.mutate(&junk)
            }
            4 => r#"51-["hello",{"_placeholder":true,"num":0}]"#.to_owned(),
            _ => format!("2{body}"),
        };
        let binaries = if text.starts_with("51-") {
            vec![rng.blob(64, &[])]
        } else {
            Vec::new()
        };
        RawPacket {
            text,
            binaries,
            format: InputFormat::default(),
            expect_bool: None,
            open_access: rng.chance(50),
        }
    }

    fn audio_packet(&self, rng: &mut Rng) -> RawPacket {
        let format = *rng.pick(&[
            InputFormat::default(),
            InputFormat {
                channels: 2,
                ..InputFormat::default()
            },
            InputFormat {
                sample_rate: 16_000,
                ..InputFormat::default()
            },
            InputFormat {
                encoding: AudioEncoding::Opus,
                ..InputFormat::default()
            },
        ]);
        let placeholder = |num: Value| json!({"_placeholder": true, "num": num});
        let (text, binaries) = match rng.below(14) {
            // The browser's form: one binary attachment of some length.
            0..=5 => {
                let len = if rng.chance(2) {
                    rng.length(200_000, &[96_000, 96_002, 1_048_576])
                } else {
                    rng.length(4_000, &[1920, 1921, 960, 2])
                };
                (
                    format!("51-{}", json!(["audio.chunk", placeholder(json!(0))])),
                    vec![rng.bytes(len)],
                )
            }
            // Two attachments, one placeholder each (the handler takes the first).
            6 => (
                format!(
                    "52-{}",
                    json!(["audio.chunk", placeholder(json!(0)), placeholder(json!(1))])
                ),
                vec![rng.blob(2000, &[]), rng.blob(2000, &[])],
            ),
            // Placeholders that lie: wrong index, wrong type, count mismatch, nested.
            7 => {
                let num = rng
                    .pick(&[json!(1), json!(-1), json!("0"), json!(1e10), json!(null)])
                    .clone();
                let count = rng.below(3);
                let body = if rng.chance(50) {
                    json!(["audio.chunk", placeholder(num)])
                } else {
                    json!(["audio.chunk", {"nested": [placeholder(json!(0))]}])
                };
                (
                    format!("5{count}-{body}"),
                    (0..count).map(|_| rng.bytes(8)).collect(),
                )
            }
            // Text forms an attacker (or a confused client) sends instead of bytes.
            8 => {
                let len = rng.length(200_000, &[96_000]);
                (
                    format!("2{}", json!(["audio.chunk", rng.text(len.min(2000))])),
                    Vec::new(),
                )
            }
            9 => {
                let v = rng.json(3);
                (format!("2{}", json!(["audio.chunk", v])), Vec::new())
            }
            10 => {
                let n = rng.length(3000, &[1920]);
                let numbers: Vec<u8> = rng.bytes(n);
                (format!("2{}", json!(["audio.chunk", numbers])), Vec::new())
            }
            11 => (
                rng.pick(&[
                    "2[\"audio.chunk\"]".to_owned(),
                    "2[\"audio.chunk\",null]".to_owned(),
                    "2[\"audio.chunk\",{}]".to_owned(),
                    "2[\"audio.chunk\",\"\"]".to_owned(),
                    "50-[\"audio.chunk\"]".to_owned(),
                ])
                .clone(),
                Vec::new(),
            ),
            // Mutations of the binary form, header and attachment.
            _ => {
                let seed = format!("51-{}", json!(["audio.chunk", placeholder(json!(0))]));
                (rng.mutate(&seed), vec![rng.blob(2000, &[1920])])
            }
        };
        RawPacket {
            text,
            binaries,
            format,
            expect_bool: None,
            open_access: true,
        }
    }

    fn control_packet(&self, rng: &mut Rng) -> RawPacket {
        let mut expect_bool = None;
        let text = match rng.below(10) {
            0..=2 => {
                let v = if rng.chance(40) {
                    json!(rng.chance(50))
                } else {
                    rng.json(2)
                };
                expect_bool = v.as_bool();
                format!("2{}", json!(["client.toggle-autopilot", v]))
            }
            3 => format!("2{}", json!(["client.toggle-autopilot"])),
            4 => {
                let name = *rng.pick(ALL_EVENTS);
                if rng.chance(50) {
                    format!("2{}", json!([name]))
                } else {
                    format!("2{}", json!([name, rng.json(2)]))
                }
            }
            5 => {
                let len = rng.length(2000, &[64, 65]);
                format!("2{}", json!([rng.text(len), rng.json(1)]))
            }
            6 => format!("2{}", json!([rng.json(2)])),
            7 => rng
                .pick(&[
                    "2[]",
                    "2{}",
                    "2",
                    "2[1]",
                    "2[null]",
                    "2\"hello\"",
                    "3[\"x\"]",
                    "0",
                    "1",
                    "4\"boom\"",
                ])
                .to_string(),
            _ => {
                let name = *rng.pick(ALL_EVENTS);
                rng.mutate(&format!("2{}", json!([name, true])))
            }
        };
        RawPacket {
            text,
            binaries: Vec::new(),
            format: InputFormat::default(),
            expect_bool,
            open_access: true,
        }
    }

    fn token_input(&self, rng: &mut Rng) -> (String, bool) {
        match rng.below(8) {
            0 => (rng.pick(&self.valid_tokens).clone(), true),
            1 => (rng.pick(&self.foreign_tokens).clone(), false),
            2 => {
                // Same claims, `alg: none` or another algorithm, signature kept or dropped.
                let t = rng.pick(&self.valid_tokens).clone();
                let mut parts = t.split('.');
                let (_, claims, sig) = (
                    parts.next(),
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or(""),
                );
                let header = rng.pick(&[
                    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0",
                    "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9",
                    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9",
                ]);
                let sig = if rng.chance(50) { "" } else { sig };
                (format!("{header}.{claims}.{sig}"), false)
            }
            3 | 4 => {
                let t = rng.pick(&self.valid_tokens).clone();
                let m = rng.mutate(&t);
                let same = m == t;
                (m, same)
            }
            5 => {
                let n = rng.below(5);
                let segs: Vec<String> = (0..n)
                    .map(|_| {
                        let len = rng.length(60, &[]);
                        rng.text(len)
                    })
                    .collect();
                (segs.join("."), false)
            }
            6 => (
                rng.pick(&["", " ", ".", "..", "...", "a.b.c", "Bearer x"])
                    .to_string(),
                false,
            ),
            _ => ("a".repeat(rng.length(6000, &[4096, 4097])) + ".b.c", false),
        }
    }

    fn decode_token(&self, (token, may_verify): &(String, bool)) -> Outcome {
        match self.access.verify(token) {
            Ok(_) if !*may_verify => Outcome::Violation("a forged or mutated token verified"),
            Ok(_) => Outcome::Accepted,
            Err(_) => Outcome::Refused,
        }
    }
}

fn studio_audio_input(rng: &mut Rng) -> (voice_studio::audio::InputFormat, Vec<Vec<u8>>) {
    let (encoding, rate) = *rng.pick(&[
        (InputEncoding::PcmS16le, 48_000),
        (InputEncoding::PcmS16le, 16_000),
        (InputEncoding::PcmS16le, 44_100),
        (InputEncoding::Opus, 48_000),
    ]);
    let format = voice_studio::audio::InputFormat {
        encoding,
        sample_rate: rate,
        channels: 1,
    };
    let chunks = (0..1 + rng.below(3))
        .map(|_| {
            if encoding == InputEncoding::Opus && rng.chance(60) {
                // A TOC byte of every config and frame-count code, then random frame data.
                let mut packet = vec![(rng.next_u64() & 0xff) as u8];
                if rng.chance(50) {
                    packet.push((rng.next_u64() & 0xff) as u8);
                }
                let len = rng.length(1500, &[1275, 1276]);
                packet.extend(rng.bytes(len));
                packet
            } else {
                let len = rng.length(4000, &[1, 1919, 1920, 1921]);
                rng.bytes(len)
            }
        })
        .collect();
    (format, chunks)
}

fn decode_studio_audio(
    (format, chunks): &(voice_studio::audio::InputFormat, Vec<Vec<u8>>),
) -> Outcome {
    thread_local! {
        static DECODERS: std::cell::RefCell<Vec<(voice_studio::audio::InputFormat, InputDecoder)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    DECODERS.with(|cell| {
        let mut decoders = cell.borrow_mut();
        // Decoders are reused across inputs, as a studio reuses one for a whole session.
        let index = match decoders.iter().position(|(f, _)| f == format) {
            Some(i) => i,
            None => match InputDecoder::new(*format) {
                Ok(d) => {
                    decoders.push((*format, d));
                    decoders.len() - 1
                }
                Err(_) => return Outcome::Refused,
            },
        };
        let decoder = &mut decoders[index].1;
        let mut all_ok = true;
        for chunk in chunks {
            let mut frames = 0usize;
            all_ok &= decoder.push(chunk, |_| frames += 1).is_ok();
            // One chunk of at most 4 kB of PCM or one Opus packet (<= 120 ms) makes few frames.
            if frames > 8 {
                return Outcome::Violation("one chunk made more than 8 frames");
            }
        }
        outcome(all_ok)
    })
}

fn api_keys_body(rng: &mut Rng) -> Vec<u8> {
    let fields = [
        "anthropicApiKey",
        "assemblyaiApiKey",
        "groqApiKey",
        "grokApiKey",
        "togetherApiKey",
        "openaiApiKey",
    ];
    settings_body(rng, &fields, |rng| {
        let len = rng.length(600, &[512, 513]);
        json!(rng.text(len))
    })
}

fn runtime_body(rng: &mut Rng) -> Vec<u8> {
    let fields = [
        "guestProvider",
        "guestModel",
        "guestSystemInstructions",
        "ttsProvider",
        "guestVoice",
    ];
    settings_body(rng, &fields, |rng| match rng.below(4) {
        0 => json!(rng.pick(&[
            "groq", "grok", "together", "openai", "local", "google", "coqui", "piper"
        ])),
        1 => {
            let len = rng.length(20_000, &[100, 101, 10_000, 10_001]);
            json!(rng.text(len.min(12_000)))
        }
        _ => rng.json(2),
    })
}

fn settings_body(rng: &mut Rng, fields: &[&str], value: impl Fn(&mut Rng) -> Value) -> Vec<u8> {
    match rng.below(10) {
        0..=5 => {
            let mut map = serde_json::Map::new();
            for _ in 0..rng.below(fields.len() + 2) {
                let key = if rng.chance(90) {
                    (*rng.pick(fields)).to_owned()
                } else {
                    let len = rng.length(20, &[]);
                    rng.text(len)
                };
                map.insert(
                    key,
                    if rng.chance(85) {
                        value(rng)
                    } else {
                        rng.json(2)
                    },
                );
            }
            Value::Object(map).to_string().into_bytes()
        }
        6 => {
            let mut map = serde_json::Map::new();
            map.insert((*rng.pick(fields)).to_owned(), value(rng));
            rng.mutate(&Value::Object(map).to_string()).into_bytes()
        }
        7 => rng.json(4).to_string().into_bytes(),
        8 => {
            // Deep nesting: serde_json's recursion limit must refuse it, not the stack.
            let depth = rng.length(5000, &[127, 128, 129]);
            let open = rng.pick(&["[", "{\"a\":"]);
            open.repeat(depth).into_bytes()
        }
        _ => {
            let len = rng.length(300, &[]);
            rng.bytes(len)
        }
    }
}

fn range_input(rng: &mut Rng) -> (String, u64) {
    let any = rng.next_u64() % 100_000;
    let len = *rng.pick(&[0, 1, 2, 1000, 1 << 20, u64::MAX, u64::MAX - 1, any]);
    let num = |rng: &mut Rng| -> String {
        match rng.below(6) {
            0 => String::new(),
            1 => rng
                .pick(&[
                    "0",
                    "1",
                    "18446744073709551615",
                    "18446744073709551616",
                    "99999999999999999999999",
                ])
                .to_string(),
            2 => format!("{}", rng.next_u64()),
            3 => format!("{}", rng.below(2000)),
            4 => rng
                .pick(&["-1", "+1", " 1", "1 ", "0x10", "1e3", "١"])
                .to_string(),
            _ => {
                let l = rng.length(6, &[]);
                rng.text(l)
            }
        }
    };
    let header = match rng.below(8) {
        0..=3 => format!("bytes={}-{}", num(rng), num(rng)),
        4 => format!(
            "{}={}-{}",
            rng.pick(&["bytes", "Bytes", "items", " bytes", ""]),
            num(rng),
            num(rng)
        ),
        5 => format!("bytes={}-{},{}-{}", num(rng), num(rng), num(rng), num(rng)),
        6 => {
            let seed = format!("bytes={}-{}", rng.below(100), rng.below(1000));
            rng.mutate(&seed)
        }
        _ => {
            let l = rng.length(40, &[]);
            rng.text(l)
        }
    };
    (header, len)
}

fn decode_range((header, len): &(String, u64)) -> Outcome {
    match byte_range(header, *len) {
        Some((first, last)) if first > last || last >= *len => {
            Outcome::Violation("a range outside the file or backwards")
        }
        Some(_) => Outcome::Accepted,
        None => Outcome::Refused,
    }
}

fn episode_id_input(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => format!("episode-{}", rng.next_u64()),
        1 => {
            let seed = format!("episode-{}", rng.next_u64() % 1_000_000);
            rng.mutate(&seed)
        }
        2 => rng
            .pick(&[
                ".", "..", "../x", "a/b", "a\\b", "C:x", ".hidden", "a..", "-", "_", "a\u{0}b",
                "ep%2f",
            ])
            .to_string(),
        _ => {
            let len = rng.length(200, &[128, 129, 160, 161]);
            rng.text(len)
        }
    }
}

fn decode_episode_id(id: &str) -> Outcome {
    let valid = is_valid_episode_id(id);
    if !valid {
        return Outcome::Refused;
    }
    // A studio's id names its recording folder; that folder must stay inside RECORDING_DIR and
    // be one the recordings route can serve.
    match voice_studio::recording::folder_name(id) {
        Ok(name) if name.contains(['/', '\\']) || name == ".." || name.starts_with('.') => {
            Outcome::Violation("a valid episode id makes a folder name outside RECORDING_DIR")
        }
        Ok(name)
            if !is_recording_folder_name(&name)
                || !is_recording_folder_name(&format!("{name}-2")) =>
        {
            Outcome::Violation("a valid episode id records where the route cannot serve")
        }
        Ok(_) => Outcome::Accepted,
        Err(_) => Outcome::Violation("a valid episode id has no folder name"),
    }
}
