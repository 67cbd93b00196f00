//! `{{name}}` as the studio runs it: the built component in the studio's plugin runtime (same
//! sandbox, limits and capability checks).

mod common;

use studio_plugin_harness::wit::{Speaker, TtsRequest};
use studio_plugin_harness::{Capability, Harness, PluginKind};

#[test]
fn speaks_a_sentence_in_the_real_host() {
    let plugin = Harness::new(common::wasm().to_string_lossy())
        // What `plugin install` grants it: exactly what describe() asks for.
        .capabilities([Capability::Log, Capability::Config])
        .config("word_ms", 100)
        .load()
        .expect("the host loads the plugin");
    let info = plugin.describe();
    assert_eq!(
        (info.name.as_str(), info.kind),
        ("{{name}}", PluginKind::Tts)
    );
    let request = TtsRequest {
        text: "Welcome to the show.".into(),
        speaker: Speaker::Claude,
        voice: String::new(),
        language: "en".into(),
    };
    let chunks = plugin.synthesize(request).expect("synthesizes");
    // One chunk per word, 100 ms each at 16 kHz.
    assert_eq!(chunks.len(), 4);
    assert!(
        chunks
            .iter()
            .all(|c| c.sample_rate == 16_000 && c.samples.len() == 1_600),
        "{:?}",
        chunks
            .iter()
            .map(|c| (c.sample_rate, c.samples.len()))
            .collect::<Vec<_>>()
    );
}
