//! Hot reload with real files: a plugin swapped by atomic rename and by in-place write while a task
//! calls it in a loop (no call fails, the new version serves), a corrupt or wrong-role file and a
//! broken plugins.toml keep the old version and are reported, and the compile cache is hit on the
//! second load. Reading or touching the watched files reloads nothing.

use std::time::Duration;

use crate::support::plugins::{Studio, built, complete, touch};
use tokio::sync::broadcast;
use voice_studio::plugins::{PluginHost, ReloadEvent};
use voice_studio::speakers::Ai;

const MANIFEST: &str = r#"
[roles]
claude = "faulty"

[plugins.faulty]
path = "fault-injector.wasm"
capabilities = ["log"]
"#;

fn studio() -> Studio {
    let studio = Studio::with_plugins(&["fault-injector"]);
    studio.write_manifest(MANIFEST);
    studio
}

/// Waits for a reload event about `plugin` that satisfies `wanted`.
async fn next_event(
    events: &mut broadcast::Receiver<ReloadEvent>,
    plugin: &str,
    wanted: impl Fn(&ReloadEvent) -> bool,
) -> ReloadEvent {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) if event.plugin == plugin && wanted(&event) => return event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => panic!("reload events closed"),
            }
        }
    };
    // A generous bound so a broken watcher fails the test instead of hanging it; not a timing check.
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .expect("reload event arrives")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_the_file_by_rename_and_by_in_place_write_serves_the_new_version_with_no_failed_call()
 {
    let studio = studio();
    let host = studio.start(true).await;
    let mut events = host.reloads();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    let caller_host = host.clone();
    let caller = tokio::spawn(async move {
        let mut claude = caller_host.llm(Ai::Claude);
        let mut seen = Vec::new();
        let mut failures = Vec::new();
        // After the stop signal, keep calling until this task has itself seen the return to v1 (a call
        // that was in flight during the last swap legitimately finished on v2).
        while !(*stop_rx.borrow() && seen.len() >= 3) {
            match complete(&mut claude, "version", "").await {
                Ok(version) => {
                    if seen.last() != Some(&version) {
                        seen.push(version);
                    }
                }
                Err(e) => failures.push(e.to_string()),
            }
            tokio::task::yield_now().await;
        }
        (seen, failures)
    });

    // 1. Atomic replace: write elsewhere, rename over the plugin.
    let target = studio.plugin_path("fault-injector");
    let staged = studio.dir.path().join("staged.wasm");
    std::fs::copy(built("fault-injector-next"), &staged).expect("stage v2");
    std::fs::rename(&staged, &target).expect("rename v2 into place");
    let event = next_event(&mut events, "faulty", |e| e.new_version.is_some()).await;
    assert_eq!(event.old_version.as_deref(), Some("1.0.0"));
    assert_eq!(event.new_version.as_deref(), Some("2.0.0"));
    assert!(event.error.is_none());
    let mut claude = host.llm(Ai::Claude);
    assert_eq!(
        complete(&mut claude, "version", "")
            .await
            .expect("v2 serves"),
        "2.0.0"
    );

    // 2. In place: overwrite the same file's bytes.
    std::fs::write(
        &target,
        std::fs::read(built("fault-injector")).expect("read v1"),
    )
    .expect("write v1 in place");
    let event = next_event(&mut events, "faulty", |e| {
        e.new_version.as_deref() == Some("1.0.0")
    })
    .await;
    assert_eq!(event.old_version.as_deref(), Some("2.0.0"));
    assert_eq!(
        complete(&mut claude, "version", "")
            .await
            .expect("v1 serves"),
        "1.0.0"
    );

    stop_tx.send(true).expect("stop the caller");
    let (seen, failures) = tokio::time::timeout(Duration::from_secs(60), caller)
        .await
        .expect("the caller sees v1 again")
        .expect("caller task");
    assert!(
        failures.is_empty(),
        "calls failed during hot reload: {failures:?}"
    );
    assert_eq!(seen.first().map(String::as_str), Some("1.0.0"));
    assert!(
        seen.iter().any(|v| v == "2.0.0"),
        "the looping caller never saw v2: {seen:?}"
    );
    assert_eq!(seen.last().map(String::as_str), Some("1.0.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_wasm_keeps_the_old_version_serving_and_is_reported() {
    let studio = studio();
    let host = studio.start(true).await;
    let mut events = host.reloads();
    let before = host
        .plugins()
        .into_iter()
        .find(|p| p.name == "faulty")
        .expect("faulty status");

    std::fs::write(
        studio.plugin_path("fault-injector"),
        b"\0asm this is not a component",
    )
    .expect("corrupt it");
    let event = next_event(&mut events, "faulty", |e| e.error.is_some()).await;
    assert_eq!(event.old_version.as_deref(), Some("1.0.0"));
    assert!(event.new_version.is_none());

    let after = host
        .plugins()
        .into_iter()
        .find(|p| p.name == "faulty")
        .expect("faulty status");
    assert_eq!(
        after.sha256, before.sha256,
        "the old version must keep serving"
    );
    assert!(
        after
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("not a valid plugin component")),
        "{after:?}"
    );
    let mut claude = host.llm(Ai::Claude);
    assert_eq!(
        complete(&mut claude, "version", "")
            .await
            .expect("old version serves"),
        "1.0.0"
    );
    assert!(host.is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_of_the_wrong_role_keeps_the_old_version() {
    let studio = studio();
    let host = studio.start(false).await;
    std::fs::copy(built("frame-counter"), studio.plugin_path("fault-injector"))
        .expect("put an stt plugin there");
    let events = host.reload().await;
    let event = events
        .iter()
        .find(|e| e.plugin == "faulty")
        .expect("an event about faulty");
    let error = event.error.as_deref().expect("the swap is refused");
    assert!(
        error.contains("stt plugin") && error.contains("llm plugin"),
        "{error}"
    );
    let mut claude = host.llm(Ai::Claude);
    assert_eq!(
        complete(&mut claude, "version", "")
            .await
            .expect("old version serves"),
        "1.0.0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_plugins_toml_keeps_the_old_setup_and_is_reported() {
    let studio = studio();
    let host = studio.start(true).await;
    let mut events = host.reloads();
    std::fs::write(studio.manifest(), "[roles]\nclaude = \"faulty\"\n[plugins.faulty]\npath = \"fault-injector.wasm\"\ncapabilites = []\n")
        .expect("break plugins.toml");
    let event = next_event(&mut events, "plugins.toml", |e| e.error.is_some()).await;
    assert!(
        event
            .error
            .as_deref()
            .is_some_and(|e| e.contains("capabilites")),
        "{event:?}"
    );
    let mut claude = host.llm(Ai::Claude);
    assert_eq!(
        complete(&mut claude, "echo", "still serving")
            .await
            .expect("old setup serves"),
        "still serving"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugins_toml_edit_swaps_the_role_to_another_plugin() {
    let studio = Studio::with_plugins(&["fault-injector", "fault-injector-next"]);
    studio.write_manifest(MANIFEST);
    let host = studio.start(false).await;
    let mut claude = host.llm(Ai::Claude);
    assert_eq!(
        complete(&mut claude, "version", "").await.expect("v1"),
        "1.0.0"
    );
    studio.write_manifest(
        "[roles]\nclaude = \"next\"\n[plugins.faulty]\npath = \"fault-injector.wasm\"\n[plugins.next]\npath = \"fault-injector-next.wasm\"\n",
    );
    host.reload().await;
    assert_eq!(
        complete(&mut claude, "version", "").await.expect("v2"),
        "2.0.0"
    );
    assert_eq!(
        claude.live_version().map(|(name, _)| name).as_deref(),
        Some("next")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_load_of_the_same_wasm_comes_from_the_compile_cache() {
    let studio = studio();
    let first = PluginHost::start(studio.options(false))
        .await
        .expect("first start");
    let status = first
        .plugins()
        .into_iter()
        .find(|p| p.name == "faulty")
        .expect("status");
    assert!(!status.from_cache, "a fresh cache cannot hit");
    drop(first);
    let cached = std::fs::read_dir(studio.dir.path().join("cache"))
        .expect("cache folder")
        .count();
    assert_eq!(cached, 1, "one compiled entry");

    let second = PluginHost::start(studio.options(false))
        .await
        .expect("second start");
    let status = second
        .plugins()
        .into_iter()
        .find(|p| p.name == "faulty")
        .expect("status");
    assert!(status.from_cache, "the second load should hit the cache");
    let mut claude = second.llm(Ai::Claude);
    assert_eq!(
        complete(&mut claude, "echo", "cached code runs")
            .await
            .expect("runs"),
        "cached code runs"
    );
}

/// The reported bug: a reload's own reads of plugins.toml and the plugins (or an operator's
/// `cat plugins.toml`) made the watcher reload again, about 6 times a second, forever. Reading
/// every watched file many times, reloading by hand (which reads them all) and touching them
/// without changing a byte reload nothing; a real change still reloads, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_or_touching_the_watched_files_reloads_nothing_and_a_change_reloads_once() {
    let studio = studio();
    let host = studio.start(true).await;
    let mut stats = host.hot_reload();
    let mut events = host.reloads();
    let watched = [studio.manifest(), studio.plugin_path("fault-injector")];

    for _ in 0..3 {
        host.reload().await;
    }
    let before = *stats.borrow();
    assert_eq!(before.reloads, 3, "{before:?}");
    for _ in 0..50 {
        for file in &watched {
            std::fs::read(file).expect("read a watched file");
        }
        for entry in std::fs::read_dir(studio.dir.path().join("plugins")).expect("list plugins") {
            std::fs::read(entry.expect("entry").path()).expect("read a plugin");
        }
    }
    // Touch: a new modification time, the same bytes. Its events are the watcher's next batch,
    // after every read above.
    touch(&watched);
    // A bound against a hang, not a timing check.
    tokio::time::timeout(
        Duration::from_secs(60),
        stats.wait_for(|s| s.settled > before.settled),
    )
    .await
    .expect("the watcher looks at the touch")
    .expect("stats");
    let touched = *stats.borrow();
    assert_eq!(
        (touched.changed, touched.reloads),
        (before.changed, before.reloads),
        "reads or a touch reloaded: before {before:?}, after {touched:?}"
    );

    // A real change (an atomic replace) reloads once.
    let staged = studio.dir.path().join("staged.wasm");
    std::fs::copy(built("fault-injector-next"), &staged).expect("stage v2");
    std::fs::rename(&staged, &watched[1]).expect("rename v2 into place");
    next_event(&mut events, "faulty", |e| {
        e.new_version.as_deref() == Some("2.0.0")
    })
    .await;
    let changed = *stats.borrow();
    assert_eq!(changed.changed, touched.changed + 1, "{changed:?}");
    assert_eq!(changed.reloads, touched.reloads + 1, "{changed:?}");
}
