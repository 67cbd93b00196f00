//! The harness drives real built plugins of every role through the real host runtime.

use studio_plugin_harness::{Capability, Harness, HarnessError, Outcome, PluginKind, wit};

fn floor() -> wit::FloorState {
    wit::FloorState {
        now_ms: 0,
        autopilot: false,
        holder: None,
        human_speaking: false,
        last_speaker: None,
        ai_turns_in_a_row: 0,
        max_ai_turns: 4,
        thinking: None,
        autopilot_since_ms: None,
        memory: String::new(),
    }
}

fn llm_request(model: &str, text: &str) -> wit::LlmRequest {
    wit::LlmRequest {
        speaker: wit::Speaker::Claude,
        model: model.into(),
        system: String::new(),
        messages: vec![wit::ChatMessage {
            role: wit::ChatRole::User,
            content: text.into(),
        }],
        max_tokens: 50,
        temperature: None,
    }
}

#[test]
fn an_stt_plugin_gets_the_samples_as_20_ms_frames_then_the_end() {
    let plugin = Harness::load_plugin("frame-counter").expect("loads");
    assert_eq!(plugin.describe().kind, PluginKind::Stt);
    let request = wit::SttRequest {
        speaker: wit::Speaker::You,
        language: "en-US".into(),
        key_terms: Vec::new(),
    };
    // One second at 16 kHz: 50 frames of 320 samples.
    let transcripts = plugin
        .transcribe(request, &[0; 16_000], 16_000)
        .expect("transcribes");
    assert_eq!(transcripts.len(), 1);
    assert_eq!(transcripts[0].text, "50 frames 16000 samples 0 hints");
    assert_eq!(transcripts[0].end_ms, 1_000);
}

#[test]
fn an_llm_plugin_streams_its_reply_and_config_comes_from_code() {
    let plugin = Harness::new("fault-injector")
        .capabilities([Capability::Log, Capability::Config])
        .config("voice", "warm")
        .config("rate", 24_000)
        .load()
        .expect("loads");
    let (text, completion) = plugin
        .complete(llm_request("echo", "streamed word by word"))
        .expect("completes");
    assert_eq!(text, "streamed word by word");
    assert_eq!(completion.output_tokens, Some(4));
    let (config, _) = plugin.complete(llm_request("config", "")).expect("config");
    assert_eq!(config, "rate=24000\nvoice=warm\n");
}

#[test]
fn secrets_given_in_code_reach_only_the_declared_name() {
    let plugin = Harness::new("fault-injector")
        .secret("MY_KEY", "s3cret")
        .load()
        .expect("loads");
    let (own, _) = plugin
        .complete(llm_request("secret:MY_KEY", ""))
        .expect("own secret");
    assert_eq!(own, "secret: set");
    let err = plugin
        .complete(llm_request("secret:OTHER", ""))
        .expect_err("undeclared secret");
    assert!(
        matches!(
            err,
            HarnessError::Call(studio_plugin_harness::CallError::Denied { .. })
        ),
        "{err}"
    );
}

#[test]
fn limits_given_in_code_apply_and_the_plugin_recovers() {
    let plugin = Harness::new("fault-injector")
        .cpu_limit_ms(100)
        .load()
        .expect("loads");
    let err = plugin
        .complete(llm_request("spin", ""))
        .expect_err("spin is stopped");
    assert!(
        matches!(
            err,
            HarnessError::Call(studio_plugin_harness::CallError::CpuLimit { limit_ms: 100, .. })
        ),
        "{err}"
    );
    let (text, _) = plugin
        .complete(llm_request("echo", "back"))
        .expect("recovers");
    assert_eq!(text, "back");
}

#[test]
fn a_policy_plugin_decides() {
    let plugin = Harness::load_plugin("echo-policy").expect("loads");
    let decisions = plugin
        .decide(floor(), wit::FloorEvent::HumanSaid("hello".into()))
        .expect("decides");
    assert_eq!(decisions.last(), Some(&wit::Decision::Remember("1".into())));
}

#[test]
fn a_tts_plugin_returns_its_audio_chunks() {
    let plugin = Harness::new("mock-tts")
        .config("sample_rate", 16_000)
        .load()
        .expect("loads");
    let chunks = plugin
        .synthesize(wit::TtsRequest {
            text: "Testing one two three.".into(),
            speaker: wit::Speaker::Claude,
            voice: String::new(),
            language: "en-US".into(),
        })
        .expect("synthesizes");
    assert!(!chunks.is_empty());
    assert!(chunks.iter().all(|c| c.sample_rate == 16_000));
}

