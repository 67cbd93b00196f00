//! Contract versions side by side: the host loads components built against `wit/v0.1.0` (the
//! first-party plugins, built before the 0.2.0 draft existed and left unchanged) and against
//! `wit/v0.2.0` (`test-plugins/contract-next-llm`) in one studio, and calls each in its own
//! version. A version the host does not know is refused with the versions it does. And the SDK's
//! package carries the WIT it builds its bindings from.

use std::path::Path;

use studio_test_kit::manifest::Manifest;
use studio_test_kit::speech::speech;
use voice_studio::gateway::protocol::OrbState;
use voice_studio::plugins::wit::{
    Decision, FloorEvent, FloorState, Respond, Segment, Thinking, TimerRequest,
};
use voice_studio::plugins::{Contract, PluginHost, SUPPORTED_CONTRACTS, WIT_CONTRACT};
use voice_studio::speakers::Speaker;

use crate::support::plugins::{Studio, built, complete};
use crate::support::studio::{StudioRig, final_caption, silence, stream, until};

/// The 0.2.0 test plugins.
const NEXT: &str = "contract-next-llm";
const NEXT_POLICY: &str = "contract-next-policy";

fn contract_of(host: &PluginHost, name: &str) -> Contract {
    let status = host
        .plugins()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} is declared"));
    status
        .info
        .unwrap_or_else(|| panic!("{name} is loaded: {:?}", status.last_error))
        .world_contract
}

