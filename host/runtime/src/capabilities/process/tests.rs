use super::*;

/// The state letter of a process, `None` once it is gone.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

#[tokio::test]
async fn shutdown_kills_every_live_child_group_grandchildren_too() {
    let live = Arc::new(AtomicUsize::new(0));
    let mut child = spawn(
        "shutdown-test",
        Path::new("/bin/sh"),
        vec!["-c".into(), "sleep 300 & echo $!; wait".into()],
        Vec::new(),
        &ProcessRules::default(),
        &live,
    )
    .expect("spawn");
    assert_eq!(live.load(Ordering::Acquire), 1);
    let mut stdout = child.stdout.take().expect("stdout");
    let mut printed = Vec::new();
    while !printed.ends_with(b"\n") {
        let mut byte = [0u8; 1];
        let n = stdout.read(&mut byte).await.expect("read");
        assert_eq!(n, 1, "the grandchild's pid before the end");
        printed.push(byte[0]);
    }
    let grandchild: u32 = String::from_utf8_lossy(&printed)
        .trim()
        .parse()
        .expect("a pid");
    assert!(kill_all_children() >= 1);
    let status = child.child.wait().await.expect("wait");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    let mut gone = false;
    for _ in 0..200 {
        if matches!(state(grandchild), None | Some('Z')) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(gone, "grandchild {grandchild} outlived the shutdown");
    drop(child);
    assert_eq!(live.load(Ordering::Acquire), 0);
}
