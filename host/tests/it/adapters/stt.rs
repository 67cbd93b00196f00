//! The STT adapters (`whisper`, `google-stt`, `assemblyai`) as real plugins in the real host,
//! against the fake providers of the test kit (`studio_test_kit::fakes`): microphone audio at 48 kHz with the host's VAD
//! hints goes in, transcripts come out, the requests the fakes received are checked (path, query,
//! headers, audio format and length), and every failure of issue 5 is played.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::plugins::Studio;
use studio_test_kit::fakes::Fault;
use tokio::sync::mpsc;
use voice_studio::plugins::wit::{PluginError, Speaker, SttRequest, Transcript, TranscriptKind};
use voice_studio::plugins::{CallError, PluginHost, SttInput};

// ---------------------------------------------------------------------------------------------
// Microphone audio and running one STT call.

/// Samples per 20 ms frame at the studio's 48 kHz.
const FRAME: usize = 960;
/// The test tone: a frequency a wrong sample rate would move.
const TONE_HZ: f64 = 440.0;

/// What the microphone does next.
#[derive(Debug, Clone, Copy)]
enum Mic {
    /// A 440 Hz tone for this many ms.
    Tone(usize),
    /// Silence for this many ms.
    Quiet(usize),
    /// The host's VAD hears speech begin.
    Started,
    /// The host's VAD hears speech end.
    Ended,
}

/// 20 ms frames and hints for a script, the tone's phase running on across frames.
fn microphone(script: &[Mic]) -> Vec<SttInput> {
    let mut out = Vec::new();
    let mut n = 0u64;
    for step in script {
        match *step {
            Mic::Tone(ms) | Mic::Quiet(ms) => {
                let loud = matches!(step, Mic::Tone(_));
                for _ in 0..ms / 20 {
                    let frame = (0..FRAME)
                        .map(|_| {
                            n += 1;
                            if loud {
                                let t = n as f64 / 48_000.0;
                                ((t * TONE_HZ * std::f64::consts::TAU).sin() * 9_000.0) as i16
                            } else {
                                0
                            }
                        })
                        .collect();
                    out.push(SttInput::Audio(frame));
                }
            }
            Mic::Started => out.push(SttInput::SpeechStarted),
            Mic::Ended => out.push(SttInput::SpeechEnded),
        }
    }
    out
}

/// One utterance as the host's VAD reports it: the hint comes 100 ms after the speech begins,
/// and the end hint after 300 ms of quiet. With the adapters' 300 ms pre-roll the utterance is
/// 1500 ms long and starts 300 ms into the stream after `lead_ms` = 500 of quiet.
fn one_utterance() -> Vec<Mic> {
    vec![
        Mic::Quiet(500),
        Mic::Tone(100),
        Mic::Started,
        Mic::Tone(900),
        Mic::Quiet(300),
        Mic::Ended,
    ]
}

fn two_utterances() -> Vec<Mic> {
    let mut script = one_utterance();
    script.extend([
        Mic::Quiet(400),
        Mic::Tone(100),
        Mic::Started,
        Mic::Tone(500),
        Mic::Quiet(300),
        Mic::Ended,
        Mic::Quiet(200),
    ]);
    script
}

fn request() -> SttRequest {
    SttRequest {
        speaker: Speaker::You,
        language: "en-US".into(),
        key_terms: Vec::new(),
    }
}

/// Runs one `transcribe` call over `script` (then the end of the stream); returns the call's
/// result and every transcript pushed.
async fn run(host: &Arc<PluginHost>, script: &[Mic]) -> (Result<(), CallError>, Vec<Transcript>) {
    run_request(host, script, request()).await
}

async fn run_request(
    host: &Arc<PluginHost>,
    script: &[Mic],
    request: SttRequest,
) -> (Result<(), CallError>, Vec<Transcript>) {
    let mut stt = host.stt();
    let (in_tx, in_rx) = mpsc::channel(64);
    let (out_tx, mut out_rx) = mpsc::channel(256);
    let inputs = microphone(script);
    let feeder = tokio::spawn(async move {
        for input in inputs {
            // A plugin that failed stops reading; the rest of the audio has nowhere to go.
            if in_tx.send(input).await.is_err() {
                return;
            }
        }
        let _ = in_tx.send(SttInput::End).await;
    });
    let collector = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(t) = out_rx.recv().await {
            all.push(t);
        }
        all
    });
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        stt.transcribe(request, in_rx, out_tx),
    )
    .await
    .expect("an STT call never hangs");
    feeder.abort();
    let transcripts = collector.await.expect("collector");
    (result, transcripts)
}

fn finals(transcripts: &[Transcript]) -> Vec<(String, u64, u64)> {
    transcripts
        .iter()
        .filter(|t| t.kind == TranscriptKind::Final)
        .map(|t| (t.text.clone(), t.start_ms, t.end_ms))
        .collect()
}

