//! `piper` running the fake `piper` executable (tests/kit/fakes/piper).

use super::*;

/// The fake `piper` executable, by absolute path.
fn fake_piper() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/kit/fakes/piper")
        .canonicalize()
        .expect("tests/kit/fakes/piper exists")
}

/// A studio with `piper` running the fake, its voice model described by `model_json`.
struct Piper {
    studio: Studio,
    host: Arc<PluginHost>,
    model: PathBuf,
    record: PathBuf,
}

impl Piper {
    fn argv(&self) -> Vec<String> {
        std::fs::read_to_string(&self.record)
            .expect("the fake recorded its argv")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn stdin(&self) -> String {
        std::fs::read_to_string(self.record.with_extension("stdin"))
            .expect("the fake recorded stdin")
    }
}

/// `fake`: extra keys of the model JSON (the fake's switches); `config`: extra plugin settings;
/// `program_in_config`: put the path in `piper_path` (else the PIPER_PATH secret carries it).
async fn piper(fake: &str, config: &str, fallback: bool, program_in_config: bool) -> Piper {
    let studio = Studio::with_plugins(&["piper", "mock-tts"]);
    let model = studio.dir.path().join("en_US-test-medium.onnx");
    let record = studio.dir.path().join("argv");
    std::fs::write(&model, b"not really a model").expect("model");
    std::fs::write(
        model.with_extension("onnx.json"),
        format!(
            r#"{{"audio": {{"sample_rate": 16000, "quality": "medium"}}, "num_speakers": 4, "fake_record": "{}"{fake}}}"#,
            record.display()
        ),
    )
    .expect("model json");
    // As root the host runs Piper as nobody: it must read the model and write its record.
    open_to_the_child(
        studio.dir.path(),
        &[&record, &record.with_extension("stdin")],
    );
    let program = fake_piper();
    let fallback = fallback_line(fallback);
    let program_setting = if program_in_config {
        format!("piper_path = \"{}\"", program.display())
    } else {
        String::new()
    };
    studio.write_manifest(&format!(
        r#"
[roles]
tts = "piper"
[plugins.piper]
path = "piper.wasm"
capabilities = ["log", "config", "process"]
allowed_executables = ["{program}"]
secrets = ["PIPER_PATH", "PIPER_MODEL_PATH"]
{fallback}
[plugins.piper.process]
args = [
  "--model", "{model}", "{{--output-raw|--output_raw}}",
  {{ optional = ["--speaker", "{{integer}}"] }}, {{ optional = ["--length_scale", "{{number}}"] }},
]
[plugins.piper.config]
{program_setting}
model_path = "{model}"
sample_rate = 16000
claude_voice = "0"
guest_speaker = "2"
{config}
[plugins.mock-tts]
path = "mock-tts.wasm"
capabilities = ["log", "config"]
"#,
        program = program.display(),
        model = model.display(),
        config = settings(
            &[
                ("first_audio_timeout_ms", "2000"),
                ("read_timeout_ms", "2000")
            ],
            config
        ),
    ));
    let host = studio.start(false).await;
    if !program_in_config {
        host.set_secret("PIPER_PATH", program.display().to_string());
    }
    Piper {
        studio,
        host,
        model,
        record,
    }
}

/// Makes `dir` readable and `files` writable by anyone: a child running as another user (nobody,
/// when the tests run as root) reads the voice there and records into those files.
fn open_to_the_child(dir: &Path, files: &[&Path]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    for file in files {
        std::fs::write(file, b"").expect("create");
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_speaks_the_text_as_one_line_with_each_speakers_voice() {
    let p = piper("", "", false, true).await;
    let claude = speak(
        &p.host,
        request(Speaker::Claude, "Hello there.\nThis is Claude speaking."),
    )
    .await
    .expect("claude");
    let model = p.model.display().to_string();
    assert_eq!(
        p.argv(),
        vec![
            fake_piper().display().to_string(),
            "--model".into(),
            model.clone(),
            "--output-raw".into(),
            "--speaker".into(),
            "0".into(),
            "--length_scale".into(),
            "1".into(),
        ]
    );
    assert_eq!(p.stdin(), "Hello there. This is Claude speaking.\n");
    assert!(claude.iter().all(|c| c.sample_rate == 16_000));
    let audio = samples(&claude);
    assert!(audio.len() > 16_000 / 2, "{} samples", audio.len());
    assert!(audio.iter().any(|s| s.unsigned_abs() > 1000), "audible");
    assert!(claude.len() > 2, "streamed in chunks");

    let guest = speak(&p.host, request(Speaker::Guest, "And this is the guest."))
        .await
        .expect("guest");
    assert!(!guest.is_empty());
    let argv = p.argv();
    assert_eq!(
        argv[4..],
        ["--speaker", "2", "--length_scale", "0.9"].map(String::from)
    );
    assert_eq!(p.stdin(), "And this is the guest.\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_takes_its_path_from_piper_path_and_the_cpp_raw_flag_from_config() {
    let p = piper(
        "",
        "raw_flag = \"--output_raw\"\nguest_length_scale = 1.2",
        false,
        false,
    )
    .await;
    let mut request = request(Speaker::Guest, "Hi.");
    request.voice = "3".into();
    speak(&p.host, request).await.expect("speak");
    let argv = p.argv();
    assert_eq!(argv[0], fake_piper().display().to_string());
    assert_eq!(
        argv[3..],
        ["--output_raw", "--speaker", "3", "--length_scale", "1.2"].map(String::from)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_piper_is_unavailable_with_its_stderr() {
    let p = piper(r#", "fake_mode": "fail""#, "", false, true).await;
    let error = failure(&p.host).await;
    match &error {
        PluginError::Unavailable(message) => {
            assert!(message.contains("exited with code 1"), "{message}");
            assert!(message.contains("Failed to load voice"), "{message}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_piper_falls_back_to_mock_tts() {
    let p = piper(r#", "fake_mode": "fail""#, "", true, true).await;
    let chunks = speak(&p.host, request(Speaker::Claude, "Hello there."))
        .await
        .expect("mock-tts speaks instead");
    assert!(!chunks.is_empty());
    assert!(
        chunks.iter().all(|c| c.sample_rate == 24_000),
        "mock-tts's rate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_piper_is_killed_after_the_read_timeout() {
    let p = piper(
        r#", "fake_mode": "hang""#,
        "first_audio_timeout_ms = 700",
        false,
        true,
    )
    .await;
    let started = Instant::now();
    let error = failure(&p.host).await;
    assert!(
        matches!(&error, PluginError::Unavailable(m) if m.contains("no audio for 700 ms")),
        "{error:?}"
    );
    assert_ended_within(started, Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_dying_mid_speech_is_unavailable_after_the_audio_it_made() {
    let p = piper(r#", "fake_mode": "crash""#, "", true, true).await;
    let mut tts = p.host.tts();
    let (tx, mut rx) = mpsc::channel(4096);
    let result = tts.synthesize(request(Speaker::Claude, "Hello."), tx).await;
    let mut delivered = 0;
    while let Some(chunk) = rx.recv().await {
        assert_eq!(
            chunk.sample_rate, 16_000,
            "piper's audio, not the fallback's"
        );
        delivered += chunk.samples.len();
    }
    assert_eq!(delivered, 1600, "the tenth of a second piper made");
    match result {
        Err(CallError::Plugin {
            error: PluginError::Unavailable(message),
            ..
        }) => assert!(message.contains("onnxruntime"), "{message}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_barge_in_stops_piper_at_once() {
    // Slow speech (length scale 4) of a long text: many chunks to cancel in the middle of.
    let p = piper("", "claude_length_scale = 4.0", false, true).await;
    let mut tts = p.host.tts();
    let cancel = tts.canceller();
    let (tx, mut rx) = mpsc::channel(1);
    let call = tokio::spawn(async move {
        let result = tts
            .synthesize(
                request(
                    Speaker::Claude,
                    "This is a long answer that goes on and on, so that there is plenty of audio \
                     left to cut off when the human starts talking over it.",
                ),
                tx,
            )
            .await;
        (tts, result)
    });
    let first = rx.recv().await.expect("the first chunk");
    assert_eq!(first.sample_rate, 16_000);
    let started = Instant::now();
    cancel.cancel();
    drop(rx);
    let (_tts, result) = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the call ends promptly")
        .expect("call task");
    assert!(
        matches!(
            result,
            Err(CallError::Plugin {
                error: PluginError::Cancelled,
                ..
            })
        ),
        "{result:?}"
    );
    assert_ended_within(started, Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piper_without_a_path_is_a_config_error_naming_piper_path() {
    let p = piper("", "", false, false).await;
    p.host.set_secret("PIPER_PATH", "");
    let error = failure(&p.host).await;
    assert!(
        matches!(&error, PluginError::Config(m) if m.contains("PIPER_PATH")),
        "{error:?}"
    );
    drop(p.studio);
}
