//! `plugins/policy-js`, a turn policy written in JavaScript, built from source with componentize-js
//! and served by the real runtime: its `describe()`, its decisions through the host (the memory
//! the host carries between calls included), its own unit tests under Node, and a live studio turn
//! in which it picks who answers.

mod component;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use studio_test_kit::manifest::Manifest;
use studio_test_kit::speech::speech;
use voice_studio::gateway::protocol::{OrbState, StudioSnapshot};
use voice_studio::plugins::wit::{AiLine, Decision, FloorEvent, FloorState, Respond, Speaker};
use voice_studio::plugins::{
    Capability, PluginHost, PluginHostOptions, PluginKind, PolicyHandle, RoleSlot,
};
use voice_studio::speakers::Speaker as Who;

use crate::support::plugin_check;
use crate::support::plugins::{Studio, floor};
use crate::support::studio::{RigOptions, StudioRig, final_caption, silence, stream, until};

/// A studio folder whose policy is the built JavaScript plugin, with `extra` in its table.
fn studio_with_policy_js(extra: &str) -> Studio {
    let studio = Studio::with_plugins(&[]);
    std::fs::copy(component::policy_js(), studio.plugin_path("policy-js"))
        .expect("copy the built component");
    studio.write_manifest(&format!(
        "[roles]\npolicy = \"policy-js\"\n[plugins.policy-js]\npath = \"policy-js.wasm\"\n\
         capabilities = [\"log\"]\n{extra}"
    ));
    studio
}

/// Starts a host on `studio` with the shared compile cache (`<target>/plugin-cache`, as the
/// studio rig uses), one test at a time: compiling the 12 MB component takes tens of seconds of
/// CPU, so the first test compiles it and the others load it from the cache.
async fn start(studio: &Studio) -> Arc<PluginHost> {
    let _one_at_a_time = loading().lock().await;
    let options = PluginHostOptions {
        cache_dir: None,
        ..studio.options(false)
    };
    PluginHost::start(options)
        .await
        .expect("the plugin host starts")
}

/// Held while a host compiles or loads the component.
fn loading() -> &'static tokio::sync::Mutex<()> {
    static LOADING: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    LOADING.get_or_init(|| tokio::sync::Mutex::new(()))
}

/// Runs one decision and applies its `remember`, as the studio does between calls.
async fn step(
    policy: &mut PolicyHandle,
    state: &mut FloorState,
    event: FloorEvent,
) -> Vec<Decision> {
    let decisions = policy
        .decide(state.clone(), event)
        .await
        .expect("the JavaScript policy decides");
    for decision in &decisions {
        if let Decision::Remember(memory) = decision {
            state.memory = memory.clone();
        }
    }
    decisions
}

