//! Fault containment: a plugin that traps, spins or hogs memory fails only its own call, its handle
//! recovers on the next call, and other plugins keep serving; refused capabilities and secrets are
//! `denied` with a message that says what plugins.toml lacks. All with the real fault-injector .wasm.

use crate::support;
use crate::support::plugins::{Studio, complete};
use voice_studio::plugins::CallError;
use voice_studio::speakers::Ai;

const MANIFEST: &str = r#"
[roles]
claude = "faulty"
guest = "steady"

[plugins.faulty]
path = "fault-injector.wasm"
capabilities = ["log", "config"]
secrets = ["FAULTY_KEY"]
memory_limit_mb = 32
cpu_limit_ms = 300

[plugins.steady]
path = "fault-injector.wasm"
capabilities = ["log", "config", "http"]
allowed_hosts = ["http://127.0.0.1:9"]
secrets = ["STEADY_KEY"]
[plugins.steady.config]
greeting = "hello"
rate = 24000
voices = ["a", "b"]
"#;

fn studio() -> Studio {
    let studio = Studio::with_plugins(&["fault-injector"]);
    studio.write_manifest(MANIFEST);
    studio
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_fails_only_its_call_and_the_next_call_on_the_same_handle_succeeds() {
    let studio = studio();
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);

    let err = complete(&mut claude, "trap", "x")
        .await
        .expect_err("trap fails the call");
    assert!(
        matches!(err, CallError::Trap { ref plugin, .. } if plugin == "faulty"),
        "{err}"
    );
    assert!(err.to_string().contains("faulty"), "{err}");

    let text = complete(&mut claude, "echo", "still here")
        .await
        .expect("next call succeeds");
    assert_eq!(text, "still here");
}

