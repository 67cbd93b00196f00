//! The store's queries on a real file: a fed session listed and read back, the listing's order
//! and pages, bindings, migrations, and the start-up recovery and import.

use std::path::Path;

use super::*;
use crate::recording::TurnMetrics;
use crate::transcript::TranscriptLine;

fn start(session: &str, episode: &str, started_at_ms: u64, dir: Option<&Path>) -> SessionStart {
    SessionStart {
        session_id: session.into(),
        episode_id: episode.into(),
        recording_dir: dir.map(Path::to_path_buf),
        started_at_ms,
        title: Some("A title".into()),
        briefing: Some("brief".into()),
        plugins: vec![EpisodePlugin {
            role: "stt".into(),
            name: "mock-stt".into(),
            version: "0.1.0".into(),
            hash: "ab".into(),
        }],
    }
}

fn line(speaker: Speaker, start_ms: u64, text: &str) -> TranscriptLine {
    TranscriptLine {
        speaker,
        start_ms,
        end_ms: start_ms + 500,
        text: text.into(),
        interrupted: false,
    }
}

#[test]
fn writes_reach_the_store_on_its_beat_without_anyone_waking_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EpisodeStore::open(dir.path()).expect("open");
    let mut feed = store.session(start("s-beat", "ep-beat", 1_700_000_000_000, None));
    feed.line(line(Speaker::You, 1_000, "heard"));
    // No flush: a studio never wakes the thread, which takes its queue every 100 ms.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let lines = store
            .transcript("s-beat")
            .expect("read")
            .unwrap_or_default();
        if lines.iter().any(|l| l.text == "heard") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the line never reached the store"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_fed_session_is_listed_with_its_transcript_in_time_order_and_its_turns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EpisodeStore::open(dir.path()).expect("open");
    let mut feed = store.session(start("s-1", "ep-1", 1_700_000_000_000, None));
    feed.line(line(Speaker::Claude, 2_000, "second"));
    feed.line(line(Speaker::You, 1_000, "first"));
    feed.turn(
        Speaker::Claude,
        2_500,
        &TurnMetrics {
            llm_first_token_ms: Some(120),
            interrupted: true,
            ..TurnMetrics::default()
        },
    );
    store.flush();
    let listed = store.episodes(ListQuery::default()).expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].id, "s-1",
        "an unrecorded session keeps its session id"
    );
    assert_eq!(listed[0].state, EpisodeState::Live);
    assert_eq!(listed[0].lines, 2);
    // Live: as long as it has run (since 2023 here), at least as far as its last turn.
    assert!(listed[0].duration_ms > 2_500, "{}", listed[0].duration_ms);
    assert_eq!(listed[0].plugins[0].name, "mock-stt");
    let lines = store.transcript("s-1").expect("read").expect("known");
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["first", "second"]);
    feed.end(3_000);
    store.flush();
    let detail = store.episode("s-1").expect("read").expect("known");
    assert_eq!(detail.episode.state, EpisodeState::Ended);
    assert_eq!(detail.episode.duration_ms, 3_000);
    assert_eq!(
        detail.episode.ended_at.as_deref(),
        Some("2023-11-14T22:13:23.000Z")
    );
    assert_eq!(detail.turns.len(), 1);
    assert_eq!(detail.turns[0].metrics.llm_first_token_ms, Some(120));
    assert!(detail.turns[0].metrics.interrupted);
    assert!(store.episode("nope").expect("read").is_none());
    assert!(store.transcript("nope").expect("read").is_none());
}

#[test]
fn the_listing_is_newest_first_and_pages_with_before() {
    let store = EpisodeStore::open_in_memory().expect("open");
    for (n, at) in [(1, 1_000), (2, 3_000), (3, 2_000)] {
        drop(store.session(start(&format!("s-{n}"), "ep", at, None)));
    }
    store.flush();
    let ids = |q| -> Vec<String> {
        store
            .episodes(q)
            .expect("list")
            .into_iter()
            .map(|e| e.id)
            .collect()
    };
    assert_eq!(ids(ListQuery::default()), ["s-2", "s-3", "s-1"]);
    assert_eq!(
        ids(ListQuery {
            limit: 1,
            before_ms: None
        }),
        ["s-2"]
    );
    assert_eq!(
        ids(ListQuery {
            limit: 5,
            before_ms: Some(3_000)
        }),
        ["s-3", "s-1"]
    );
}

