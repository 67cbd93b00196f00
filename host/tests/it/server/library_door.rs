//! The episode library's door to the recordings on the real binary: the admin token opens every
//! recording (the producer plays and downloads any episode); a wrong one opens nothing.

use crate::support::server::{ServerSetup, http};

const SECRET: &str = "test-token-secret-0123456789abcdef0123456789";
const ADMIN: &str = "test-admin-token-0123456789abcdef0123";

#[test]
fn the_admin_token_opens_every_recording_for_the_library() {
    let setup = ServerSetup::new()
        .var("STUDIO_TOKEN_SECRET", SECRET)
        .var("STUDIO_ADMIN_TOKEN", ADMIN);
    let folder = setup.recording_dir().join("show");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(folder.join("you.webm"), "audio of show").expect("track");
    let server = setup.start();
    let bearer = format!("Bearer {ADMIN}");
    let admitted = http(
        server.addr,
        "GET",
        "/recordings/show/you.webm",
        &[("Authorization", &bearer)],
        None,
    );
    assert_eq!(admitted.status, 200, "{}", admitted.body);
    assert_eq!(admitted.body, "audio of show");
    let wrong = format!("Bearer {ADMIN}x");
    for headers in [vec![], vec![("Authorization", wrong.as_str())]] {
        let refused = http(
            server.addr,
            "GET",
            "/recordings/show/you.webm",
            &headers,
            None,
        );
        assert_eq!(refused.status, 404, "{headers:?}: {}", refused.body);
    }
}

#[test]
fn an_open_development_server_on_loopback_serves_its_recordings_to_the_library() {
    let setup = ServerSetup::new();
    let folder = setup.recording_dir().join("show");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(folder.join("you.webm"), "audio of show").expect("track");
    let server = setup.start();
    let open = server.get("/recordings/show/you.webm");
    assert_eq!(open.status, 200, "{}", open.body);
    assert_eq!(open.body, "audio of show");
}