/// Calls `plugin` with echo requests until `spinner` has finished; returns how many it served.
async fn echo_until_finished<T>(
    plugin: &mut voice_studio::plugins::LlmHandle,
    spinner: &tokio::task::JoinHandle<T>,
) -> usize {
    let mut served = 0;
    while !spinner.is_finished() {
        let text = complete(plugin, "echo", "one two three")
            .await
            .expect("the other plugin serves during the spin");
        assert_eq!(text, "one two three");
        served += 1;
        tokio::task::yield_now().await;
    }
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_plugin_hits_its_cpu_limit_while_another_plugin_keeps_serving() {
    let studio = studio();
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let mut guest = host.llm(Ai::Guest);

    let spinner = tokio::spawn(async move {
        let result = complete(&mut claude, "spin", "x").await;
        (claude, result)
    });
    // The guest keeps answering while claude's plugin burns its CPU budget.
    let served = echo_until_finished(&mut guest, &spinner).await;
    let (mut claude, result) = spinner.await.expect("spinner task");
    let err = result.expect_err("spin is stopped");
    assert!(
        matches!(err, CallError::CpuLimit { ref plugin, limit_ms: 300 } if plugin == "faulty"),
        "{err}"
    );
    assert!(
        served > 0,
        "the guest plugin served no call while claude's spun"
    );

    let text = complete(&mut claude, "echo", "recovered")
        .await
        .expect("claude recovers");
    assert_eq!(text, "recovered");
}

/// One worker only: the other plugin is served only if the spinning one yields that worker at
/// the epoch ticks. (With two workers, as above, the other plugin is served even when the
/// spinner never yields.)
#[tokio::test(flavor = "current_thread")]
async fn a_spinning_plugin_yields_the_only_worker_to_another_plugin() {
    let studio = studio();
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let mut guest = host.llm(Ai::Guest);

    let spinner = tokio::spawn(async move { complete(&mut claude, "spin", "x").await });
    let served = echo_until_finished(&mut guest, &spinner).await;
    let result = spinner.await.expect("spinner task");
    assert!(
        matches!(result, Err(CallError::CpuLimit { .. })),
        "{result:?}"
    );
    assert!(
        served > 1,
        "the guest plugin served {served} calls on the one worker while claude's spun"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_growing_past_its_memory_limit_fails_with_memory_limit_and_recovers() {
    let studio = studio();
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);

    let err = complete(&mut claude, "hog", "x")
        .await
        .expect_err("hog is stopped");
    assert!(
        matches!(err, CallError::MemoryLimit { ref plugin, limit_mb: 32 } if plugin == "faulty"),
        "{err}"
    );
    assert!(err.is_fault());

    let text = complete(&mut claude, "echo", "fine again")
        .await
        .expect("claude recovers");
    assert_eq!(text, "fine again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleeping_in_the_host_does_not_count_as_guest_cpu_time() {
    let studio = studio();
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    // 1500 ms of sleep against a 300 ms CPU limit.
    let text = complete(&mut claude, "sleep", "x")
        .await
        .expect("a sleeping plugin is not killed");
    assert_eq!(text, "slept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capability_not_granted_is_denied_with_a_message_naming_plugins_toml() {
    let studio = studio();
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);

    let err = complete(&mut claude, "http:http://127.0.0.1:9/", "")
        .await
        .expect_err("no http capability");
    match &err {
        CallError::Denied { plugin, message } => {
            assert_eq!(plugin, "faulty");
            assert_eq!(message, "faulty is not granted http in plugins.toml");
        }
        other => panic!("expected denied, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_outside_allowed_hosts_is_denied_with_the_target() {
    let studio = studio();
    let host = studio.start(false).await;
    let mut guest = host.llm(Ai::Guest);

    let err = complete(&mut guest, "http:https://example.com/x", "")
        .await
        .expect_err("host not allowed");
    match &err {
        CallError::Denied { plugin, message } => {
            assert_eq!(plugin, "steady");
            assert_eq!(
                message,
                "steady is not granted http/https://example.com:443 in plugins.toml"
            );
        }
        other => panic!("expected denied, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_plugins_secret_is_denied_and_its_own_is_served() {
    let studio = studio();
    let host = studio.start(false).await;
    host.set_secret("FAULTY_KEY", "k-1");
    host.set_secret("STEADY_KEY", "k-2");
    let mut claude = host.llm(Ai::Claude);

    let err = complete(&mut claude, "secret:STEADY_KEY", "")
        .await
        .expect_err("another plugin's secret");
    match &err {
        CallError::Denied { message, .. } => {
            assert_eq!(
                message,
                "faulty is not granted secret STEADY_KEY in plugins.toml"
            );
        }
        other => panic!("expected denied, got {other}"),
    }
    let own = complete(&mut claude, "secret:FAULTY_KEY", "")
        .await
        .expect("own secret");
    assert_eq!(own, "secret: set");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_reaches_the_plugin_rendered_as_the_contract_says() {
    let studio = studio();
    let host = studio.start(false).await;
    let mut guest = host.llm(Ai::Guest);
    let text = complete(&mut guest, "config", "")
        .await
        .expect("config entries");
    assert_eq!(text, "greeting=hello\nrate=24000\nvoices=[\"a\",\"b\"]\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_receiver_cancels_the_stream() {
    let studio = studio();
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    drop(rx);
    let err = claude
        .complete(support::plugins::request("echo", "a b c"), tx)
        .await
        .expect_err("nobody listens");
    assert!(
        matches!(
            err,
            CallError::Plugin {
                error: voice_studio::plugins::wit::PluginError::Cancelled,
                ..
            }
        ),
        "{err}"
    );
}

const FALLBACK_MANIFEST: &str = r#"
[roles]
claude = "primary"

[plugins.primary]
path = "fault-injector.wasm"
capabilities = ["log", "config"]
fallback = ["backup"]
[plugins.primary.config]
flaky = true

[plugins.backup]
path = "fault-injector-next.wasm"
capabilities = ["log", "config"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_fails_before_any_output_is_answered_by_the_fallback_plugin() {
    let studio = Studio::with_plugins(&["fault-injector", "fault-injector-next"]);
    studio.write_manifest(FALLBACK_MANIFEST);
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    // The primary traps; the backup (version 2.0.0) answers the same call.
    let text = complete(&mut claude, "flaky", "")
        .await
        .expect("the fallback answers");
    assert_eq!(text, "2.0.0");
    // The primary still serves the calls it can answer.
    assert_eq!(
        complete(&mut claude, "version", "").await.expect("primary"),
        "1.0.0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_failed_after_streaming_output_is_not_replayed_on_the_fallback() {
    let studio = Studio::with_plugins(&["fault-injector", "fault-injector-next"]);
    studio.write_manifest(FALLBACK_MANIFEST);
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    // A denied refusal is the plugin's answer, not a provider failure: no fallback either.
    let err = complete(&mut claude, "secret:NOT_MINE", "")
        .await
        .expect_err("denied stays denied");
    assert!(
        matches!(err, CallError::Denied { ref plugin, .. } if plugin == "primary"),
        "{err}"
    );
}