#[test]
fn a_binding_names_the_briefing_and_a_later_one_replaces_it() {
    let store = EpisodeStore::open_in_memory().expect("open");
    assert_eq!(store.bound_briefing("ep-x").expect("read"), None);
    store.bind_briefing("ep-x", "one").expect("bind");
    store.bind_briefing("ep-x", "two").expect("bind");
    assert_eq!(
        store.bound_briefing("ep-x").expect("read").as_deref(),
        Some("two")
    );
}

#[test]
fn migrations_are_valid_and_an_existing_file_opens_at_the_same_version() {
    open::migrations().validate().expect("valid migrations");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EpisodeStore::open(dir.path()).expect("create");
    drop(store.session(start("s-1", "ep", 1, None)));
    store.flush();
    drop(store);
    let conn = Connection::open(dir.path().join(DB_FILE)).expect("raw");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(usize::try_from(version).ok(), Some(open::schema_version()));
    drop(conn);
    let again = EpisodeStore::open(dir.path()).expect("reopen");
    assert_eq!(again.episodes(ListQuery::default()).expect("list").len(), 1);
}

#[test]
fn a_file_from_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = Connection::open(dir.path().join(DB_FILE)).expect("raw");
    conn.pragma_update(None, "user_version", 99)
        .expect("version");
    drop(conn);
    assert!(matches!(
        EpisodeStore::open(dir.path()),
        Err(StoreError::Migration { .. })
    ));
}

#[test]
fn iso_times_and_caption_files_read_back() {
    assert_eq!(
        import::parse_iso8601_ms("2023-11-14T22:13:23.000Z"),
        Some(1_700_000_003_000)
    );
    assert_eq!(
        import::parse_iso8601_ms("1970-01-01T00:00:00.005Z"),
        Some(5)
    );
    assert_eq!(import::parse_iso8601_ms("yesterday"), None);
    let dir = tempfile::tempdir().expect("tempdir");
    let vtt = dir.path().join("claude.vtt");
    std::fs::write(
        &vtt,
        "WEBVTT\n\nclaude-1\n00:00:01.250 --> 00:00:02.000\nTom &amp; Jerry &lt;3\n\nclaude-2\n01:00:00.000 --> 01:00:01.500\ntwo\nlines\n\n",
    )
    .expect("vtt");
    assert_eq!(
        import::read_cues(&vtt),
        [
            (1_250, 2_000, "Tom & Jerry <3".to_owned()),
            (3_600_000, 3_601_500, "two lines".to_owned())
        ]
    );
}

/// A recording folder as the recorder leaves it: `session.yml` (unfinished when `ended` is
/// `None`), Claude's captions, and a `turn.end` that cut Claude's line.
fn recording(dir: &Path, folder: &str, session: &str, ended: Option<&str>) {
    let path = dir.join(folder);
    std::fs::create_dir_all(&path).expect("folder");
    let ended = ended.map_or("null".to_owned(), |e| format!("'{e}'"));
    std::fs::write(
        path.join("session.yml"),
        format!("episode: ep\nsession: {session}\nstartedAt: '2026-11-26T09:22:26.123Z'\nendedAt: {ended}\n"),
    )
    .expect("session.yml");
    std::fs::write(
        path.join("claude.vtt"),
        "WEBVTT\n\nclaude-1\n00:00:01.000 --> 00:00:02.000\nWhole line\n\nclaude-2\n00:00:03.000 --> 00:00:03.500\nCut\n\n",
    )
    .expect("vtt");
    std::fs::write(
        path.join("events.jsonl"),
        "{\"type\":\"turn.end\",\"t\":2000,\"speaker\":\"claude\",\"metrics\":{}}\n{\"type\":\"turn.end\",\"t\":3510,\"speaker\":\"claude\",\"metrics\":{\"interrupted\":true}}\n",
    )
    .expect("events");
}

