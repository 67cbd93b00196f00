//! A fast slice of the gateway fuzz run (the bench `gateway_fuzz` runs 1,000,000+ inputs): every
//! decoder a client can reach, random and mutated inputs, zero panics and no broken property.

use crate::support;
use std::time::Instant;

/// Inputs per run in `cargo test`: enough to reach every generator branch, quick in a debug build.
const TEST_INPUTS: u64 = 20_000;

#[test]
fn every_gateway_decoder_survives_random_and_mutated_input() {
    let seed = std::env::var("GATEWAY_FUZZ_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(support::fuzz::DEFAULT_SEED);
    let started = Instant::now();
    let tallies = support::fuzz::run_all(seed, TEST_INPUTS);
    let table = support::fuzz::table(seed, &tallies, started.elapsed());
    println!("{table}");
    for t in &tallies {
        assert_eq!(t.panics, 0, "{table}");
        assert_eq!(t.violations, 0, "{table}");
        // Each decoder must see both sides: otherwise its generator is not reaching the checks.
        assert!(
            t.accepted > 0 && t.refused > 0,
            "{} never reached both answers\n{table}",
            t.decoder
        );
    }
    assert!(tallies.iter().map(|t| t.inputs).sum::<u64>() >= TEST_INPUTS);
}
