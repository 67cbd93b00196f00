//! Fuzzes every decoder at the gateway with 1,000,000+ structured random and mutated inputs
//! (hello through socketioxide's parser, every audio.chunk form, the studio's audio decoder,
//! control events, settings JSON, Range headers, episode ids, tokens) and prints a table per
//! decoder. Exits non-zero on any panic or broken property.
//!
//! `cargo bench -p voice-studio --bench gateway_fuzz` (`GATEWAY_FUZZ_INPUTS`, `GATEWAY_FUZZ_SEED`
//! in hex to change the run; the seed is printed so a failure reproduces).

#[path = "../tests/it/support/fuzz/mod.rs"]
mod fuzz_support;

use std::time::Instant;

/// The floor: at least a million inputs in one run.
const DEFAULT_INPUTS: u64 = 1_100_000;

fn main() {
    let seed = std::env::var("GATEWAY_FUZZ_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(fuzz_support::DEFAULT_SEED);
    let inputs = std::env::var("GATEWAY_FUZZ_INPUTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_INPUTS);
    let started = Instant::now();
    let tallies = fuzz_support::run_all(seed, inputs);
    println!("{}", fuzz_support::table(seed, &tallies, started.elapsed()));
    let failures: u64 = tallies.iter().map(|t| t.panics + t.violations).sum();
    if failures > 0 {
        eprintln!("gateway fuzz: {failures} inputs panicked or broke a property");
        std::process::exit(1);
    }
}
