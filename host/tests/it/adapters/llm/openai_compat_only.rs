//! What only the `openai-compat` adapter does: its requests and quirks.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_provider_and_model_from_the_studio_settings_select_together() {
    let fake =
        openai::start_with(openai::Script::reply(pieces()).flavor(openai::Flavor::Together)).await;
    let (_studio, host) = guest_studio(
        &fake,
        &format!("together_base_url = \"{}/together/v1\"", fake.base_url()),
        false,
    )
    .await;
    host.set_secret("GUEST_PROVIDER", "together");
    host.set_secret("GUEST_MODEL", "mistralai/Mixtral-8x7B-Instruct-v0.1");
    host.set_secret("TOGETHER_API_KEY", "together-test-key-123456");
    let outcome = call(&host, request(Speaker::Guest, "")).await;
    assert_eq!(outcome.text, FAKE_TEXT, "Together's `text` is not doubled");
    assert_eq!(outcome.completion().output_tokens, Some(3));
    // The studio's per-line model wins over GUEST_MODEL.
    call(
        &host,
        request(Speaker::Guest, "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
    )
    .await
    .completion();
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/together/v1/chat/completions");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer together-test-key-123456")
    );
    assert_eq!(
        requests[0].json()["model"],
        json!("mistralai/Mixtral-8x7B-Instruct-v0.1")
    );
    assert_eq!(
        requests[1].json()["model"],
        json!("meta-llama/Llama-3.3-70B-Instruct-Turbo")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_server_needs_no_key_and_may_omit_done() {
    let fake =
        openai::start_with(openai::Script::reply(pieces()).flavor(openai::Flavor::LlamaCpp)).await;
    let (_studio, host) = guest_studio(&fake, "", false).await;
    host.set_secret("GUEST_PROVIDER", "local");
    host.set_secret("LOCAL_LLAMA_ENDPOINT", format!("{}/v1", fake.base_url()));
    host.set_secret("LOCAL_LLAMA_API_KEY", "");
    let outcome = call(&host, request(Speaker::Guest, "")).await;
    assert_eq!(outcome.text, FAKE_TEXT);
    assert_eq!(outcome.completion().stop_reason, "stop");
    let sent = &fake.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.json()["model"], json!("local"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_and_grok_use_their_own_urls_keys_and_default_models() {
    let fake = openai::start(pieces()).await;
    let base = fake.base_url();
    let (_studio, host) = guest_studio(
        &fake,
        &format!("openai_base_url = \"{base}/openai-api/v1\"\ngrok_base_url = \"{base}/xai/v1\""),
        false,
    )
    .await;
    host.set_secret("OPENAI_API_KEY", "sk-openai-test-000000000");
    host.set_secret("GROK_API_KEY", "xai-grok-test-000000000");
    host.set_secret("GUEST_PROVIDER", "openai");
    call(&host, request(Speaker::Guest, "")).await.completion();
    host.set_secret("GUEST_PROVIDER", "grok");
    call(&host, request(Speaker::Guest, "")).await.completion();
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let (openai, grok) = (&requests[0], &requests[1]);
    assert_eq!(openai.path, "/openai-api/v1/chat/completions");
    assert_eq!(
        openai.header("authorization"),
        Some("Bearer sk-openai-test-000000000")
    );
    assert_eq!(openai.json()["model"], json!("gpt-4.1-mini"));
    assert_eq!(openai.json()["max_completion_tokens"], json!(300));
    assert_eq!(grok.path, "/xai/v1/chat/completions");
    assert_eq!(
        grok.header("authorization"),
        Some("Bearer xai-grok-test-000000000")
    );
    assert_eq!(grok.json()["model"], json!("grok-3"));
    assert_eq!(grok.json()["max_tokens"], json!(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_guest_provider_is_a_configuration_error_listing_the_choices() {
    let fake = openai::start(pieces()).await;
    let (_studio, host) = guest_studio(&fake, "", false).await;
    host.set_secret("GUEST_PROVIDER", "mistral");
    let outcome = call(&host, request(Speaker::Guest, "")).await;
    assert!(
        matches!(outcome.plugin_error(), PluginError::Config(m) if m.contains("mistral") && m.contains("together")),
        "{:?}",
        outcome.result
    );
}
