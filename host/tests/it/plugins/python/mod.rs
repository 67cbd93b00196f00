//! `plugins/whisper-py`: a plugin written in Python (componentize-py), built from source here
//! (`component.rs`), loaded by the real runtime, talking to the test kit's fake Whisper server
//! through the host's `http` capability, and serving the STT role of a live studio turn.

mod component;

use std::sync::Arc;

use studio_test_kit::fakes::Fault;
use studio_test_kit::fakes::whisper::{self, multipart_parts, parse_wav};
use studio_test_kit::manifest::Manifest;
use studio_test_kit::speech::speech;
use voice_studio::gateway::protocol::OrbState;
use voice_studio::plugins::wit::{PluginError, Speaker, SttRequest, Transcript, TranscriptKind};
use voice_studio::plugins::{
    CallError, Capability, PluginHost, PluginHostOptions, PluginKind, SttInput,
};
use voice_studio::speakers::Speaker as Voice;

use crate::support::plugin_check;
use crate::support::plugins::Studio;
use crate::support::stt::{self, Mic, crossings_per_second, le_samples, microphone};
use crate::support::studio::{StudioRig, final_caption, silence, stream, until};

/// The plugin's name, in `plugins.toml` and in its own `describe()`.
const NAME: &str = "whisper-py";

/// A studio folder whose STT role is the Python plugin, configured by `table` (the lines of its
/// `[plugins.whisper-py]` table after `path`), with the default limits.
async fn python_host(table: &str) -> (Studio, Arc<PluginHost>) {
    let studio = Studio::with_plugins(&[]);
    std::fs::copy(
        component::whisper_py_compiled().await,
        studio.plugin_path(NAME),
    )
    .expect("copy the component");
    studio.write_manifest(&format!(
        "[roles]\nstt = \"{NAME}\"\n[plugins.{NAME}]\npath = \"{NAME}.wasm\"\n{table}\n"
    ));
    // The shared compile cache (`<target>/plugin-cache`): compiling this 18 MB component takes
    // seconds, loading it from the cache a tenth of one.
    let options = PluginHostOptions {
        cache_dir: None,
        ..studio.options(false)
    };
    let host = PluginHost::start(options)
        .await
        .expect("plugin host starts");
    (studio, host)
}

/// The grant every test gives: what `describe()` asks for, to the fake on loopback.
fn grant(endpoint: &str, format: &str) -> String {
    format!(
        r#"capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
[plugins.{NAME}.config]
format = "{format}"
endpoint = "{endpoint}"
retry_base_ms = 20
"#
    )
}

/// `lead_ms` of quiet, then a 440 Hz tone of `tone_ms` with the host's VAD hints around it
/// (start 100 ms in, end after 300 ms of quiet), then the end of the stream.
fn one_utterance(lead_ms: usize, tone_ms: usize) -> Vec<SttInput> {
    let mut out = microphone(&[
        Mic::Quiet(lead_ms),
        Mic::Tone(100),
        Mic::Started,
        Mic::Tone(tone_ms - 100),
        Mic::Quiet(300),
        Mic::Ended,
    ]);
    out.push(SttInput::End);
    out
}