#[test]
fn every_supported_contract_has_its_wit_folder_and_the_stable_one_is_the_first() {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    for version in SUPPORTED_CONTRACTS {
        let worlds = wit.join(format!("v{version}")).join("worlds.wit");
        let text = std::fs::read_to_string(&worlds)
            .unwrap_or_else(|e| panic!("read {}: {e}", worlds.display()));
        assert!(
            text.lines()
                .any(|l| l.trim() == format!("package studio:plugin@{version};")),
            "{} declares studio:plugin@{version}",
            worlds.display()
        );
        assert_eq!(
            Contract::parse(version).map(Contract::as_str),
            Some(*version)
        );
    }
    assert_eq!(WIT_CONTRACT, "studio:plugin@0.1.0");
    assert_eq!(SUPPORTED_CONTRACTS, ["0.1.0", "0.2.0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_2_llm_gets_its_deadline_while_0_1_plugins_serve_the_same_studio_turn() {
    const SAID: &str = "Claude, what do you make of today's topic?";
    // Claude is the 0.2.0 plugin; the STT, TTS, the guest's LLM and the policy are the 0.1.0
    // first-party plugins.
    let manifest = Manifest::quick_mocks()
        .script(&[SAID])
        .role("claude", NEXT)
        .plugin(NEXT, &[])
        .deadline("llm_line_ms", 45_000);
    let rig = StudioRig::start(manifest).await;
    for (name, contract) in [
        (NEXT, Contract::V0_2),
        ("mock-stt", Contract::V0_1),
        ("mock-tts", Contract::V0_1),
        ("mock-llm", Contract::V0_1),
        ("host-led", Contract::V0_1),
    ] {
        assert_eq!(contract_of(&rig.plugins, name), contract, "{name}");
    }

    let (studio, client) = rig.join("ep-contracts");
    stream(&studio, client, &silence(500)).await;
    stream(&studio, client, &speech(SAID)).await;
    let done = until(&studio, client, "claude's finished line", |s| {
        final_caption(s, Speaker::Claude).is_some() && s.orb_states.claude == OrbState::Idle
    })
    .await;
    assert_eq!(
        final_caption(&done, Speaker::You).as_deref(),
        Some(SAID),
        "the 0.1 STT heard the human"
    );
    let line = final_caption(&done, Speaker::Claude).expect("claude's caption");
    // What the plugin saw: the studio's LLM deadline, in the field 0.2.0 adds.
    assert!(
        line.starts_with("contract 0.2.0 deadline-ms 45000 messages "),
        "{line}"
    );
    rig.end(&studio, client, "ep-contracts").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_a_0_2_llm_sees_is_its_own_plugin_table_s() {
    let studio = Studio::with_plugins(&[NEXT]);
    studio.write_manifest(&format!(
        "[roles]\nclaude = \"{NEXT}\"\n[plugins.{NEXT}]\npath = \"{NEXT}.wasm\"\n\
         [plugins.{NEXT}.deadlines]\nllm_line_ms = 1234\n"
    ));
    let host = studio.start(false).await;
    let mut llm = host.llm(voice_studio::speakers::Ai::Claude);
    let text = complete(&mut llm, "", "hello").await.expect("complete");
    assert_eq!(text, "contract 0.2.0 deadline-ms 1234 messages 1.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_2_policy_gets_the_whole_floor_and_its_decisions_come_back_whole() {
    let studio = Studio::with_plugins(&[NEXT_POLICY]);
    studio.write_manifest(&format!(
        "[roles]\npolicy = \"{NEXT_POLICY}\"\n[plugins.{NEXT_POLICY}]\npath = \"{NEXT_POLICY}.wasm\"\n"
    ));
    let host = studio.start(false).await;
    assert_eq!(contract_of(&host, NEXT_POLICY), Contract::V0_2);
    let state = FloorState {
        now_ms: 12_345,
        autopilot: true,
        holder: Some(Speaker::Guest.into()),
        human_speaking: false,
        last_speaker: Some(Speaker::You.into()),
        ai_turns_in_a_row: 2,
        max_ai_turns: 4,
        thinking: Some(Thinking {
            speaker: Speaker::Claude.into(),
            ends_at_ms: 40_000,
        }),
        autopilot_since_ms: Some(9_000),
        memory: "41".into(),
    };
    let decisions = host
        .policy()
        .decide(state, FloorEvent::HumanSaid("Over to you.".into()))
        .await
        .expect("decide");
    assert_eq!(
        decisions,
        vec![
            Decision::Respond(Respond {
                speaker: Speaker::Claude.into(),
                cue: "said=Over to you.;now=12345;holder=Some(Speaker::Guest);\
                      last=Some(Speaker::You);turns=2/4;thinking=Speaker::Claude@40000;\
                      since=Some(9000)"
                    .into(),
            }),
            Decision::Segment(Segment {
                name: "next".into(),
                cue: "from 0.2.0".into(),
                duration_ms: 1_000,
            }),
            Decision::SetTimer(TimerRequest {
                name: "nudge".into(),
                after_ms: 250,
            }),
            Decision::Mute(Speaker::Guest.into()),
            Decision::Remember("42".into()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_of_an_unknown_contract_version_is_refused_naming_the_known_ones() {
    // The 0.2.0 plugin with every `@0.2.0` in its names rewritten to `@0.9.0` (same length, so
    // the component stays valid): a plugin built against a contract this host does not know.
    let mut bytes = std::fs::read(built(NEXT)).expect("read the built plugin");
    let (from, to) = (b"@0.2.0", b"@0.9.0");
    let mut rewritten = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            rewritten += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(rewritten > 0, "the plugin names its contract version");
    let studio = Studio::with_plugins(&[]);
    std::fs::write(studio.plugin_path("future"), &bytes).expect("write the plugin");
    studio.write_manifest("[plugins.future]\npath = \"future.wasm\"\n");
    let host = studio.start(false).await;
    let status = host
        .plugins()
        .into_iter()
        .find(|p| p.name == "future")
        .expect("declared");
    let error = status.last_error.expect("it does not load");
    assert!(
        error.contains("\"0.9.0\"") && error.contains("0.1.0, 0.2.0"),
        "{error}"
    );
}

#[test]
fn the_sdk_package_carries_the_wit_its_bindings_read() {
    // What `cargo package` would put in the SDK crate: the WIT must be inside it (through the
    // `sdk/wit` symlink), or the published crate cannot build its bindings.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "package",
            "--list",
            "--allow-dirty",
            "-p",
            "studio-plugin-sdk",
        ])
        .output()
        .expect("run cargo package --list");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cargo package --list: {stderr}");
    let listed = String::from_utf8_lossy(&output.stdout);
    let files: Vec<&str> = listed.lines().collect();
    let bindings = std::fs::read_to_string(workspace.join("sdk/src/bindings.rs"))
        .expect("read the SDK's bindings");
    let folders: Vec<&str> = bindings
        .lines()
        .filter_map(|l| l.trim().strip_prefix("path: \""))
        .map(|rest| rest.trim_end_matches("\","))
        .collect();
    assert!(!folders.is_empty(), "the SDK's bindgen paths");
    for folder in folders {
        for file in ["types.wit", "capabilities.wit", "roles.wit", "worlds.wit"] {
            let packaged = format!("{folder}/{file}");
            assert!(
                files.contains(&packaged.as_str()),
                "{packaged} is not in the package: {files:?}"
            );
        }
    }
}
