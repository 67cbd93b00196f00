//! The recorder off the studio actor: a `RecordingWriter` queues writes for a recorder lane and
//! never waits on the disk. A hung disk (the `DiskFault` hook holds the lane) or a full one
//! costs recording frames and one reported failure; every call still returns at once. A few
//! lane threads write every recording, and a panic while writing one ends only that one.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use studio_test_kit::manifest::Manifest;
use studio_test_kit::speech::speech;

use crate::support::recording::{ffmpeg_decode_errors, ffprobe, probed_duration_ms, voice_frame};
use voice_studio::gateway::protocol::OrbState;
use voice_studio::recording::{
    BriefingRecord, DiskFault, Event, PluginRecord, RecorderConfig, RecordingError,
    RecordingSummary, RecordingWriter, TurnMetrics, WriterOptions, WriterPool,
};
use voice_studio::speakers::Speaker;

use crate::support::studio::{CHUNK_BYTES, RigOptions, StudioRig, final_caption, stream};

/// Longest any condition below may take to come true before the test fails (not a timing
/// assertion: a bound so a broken writer fails instead of hanging the suite).
const PATIENCE: Duration = Duration::from_secs(60);

fn config(dir: &Path, episode: &str, fault: &DiskFault) -> RecorderConfig {
    let mut config = RecorderConfig::new(dir, episode, "session-offload");
    config.writer.disk_fault = Some(fault.clone());
    config
}

/// Waits until `done` holds, failing after [`PATIENCE`].
fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "never saw {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `work` on its own thread and returns its result, or fails if it does not return within
/// [`PATIENCE`] (a call that waits on a hung disk never would).
fn returns<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{what} did not return: it waited on the disk"))
}

/// What the studio does for `seconds` of a session from `from_ms`: microphone frames of the
/// human, a silence fill every second, a turn event and a caption; returns every `Err` seen.
fn drive(writer: &mut RecordingWriter, from_ms: u64, seconds: u64) -> Vec<RecordingError> {
    let mut errors = Vec::new();
    for n in 0..seconds * 50 {
        let at = from_ms + n * 20;
        if let Err(error) = writer.push_frame(Speaker::You, at, &voice_frame(n)) {
            errors.push(error);
        }
        if at.is_multiple_of(1000) {
            let results = [
                writer.advance_to(at),
                writer.event(
                    at,
                    &Event::TurnStart {
                        speaker: Speaker::You,
                    },
                ),
                writer.caption(Speaker::You, at, at + 900, "a line of the human"),
            ];
            errors.extend(results.into_iter().filter_map(Result::err));
        }
    }
    errors
}

