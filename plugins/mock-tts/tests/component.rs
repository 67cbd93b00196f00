//! mock-tts as the studio runs it: the built component in the real host runtime.

use studio_plugin_harness::wit::{AudioChunk, Speaker, TtsRequest};
use studio_plugin_harness::{Capability, Harness, PluginKind, PluginUnderTest};

fn plugin(sample_rate: u32) -> PluginUnderTest {
    Harness::new("mock-tts")
        .capabilities([Capability::Log, Capability::Config])
        .config("sample_rate", i64::from(sample_rate))
        .config("chunk_ms", 100)
        .config("words_per_minute", 170)
        .load()
        .expect("mock-tts loads in the host")
}

fn say(text: &str, speaker: Speaker) -> TtsRequest {
    TtsRequest {
        text: text.into(),
        speaker,
        voice: String::new(),
        language: "en-US".into(),
    }
}

fn dbfs(chunks: &[AudioChunk]) -> f64 {
    let samples: Vec<f64> = chunks
        .iter()
        .flat_map(|c| c.samples.iter().map(|&s| f64::from(s)))
        .collect();
    let rms = (samples.iter().map(|s| s * s).sum::<f64>() / samples.len().max(1) as f64).sqrt();
    20.0 * (rms / 32768.0).max(1e-9).log10()
}

#[test]
fn describes_itself_with_the_capabilities_it_is_granted() {
    let info = plugin(24_000).describe();
    assert_eq!(
        (info.name.as_str(), info.kind),
        ("mock-tts", PluginKind::Tts)
    );
    assert_eq!(info.capabilities, vec![Capability::Log, Capability::Config]);
}

#[test]
fn speech_streams_in_100_ms_chunks_at_24_khz_with_a_length_that_follows_the_text() {
    let ten_words = "one two three four five six seven eight nine ten";
    let chunks = plugin(24_000)
        .synthesize(say(ten_words, Speaker::Claude))
        .expect("synthesizes");
    assert!(chunks.iter().all(|c| c.sample_rate == 24_000));
    let (last, full) = chunks.split_last().expect("some audio");
    assert!(
        full.iter().all(|c| c.samples.len() == 2_400),
        "100 ms chunks"
    );
    assert!(!last.samples.is_empty() && last.samples.len() <= 2_400);
    let seconds = chunks.iter().map(|c| c.samples.len()).sum::<usize>() as f64 / 24_000.0;
    // Ten words at 170 words per minute: about 3.5 s.
    assert!((3.0..=4.0).contains(&seconds), "{seconds} s");
    let level = dbfs(&chunks);
    assert!(
        (-30.0..=-12.0).contains(&level),
        "audible speech level, got {level} dBFS"
    );
}

#[test]
fn the_configured_sample_rate_is_used() {
    let chunks = plugin(16_000)
        .synthesize(say("Hello there.", Speaker::Guest))
        .expect("synthesizes");
    assert!(!chunks.is_empty());
    assert!(
        chunks
            .iter()
            .all(|c| c.sample_rate == 16_000 && c.samples.len() <= 1_600)
    );
}

#[test]
fn a_longer_text_gives_longer_speech() {
    let plugin = plugin(24_000);
    let length = |text: &str| -> usize {
        let chunks = plugin
            .synthesize(say(text, Speaker::Guest))
            .expect("synthesizes");
        chunks.iter().map(|c| c.samples.len()).sum()
    };
    let short = length("A short line.");
    let long = length(
        "A much longer line, with several clauses, that keeps going for a good while longer.",
    );
    assert!(long > short * 3, "{short} vs {long} samples");
}