#[test]
fn calling_a_method_of_another_role_says_which_role_the_plugin_has() {
    let plugin = Harness::load_plugin("echo-policy").expect("loads");
    let err = plugin
        .complete(llm_request("echo", "x"))
        .expect_err("not an llm");
    assert_eq!(
        err.to_string(),
        "echo-policy is a policy plugin; `complete` needs a llm plugin"
    );
}

#[test]
fn a_missing_file_says_how_to_build_it() {
    let err = Harness::load_plugin("no-such-plugin")
        .err()
        .expect("missing");
    assert!(err.to_string().contains("cargo build"), "{err}");
}

#[test]
fn the_contract_checks_pass_for_a_sound_plugin_of_each_role() {
    for name in ["mock-tts", "frame-counter", "echo-policy"] {
        let report = Harness::new(name).check_contract().expect("the checks ran");
        assert!(!report.failed(), "{name}:\n{}", report.render());
        let streaming = report
            .checks
            .iter()
            .find(|c| c.name.ends_with("streaming") || c.name == "policy decisions")
            .expect("a streaming check");
        assert_eq!(streaming.outcome, Outcome::Pass, "{}", report.render());
    }
}

#[test]
fn the_contract_checks_report_a_broken_component_as_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm but no component").expect("write");
    let report = Harness::new(junk.display().to_string())
        .check_contract()
        .expect("the checks ran");
    assert!(report.failed(), "{}", report.render());
    assert_eq!(report.check("load").map(|c| c.outcome), Some(Outcome::Fail));
}

#[test]
fn grants_narrower_than_the_declaration_warn_but_do_not_fail() {
    let report = Harness::new("fault-injector")
        .capabilities([Capability::Log, Capability::Config])
        .check_contract()
        .expect("the checks ran");
    assert!(!report.failed(), "{}", report.render());
    // It declares http, websocket and process; the grant above leaves them out.
    assert_eq!(
        report.check("capabilities").map(|c| c.outcome),
        Some(Outcome::Warn),
        "{}",
        report.render()
    );
}

/// A request's messages as the studio writes them (the SDK's fixture of a real one, its last line
/// escaped): several speakers and a note in one user message, the AI's own cut-off line between.
fn studio_request() -> wit::LlmRequest {
    let message = |role, content: &str| wit::ChatMessage {
        role,
        content: content.into(),
    };
    wit::LlmRequest {
        speaker: wit::Speaker::Claude,
        model: String::new(),
        system: String::new(),
        messages: vec![
            message(
                wit::ChatRole::User,
                "<speaker name=\"Ana\">Welcome to Open Roads. Today: should cities ban private cars downtown?</speaker>",
            ),
            message(
                wit::ChatRole::Assistant,
                "Thanks, Ana. I want to know who pays for a ban.",
            ),
            message(
                wit::ChatRole::User,
                "<studio>3 earlier lines left out.</studio>\n\
                 <speaker name=\"Guest\">Buses &amp; bikes win if the road space goes to them: think &lt;10 minute waits.</speaker>\n\
                 <speaker name=\"Ana\" interrupted=\"true\">Guest, what about deliver</speaker>",
            ),
            message(
                wit::ChatRole::Assistant,
                "That works for shops, but the night shift\u{2014}",
            ),
            message(
                wit::ChatRole::User,
                "<speaker name=\"Ana\">Claude, are buses &amp; bikes &quot;fair&quot;?</speaker>",
            ),
        ],
        max_tokens: 100,
        temperature: None,
    }
}

#[test]
fn an_llm_plugin_answers_the_last_line_of_a_real_multi_speaker_request() {
    let plugin = Harness::new("mock-llm")
        .config("token_delay_ms", 0)
        .load()
        .expect("loads");
    let (text, completion) = plugin.complete(studio_request()).expect("completes");
    assert_eq!(completion.stop_reason, "end_turn");
    // mock-llm reads the request with the SDK's transcript reader: it answers Ana (by the name
    // of her envelope) about her last line, and no markup or entity leaks into what would be
    // spoken (a line with quote marks in it is paraphrased, not quoted).
    assert!(text.contains("Ana") && text.contains("buses"), "{text}");
    assert!(
        !text.contains('<') && !text.contains("&amp;") && !text.contains("&quot;"),
        "{text}"
    );
}
