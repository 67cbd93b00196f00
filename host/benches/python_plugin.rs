//! What the Python plugin (`plugins/whisper-py`, componentize-py) needs from the host, next to the
//! Rust `whisper` plugin doing the same job: component size, build and compile time, the first
//! call (instantiate + `describe()` / `transcribe`), guest CPU per second of audio and the memory
//! peak, and the smallest `memory_limit_mb` it runs in. These figures set the runtime's defaults
//! (`DEFAULT_MEMORY_LIMIT_MB`, `cpu_per_audio_second_ms`) and are quoted in the plugin's README.
//!
//! Run with `cargo bench -p voice-studio --bench python_plugin`; prints a markdown table. Needs
//! componentize-py (`.ci/setup`).

// The integration tests' build of the plugin; the bench builds but does not pre-compile it.
#[allow(dead_code)]
#[path = "../tests/it/plugins/python/component.rs"]
mod component;
#[path = "../tests/it/support/foreign_build.rs"]
mod foreign_build;
/// What `component` uses from the test suite's support folder, at the path it names.
mod support {
    pub(crate) use super::foreign_build;
}

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use studio_test_kit::fakes::whisper;
use studio_test_kit::speech::tone;
use tokio::sync::mpsc;
use voice_studio::plugins::wit::{Speaker, SttRequest};
use voice_studio::plugins::{
    BUILT_PLUGIN_DIR, CallFigures, PluginHost, PluginHostOptions, SttHandle, SttInput,
};

const FRAME: usize = 960;
const STARTS: usize = 3;
const FIRST_CALLS: usize = 10;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

/// One plugin under measurement.
struct Subject {
    name: &'static str,
    wasm: PathBuf,
}

/// A studio folder with `subject` as the STT role, talking raw PCM to `endpoint`.
fn studio(
    dir: &Path,
    subject: &Subject,
    endpoint: &str,
    memory_mb: Option<u32>,
) -> PluginHostOptions {
    std::fs::create_dir_all(dir.join("plugins")).expect("plugins folder");
    std::fs::copy(&subject.wasm, dir.join("plugins").join("stt.wasm")).expect("copy plugin");
    let memory = memory_mb.map_or(String::new(), |mb| format!("memory_limit_mb = {mb}\n"));
    std::fs::write(
        dir.join("plugins.toml"),
        format!(
            "[studio]\nplugin_dir = \"plugins\"\n[roles]\nstt = \"stt\"\n[plugins.stt]\n\
             path = \"stt.wasm\"\ncapabilities = [\"log\", \"config\", \"http\"]\n\
             allowed_hosts = [\"http://127.0.0.1:*\"]\n{memory}\
             [plugins.stt.config]\nformat = \"raw\"\nendpoint = \"{endpoint}\"\n"
        ),
    )
    .expect("manifest");
    PluginHostOptions {
        manifest_path: dir.join("plugins.toml"),
        plugin_dir_override: None,
        cache_dir: Some(dir.join("cache")),
        watch: false,
        ..Default::default()
    }
}

/// `speech_s` seconds of a voice-like tone as one utterance (VAD hints around it), after 200 ms
/// of quiet, then the end of the stream.
fn utterance(speech_s: f32) -> Vec<SttInput> {
    let mut out: Vec<SttInput> = (0..10).map(|_| SttInput::Audio(vec![0; FRAME])).collect();
    out.push(SttInput::SpeechStarted);
    out.extend(
        tone(speech_s)
            .chunks(FRAME)
            .map(|frame| SttInput::Audio(frame.to_vec())),
    );
    out.push(SttInput::SpeechEnded);
    out
}

