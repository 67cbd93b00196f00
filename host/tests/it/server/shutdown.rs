//! The shutdown deadline does not depend on a healthy async runtime: the real binary, with every
//! tokio worker blocked (a debug-build test hook, `VOICE_STUDIO_TEST_WEDGE_RUNTIME=1`, standing in
//! for a plugin call or disk write that never returns), still hears SIGTERM and exits non-zero
//! once `SHUTDOWN_DEADLINE_SECONDS` has passed, with a last log line that says why.

use crate::support::server::ServerSetup;

#[test]
fn sigterm_ends_the_process_by_its_deadline_even_with_every_async_worker_blocked() {
    let server = ServerSetup::new()
        .var("SHUTDOWN_DEADLINE_SECONDS", "1")
        .var("VOICE_STUDIO_TEST_WEDGE_RUNTIME", "1")
        .start();
    let (status, log) = server.terminate();
    assert!(log.contains("blocking every async worker"), "{log}");
    assert!(log.contains("SIGTERM"), "{log}");
    assert!(
        log.contains("shutdown took longer than 1s; exiting"),
        "{log}"
    );
    assert_eq!(status.code(), Some(1), "{log}");
}

#[test]
fn a_healthy_server_still_shuts_down_cleanly_before_its_deadline() {
    let server = ServerSetup::new()
        .var("SHUTDOWN_DEADLINE_SECONDS", "60")
        .start();
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    assert!(!log.contains("shutdown took longer"), "{log}");
}
