//! Who gets the CPU first, on the real binary: the async runtime's workers ask for
//! `LIVE_AUDIO_NICE` (ahead of other processes); every other thread of the server, the blocking
//! pool's included, keeps the normal nice. Where the system refuses (no `CAP_SYS_NICE`), the
//! server says so once and runs at the normal priority.

use std::time::{Duration, Instant};

use crate::support::server::{Server, ServerSetup};

/// Guards the wait for the workers; never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// The nice value of every thread of process `pid`, with its name, from `/proc`.
fn nice_by_thread(pid: u32) -> Vec<(String, i32)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/<pid>/task");
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            let name = std::fs::read_to_string(task.path().join("comm")).ok()?;
            // Fields after the command's closing parenthesis start at field 3; nice is 19.
            let (_, rest) = stat.rsplit_once(')')?;
            let nice = rest.split_whitespace().nth(19 - 3)?.parse().ok()?;
            Some((name.trim().to_owned(), nice))
        })
        .collect()
}

/// Whether this process may raise a thread's priority (root, `CAP_SYS_NICE` or `RLIMIT_NICE`):
/// a scratch thread tries, so the test's own threads keep theirs.
fn may_raise_priority() -> bool {
    std::thread::spawn(|| {
        // SAFETY: setpriority takes plain integers; who = 0 is this scratch thread on Linux.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -1) == 0 }
    })
    .join()
    .expect("scratch thread")
}

/// Waits until `workers` threads of the server run at `nice` (a worker asks the first time it
/// wakes; requests wake them), and returns every thread's nice at that moment.
fn once_workers_at(server: &Server, workers: usize, nice: i32) -> Vec<(String, i32)> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert_eq!(server.get("/health").status, 200);
        let threads = nice_by_thread(server.pid());
        let raised = threads
            .iter()
            .filter(|(name, n)| name == "tokio-rt-worker" && *n == nice)
            .count();
        if raised >= workers {
            return threads;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {workers} workers at nice {nice}: {threads:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_runtime_workers_ask_for_the_live_audio_nice_and_no_other_thread_runs_at_it() {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let permitted = may_raise_priority();
    let server = ServerSetup::new().var("LIVE_AUDIO_NICE", "-7").start();
    let expected = if permitted { -7 } else { 0 };
    let threads = once_workers_at(&server, workers, expected);
    let raised: Vec<_> = threads.iter().filter(|(_, nice)| *nice != 0).collect();
    if permitted {
        assert_eq!(
            raised.len(),
            workers,
            "the workers and nothing else (not the blocking pool, the store, the epoch ticker): {threads:?}"
        );
        assert!(
            raised
                .iter()
                .all(|(name, nice)| name == "tokio-rt-worker" && *nice == -7)
        );
    } else {
        assert!(raised.is_empty(), "{threads:?}");
    }
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    assert_eq!(
        log.contains("the system refused nice -7"),
        !permitted,
        "a refusal is logged, and only a refusal: {log}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn live_audio_nice_0_leaves_every_thread_at_the_normal_priority() {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let server = ServerSetup::new().var("LIVE_AUDIO_NICE", "0").start();
    let threads = once_workers_at(&server, workers, 0);
    assert!(threads.iter().all(|(_, nice)| *nice == 0), "{threads:?}");
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    assert!(!log.contains("refused nice"), "nothing was asked: {log}");
}

#[test]
fn a_live_audio_nice_outside_minus_20_to_0_stops_the_start_with_the_fix() {
    let (status, stderr) = ServerSetup::new().var("LIVE_AUDIO_NICE", "5").run_to_exit();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("LIVE_AUDIO_NICE"), "{stderr}");
    assert!(stderr.contains("-20 to 0"), "{stderr}");
}
