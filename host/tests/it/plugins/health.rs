//! Each plugin's health as the admin view reads it (`PluginHost::health`, served at
//! `GET /api/plugins`): calls, errors, traps and the last error, counted per plugin, with the
//! real fault-injector .wasm trapping and then answering.

use crate::support::plugins::{Studio, complete};
use voice_studio::speakers::Ai;

const MANIFEST: &str = r#"
[roles]
claude = "faulty"
guest = "steady"

[plugins.faulty]
path = "fault-injector.wasm"
capabilities = ["log", "config"]

[plugins.steady]
path = "fault-injector.wasm"
capabilities = ["log", "config"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_shows_in_its_plugins_health_and_not_in_the_others() {
    let studio = Studio::with_plugins(&["fault-injector"]);
    studio.write_manifest(MANIFEST);
    let host = studio.start(false).await;
    assert!(host.health().is_empty(), "{:?}", host.health());

    let mut claude = host.llm(Ai::Claude);
    let mut guest = host.llm(Ai::Guest);
    complete(&mut claude, "trap", "x")
        .await
        .expect_err("trap fails the call");
    complete(&mut claude, "echo", "still here")
        .await
        .expect("the next call succeeds");
    complete(&mut guest, "echo", "hello")
        .await
        .expect("the guest answers");

    let health = host.health();
    let faulty = health.get("faulty").expect("faulty counted");
    assert_eq!(
        (faulty.calls, faulty.errors, faulty.traps, faulty.cancelled),
        (2, 1, 1, 0),
        "{faulty:?}"
    );
    let last = faulty.last_error.as_deref().unwrap_or_default();
    assert!(last.contains("faulty"), "{last}");
    assert!(faulty.last_error_at.is_some());
    let steady = health.get("steady").expect("steady counted");
    assert_eq!((steady.calls, steady.errors, steady.traps), (1, 0, 0));
    assert_eq!(steady.last_error, None);
}
