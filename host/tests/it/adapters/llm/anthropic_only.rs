//! What only the `anthropic` adapter does: its requests and quirks.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_takes_the_request_model_over_the_configured_one() {
    let fake = anthropic::start(pieces()).await;
    let (_studio, host) = claude_studio(&fake, "model = \"claude-sonnet-4-5\"", false).await;
    call(&host, request(Speaker::Claude, "claude-haiku-4-5-20251001"))
        .await
        .completion();
    call(&host, request(Speaker::Claude, "")).await.completion();
    let models: Vec<_> = fake
        .requests()
        .iter()
        .map(|r| r.json()["model"].clone())
        .collect();
    assert_eq!(
        models,
        [
            json!("claude-haiku-4-5-20251001"),
            json!("claude-sonnet-4-5")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_stream_ending_without_message_stop_is_unavailable() {
    let fake = anthropic::start_with(anthropic::Script {
        omit_message_stop: true,
        ..anthropic::Script::reply(pieces())
    })
    .await;
    let (_studio, host) = claude_studio(&fake, "", false).await;
    let outcome = call(&host, request(Speaker::Claude, "")).await;
    assert_eq!(outcome.text, FAKE_TEXT);
    assert!(
        matches!(outcome.plugin_error(), PluginError::Unavailable(m) if m.contains("message_stop")),
        "{:?}",
        outcome.result
    );
}
