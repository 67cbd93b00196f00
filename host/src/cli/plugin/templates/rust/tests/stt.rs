//! `{{name}}` as the studio runs it: the built component in the studio's plugin runtime (same
//! sandbox, limits and capability checks).

mod common;

use studio_plugin_harness::wit::{Speaker, SttRequest, TranscriptKind};
use studio_plugin_harness::{Capability, Harness, PluginKind};

/// A second of a loud 300 Hz tone between two quiet halves, 48 kHz mono like the studio's microphone.
fn sound() -> Vec<i16> {
    let tone = (0..48_000)
        .map(|i| ((i as f32 * 300.0 * std::f32::consts::TAU / 48_000.0).sin() * 8_000.0) as i16);
    let quiet = || std::iter::repeat_n(0i16, 24_000);
    quiet().chain(tone).chain(quiet()).collect()
}

#[test]
fn transcribes_an_utterance_in_the_real_host() {
    let plugin = Harness::new(common::wasm().to_string_lossy())
        // What `plugin install` grants it: exactly what describe() asks for.
        .capabilities([Capability::Log, Capability::Config])
        .load()
        .expect("the host loads the plugin");
    let info = plugin.describe();
    assert_eq!(
        (info.name.as_str(), info.kind),
        ("{{name}}", PluginKind::Stt)
    );
    let request = SttRequest {
        speaker: Speaker::You,
        language: "en".into(),
        key_terms: Vec::new(),
    };
    let transcripts = plugin
        .transcribe(request, &sound(), 48_000)
        .expect("transcribes");
    let finals: Vec<_> = transcripts
        .iter()
        .filter(|t| t.kind == TranscriptKind::Final)
        .collect();
    assert_eq!(finals.len(), 1, "{transcripts:?}");
    assert_eq!(finals[0].text, "I spoke for 1.0 seconds.");
    assert!(
        transcripts
            .iter()
            .any(|t| t.kind == TranscriptKind::Partial),
        "{transcripts:?}"
    );
}