/// One `transcribe` call over `inputs`: its result and the transcripts it pushed.
async fn transcribe(
    host: &Arc<PluginHost>,
    inputs: Vec<SttInput>,
) -> (Result<(), CallError>, Vec<Transcript>) {
    let request = SttRequest {
        speaker: Speaker::You,
        language: "en-US".into(),
        key_terms: vec!["Claude".into()],
    };
    stt::transcribe(host, request, inputs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_component_loads_in_the_runtime_and_describes_itself() {
    let (_studio, host) = python_host(&grant("http://127.0.0.1:9/transcribe", "raw")).await;
    let status = host
        .plugins()
        .into_iter()
        .find(|p| p.name == NAME)
        .expect("declared");
    assert_eq!(status.last_error, None);
    let info = status.info.expect("describe() was called");
    assert_eq!(info.name, NAME);
    assert_eq!(info.version, "0.1.0");
    assert_eq!(info.kind, PluginKind::Stt);
    assert_eq!(info.contract, "0.1.0");
    assert_eq!(
        info.capabilities,
        vec![Capability::Log, Capability::Config, Capability::Http]
    );
    assert!(info.summary.contains("Whisper"), "{}", info.summary);
    assert!(host.is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_flavour_sends_16_khz_pcm_through_the_host_and_pushes_the_text() {
    let fake = whisper::start(&["Claude, what do you think?"]).await;
    let (_studio, host) = python_host(&grant(&fake.endpoint(), "raw")).await;
    let (result, transcripts) = transcribe(&host, one_utterance(500, 1000)).await;
    result.expect("transcribe");
    let finals: Vec<_> = transcripts
        .iter()
        .filter(|t| t.kind == TranscriptKind::Final)
        .map(|t| (t.text.as_str(), t.start_ms, t.end_ms))
        .collect();
    // 300 ms of pre-roll before the hint 100 ms into the tone, to the end hint: 1500 ms.
    assert_eq!(finals, vec![("Claude, what do you think?", 300, 1800)]);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "one request per utterance");
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/transcribe")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(request.body.len(), 1500 * 32, "1500 ms of 16 kHz s16le");
    let samples = le_samples(&request.body);
    // The utterance runs from 300 to 1800 ms of the stream and the tone from 500 to 1500 ms: well
    // inside it, it is still 440 Hz at 16 kHz.
    let tone = &samples[16 * 250..16 * 1150];
    let rate = crossings_per_second(tone, 16_000);
    assert!((rate - 880.0).abs() < 20.0, "440 Hz at 16 kHz: {rate}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_failures_become_the_contract_errors() {
    // A 503 is retried and the retry's answer is used.
    let fake = whisper::start(&["After a retry."]).await;
    fake.push_faults([Fault::Overloaded]);
    let (_studio, host) = python_host(&grant(&fake.openai_endpoint(), "multipart")).await;
    let (result, transcripts) = transcribe(&host, one_utterance(300, 600)).await;
    result.expect("transcribe after a retry");
    assert_eq!(transcripts.len(), 1);
    assert_eq!(transcripts[0].text, "After a retry.");
    assert_eq!(fake.requests().len(), 2, "one failure, one retry");

    // A refused key is `auth`, not retried, and names the variable to set.
    let refused = whisper::start(&["never"]).await;
    refused.push_faults([Fault::Unauthorized]);
    let (_studio, host) = python_host(&grant(&refused.openai_endpoint(), "multipart")).await;
    let (result, _) = transcribe(&host, one_utterance(300, 600)).await;
    match result {
        Err(CallError::Plugin {
            error: PluginError::Auth(message),
            ..
        }) => assert!(message.contains("OPENAI_API_KEY"), "{message}"),
        other => panic!("expected auth, got {other:?}"),
    }
    assert_eq!(refused.requests().len(), 1, "auth is not retried");

    // A host the grant does not allow is the host's refusal, passed on.
    let (_studio, host) = python_host(
        r#"capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:1"]
[plugins.whisper-py.config]
endpoint = "http://127.0.0.1:2/transcribe"
"#,
    )
    .await;
    let (result, _) = transcribe(&host, one_utterance(300, 600)).await;
    assert!(
        matches!(result, Err(CallError::Denied { .. })),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_turn_hears_the_human_through_the_python_plugin_and_claude_answers() {
    const SAID: &str = "Claude, what do you make of today's topic?";
    let fake = whisper::start(&[SAID]).await;
    let plugin = component::whisper_py_compiled().await;
    let manifest = Manifest::quick_mocks()
        .role("stt", NAME)
        .plugin(NAME, &["log", "config", "http"])
        .plugin_field(NAME, "path", plugin.display().to_string())
        .plugin_field(
            NAME,
            "allowed_hosts",
            toml::Value::Array(vec![fake.base_url().into()]),
        )
        .config(NAME, "format", "multipart")
        .config(NAME, "endpoint", fake.openai_endpoint());
    let rig = StudioRig::start(manifest).await;
    let (studio, client) = rig.join("python-stt");
    stream(&studio, client, &silence(500)).await;
    stream(&studio, client, &speech(SAID)).await;
    let heard = until(&studio, client, "the final you caption", |s| {
        final_caption(s, Voice::You).is_some()
    })
    .await;
    assert_eq!(final_caption(&heard, Voice::You).as_deref(), Some(SAID));
    let done = until(&studio, client, "claude's finished line", |s| {
        final_caption(s, Voice::Claude).is_some() && s.orb_states.claude == OrbState::Idle
    })
    .await;
    assert!(final_caption(&done, Voice::Claude).is_some_and(|line| !line.is_empty()));
    rig.end(&studio, client, "python-stt").await;

    // What reached Whisper: OpenAI's multipart upload of a 16 kHz mono WAV about as long as the
    // speech, with the model and the language from the studio's en-US.
    let requests = fake.requests();
    assert!(!requests.is_empty());
    let request = &requests[0];
    assert_eq!(request.path, "/v1/audio/transcriptions");
    let parts = multipart_parts(request);
    let field = |name: &str| parts.iter().find(|p| p.name == name).map(|p| p.text());
    assert_eq!(field("model").as_deref(), Some("whisper-1"));
    assert_eq!(field("language").as_deref(), Some("en"));
    let file = parts
        .iter()
        .find(|p| p.name == "file")
        .expect("a file part");
    let wav = parse_wav(&file.data).expect("a well-formed WAV");
    assert_eq!((wav.channels, wav.sample_rate, wav.bits), (1, 16_000, 16));
    let seconds = wav.samples.len() as f64 / 16_000.0;
    assert!((1.0..10.0).contains(&seconds), "{seconds} s of speech");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_component_passes_plugin_check_on_the_real_binary() {
    let fake = whisper::start(&["Checked."]).await;
    let plugin = component::whisper_py_compiled().await;
    let endpoint = format!("endpoint={}", fake.endpoint());
    let output = plugin_check::run_async(&[
        plugin.to_str().expect("a UTF-8 path"),
        "--role",
        "stt",
        "--allow-host",
        "http://127.0.0.1:*",
        "--config",
        endpoint.as_str(),
        "--json",
    ])
    .await;
    let report = plugin_check::report(&output);
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    assert_eq!(report["plugin"]["name"], NAME);
    let outcome = |name: &str| plugin_check::outcome(&report, name);
    for check in ["load", "describe", "contract", "stt cancellation", "limits"] {
        assert_eq!(outcome(check), "pass", "{check}: {report:#}");
    }
    // componentize-py imports `websocket` whole with `streams` (its types): a warning, not more.
    assert_ne!(outcome("capabilities"), "fail", "{report:#}");
    // The check's voice comes without the host's VAD hints, so no utterance is cut: no request
    // reached the provider, and no transcript was made up.
    assert_ne!(outcome("stt streaming"), "fail", "{report:#}");
}
