//! A full disk: the track returns a typed error, stops, and what it wrote stays playable.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::recording::{ffmpeg_decode_errors, ffprobe, probed_duration_ms, voice_frame};
use voice_studio::recording::{OpusSettings, RecordingError, Track, TrackSink};

/// A real file on a "disk" that is full after `limit` bytes, failing like ENOSPC does: a
/// partial write first, then an error.
struct FullDisk {
    file: File,
    limit: u64,
}

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let position = self.file.stream_position()?;
        let room = self.limit.saturating_sub(position) as usize;
        if room == 0 {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        self.file.write(&buf[..buf.len().min(room)])
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for FullDisk {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        self.file.seek(position)
    }
}

impl TrackSink for FullDisk {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

#[test]
fn a_full_disk_stops_the_track_with_a_typed_error_and_keeps_the_file_playable() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("guest.webm");
    let file = File::options()
        .create_new(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("create: {e}"));
    // Room for the header and about three seconds of 32 kbps speech.
    let sink = FullDisk {
        file,
        limit: 14_000,
    };
    let mut track = Track::with_sink(sink, &path, "guest", OpusSettings::default())
        .unwrap_or_else(|e| panic!("track: {e}"));

    let mut failure = None;
    for n in 0..500u64 {
        if let Err(error) = track.push_frame(n * 20, &voice_frame(n)) {
            failure = Some((n, error));
            break;
        }
    }
    let Some((failed_at, error)) = failure else {
        panic!("10 s of audio fit into 14 kB");
    };
    match &error {
        RecordingError::Write { path: p, source } => {
            assert_eq!(p, &path);
            assert_eq!(source.kind(), io::ErrorKind::StorageFull);
        }
        other => panic!("expected a write error, got {other:?}"),
    }
    // The track refuses more audio instead of writing past its last valid point.
    let next = track.push_frame(failed_at * 20 + 20, &voice_frame(0));
    assert!(
        matches!(next, Err(RecordingError::Stopped { .. })),
        "{next:?}"
    );
    let kept_ms = track.flushed_ms();
    assert!(kept_ms >= 1000 && kept_ms % 1000 == 0, "kept {kept_ms} ms");
    assert!(matches!(
        track.finish(),
        Err(RecordingError::Stopped { .. })
    ));

    let duration = probed_duration_ms(&ffprobe(&path));
    assert!(
        (duration - kept_ms as f64).abs() <= 20.0,
        "file lasts {duration} ms, {kept_ms} ms reached the disk"
    );
    assert_eq!(ffmpeg_decode_errors(&path, &[]), "");
}

#[test]
fn a_frame_of_the_wrong_size_is_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut track = Track::create(&dir.path().join("you.webm"), "you", OpusSettings::default())
        .unwrap_or_else(|e| panic!("track: {e}"));
    let result = track.push_frame(0, &[0i16; 480]);
    assert!(
        matches!(
            result,
            Err(RecordingError::FrameSize {
                expected: 960,
                got: 480
            })
        ),
        "{result:?}"
    );
}

/// A 64 KiB tmpfs mounted for one test and unmounted when dropped (also when the test fails).
struct TinyDisk {
    mount_point: PathBuf,
}

impl TinyDisk {
    fn mount(at: &Path) -> Self {
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(at)
            .output()
            .unwrap_or_else(|e| panic!("mount could not run: {e}"));
        assert!(
            output.status.success(),
            "this test mounts a 64 KiB tmpfs and needs root (CAP_SYS_ADMIN), as on the project's \
             machines and CI: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self {
            mount_point: at.to_path_buf(),
        }
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount_point).status();
    }
}

#[test]
fn a_real_full_disk_stops_the_track_and_keeps_the_file_playable() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let disk = TinyDisk::mount(dir.path());
    let path = disk.mount_point.join("you.webm");
    let mut track = Track::create(&path, "you", OpusSettings::default())
        .unwrap_or_else(|e| panic!("track: {e}"));
    let mut failure = None;
    // 60 s of 40 kbps audio cannot fit into 64 KiB.
    for n in 0..3000u64 {
        if let Err(error) = track.push_frame(n * 20, &voice_frame(n)) {
            failure = Some(error);
            break;
        }
    }
    match failure {
        Some(RecordingError::Write { source, .. }) => {
            assert_eq!(source.kind(), io::ErrorKind::StorageFull, "{source}");
        }
        other => panic!("expected a write error from the full tmpfs, got {other:?}"),
    }
    let kept_ms = track.flushed_ms();
    assert!(kept_ms >= 1000, "kept {kept_ms} ms");
    let duration = probed_duration_ms(&ffprobe(&path));
    assert!(
        (duration - kept_ms as f64).abs() <= 20.0,
        "file lasts {duration} ms, {kept_ms} ms reached the disk"
    );
    assert_eq!(ffmpeg_decode_errors(&path, &[]), "");
    drop(track);
    drop(disk);
}