/// One `transcribe` over `inputs` (queued up front, then the end): wall time and the figures.
async fn call(handle: &mut SttHandle, inputs: Vec<SttInput>) -> (Duration, CallFigures) {
    let (in_tx, in_rx) = mpsc::channel(inputs.len() + 1);
    for input in inputs {
        in_tx.try_send(input).expect("queue input");
    }
    drop(in_tx);
    let (out_tx, mut out_rx) = mpsc::channel(16);
    let drain = tokio::spawn(async move { while out_rx.recv().await.is_some() {} });
    let request = SttRequest {
        speaker: Speaker::You,
        language: "en-US".into(),
        key_terms: Vec::new(),
    };
    let started = Instant::now();
    let result = handle.transcribe(request, in_rx, out_tx).await;
    let took = started.elapsed();
    let _ = drain.await;
    result.expect("transcribe");
    (took, handle.last_call().expect("figures of the call"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Whether `subject` serves a 30 s utterance within `memory_mb`.
async fn fits(dir: &Path, subject: &Subject, endpoint: &str, memory_mb: u32) -> bool {
    let options = studio(dir, subject, endpoint, Some(memory_mb));
    let Ok(host) = PluginHost::start(options).await else {
        return false;
    };
    if host.plugins()[0].last_error.is_some() {
        return false;
    }
    let mut handle = host.stt();
    let (in_tx, in_rx) = mpsc::channel(2000);
    for input in utterance(29.0) {
        in_tx.try_send(input).expect("queue");
    }
    drop(in_tx);
    let (out_tx, _out_rx) = mpsc::channel(16);
    let request = SttRequest {
        speaker: Speaker::You,
        language: "en-US".into(),
        key_terms: Vec::new(),
    };
    handle.transcribe(request, in_rx, out_tx).await.is_ok()
}

async fn measure(dir: &Path, subject: &Subject, endpoint: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let size = std::fs::metadata(&subject.wasm)
        .map(|m| m.len())
        .unwrap_or(0);
    rows.push((
        ".wasm size".into(),
        format!("{:.1} MiB", size as f64 / 1048576.0),
    ));

    let mut cold = Vec::new();
    let mut cached = Vec::new();
    for i in 0..STARTS {
        let options = studio(&dir.join(format!("start{i}")), subject, endpoint, None);
        let started = Instant::now();
        let host = PluginHost::start(options.clone())
            .await
            .expect("cold start");
        cold.push(ms(started.elapsed()));
        assert!(!host.plugins()[0].from_cache);
        drop(host);
        let started = Instant::now();
        let host = PluginHost::start(options).await.expect("cached start");
        cached.push(ms(started.elapsed()));
        assert!(host.plugins()[0].from_cache);
    }
    rows.push((
        format!(
            "host start, compiled cold: compile + instantiate + `describe()` (median of {STARTS})"
        ),
        format!("{:.0} ms", median(cold)),
    ));
    rows.push((
        format!("host start from the compile cache: load + instantiate + `describe()` (median of {STARTS})"),
        format!("{:.0} ms", median(cached)),
    ));

    let host = PluginHost::start(studio(&dir.join("calls"), subject, endpoint, None))
        .await
        .expect("host");
    let mut first = Vec::new();
    for _ in 0..FIRST_CALLS {
        let mut fresh = host.stt();
        first.push(ms(call(&mut fresh, Vec::new()).await.0));
    }
    let mut warm_handle = host.stt();
    call(&mut warm_handle, Vec::new()).await;
    let mut warm = Vec::new();
    for _ in 0..FIRST_CALLS {
        warm.push(ms(call(&mut warm_handle, Vec::new()).await.0));
    }
    rows.push((
        format!("first `transcribe` on a new handle: instantiate + an empty call (median of {FIRST_CALLS})"),
        format!("{:.1} ms", median(first)),
    ));
    rows.push((
        "the same call on a warm instance".into(),
        format!("{:.2} ms", median(warm)),
    ));

    for seconds in [3.0f32, 29.0] {
        let mut handle = host.stt();
        call(&mut handle, Vec::new()).await;
        let (took, figures) = call(&mut handle, utterance(seconds)).await;
        let audio_s = f64::from(seconds) + 0.2;
        rows.push((
            format!(
                "one {seconds:.0} s utterance, queued at once: wall time (incl. the fake's answer)"
            ),
            format!("{:.0} ms", ms(took)),
        ));
        rows.push((
            format!("  guest CPU per second of audio ({seconds:.0} s utterance)"),
            format!("{:.1} ms", ms(figures.guest_cpu) / audio_s),
        ));
        rows.push((
            format!("  linear memory peak ({seconds:.0} s utterance)"),
            format!("{:.1} MiB", figures.memory_peak_bytes as f64 / 1048576.0),
        ));
    }

    let mut handle = host.stt();
    call(&mut handle, Vec::new()).await;
    let quiet: Vec<SttInput> = (0..1500).map(|_| SttInput::Audio(vec![0; FRAME])).collect();
    let (_, figures) = call(&mut handle, quiet).await;
    rows.push((
        "guest CPU per second of audio, 30 s of quiet (no utterance)".into(),
        format!("{:.1} ms", ms(figures.guest_cpu) / 30.0),
    ));

    // The smallest memory limit (whole MiB) that still serves a 30 s utterance.
    let (mut low, mut high) = (1u32, 256u32);
    let mut step = 0;
    while low < high {
        let mid = (low + high) / 2;
        step += 1;
        if fits(&dir.join(format!("fit{step}")), subject, endpoint, mid).await {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    rows.push((
        "smallest `memory_limit_mb` that serves a 29 s utterance".into(),
        format!("{low} MiB"),
    ));
    rows
}

async fn run() {
    let started = Instant::now();
    let built = component::whisper_py();
    let build_note = format!("{:.1} s", started.elapsed().as_secs_f64());
    // The build from source, timed on its own (a fresh output, so nothing is reused).
    let scratch = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let status = std::process::Command::new(component::source_dir().join("build.sh"))
        .arg(scratch.path().join("whisper-py.wasm"))
        .env("COMPONENTIZE_PY", component::componentize_py())
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("build.sh runs");
    assert!(status.success(), "plugins/whisper-py/build.sh failed");
    let build = started.elapsed().as_secs_f64();

    let fake = whisper::start(&["Hello there."]).await;
    let endpoint = fake.endpoint();
    let subjects = [
        Subject {
            name: "whisper-py (Python)",
            wasm: built,
        },
        Subject {
            name: "whisper (Rust)",
            wasm: Path::new(BUILT_PLUGIN_DIR).join("whisper.wasm"),
        },
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    let mut columns = Vec::new();
    for (i, subject) in subjects.iter().enumerate() {
        columns.push(measure(&dir.path().join(i.to_string()), subject, &endpoint).await);
    }
    println!(
        "build from source (plugins/whisper-py/build.sh: unit tests + componentize-py): {build:.1} s (first use in this run: {build_note})"
    );
    println!();
    println!(
        "| measurement | {} | {} |",
        subjects[0].name, subjects[1].name
    );
    println!("|---|---:|---:|");
    for (i, (what, value)) in columns[0].iter().enumerate() {
        println!("| {what} | {value} | {} |", columns[1][i].1);
    }
}