fn plugin_error(result: Result<(), CallError>) -> PluginError {
    match result {
        Err(CallError::Plugin { error, .. }) => error,
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

/// Zero crossings per second of `samples` at `rate`: 2 x the tone's frequency when the rate is right.
fn crossings_per_second(samples: &[i16], rate: u32) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 * f64::from(rate) / samples.len() as f64
}

/// The loud part of some samples (the tone, without the silence around it).
fn loud(samples: &[i16]) -> &[i16] {
    let first = samples
        .iter()
        .position(|s| s.unsigned_abs() > 1000)
        .unwrap_or(0);
    let last = samples
        .iter()
        .rposition(|s| s.unsigned_abs() > 1000)
        .unwrap_or(0);
    &samples[first..=last.max(first)]
}

/// Bare s16le bytes as samples.
fn le_samples(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Asserts that 16 kHz `samples` still carry the 440 Hz test tone (a wrong rate would move it).
fn assert_tone_at_16_khz(samples: &[i16]) {
    let rate = crossings_per_second(loud(samples), 16_000);
    assert!(
        (rate - 2.0 * TONE_HZ).abs() < 20.0,
        "the tone is still 440 Hz at 16 kHz: {rate}"
    );
}

/// The error of a call over `script` that is expected to fail.
async fn failure(host: &Arc<PluginHost>, script: &[Mic]) -> PluginError {
    let (result, _) = run(host, script).await;
    plugin_error(result)
}

/// Asserts that a call that started at `started` ended within `limit` (gave up, never hung).
fn assert_ended_within(started: Instant, limit: Duration) {
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());
}

/// Three answers that start later than any timeout the tests configure.
fn three_slow_answers() -> impl Iterator<Item = Fault> {
    std::iter::repeat_n(Fault::SlowFirstByte { ms: 5000 }, 3)
}

/// A studio with one STT plugin configured by `table` (the `[plugins.NAME]` body after `path`).
async fn studio_host(plugin: &str, table: &str) -> (Studio, Arc<PluginHost>) {
    let studio = Studio::with_plugins(&[plugin]);
    studio.write_manifest(&format!(
        "[roles]\nstt = \"{plugin}\"\n[plugins.{plugin}]\npath = \"{plugin}.wasm\"\n{table}\n"
    ));
    let host = studio.start(false).await;
    (studio, host)
}

// ---------------------------------------------------------------------------------------------
// whisper

mod whisper {
    use super::*;
    use studio_test_kit::fakes::whisper::{self, multipart_parts, parse_wav};

    async fn host(format: &str, endpoint: &str, extra: &str) -> (Studio, Arc<PluginHost>) {
        studio_host(
            "whisper",
            &format!(
                r#"capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
secrets = ["WHISPER_ENDPOINT", "OPENAI_API_KEY"]
[plugins.whisper.config]
format = "{format}"
endpoint = "{endpoint}"
retry_base_ms = 20
{extra}
"#
            ),
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn raw_flavour_sends_each_utterance_as_16_khz_pcm_and_pushes_its_text() {
        let fake = whisper::start(&["Claude, what do you think?", "And you, guest?"]).await;
        let (_studio, host) = host("raw", &fake.endpoint(), "").await;
        let (result, transcripts) = run(&host, &two_utterances()).await;
        result.expect("transcribe");
        assert_eq!(
            finals(&transcripts),
            vec![
                ("Claude, what do you think?".to_owned(), 300, 1800),
                ("And you, guest?".to_owned(), 2000, 3100),
            ]
        );
        let requests = fake.requests();
        assert_eq!(requests.len(), 2, "one request per utterance");
        for (request, ms) in requests.iter().zip([1500usize, 1100]) {
            assert_eq!(
                (request.method.as_str(), request.path.as_str()),
                ("POST", "/transcribe")
            );
            assert_eq!(
                request.header("content-type"),
                Some("application/octet-stream")
            );
            assert_eq!(request.header("authorization"), None);
            // Bare s16le at 16 kHz: 32 bytes per ms, no header.
            assert_eq!(request.body.len(), ms * 32, "{ms} ms of 16 kHz PCM");
            assert_ne!(&request.body[..4], b"RIFF");
            assert_tone_at_16_khz(&le_samples(&request.body));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_endpoint_defaults_to_whisper_endpoint() {
        let fake = whisper::start(&["From the env."]).await;
        let (_studio, host) = studio_host(
            "whisper",
            r#"capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
secrets = ["WHISPER_ENDPOINT"]"#,
        )
        .await;
        host.set_secret("WHISPER_ENDPOINT", fake.endpoint());
        let (result, transcripts) = run(&host, &one_utterance()).await;
        result.expect("transcribe");
        assert_eq!(
            finals(&transcripts),
            vec![("From the env.".to_owned(), 300, 1800)]
        );
        assert_eq!(fake.requests()[0].body.len(), 1500 * 32);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn multipart_flavour_posts_a_16_khz_wav_with_model_and_bearer_key() {
        let fake = whisper::start(&["Hello from OpenAI."]).await;
        let (_studio, host) = host(
            "multipart",
            &fake.openai_endpoint(),
            "model = \"gpt-4o-transcribe\"",
        )
        .await;
        host.set_secret("OPENAI_API_KEY", "sk-test-123");
        let mut request = request();
        request.key_terms = vec!["Claude".into(), "Ada".into()];
        let (result, transcripts) = run_request(&host, &one_utterance(), request).await;
        result.expect("transcribe");
        assert_eq!(
            finals(&transcripts),
            vec![("Hello from OpenAI.".to_owned(), 300, 1800)]
        );
        let requests = fake.requests();
        assert_eq!(requests.len(), 1);
        let sent = &requests[0];
        assert_eq!(sent.path, "/v1/audio/transcriptions");
        assert_eq!(sent.header("authorization"), Some("Bearer sk-test-123"));
        let parts = multipart_parts(sent);
        let field = |name: &str| parts.iter().find(|p| p.name == name).map(|p| p.text());
        assert_eq!(field("model").as_deref(), Some("gpt-4o-transcribe"));
        assert_eq!(field("response_format").as_deref(), Some("json"));
        assert_eq!(field("language").as_deref(), Some("en"));
        assert_eq!(field("prompt").as_deref(), Some("Claude, Ada"));
        let file = parts
            .iter()
            .find(|p| p.name == "file")
            .expect("a file part");
        assert_eq!(file.filename.as_deref(), Some("audio.wav"));
        let wav = parse_wav(&file.data).expect("a valid WAV file");
        assert_eq!(
            (wav.format, wav.sample_rate, wav.channels, wav.bits),
            (1, 16_000, 1, 16)
        );
        assert_eq!(wav.samples.len(), 1500 * 16, "1.5 s at 16 kHz");
        assert_tone_at_16_khz(&wav.samples);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_whisper_cpp_error_in_a_200_answer_is_retried_then_the_text_arrives() {
        let fake = whisper::start(&["Second time lucky."]).await;
        fake.answer_errors_in_200(1);
        let (_studio, host) = host("multipart", &fake.cpp_endpoint(), "").await;
        let (result, transcripts) = run(&host, &one_utterance()).await;
        result.expect("transcribe");
        assert_eq!(finals(&transcripts).len(), 1);
        let requests = fake.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(
            requests[0].body, requests[1].body,
            "the retry resends the same audio"
        );
        assert_eq!(
            requests[0].header("authorization"),
            None,
            "no key set, none sent"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_studio_server_that_keeps_answering_200_with_an_error_fails_the_call() {
        let fake = whisper::start(&["never"]).await;
        fake.answer_errors_in_200(10);
        let (_studio, host) = host("raw", &fake.endpoint(), "").await;
        let (result, transcripts) = run(&host, &one_utterance()).await;
        let error = plugin_error(result);
        assert!(
            matches!(&error, PluginError::Unavailable(m) if m.contains("CUDA out of memory")),
            "{error:?}"
        );
        assert!(transcripts.is_empty());
        assert_eq!(fake.requests().len(), 3, "3 tries in all");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_key_is_an_auth_error_naming_it_without_retry() {
        let fake = whisper::start(&["never"]).await;
        fake.push_faults([Fault::Unauthorized]);
        let (_studio, host) = host("multipart", &fake.openai_endpoint(), "").await;
        host.set_secret("OPENAI_API_KEY", "sk-wrong-key");
        let error = failure(&host, &one_utterance()).await;
        match &error {
            PluginError::Auth(message) => {
                assert!(
                    message.contains("Whisper")
                        && message.contains("OPENAI_API_KEY")
                        && message.contains("401"),
                    "{message}"
                );
                assert!(!message.contains("sk-wrong-key"), "no secret in errors");
            }
            other => panic!("expected auth, got {other:?}"),
        }
        assert_eq!(fake.requests().len(), 1, "auth is not retried");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rate_limit_within_the_bound_is_waited_out() {
        let fake = whisper::start(&["After the wait."]).await;
        fake.push_faults([Fault::RateLimited { retry_after_s: 1 }]);
        let (_studio, host) = host("raw", &fake.endpoint(), "").await;
        let started = Instant::now();
        let (result, transcripts) = run(&host, &one_utterance()).await;
        result.expect("transcribe");
        assert!(
            started.elapsed() >= Duration::from_millis(1000),
            "retry-after was honoured"
        );
        assert_eq!(finals(&transcripts)[0].0, "After the wait.");
        assert_eq!(fake.requests().len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rate_limit_asking_too_long_fails_as_rate_limited() {
        let fake = whisper::start(&["never"]).await;
        fake.push_faults([Fault::RateLimited { retry_after_s: 60 }]);
        let (_studio, host) = host("raw", &fake.endpoint(), "").await;
        let started = Instant::now();
        match failure(&host, &one_utterance()).await {
            PluginError::RateLimited(limit) => {
                assert_eq!(limit.retry_after_ms, Some(60_000));
                assert!(limit.message.contains("Whisper"), "{}", limit.message);
            }
            other => panic!("expected rate-limited, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(fake.requests().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn server_errors_and_a_dropped_answer_are_retried() {
        let fake = whisper::start(&["Made it."]).await;
        fake.push_faults([Fault::ServerError, Fault::DropMidStream]);
        let (_studio, host) = host("raw", &fake.endpoint(), "").await;
        let (result, transcripts) = run(&host, &one_utterance()).await;
        result.expect("transcribe");
        assert_eq!(finals(&transcripts)[0].0, "Made it.");
        let requests = fake.requests();
        assert_eq!(requests.len(), 3);
        assert!(requests.iter().all(|r| r.body == requests[0].body));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_that_stays_down_fails_the_call_as_unavailable() {
        let fake = whisper::start(&["never"]).await;
        fake.push_faults([Fault::ServerError, Fault::Overloaded, Fault::ServerError]);
        let (_studio, host) = host("raw", &fake.endpoint(), "").await;
        let (result, transcripts) = run(&host, &two_utterances()).await;
        let error = plugin_error(result);
        assert!(
            matches!(&error, PluginError::Unavailable(m) if m.contains("Whisper")),
            "{error:?}"
        );
        assert!(transcripts.is_empty());
        assert_eq!(
            fake.requests().len(),
            3,
            "the call ends at the first utterance that failed"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn after_a_failed_call_the_next_runs_on_the_fallback_then_whisper_again() {
        let fake = whisper::start(&["Back on whisper."]).await;
        fake.push_faults([Fault::ServerError, Fault::ServerError, Fault::ServerError]);
        let studio = Studio::with_plugins(&["whisper", "mock-stt"]);
        studio.write_manifest(&format!(
            r#"[roles]
stt = "whisper"
[plugins.whisper]
path = "whisper.wasm"
capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
fallback = ["mock-stt"]
[plugins.whisper.config]
endpoint = "{}"
retry_base_ms = 20
[plugins.mock-stt]
path = "mock-stt.wasm"
capabilities = ["log", "clock", "config"]
[plugins.mock-stt.config]
script = ["Heard by the fallback."]
end_of_speech_ms = 200
"#,
            fake.endpoint()
        ));
        let host = studio.start(false).await;
        // One handle, as a studio session keeps one and restarts its call after a failure.
        let mut stt = host.stt();
        let call = async |stt: &mut voice_studio::plugins::SttHandle| {
            let (in_tx, in_rx) = mpsc::channel(512);
            for input in microphone(&one_utterance()) {
                in_tx.try_send(input).expect("queue");
            }
            in_tx.try_send(SttInput::End).expect("queue");
            let (out_tx, mut out_rx) = mpsc::channel(256);
            let result = stt.transcribe(request(), in_rx, out_tx).await;
            let mut texts = Vec::new();
            while let Some(t) = out_rx.recv().await {
                if t.kind == TranscriptKind::Final {
                    texts.push(t.text);
                }
            }
            (result, texts)
        };
        let (failed, _) = call(&mut stt).await;
        assert!(matches!(plugin_error(failed), PluginError::Unavailable(_)));
        let (fallback, texts) = call(&mut stt).await;
        fallback.expect("the fallback transcribes");
        assert_eq!(texts, ["Heard by the fallback."]);
        let (again, texts) = call(&mut stt).await;
        again.expect("whisper serves again");
        assert_eq!(texts, ["Back on whisper."]);
        assert_eq!(fake.requests().len(), 4, "3 failed tries, then 1 served");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_malformed_answer_is_a_protocol_error() {
        let fake = whisper::start(&["never"]).await;
        fake.push_faults([Fault::Malformed]);
        let (_studio, host) = host("raw", &fake.endpoint(), "").await;
        assert!(matches!(
            failure(&host, &one_utterance()).await,
            PluginError::Protocol(_)
        ));
        assert_eq!(fake.requests().len(), 1, "protocol errors are not retried");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_server_times_out_as_unavailable_instead_of_hanging() {
        let fake = whisper::start(&["never"]).await;
        fake.push_faults(three_slow_answers());
        let (_studio, host) = host("raw", &fake.endpoint(), "timeout_ms = 300").await;
        let started = Instant::now();
        assert!(matches!(
            failure(&host, &one_utterance()).await,
            PluginError::Unavailable(_)
        ));
        assert_ended_within(started, Duration::from_secs(4));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn long_speech_is_sent_in_pieces_no_longer_than_the_cap() {
        let fake = whisper::start(&["one", "two", "three"]).await;
        let (_studio, host) = host(
            "raw",
            &fake.endpoint(),
            "max_utterance_ms = 1000\npre_roll_ms = 0",
        )
        .await;
        let script = [
            Mic::Quiet(200),
            Mic::Started,
            Mic::Tone(2400),
            Mic::Ended,
            Mic::Quiet(100),
        ];
        let (result, transcripts) = run(&host, &script).await;
        result.expect("transcribe");
        assert_eq!(
            finals(&transcripts),
            vec![
                ("one".to_owned(), 200, 1200),
                ("two".to_owned(), 1200, 2200),
                ("three".to_owned(), 2200, 2600),
            ]
        );
        let sizes: Vec<usize> = fake.requests().iter().map(|r| r.body.len() / 32).collect();
        assert_eq!(sizes, vec![1000, 1000, 400]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn silence_with_no_words_pushes_nothing() {
        let fake = whisper::start(&[""]).await;
        let (_studio, host) = host("raw", &fake.endpoint(), "").await;
        let (result, transcripts) = run(&host, &one_utterance()).await;
        result.expect("transcribe");
        assert!(transcripts.is_empty(), "{transcripts:?}");
        assert_eq!(fake.requests().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn speech_still_going_at_the_end_of_the_stream_is_flushed() {
        let fake = whisper::start(&["Cut short."]).await;
        let (_studio, host) = host("raw", &fake.endpoint(), "").await;
        let script = [
            Mic::Quiet(500),
            Mic::Tone(100),
            Mic::Started,
            Mic::Tone(600),
        ];
        let (result, transcripts) = run(&host, &script).await;
        result.expect("transcribe");
        assert_eq!(
            finals(&transcripts),
            vec![("Cut short.".to_owned(), 300, 1200)]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// google-stt

mod google_stt {
    use super::*;
    use studio_test_kit::fakes::google_oauth::{self, FakeGoogleOAuth};
    use studio_test_kit::fakes::google_stt::{self, FakeGoogleStt, RECOGNIZE_PATH, audio_samples};

    struct Google {
        _studio: Studio,
        host: Arc<PluginHost>,
        api: FakeGoogleStt,
        oauth: FakeGoogleOAuth,
    }

    async fn google(texts: &[&str], extra: &str) -> Google {
        let api = google_stt::start(texts).await;
        let oauth = google_oauth::start().await;
        let (studio, host) = studio_host(
            "google-stt",
            &format!(
                r#"capabilities = ["log", "clock", "config", "http"]
allowed_hosts = ["http://127.0.0.1:*"]
secret_files = ["GOOGLE_APPLICATION_CREDENTIALS"]
[plugins.google-stt.config]
base_url = "{}"
retry_base_ms = 20
{extra}
"#,
                api.base_url()
            ),
        )
        .await;
        let credentials = oauth.write_credentials(studio.dir.path());
        host.set_secret(
            "GOOGLE_APPLICATION_CREDENTIALS",
            credentials.display().to_string(),
        );
        Google {
            _studio: studio,
            host,
            api,
            oauth,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_utterance_is_recognized_as_linear16_at_16_khz_with_a_service_account_token() {
        let g = google(&["hello world", "how are you"], "").await;
        let mut request = request();
        request.key_terms = vec!["Claude".into()];
        let (result, transcripts) = run_request(&g.host, &two_utterances(), request).await;
        result.expect("transcribe");
        assert_eq!(
            finals(&transcripts),
            vec![
                ("hello world".to_owned(), 300, 1800),
                ("how are you".to_owned(), 2000, 3100),
            ]
        );
        assert_eq!(transcripts[0].confidence, Some(0.94));
        let requests = g.api.requests();
        assert_eq!(requests.len(), 2);
        for (sent, ms) in requests.iter().zip([1500usize, 1100]) {
            assert_eq!(
                (sent.method.as_str(), sent.path.as_str()),
                ("POST", RECOGNIZE_PATH)
            );
            let authorization = sent.header("authorization").unwrap_or_default();
            assert!(g.oauth.is_issued_bearer(authorization), "{authorization}");
            let json = sent.json();
            assert_eq!(json["config"]["encoding"], "LINEAR16");
            assert_eq!(json["config"]["sampleRateHertz"], 16000);
            assert_eq!(json["config"]["languageCode"], "en-US");
            assert_eq!(json["config"]["speechContexts"][0]["phrases"][0], "Claude");
            let samples = audio_samples(sent);
            assert_eq!(samples.len(), ms * 16, "{ms} ms at 16 kHz");
            assert_tone_at_16_khz(&samples);
        }
        assert_eq!(
            g.oauth.issued().len(),
            1,
            "the token is cached between utterances"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn language_and_model_come_from_the_config() {
        let g = google(
            &["bonjour"],
            "language_code = \"fr-FR\"\nmodel = \"latest_short\"",
        )
        .await;
        let (result, _) = run(&g.host, &one_utterance()).await;
        result.expect("transcribe");
        let json = g.api.requests()[0].json();
        assert_eq!(json["config"]["languageCode"], "fr-FR");
        assert_eq!(json["config"]["model"], "latest_short");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_answer_without_results_is_no_speech() {
        let g = google(&[""], "").await;
        let (result, transcripts) = run(&g.host, &one_utterance()).await;
        result.expect("transcribe");
        assert!(transcripts.is_empty(), "{transcripts:?}");
        assert_eq!(g.api.requests().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_token_is_renewed_once_then_an_auth_error_names_the_credentials() {
        let g = google(&["never"], "").await;
        g.api
            .push_faults([Fault::Unauthorized, Fault::Unauthorized]);
        let error = failure(&g.host, &one_utterance()).await;
        assert!(
            matches!(&error, PluginError::Auth(m) if m.contains("GOOGLE_APPLICATION_CREDENTIALS") && m.contains("401")),
            "{error:?}"
        );
        assert_eq!(
            g.api.requests().len(),
            2,
            "one retry with a fresh token, no more"
        );
        assert_eq!(g.oauth.issued().len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_token_endpoint_that_refuses_the_key_is_an_auth_error() {
        let g = google(&["never"], "").await;
        g.oauth.push_faults([Fault::Unauthorized]);
        let error = failure(&g.host, &one_utterance()).await;
        assert!(
            matches!(&error, PluginError::Auth(m) if m.contains("GOOGLE_APPLICATION_CREDENTIALS")),
            "{error:?}"
        );
        assert!(
            g.api.requests().is_empty(),
            "no recognition without a token"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rate_limits_are_waited_out_within_the_bound_else_returned() {
        let g = google(&["patience"], "").await;
        g.api.push_faults([Fault::RateLimited { retry_after_s: 1 }]);
        let (result, transcripts) = run(&g.host, &one_utterance()).await;
        result.expect("transcribe");
        assert_eq!(finals(&transcripts)[0].0, "patience");
        assert_eq!(g.api.requests().len(), 2);

        let g = google(&["never"], "").await;
        g.api
            .push_faults([Fault::RateLimited { retry_after_s: 90 }]);
        match failure(&g.host, &one_utterance()).await {
            PluginError::RateLimited(limit) => {
                assert_eq!(limit.retry_after_ms, Some(90_000));
                assert!(
                    limit.message.contains("RESOURCE_EXHAUSTED"),
                    "{}",
                    limit.message
                );
            }
            other => panic!("expected rate-limited, got {other:?}"),
        }
        assert_eq!(g.api.requests().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn server_errors_and_drops_are_retried_and_a_lasting_outage_is_unavailable() {
        let g = google(&["back again"], "").await;
        g.api
            .push_faults([Fault::ServerError, Fault::DropMidStream]);
        let (result, transcripts) = run(&g.host, &one_utterance()).await;
        result.expect("transcribe");
        assert_eq!(finals(&transcripts)[0].0, "back again");
        let requests = g.api.requests();
        assert_eq!(requests.len(), 3);
        assert!(
            requests.iter().all(|r| r.body == requests[0].body),
            "the same audio resent"
        );

        let g = google(&["never"], "").await;
        g.api
            .push_faults([Fault::Overloaded, Fault::ServerError, Fault::Overloaded]);
        assert!(
            matches!(failure(&g.host, &one_utterance()).await, PluginError::Unavailable(m) if m.contains("Google"))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_malformed_answer_is_a_protocol_error() {
        let g = google(&["never"], "").await;
        g.api.push_faults([Fault::Malformed]);
        assert!(matches!(
            failure(&g.host, &one_utterance()).await,
            PluginError::Protocol(_)
        ));
        assert_eq!(g.api.requests().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_answer_times_out_as_unavailable() {
        let g = google(&["never"], "timeout_ms = 300").await;
        g.api.push_faults(three_slow_answers());
        let started = Instant::now();
        assert!(matches!(
            failure(&g.host, &one_utterance()).await,
            PluginError::Unavailable(_)
        ));
        assert_ended_within(started, Duration::from_secs(4));
    }
}

// ---------------------------------------------------------------------------------------------
// assemblyai

mod assemblyai {
    use super::*;
    use serde_json::Value;
    use studio_test_kit::fakes::FakeServer;
    use studio_test_kit::fakes::assemblyai::{self, FAULT_AFTER_MS, When, turn};

    const KEY: &str = "aai-test-key-0123";

    /// Two turns: the first grows in partials, ends unformatted and then formatted; the second
    /// is still in flight at `Terminate`.
    fn script() -> Vec<(When, Value)> {
        use When::AfterAudioMs as After;
        let hello = |done| ("hello", 600, 700, done);
        let there = |done| ("there", 750, 900, done);
        vec![
            (After(700), turn(0, false, false, "", &[hello(false)])),
            (
                After(1000),
                turn(0, false, false, "hello", &[hello(true), there(false)]),
            ),
            (
                After(1500),
                turn(0, true, false, "hello there", &[hello(true), there(true)]),
            ),
            (After(1500), turn(0, true, true, "Hello there.", &[])),
            (
                After(2000),
                turn(1, false, false, "", &[("bye", 1900, 2000, false)]),
            ),
            (
                When::OnTerminate,
                turn(1, true, true, "Bye.", &[("Bye.", 1900, 2050, true)]),
            ),
        ]
    }

    /// 2.8 s of microphone audio.
    fn session() -> Vec<Mic> {
        let mut script = one_utterance();
        script.push(Mic::Quiet(1000));
        script
    }

    async fn host(fake: &FakeServer, extra: &str) -> (Studio, Arc<PluginHost>) {
        let (studio, host) = studio_host(
            "assemblyai",
            &format!(
                r#"capabilities = ["log", "config", "websocket"]
allowed_hosts = ["ws://127.0.0.1:*"]
secrets = ["ASSEMBLYAI_API_KEY"]
[plugins.assemblyai.config]
base_url = "{}"
retry_base_ms = 20
{extra}
"#,
                fake.ws_url()
            ),
        )
        .await;
        host.set_secret("ASSEMBLYAI_API_KEY", KEY);
        (studio, host)
    }

    fn all(transcripts: &[Transcript]) -> Vec<(TranscriptKind, String, u64, u64)> {
        transcripts
            .iter()
            .map(|t| (t.kind, t.text.clone(), t.start_ms, t.end_ms))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn partial_turns_are_partials_and_the_formatted_end_of_turn_is_final() {
        let fake = assemblyai::start(script()).await;
        let (_studio, host) = host(&fake, "").await;
        let (result, transcripts) = run(&host, &session()).await;
        result.expect("transcribe");
        use TranscriptKind::{Final, Partial};
        assert_eq!(
            all(&transcripts),
            vec![
                (Partial, "hello".to_owned(), 600, 700),
                (Partial, "hello there".to_owned(), 600, 900),
                (Final, "Hello there.".to_owned(), 600, 900),
                (Partial, "bye".to_owned(), 1900, 2000),
                (Final, "Bye.".to_owned(), 1900, 2050),
            ]
        );
        let connections = fake.requests();
        assert_eq!(connections.len(), 1);
        let c = &connections[0];
        assert_eq!((c.method.as_str(), c.path.as_str()), ("WS", "/v3/ws"));
        assert_eq!(c.query_param("sample_rate"), Some("16000"));
        assert_eq!(c.query_param("encoding"), Some("pcm_s16le"));
        assert_eq!(
            c.query_param("speech_model"),
            Some("universal-streaming-english")
        );
        assert_eq!(c.query_param("format_turns"), Some("true"));
        assert_eq!(
            c.header("authorization"),
            Some(KEY),
            "the raw key, no Bearer"
        );
        // Binary chunks of 50-1000 ms of 16 kHz s16 (32 bytes per ms), all the audio fed.
        assert!(!c.binary_sizes.is_empty());
        assert!(
            c.binary_sizes
                .iter()
                .all(|&n| (50 * 32..=1000 * 32).contains(&n)),
            "{:?}",
            c.binary_sizes
        );
        assert_eq!(c.body.len(), 2800 * 32, "2.8 s of 16 kHz audio");
        assert_tone_at_16_khz(&le_samples(&c.body));
        assert_eq!(c.texts, vec![r#"{"type":"Terminate"}"#.to_owned()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_formatting_the_end_of_turn_is_final_at_once() {
        let fake = assemblyai::start(script()).await;
        let (_studio, host) = host(&fake, "format_turns = false\nmin_turn_silence = 560").await;
        let mut request = request();
        request.key_terms = vec!["Claude".into(), "Ada Lovelace".into()];
        let (result, transcripts) = run_request(&host, &session(), request).await;
        result.expect("transcribe");
        let finals = finals(&transcripts);
        assert_eq!(finals[0], ("hello there".to_owned(), 600, 900));
        let c = &fake.requests()[0];
        assert_eq!(c.query_param("format_turns"), Some("false"));
        assert_eq!(c.query_param("min_turn_silence"), Some("560"));
        assert_eq!(
            c.query_param("keyterms_prompt"),
            Some("%5B%22Claude%22%2C%22Ada%20Lovelace%22%5D"),
            "the key terms as a JSON list"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_handshake_is_an_auth_error_naming_the_key_without_retry() {
        let fake = assemblyai::start(script()).await;
        fake.push_faults([Fault::Unauthorized]);
        let (_studio, host) = host(&fake, "").await;
        let error = failure(&host, &session()).await;
        match &error {
            PluginError::Auth(m) => {
                assert!(
                    m.contains("AssemblyAI") && m.contains("ASSEMBLYAI_API_KEY"),
                    "{m}"
                );
                assert!(!m.contains(KEY), "no secret in errors");
            }
            other => panic!("expected auth, got {other:?}"),
        }
        assert_eq!(fake.requests().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_key_is_a_config_error() {
        let fake = assemblyai::start(script()).await;
        let (_studio, host) = studio_host(
            "assemblyai",
            &format!(
                r#"capabilities = ["log", "config", "websocket"]
allowed_hosts = ["ws://127.0.0.1:*"]
secrets = ["ASSEMBLYAI_API_KEY"]
[plugins.assemblyai.config]
base_url = "{}""#,
                fake.ws_url()
            ),
        )
        .await;
        assert!(
            matches!(failure(&host, &session()).await, PluginError::Config(m) if m.contains("ASSEMBLYAI_API_KEY"))
        );
        assert!(fake.requests().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn too_many_sessions_is_rate_limited() {
        let fake = assemblyai::start(script()).await;
        fake.push_faults([
            Fault::RateLimited { retry_after_s: 0 },
            Fault::RateLimited { retry_after_s: 0 },
            Fault::RateLimited { retry_after_s: 0 },
        ]);
        let (_studio, host) = host(&fake, "").await;
        let (result, transcripts) = run(&host, &session()).await;
        assert!(
            matches!(plugin_error(result), PluginError::RateLimited(limit) if limit.message.contains("3009"))
        );
        assert!(transcripts.is_empty());
        assert!(fake.requests().len() <= 3, "bounded");
    }

    /// A connection lost mid-session (`fault`) is re-established and the session goes on: the
    /// audio after the last final (here: all of it, no turn had ended) is sent again on the new
    /// connection, so the words in progress are recognized there, with the stream's times.
    async fn survives(fault: Fault) {
        let fake = assemblyai::start(script()).await;
        fake.push_faults([fault]);
        let (_studio, host) = host(&fake, "").await;
        let (result, transcripts) = run(&host, &session()).await;
        result.expect("the session goes on after the connection is lost");
        let connections = fake.requests();
        assert_eq!(connections.len(), 2, "one reconnect");
        assert!(connections[0].body.len() as u64 >= FAULT_AFTER_MS * 32);
        assert!(
            connections[1]
                .binary_sizes
                .iter()
                .all(|&n| (50 * 32..=1000 * 32).contains(&n)),
            "{:?}",
            connections[1].binary_sizes
        );
        assert_eq!(
            connections[1].body.len(),
            2800 * 32,
            "the second connection heard the whole session"
        );
        assert_eq!(
            &connections[1].body[..connections[0].body.len()],
            &connections[0].body[..],
            "the replay is the same audio"
        );
        use TranscriptKind::Final;
        let finals: Vec<_> = all(&transcripts)
            .into_iter()
            .filter(|t| t.0 == Final)
            .collect();
        assert_eq!(
            finals,
            vec![
                (Final, "Hello there.".to_owned(), 600, 900),
                (Final, "Bye.".to_owned(), 1900, 2050),
            ]
        );
        assert_eq!(
            connections[1].texts,
            vec![r#"{"type":"Terminate"}"#.to_owned()]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_error_close_mid_stream_reconnects_and_goes_on() {
        survives(Fault::ServerError).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_connection_mid_stream_reconnects_and_goes_on() {
        survives(Fault::DropMidStream).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_that_keeps_dropping_fails_as_unavailable() {
        let fake = assemblyai::start(script()).await;
        fake.push_faults(std::iter::repeat_n(Fault::DropMidStream, 10));
        let (_studio, host) = host(&fake, "max_reconnects = 2").await;
        let mut long = session();
        long.extend([Mic::Tone(2000), Mic::Quiet(1000)]);
        assert!(
            matches!(failure(&host, &long).await, PluginError::Unavailable(m) if m.contains("AssemblyAI"))
        );
        assert_eq!(
            fake.requests().len(),
            3,
            "the first connection and 2 reconnects"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_malformed_message_is_a_protocol_error() {
        let fake = assemblyai::start(script()).await;
        fake.push_faults([Fault::Malformed]);
        let (_studio, host) = host(&fake, "").await;
        assert!(matches!(
            failure(&host, &session()).await,
            PluginError::Protocol(_)
        ));
        assert_eq!(fake.requests().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_begin_is_retried_and_a_lasting_one_is_unavailable() {
        let fake = assemblyai::start(script()).await;
        fake.push_faults([Fault::SlowFirstByte { ms: 3000 }]);
        let (_studio, host) = host(&fake, "begin_timeout_ms = 300").await;
        let (result, transcripts) = run(&host, &session()).await;
        result.expect("the second connection begins in time");
        assert!(finals(&transcripts).iter().any(|f| f.0 == "Hello there."));
        assert_eq!(fake.requests().len(), 2);

        let fake = assemblyai::start(script()).await;
        fake.push_faults(three_slow_answers());
        let (_studio, slow_host) = self::host(&fake, "begin_timeout_ms = 300").await;
        let started = Instant::now();
        assert!(matches!(
            failure(&slow_host, &session()).await,
            PluginError::Unavailable(_)
        ));
        assert_ended_within(started, Duration::from_secs(5));
    }
}