#[test]
fn import_reads_a_folder_once_with_its_cut_line_and_an_unfinished_one_as_interrupted() {
    let recordings = tempfile::tempdir().expect("tempdir");
    recording(
        recordings.path(),
        "ep",
        "s-done",
        Some("2026-11-26T09:23:26.123Z"),
    );
    recording(recordings.path(), "ep-2", "s-cut", None);
    std::fs::create_dir(recordings.path().join("not-a-recording")).expect("other");
    let store = EpisodeStore::open_in_memory().expect("open");
    let first = store.recover(recordings.path()).expect("recover");
    assert_eq!(first.imported, 2);
    assert_eq!(first.problems.len(), 1, "{:?}", first.problems);
    let again = store.recover(recordings.path()).expect("recover");
    assert_eq!(again.imported, 0, "a folder is imported once");
    let done = store.episode("ep").expect("read").expect("imported");
    assert_eq!(done.episode.state, EpisodeState::Ended);
    assert_eq!(done.turns.len(), 2);
    let cut = store.episode("ep-2").expect("read").expect("imported");
    assert_eq!(cut.episode.state, EpisodeState::Interrupted);
    let lines = store.transcript("ep").expect("read").expect("known");
    let flags: Vec<(&str, bool)> = lines
        .iter()
        .map(|l| (l.text.as_str(), l.interrupted))
        .collect();
    assert_eq!(flags, [("Whole line", false), ("Cut", true)]);
}

#[test]
fn only_a_starting_server_marks_what_was_live_interrupted() {
    let recordings = tempfile::tempdir().expect("tempdir");
    let store = EpisodeStore::open_in_memory().expect("open");
    let mut feed = store.session(start("s-live", "ep-live", 5, Some(recordings.path())));
    feed.line(line(Speaker::You, 100, "still here"));
    store.flush();
    // `voice-studio episodes` beside a running server: its session stays live.
    store.import_recordings(recordings.path()).expect("import");
    let listed = store.episodes(ListQuery::default()).expect("list");
    assert_eq!(listed[0].state, EpisodeState::Live);
    // A new server process: the previous one's live session was cut off.
    let recovery = store.recover(recordings.path()).expect("recover");
    assert_eq!(recovery.interrupted, 1);
    let listed = store.episodes(ListQuery::default()).expect("list");
    assert_eq!(listed[0].state, EpisodeState::Interrupted);
    assert_eq!(listed[0].duration_ms, 600, "as far as it got");
    assert_eq!(listed[0].lines, 1);
}

#[test]
fn a_full_queue_drops_writes_and_never_blocks_the_session() {
    let store = EpisodeStore::open_in_memory().expect("open");
    let mut feed = store.session(start("s-1", "ep", 1, None));
    // The disk "stalls": the writer thread cannot take the connection.
    let held = lock(&store.inner.conn);
    let sent = writer::WRITE_QUEUE as u64 + 1000;
    for n in 0..sent {
        feed.line(line(Speaker::You, n, "x"));
    }
    // Every call returned (a blocking send would never get here) and the overflow was dropped.
    let dropped = feed.dropped();
    assert!(dropped > 0, "nothing dropped");
    assert!(dropped < sent, "everything dropped");
    drop(held);
    store.flush();
    let kept = store.episodes(ListQuery::default()).expect("list")[0].lines;
    assert_eq!(
        kept + dropped,
        sent,
        "every line is either kept or counted as dropped"
    );
}

#[test]
fn a_take_after_interrupted_ones_gets_their_lines_and_a_take_after_an_ended_one_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EpisodeStore::open(dir.path()).expect("open");
    // Two takes of ep-x cut off by crashes (left live, then recovered), one of another episode.
    let mut first = store.session(start("s-1", "ep-x", 1_000, None));
    first.line(line(Speaker::You, 100, "hello there"));
    first.line(line(Speaker::Claude, 900, "hello back"));
    let mut second = store.session(start("s-2", "ep-x", 2_000, None));
    second.line(line(Speaker::Guest, 50, "where were we"));
    let mut other = store.session(start("s-9", "ep-y", 2_500, None));
    other.line(line(Speaker::You, 10, "another show"));
    store.flush();
    let recovery = store
        .recover(&dir.path().join("recordings"))
        .expect("recover");
    assert_eq!(recovery.interrupted, 3);
    drop((first, second, other));

    let said = |most| -> Vec<String> {
        store
            .interrupted_transcript("ep-x", most)
            .expect("read")
            .into_iter()
            .map(|l| l.text)
            .collect()
    };
    assert_eq!(said(100), ["hello there", "hello back", "where were we"]);
    assert_eq!(said(2), ["hello back", "where were we"], "the last lines");
    assert_eq!(
        store
            .interrupted_transcript("ep-unknown", 100)
            .expect("read")
            .len(),
        0
    );

    // A take that ended normally starts the next one afresh.
    let third = store.session(start("s-3", "ep-x", 3_000, None));
    third.end(500);
    store.flush();
    assert!(said(100).is_empty(), "{:?}", said(100));
}
