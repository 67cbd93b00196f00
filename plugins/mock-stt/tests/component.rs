//! mock-stt as the studio runs it: the built component in the real host runtime.

use studio_plugin_harness::wit::{Speaker, SttRequest, TranscriptKind};
use studio_plugin_harness::{Capability, Harness, PluginKind, PluginUnderTest};

const RATE: u32 = 48_000;

fn plugin() -> PluginUnderTest {
    Harness::new("mock-stt")
        .capabilities([Capability::Log, Capability::Clock, Capability::Config])
        .config(
            "script",
            vec![
                "Claude, what do you make of today's topic?",
                "Guest, do you agree with that?",
            ],
        )
        .config("threshold_dbfs", -40)
        .config("end_of_speech_ms", 500)
        .config("partial_every_ms", 300)
        .load()
        .expect("mock-stt loads in the host")
}

fn request() -> SttRequest {
    SttRequest {
        speaker: Speaker::You,
        language: "en-US".into(),
        key_terms: vec![],
    }
}

/// `ms` of a 200 Hz tone at speech level (about -15 dBFS), or of near silence.
fn audio(ms: u32, loud: bool) -> Vec<i16> {
    let amplitude = if loud { 8000.0 } else { 20.0 };
    (0..RATE / 1000 * ms)
        .map(|i| {
            (amplitude * (i as f32 * std::f32::consts::TAU * 200.0 / RATE as f32).sin()) as i16
        })
        .collect()
}

#[test]
fn describes_itself_as_the_offline_stt() {
    let info = plugin().describe();
    assert_eq!(
        (info.name.as_str(), info.kind, info.contract.as_str()),
        ("mock-stt", PluginKind::Stt, "0.1.0")
    );
    assert!(!info.summary.is_empty());
}

#[test]
fn speech_becomes_partials_then_scripted_finals_with_audio_times() {
    let mut samples = audio(500, false);
    samples.extend(audio(1200, true));
    samples.extend(audio(800, false));
    // The second utterance is still going when the stream ends: it is flushed as final.
    samples.extend(audio(600, true));
    let transcripts = plugin()
        .transcribe(request(), &samples, RATE)
        .expect("transcribes");
    let finals: Vec<(String, u64, u64)> = transcripts
        .iter()
        .filter(|t| t.kind == TranscriptKind::Final)
        .map(|t| (t.text.clone(), t.start_ms, t.end_ms))
        .collect();
    assert_eq!(
        finals,
        vec![
            (
                "Claude, what do you make of today's topic?".to_owned(),
                500,
                1700
            ),
            ("Guest, do you agree with that?".to_owned(), 2500, 3100),
        ]
    );
    let first_final = transcripts
        .iter()
        .position(|t| t.kind == TranscriptKind::Final)
        .unwrap_or(0);
    let early_partials = transcripts[..first_final]
        .iter()
        .filter(|t| t.kind == TranscriptKind::Partial)
        .count();
    assert!(
        early_partials >= 3,
        "partials every 300 ms during 1.2 s of speech: {transcripts:?}"
    );
}

#[test]
fn silence_gives_no_transcript() {
    let transcripts = plugin()
        .transcribe(request(), &audio(3000, false), RATE)
        .expect("transcribes");
    assert!(transcripts.is_empty(), "{transcripts:?}");
}

#[test]
fn without_a_script_utterances_are_described() {
    let plugin = Harness::new("mock-stt")
        .load()
        .expect("loads with defaults");
    let mut samples = audio(1800, true);
    samples.extend(audio(700, false));
    let transcripts = plugin
        .transcribe(request(), &samples, RATE)
        .expect("transcribes");
    let last = transcripts.last().map(|t| (t.kind, t.text.as_str()));
    assert_eq!(
        last,
        Some((TranscriptKind::Final, "utterance 1, 1.8 seconds"))
    );
}