fn responder(decisions: &[Decision]) -> Option<(Speaker, String)> {
    decisions.iter().find_map(|d| match d {
        Decision::Respond(Respond { speaker, cue }) => Some((*speaker, cue.clone())),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_policy_loads_and_describes_itself() {
    let studio = studio_with_policy_js("");
    let started = Instant::now();
    let host = start(&studio).await;
    let loaded = started.elapsed();
    assert!(host.is_ready());
    let status = host
        .plugins()
        .into_iter()
        .find(|p| p.name == "policy-js")
        .expect("declared");
    assert_eq!(status.last_error, None);
    assert_eq!(status.kind, Some(PluginKind::Policy));
    let info = status.info.expect("describe() was read");
    assert_eq!(info.name, "policy-js");
    assert_eq!(info.version, "0.1.0");
    assert_eq!(info.kind, PluginKind::Policy);
    assert_eq!(info.contract, "0.1.0");
    assert_eq!(info.capabilities, vec![Capability::Log]);
    assert!(info.summary.contains("JavaScript"), "{}", info.summary);
    // The figures the plugin's README quotes (printed, not asserted).
    let size = std::fs::metadata(studio.plugin_path("policy-js"))
        .expect("component")
        .len();
    let mut policy = host.policy();
    let first = Instant::now();
    policy
        .decide(floor(""), FloorEvent::SessionStarted)
        .await
        .expect("first decision");
    let first = first.elapsed();
    let next = Instant::now();
    policy
        .decide(floor(""), FloorEvent::HumanSaid("What now?".into()))
        .await
        .expect("second decision");
    eprintln!(
        "policy-js: {size} bytes; load {loaded:?} ({}); first decide (instantiate + call) \
         {first:?}; next decide {:?}",
        if status.from_cache {
            "from the compile cache"
        } else {
            "compiled"
        },
        next.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_policy_routes_by_name_and_alternates_through_the_host() {
    let studio = studio_with_policy_js("");
    let host = start(&studio).await;
    let mut policy = host.policy();
    let mut state = floor("");
    let said = |text: &str| FloorEvent::HumanSaid(text.into());

    let guest = step(
        &mut policy,
        &mut state,
        said("Guest, do you agree with that?"),
    )
    .await;
    assert_eq!(responder(&guest), Some((Speaker::Guest, String::new())));
    // Unaddressed: the AI that did not answer last (the memory came back through the host).
    let next = step(&mut policy, &mut state, said("And what about the budget?")).await;
    assert_eq!(responder(&next), Some((Speaker::Claude, String::new())));
    let next = step(&mut policy, &mut state, said("Anything to add?")).await;
    assert_eq!(responder(&next).map(|r| r.0), Some(Speaker::Guest));

    // The human speaking cuts the AI holding the floor and mutes both.
    state.holder = Some(Speaker::Guest);
    let barge = step(&mut policy, &mut state, FloorEvent::HumanSpeechStarted).await;
    assert_eq!(
        barge[..3],
        [
            Decision::Stop(Speaker::Guest),
            Decision::Mute(Speaker::Claude),
            Decision::Mute(Speaker::Guest)
        ]
    );
    state.holder = None;

    // A thinking request becomes thinking mode for the AI addressed.
    let think = step(
        &mut policy,
        &mut state,
        said("Claude, take 45 seconds on this."),
    )
    .await;
    assert!(
        think.iter().any(|d| matches!(d, Decision::Think(t)
            if t.speaker == Speaker::Claude && t.duration_ms == 45_000)),
        "{think:?}"
    );

    // Autopilot: the co-host opens, and has the last word before the cap.
    state.autopilot = true;
    let open = step(&mut policy, &mut state, FloorEvent::AutopilotChanged(true)).await;
    assert_eq!(responder(&open).map(|r| r.0), Some(Speaker::Claude));
    state.ai_turns_in_a_row = 2;
    let line = |speaker, text: &str| {
        FloorEvent::AiFinished(AiLine {
            speaker,
            text: text.into(),
            interrupted: false,
        })
    };
    let wrap = step(&mut policy, &mut state, line(Speaker::Guest, "I disagree.")).await;
    let (speaker, cue) = responder(&wrap).expect("claude wraps up");
    assert_eq!(speaker, Speaker::Claude);
    assert!(cue.contains("sum up"), "{cue}");
    state.ai_turns_in_a_row = 3;
    let done = step(
        &mut policy,
        &mut state,
        line(Speaker::Claude, "To sum up..."),
    )
    .await;
    assert_eq!(done, vec![Decision::Wait]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_sources_pass_their_own_unit_tests() {
    // The files by name: Node 20 takes a folder after --test, later versions read globs instead.
    let mut tests: Vec<_> = std::fs::read_dir(component::source_dir().join("test"))
        .expect("the plugin's test folder")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(".test.js"))
        .collect();
    tests.sort();
    assert!(tests.len() >= 2, "{tests:?}");
    let out = std::process::Command::new(component::node())
        .arg("--test")
        .args(&tests)
        .current_dir(component::source_dir())
        .output()
        .expect("node --test runs");
    assert!(
        out.status.success(),
        "node --test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The shipped mock studio, made quick, with the JavaScript plugin as its policy.
fn live_manifest(script: &[&str]) -> Manifest {
    let component = component::policy_js();
    Manifest::quick_mocks()
        .script(script)
        .plugin("policy-js", &["log"])
        .plugin_field("policy-js", "path", component.display().to_string())
        .role("policy", "policy-js")
}

/// The AIs whose lines have ended (final captions), in order.
fn answers(snapshot: &StudioSnapshot) -> Vec<Who> {
    snapshot
        .captions
        .iter()
        .filter(|c| c.is_final == Some(true))
        .filter_map(|c| match c.speaker {
            Who::Claude => Some(Who::Claude),
            Who::Guest => Some(Who::Guest),
            Who::You => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_live_studio_the_guest_answers_when_named_and_unnamed_lines_alternate() {
    // The mock STT hears these, one per utterance of real (espeak) speech.
    let script = [
        "Guest, do you agree with that?",
        "Claude, what do you make of it?",
        // Unaddressed: claude answered last, so the guest's turn (host-led would pick claude).
        "And what about the budget?",
    ];
    let rig = {
        let _one_at_a_time = loading().lock().await;
        StudioRig::with(live_manifest(&script), RigOptions::default()).await
    };
    assert_eq!(
        rig.plugins.role_plugin(RoleSlot::Policy).as_deref(),
        Some("policy-js")
    );
    let (studio, client) = rig.join("ep-js");
    stream(&studio, client, &silence(500)).await;
    let mut heard = Vec::new();
    for (i, line) in script.iter().enumerate() {
        stream(&studio, client, &speech(line)).await;
        let snapshot = until(&studio, client, "the answer to the next line", |s| {
            answers(s).len() > i
                && s.orb_states.claude == OrbState::Idle
                && s.orb_states.guest == OrbState::Idle
        })
        .await;
        heard = answers(&snapshot);
    }
    assert_eq!(heard, vec![Who::Guest, Who::Claude, Who::Guest]);
    let snapshot = studio.snapshot().await.expect("snapshot");
    assert!(final_caption(&snapshot, Who::Guest).is_some_and(|t| !t.is_empty()));
    rig.end(&studio, client, "ep-js").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_limit_below_the_engines_snapshot_refuses_the_load_and_says_so() {
    // The component starts with 9 MiB of linear memory (SpiderMonkey and the module, initialized
    // at build time); the sandbox's limit applies to it as to any plugin.
    let studio = studio_with_policy_js("memory_limit_mb = 8\n");
    let options = PluginHostOptions {
        cache_dir: None,
        ..studio.options(false)
    };
    let refused = {
        let _one_at_a_time = loading().lock().await;
        PluginHost::start(options).await
    };
    let error = refused
        .expect_err("the policy role's plugin cannot load")
        .to_string();
    assert!(
        error.contains("policy-js") && error.contains("memory"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_component_passes_plugin_check_on_the_real_binary() {
    let plugin = component::policy_js();
    let plugin = plugin.to_str().expect("a UTF-8 path");
    let output = {
        // The check compiles the component too (through the default compile cache).
        let _one_at_a_time = loading().lock().await;
        plugin_check::run_async(&[plugin, "--role", "policy", "--json"]).await
    };
    let report = plugin_check::report(&output);
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    assert_eq!(report["plugin"]["name"], "policy-js");
    for check in [
        "load",
        "describe",
        "contract",
        "capabilities",
        "policy decisions",
        "limits",
    ] {
        assert_eq!(
            plugin_check::outcome(&report, check),
            "pass",
            "{check}: {report:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_decisions_fit_the_default_memory_limit() {
    // componentize-js 0.23.0 never frees ~300 bytes per call and this policy leaves ~760 bytes a
    // decision in all, so an instance grows from its 9 MiB start; a studio session (one instance)
    // makes about a thousand decisions an hour. The deadline is widened here only so that a
    // loaded test machine cannot fail a memory test on time.
    let studio = studio_with_policy_js("[plugins.policy-js.deadlines]\npolicy_ms = 5000\n");
    let host = start(&studio).await;
    let mut policy = host.policy();
    let said = "Guest, I want to come back to what you said about the budget, because I am not \
                sure the numbers add up at all.";
    let line = "I think they do, and here is why: the plan spreads the cost over five years, and \
                the savings start in the second. Can we look at the detail together?";
    let mut state = floor("");
    for i in 0..10_000 {
        let event = match i % 4 {
            0 => FloorEvent::HumanSpeechStarted,
            1 => FloorEvent::HumanSpeechEnded,
            2 => FloorEvent::HumanSaid(said.into()),
            _ => FloorEvent::AiFinished(AiLine {
                speaker: Speaker::Guest,
                text: line.into(),
                interrupted: false,
            }),
        };
        let decisions = policy
            .decide(state.clone(), event)
            .await
            .unwrap_or_else(|e| panic!("decision {i}: {e}"));
        for decision in decisions {
            if let Decision::Remember(memory) = decision {
                state.memory = memory;
            }
        }
    }
}
