//! The seeded generator and the mutations every decoder's inputs are made with.

use super::*;

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
