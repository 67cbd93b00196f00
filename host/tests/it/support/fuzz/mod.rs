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
    ApiKeyField, BinaryPayload, Hello, InputFormat, MAX_SAY_CHARS, RuntimeConfigUpdate, TextSay,
    byte_range, check_audio_chunk, check_hello, check_text_say, is_recording_folder_name,
    is_valid_episode_id, parse_json,
};
use voice_studio::gateway::protocol::AudioEncoding;

/// The seed every run starts from unless `GATEWAY_FUZZ_SEED` says otherwise; printed with the table.
pub const DEFAULT_SEED: u64 = 0x5afe_2026_0011_f00d;

mod inputs;
mod rng;
mod world;

use inputs::*;
pub use rng::Rng;
pub use world::World;

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