fn session_yml(folder: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(folder.join("session.yml"))
        .unwrap_or_else(|e| panic!("session.yml: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("session.yml {text:?}: {e}"))
}

/// One healthy second of `writer`, then `fault` hangs its disk with the lane inside a write (the
/// silence fill at 1 s); returns once the lane is held there.
fn held_after_a_healthy_second(mut writer: RecordingWriter, fault: &DiskFault) -> RecordingWriter {
    let healthy = drive(&mut writer, 0, 1);
    assert!(healthy.is_empty(), "{healthy:?}");
    fault.hang();
    writer
        .advance_to(1000)
        .unwrap_or_else(|e| panic!("advance: {e}"));
    eventually("the writer held by the hung disk", || fault.held() == 1);
    writer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_disk_drops_frames_reports_once_and_never_holds_a_push() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let fault = DiskFault::new();
    let wakes = Arc::new(AtomicUsize::new(0));
    let woken = wakes.clone();
    let writer = RecordingWriter::start(config(dir.path(), "ep-hung", &fault), move || {
        woken.fetch_add(1, Ordering::SeqCst);
    });
    let mut writer = held_after_a_healthy_second(writer, &fault);

    // Ten seconds of the studio's writes while the disk hangs: every call returns.
    let (writer, errors) = returns("ten seconds of pushes on a hung disk", move || {
        let errors = drive(&mut writer, 1000, 10);
        (writer, errors)
    });
    assert_eq!(
        errors.len(),
        1,
        "one report for the whole stall: {errors:?}"
    );
    assert!(
        matches!(errors[0], RecordingError::Backlog { .. }),
        "{:?}",
        errors[0]
    );
    // Ten seconds are 500 frames: the queue holds its room's worth, the rest is dropped.
    let room = WriterOptions::default().frame_queue as u64;
    assert!(
        writer.dropped() >= 500 - room,
        "what did not fit in the queue's {room} frames was dropped, not queued: {}",
        writer.dropped()
    );

    // The disk comes back: the next second is recorded, the gap is silence in its place.
    fault.heal();
    let (writer, ()) = returns("the queue draining", move || {
        while writer.queued() > 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
        (writer, ())
    });
    let mut writer = writer;
    let dropped = writer.dropped();
    let later = drive(&mut writer, 11_000, 1);
    assert!(
        later.is_empty(),
        "after one report, nothing more: {later:?}"
    );
    assert_eq!(
        writer.dropped(),
        dropped,
        "a healthy disk takes every frame again"
    );
    let summary = writer
        .finish(12_000)
        .wait()
        .await
        .unwrap_or_else(|e| panic!("finish: {e}"));
    assert_eq!(
        wakes.load(Ordering::SeqCst),
        0,
        "the disk never failed a write"
    );
    let you = summary.folder.join("you.webm");
    let duration = probed_duration_ms(&ffprobe(&you));
    assert!(
        (duration - 12_000.0).abs() <= 20.0,
        "the track keeps the session's length, the dropped second as silence: {duration}"
    );
    assert_eq!(ffmpeg_decode_errors(&you, &[]), "");
}

/// A lane starved for two seconds (a burst of studios starting beside other work, measured at
/// 320 studios) catches up without losing a frame: the default queue holds three seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_held_for_two_seconds_catches_up_without_dropping_a_frame() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let fault = DiskFault::new();
    let writer = RecordingWriter::start(config(dir.path(), "ep-stall", &fault), || {});
    let mut writer = held_after_a_healthy_second(writer, &fault);
    let (writer, errors) = returns("two seconds of pushes on a stalled lane", move || {
        let errors = drive(&mut writer, 1000, 2);
        (writer, errors)
    });
    assert!(
        errors.is_empty(),
        "a two-second stall is no failure: {errors:?}"
    );
    assert_eq!(writer.dropped(), 0, "every frame waited for the lane");
    fault.heal();
    let mut writer = writer;
    let later = drive(&mut writer, 3000, 1);
    assert!(later.is_empty(), "{later:?}");
    let summary = finished_at(writer, 4000).await;
    let you = summary.folder.join("you.webm");
    assert_eq!(ffmpeg_decode_errors(&you, &[]), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_once_and_the_calls_go_on() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let fault = DiskFault::new();
    let wakes = Arc::new(AtomicUsize::new(0));
    let woken = wakes.clone();
    let mut config = config(dir.path(), "ep-full", &fault);
    // This test writes faster than real time: room for all of it, so only the disk fails.
    config.writer.frame_queue = 1000;
    let mut writer = RecordingWriter::start(config, move || {
        woken.fetch_add(1, Ordering::SeqCst);
    });
    assert!(drive(&mut writer, 0, 1).is_empty());
    eventually("the first second written", || writer.queued() == 0);
    fault.fill();
    let mut errors = drive(&mut writer, 1000, 1);
    // The writer meets the full disk on its thread and wakes the studio, which asks once.
    let counter = wakes.clone();
    eventually("the wake-up", || counter.load(Ordering::SeqCst) > 0);
    errors.extend(writer.check().err());
    errors.extend(drive(&mut writer, 2000, 2));
    errors.extend(writer.check().err());
    assert_eq!(errors.len(), 1, "told once: {errors:?}");
    match &errors[0] {
        RecordingError::Write { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{source}");
        }
        other => panic!("a full disk is a write error: {other:?}"),
    }
    assert_eq!(wakes.load(Ordering::SeqCst), 1, "the studio was woken once");
    let finished = writer.finish(4000).wait().await;
    assert!(
        finished.is_err(),
        "a recording on a full disk is not reported ready"
    );
    // What reached the disk before it filled is still there and plays.
    let you = dir.path().join("ep-full").join("you.webm");
    assert_eq!(ffmpeg_decode_errors(&you, &[]), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_yml_is_complete_once_finish_returns() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut config = RecorderConfig::new(dir.path(), "ep-yml", "session-yml");
    config.participant = Some("Basil".into());
    // This test writes faster than real time: room for all of it.
    config.writer.frame_queue = 1000;
    let mut writer = RecordingWriter::start(config, || {});
    writer
        .set_plugins(vec![PluginRecord {
            role: "stt".into(),
            name: "mock-stt".into(),
            version: "0.1.0".into(),
            hash: "ab".repeat(32),
        }])
        .and_then(|()| {
            writer.set_briefing(BriefingRecord {
                path: "built-in".into(),
                title: Some("Pilot".into()),
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(drive(&mut writer, 0, 2).is_empty());
    writer
        .event(
            2000,
            &Event::TurnEnd {
                speaker: Speaker::You,
                metrics: TurnMetrics::default(),
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let summary = writer
        .finish(2500)
        .wait()
        .await
        .unwrap_or_else(|e| panic!("finish: {e}"));
    assert_eq!(summary.files.len(), 8);
    let yml = session_yml(&summary.folder);
    assert_eq!(yml["episode"], "ep-yml");
    assert_eq!(yml["participant"], "Basil");
    assert_eq!(yml["durationMs"], 2500);
    assert!(yml["endedAt"].is_string(), "{yml}");
    assert_eq!(yml["plugins"][0]["name"], "mock-stt");
    assert_eq!(yml["briefing"]["title"], "Pilot");
    assert_eq!(yml["tracks"]["you"]["durationMs"], 2500);
    assert_eq!(yml["tracks"]["you"]["cues"], 2);
    assert_eq!(yml["turns"]["you"], 2);
    assert!(
        !summary.folder.join("session.yml.tmp").exists(),
        "no temporary file is left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_on_a_hung_disk_gives_up_at_its_deadline_and_the_files_end_later() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let fault = DiskFault::new();
    let mut config = config(dir.path(), "ep-late", &fault);
    config.writer.finish_within = Duration::from_millis(200);
    let mut writer = RecordingWriter::start(config, || {});
    assert!(drive(&mut writer, 0, 1).is_empty());
    fault.hang();
    let finished = writer.finish(1000).wait().await;
    assert!(
        matches!(finished, Err(RecordingError::FinishTimedOut { .. })),
        "{finished:?}"
    );
    // Nobody waits any more, but when the disk answers the thread still ends every file.
    fault.heal();
    let folder = dir.path().join("ep-late");
    eventually("session.yml with its end", || {
        std::fs::read_to_string(folder.join("session.yml"))
            .is_ok_and(|text| !text.contains("endedAt: null"))
    });
    assert_eq!(session_yml(&folder)["durationMs"], 1000);
}

/// Finishes `writer` at `end_ms` and checks that the human's track plays that long.
async fn finished_at(writer: RecordingWriter, end_ms: u64) -> RecordingSummary {
    let summary = answering(writer.finish(end_ms).wait())
        .await
        .unwrap_or_else(|e| panic!("finish at {end_ms} ms: {e}"));
    let probe = ffprobe(&summary.folder.join("you.webm"));
    assert!(
        (probed_duration_ms(&probe) - end_ms as f64).abs() <= 20.0,
        "{probe}"
    );
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_recordings_share_the_few_lane_threads_which_end_with_them() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let pool = WriterPool::new(2);
    let mut writers: Vec<RecordingWriter> = (0..8)
        .map(|n| {
            let mut config = RecorderConfig::new(dir.path(), &format!("ep-lane-{n}"), "s");
            config.writer.pool = pool.clone();
            // This test writes faster than real time: room for all of it.
            config.writer.frame_queue = 1000;
            RecordingWriter::start(config, || {})
        })
        .collect();
    for writer in &mut writers {
        assert!(drive(writer, 0, 2).is_empty());
    }
    assert_eq!(pool.recordings(), 8);
    assert!(
        pool.threads() <= 2,
        "{} threads for 8 recordings",
        pool.threads()
    );
    for writer in writers {
        finished_at(writer, 2000).await;
    }
    eventually("every lane thread ended with its recordings", || {
        pool.recordings() == 0 && pool.threads() == 0
    });
    // A recording after the lanes went idle starts a thread again.
    let mut config = RecorderConfig::new(dir.path(), "ep-lane-again", "s");
    config.writer.pool = pool.clone();
    let mut writer = RecordingWriter::start(config, || {});
    assert!(drive(&mut writer, 0, 1).is_empty());
    answering(writer.finish(1000).wait())
        .await
        .unwrap_or_else(|e| panic!("finish after idle: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_writing_one_recording_ends_only_that_one() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    // One lane: both recordings are written by the same thread.
    let pool = WriterPool::new(1);
    let fault = DiskFault::new();
    let mut broken_config = config(dir.path(), "ep-panics", &fault);
    broken_config.writer.pool = pool.clone();
    let woken = Arc::new(AtomicUsize::new(0));
    let wakes = woken.clone();
    let mut broken = RecordingWriter::start(broken_config, move || {
        wakes.fetch_add(1, Ordering::SeqCst);
    });
    let mut healthy_config = RecorderConfig::new(dir.path(), "ep-beside", "s");
    healthy_config.writer.pool = pool.clone();
    healthy_config.writer.frame_queue = 1000;
    let mut healthy = RecordingWriter::start(healthy_config, || {});
    assert!(drive(&mut broken, 0, 1).is_empty());
    assert!(drive(&mut healthy, 0, 1).is_empty());

    fault.panic_writes();
    eventually("the broken recording's failure reported", || {
        woken.load(Ordering::SeqCst) == 1
    });
    let errors = drive(&mut broken, 1000, 1);
    assert!(
        matches!(errors.as_slice(), [RecordingError::WriterLost { reason, .. }] if reason.contains("panicked")),
        "{errors:?}"
    );
    let lost = answering(broken.finish(2000).wait()).await;
    assert!(
        matches!(lost, Err(RecordingError::WriterLost { .. })),
        "{lost:?}"
    );

    // The recording beside it on the same lane goes on and ends complete.
    assert!(drive(&mut healthy, 1000, 2).is_empty());
    let summary = finished_at(healthy, 3000).await;
    let errors = ffmpeg_decode_errors(&summary.folder.join("you.webm"), &[]);
    assert!(errors.is_empty(), "{errors}");
}

#[test]
fn a_dropped_writer_still_finishes_its_files() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut config = RecorderConfig::new(dir.path(), "ep-drop", "s");
    // This test writes faster than real time: room for all of it.
    config.writer.frame_queue = 1000;
    let mut writer = RecordingWriter::start(config, || {});
    assert!(drive(&mut writer, 0, 2).is_empty());
    // The studio's task was aborted (a watchdog): its handle goes without `finish`.
    drop(writer);
    let folder = dir.path().join("ep-drop");
    eventually("session.yml with its end", || {
        std::fs::read_to_string(folder.join("session.yml"))
            .is_ok_and(|text| !text.contains("endedAt: null"))
    });
    let yml = session_yml(&folder);
    assert_eq!(yml["tracks"]["you"]["durationMs"], 2000);
    let probe = ffprobe(&folder.join("you.webm"));
    assert!(
        (probed_duration_ms(&probe) - 2000.0).abs() <= 20.0,
        "{probe}"
    );
}

/// A studio with the shipped mock plugins whose recordings go through a disk that `fault`
/// controls.
async fn studio_rig(fault: &DiskFault) -> StudioRig {
    let options = RigOptions {
        autopilot_max_turns: 6,
        writer: WriterOptions {
            disk_fault: Some(fault.clone()),
            ..WriterOptions::default()
        },
        ..RigOptions::default()
    };
    StudioRig::with(Manifest::quick_mocks().script(&[QUESTION]), options).await
}

/// What the human asks (the mock STT's script; espeak-ng speaks it).
const QUESTION: &str = "Claude, what do you make of today's topic?";

/// Awaits something the studio actor must answer, failing after [`PATIENCE`]: an actor that
/// waits on the disk never answers.
async fn answering<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, work)
        .await
        .unwrap_or_else(|_| panic!("the studio stopped answering while its disk hung"))
}

/// Runs `body` on a two-worker runtime of its own thread and waits for it at most twice
/// [`PATIENCE`] from outside the runtime: a studio that waits on the disk may hold every worker
/// (timers then never fire), and the test must fail then, not hang.
fn on_runtime_left_behind(body: impl std::future::Future<Output = ()> + Send + 'static) {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(body)));
        runtime.shutdown_background();
        let _ = done_tx.send(outcome);
    });
    match done_rx.recv_timeout(PATIENCE * 2) {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the studio stopped answering while its disk hung"),
    }
}

#[test]
fn a_studio_answers_and_speaks_while_its_recording_disk_is_hung() {
    on_runtime_left_behind(studio_on_a_hung_disk());
}

async fn studio_on_a_hung_disk() {
    let fault = DiskFault::new();
    let rig = studio_rig(&fault).await;
    let (studio, client) = rig.join("ep-hung-disk");
    let silence = vec![0u8; 25 * CHUNK_BYTES];
    stream(&studio, client, &silence).await;

    // The disk hangs before the question: from here on nothing the studio records reaches it.
    fault.hang();
    let question = speech(QUESTION);
    answering(stream(&studio, client, &question)).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let answered = loop {
        let snapshot = answering(studio.snapshot()).await.expect("snapshot");
        if final_caption(&snapshot, Speaker::Claude).is_some()
            && snapshot.orb_states.claude == OrbState::Idle
        {
            break snapshot;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the studio stopped while its disk hung: {snapshot:#?}"
        );
        answering(stream(&studio, client, &silence[..5 * CHUNK_BYTES])).await;
    };
    assert_eq!(
        final_caption(&answered, Speaker::You).as_deref(),
        Some(QUESTION)
    );
    assert_eq!(fault.held(), 1, "the lane was held by the disk all along");

    // The disk answers again; the session ends and the recording says what happened, once.
    fault.heal();
    let (_, folder) = rig.end(&studio, client, "ep-hung-disk").await;
    let events = std::fs::read_to_string(folder.join("events.jsonl")).expect("events.jsonl");
    let recording_errors: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("event line is JSON"))
        .filter(|e| e["type"] == "error" && e["service"] == "recording")
        .collect();
    assert_eq!(
        recording_errors.len(),
        1,
        "one recording-failed for the whole stall: {recording_errors:?}"
    );
    assert!(
        recording_errors[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not keeping up")),
        "{:?}",
        recording_errors[0]
    );
    for track in ["you.webm", "claude.webm"] {
        assert_eq!(
            ffmpeg_decode_errors(&folder.join(track), &[]),
            "",
            "{track}"
        );
    }
}

/// Linux's `SCHED_BATCH` policy number (`sched_setscheduler(2)`).
const SCHED_BATCH: u32 = 3;

/// The scheduling policy and nice value of each thread of this process named `name`, from
/// `/proc`.
fn policies_of_threads_named(name: &str) -> Vec<(u32, i32)> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.trim() == name)
        })
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            // Fields after the command's closing parenthesis start at field 3; nice is 19,
            // policy 41.
            let (_, rest) = stat.rsplit_once(')')?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some((
                fields.get(41 - 3)?.parse().ok()?,
                fields.get(19 - 3)?.parse().ok()?,
            ))
        })
        .collect()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recorder_and_store_threads_never_preempt_the_live_audio_path() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let config = RecorderConfig::new(dir.path(), "ep-batch", "session-batch");
    let store_dir = dir.path().to_owned();
    // Made by a thread that raised its priority, as the server's workers do: a new thread
    // inherits its maker's nice, and these must still return to the normal one.
    let (mut writer, _store) = std::thread::spawn(move || {
        // SAFETY: setpriority takes plain integers; who = 0 is this thread on Linux. Refused
        // without the privilege, which leaves the thread as it was.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -5) };
        let writer = RecordingWriter::start(config, || {});
        let store = voice_studio::store::EpisodeStore::open(&store_dir)
            .unwrap_or_else(|e| panic!("episode store: {e}"));
        (writer, store)
    })
    .join()
    .unwrap_or_else(|_| panic!("the raised thread panicked"));
    assert!(drive(&mut writer, 0, 1).is_empty());
    // Other tests start these threads too; each switches itself as it starts, so once the
    // switch has run every such thread of the process is in the batch class at nice 0.
    for name in ["recorder", "episode-store"] {
        eventually(
            &format!("every {name} thread in SCHED_BATCH at nice 0"),
            || {
                let threads = policies_of_threads_named(name);
                !threads.is_empty() && threads.iter().all(|&p| p == (SCHED_BATCH, 0))
            },
        );
    }
    writer
        .finish(1000)
        .wait()
        .await
        .unwrap_or_else(|e| panic!("finish: {e}"));
}
