//! Reading a recorded track back: the Opus packets of a WebM file with their block times.
//!
//! `matroska-demuxer` reads one block at a time, so a file cut off by a crash (a Segment of
//! unknown size, a last Cluster that stops mid-block) yields every whole block before the cut;
//! the error at the cut ends the track instead of failing it.

use std::borrow::Cow;
use std::io::Cursor;
use std::path::Path;

use matroska_demuxer::{Frame, MatroskaFile, TrackType};

use super::StemsError;

/// Samples per second of every track (Opus decodes at 48 kHz; the recorder writes mono 48 kHz).
pub(crate) const RATE: u64 = 48_000;

/// One Opus packet and where it starts on the session timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Packet {
    /// Start in 48 kHz samples since session time 0 (the block's timestamp).
    pub at_sample: u64,
    /// The Opus packet.
    pub data: Vec<u8>,
}

/// A track's packets in file order, and how to decode them.
#[derive(Debug, Clone, Default)]
pub(crate) struct DemuxedTrack {
    /// The packets of the file's Opus track.
    pub packets: Vec<Packet>,
    /// OpusHead pre-skip: decoded samples that come before the first input sample.
    pub pre_skip: u64,
    /// Whether reading stopped at a cut (a crash-truncated file) instead of the file's end.
    pub truncated: bool,
}

/// Reads the Opus track of the WebM file at `path` (at most `max_bytes`; the whole file is read
/// into memory, since the demuxer measures the rest of the stream before each block and a
/// buffered file would drop its buffer each time).
pub(crate) fn read_track(path: &Path, max_bytes: u64) -> Result<DemuxedTrack, StemsError> {
    let len = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        // A recording always holds its three tracks: one gone is a damaged recording.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StemsError::Unreadable {
                file: path.to_path_buf(),
                message: "the track is missing".into(),
            });
        }
        Err(e) => return Err(StemsError::io(path, e)),
    };
    if len > max_bytes {
        return Err(StemsError::TooLarge {
            file: path.to_path_buf(),
            bytes: len,
            max_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| StemsError::io(path, e))?;
    demux(&bytes).map_err(|message| StemsError::Unreadable {
        file: path.to_path_buf(),
        message,
    })
}

/// The Opus packets of a WebM file held in memory.
pub(crate) fn demux(bytes: &[u8]) -> Result<DemuxedTrack, String> {
    let mut file = match MatroskaFile::open(Cursor::new(Cow::Borrowed(bytes))) {
        Ok(file) => file,
        Err(error) => {
            // A power loss as the track was being finished can leave the index (the SeekHead)
            // naming Cues that never reached the disk; without it the demuxer walks the
            // top-level elements instead and takes the Clusters that are there.
            let patched = without_seek_head(bytes)
                .ok_or_else(|| format!("not a WebM file the recorder wrote ({error:?})"))?;
            MatroskaFile::open(Cursor::new(Cow::Owned(patched)))
                .map_err(|_| format!("not a WebM file the recorder wrote ({error:?})"))?
        }
    };
    let track = file
        .tracks()
        .iter()
        .find(|t| t.track_type() == TrackType::Audio && t.codec_id() == "A_OPUS")
        .ok_or("no Opus audio track")?;
    let number = track.track_number().get();
    let pre_skip = pre_skip(track.codec_private(), track.codec_delay());
    // Block timestamps count in TimestampScale nanoseconds (1 ms in the recorder's files).
    let scale = u128::from(file.info().timestamp_scale().get());
    let mut out = DemuxedTrack {
        pre_skip,
        ..DemuxedTrack::default()
    };
    let mut frame = Frame::default();
    loop {
        match file.next_frame(&mut frame) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                // A block cut short, or garbage after the last whole block: what came before
                // is the track.
                tracing::debug!(%error, packets = out.packets.len(), "track ends at a cut");
                out.truncated = true;
                break;
            }
        }
        if frame.track != number || frame.data.is_empty() {
            continue;
        }
        let ns = u128::from(frame.timestamp) * scale;
        let at_sample = u64::try_from(ns * u128::from(RATE) / 1_000_000_000)
            .map_err(|_| "a block time out of range".to_owned())?;
        out.packets.push(Packet {
            at_sample,
            data: std::mem::take(&mut frame.data),
        });
    }
    Ok(out)
}

/// The file with its SeekHead turned into a Void of the same size, if it starts as the
/// recorder's files do (EBML header, Segment, SeekHead).
fn without_seek_head(bytes: &[u8]) -> Option<Vec<u8>> {
    const EBML: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];
    const SEGMENT: [u8; 4] = [0x18, 0x53, 0x80, 0x67];
    const SEEK_HEAD: [u8; 4] = [0x11, 0x4D, 0x9B, 0x74];
    let header_size = bytes
        .get(..4)
        .filter(|id| *id == EBML)
        .and(vint(bytes.get(4..)?))?;
    let segment = 4 + header_size.len + usize::try_from(header_size.value).ok()?;
    let segment_size = bytes
        .get(segment..segment + 4)
        .filter(|id| *id == SEGMENT)
        .and(vint(bytes.get(segment + 4..)?))?;
    let at = segment + 4 + segment_size.len;
    let size = bytes
        .get(at..at + 4)
        .filter(|id| *id == SEEK_HEAD)
        .and(vint(bytes.get(at + 4..)?))?;
    // Void (one id byte) with a size field three bytes longer: the same header length.
    let len = size.len + 3;
    if len > 8 || size.value >= (1u64 << (7 * len)) - 1 {
        return None;
    }
    let mut out = bytes.to_vec();
    out[at] = 0xEC;
    let marked = (size.value | (1u64 << (7 * len))).to_be_bytes();
    out[at + 1..at + 1 + len].copy_from_slice(&marked[8 - len..]);
    Some(out)
}

/// An EBML variable-size integer: its value and its length in bytes.
struct Vint {
    value: u64,
    len: usize,
}

fn vint(bytes: &[u8]) -> Option<Vint> {
    let first = *bytes.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    let mut value = u64::from(first) & (0xFF >> len);
    for byte in bytes.get(1..len)? {
        value = (value << 8) | u64::from(*byte);
    }
    Some(Vint { value, len })
}

/// Pre-skip in samples: OpusHead's field (bytes 10-11, little endian), else CodecDelay (ns).
fn pre_skip(codec_private: Option<&[u8]>, codec_delay_ns: Option<u64>) -> u64 {
    match codec_private {
        Some(head) if head.len() >= 19 && head.starts_with(b"OpusHead") => {
            u64::from(u16::from_le_bytes([head[10], head[11]]))
        }
        _ => codec_delay_ns.map_or(0, |ns| ns * RATE / 1_000_000_000),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::{self, Seek, SeekFrom, Write};
    use std::sync::{Arc, Mutex, PoisonError};

    use super::*;
    use crate::recording::{OpusSettings, Track, TrackSink};

    /// A sink whose bytes the test keeps after the track is gone.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Cursor<Vec<u8>>>>);

    impl Shared {
        fn cursor(&self) -> std::sync::MutexGuard<'_, Cursor<Vec<u8>>> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.cursor().write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Seek for Shared {
        fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
            self.cursor().seek(pos)
        }
    }

    impl TrackSink for Shared {
        fn truncate(&mut self, len: u64) -> io::Result<()> {
            self.cursor().get_mut().truncate(len as usize);
            Ok(())
        }
    }

    /// The test signal at session time `t` seconds: a sweep rising 600 Hz a second from
    /// 200 Hz, amplitude 8000, so no two moments look alike (a plain tone would repeat every
    /// period and any shift by whole periods would pass for aligned).
    pub(crate) fn sweep(t: f64) -> i16 {
        (8000.0 * (std::f64::consts::TAU * (200.0 * t + 300.0 * t * t)).sin()) as i16
    }

    /// Frame `n` of the sweep where `loud` holds, silence elsewhere.
    pub(crate) fn tone_frame(n: u64, loud: bool) -> Vec<i16> {
        (0..960u64)
            .map(|i| {
                if loud {
                    sweep((n * 960 + i) as f64 / 48_000.0)
                } else {
                    0
                }
            })
            .collect()
    }

    /// The bytes of a track of `frames` 20 ms frames as the recorder writes it (finished, or as
    /// a crash leaves it: the Clusters flushed so far), with a tone where `loud(n)` holds.
    pub(crate) fn recorded_track(frames: u64, finish: bool, loud: impl Fn(u64) -> bool) -> Vec<u8> {
        let sink = Shared::default();
        let mut track = Track::with_sink(
            sink.clone(),
            Path::new("test.webm"),
            "you",
            OpusSettings::default(),
        )
        .unwrap_or_else(|e| panic!("track: {e}"));
        for n in 0..frames {
            track
                .push_frame(n * 20, &tone_frame(n, loud(n)))
                .unwrap_or_else(|e| panic!("frame {n}: {e}"));
        }
        if finish {
            track.finish().unwrap_or_else(|e| panic!("finish: {e}"));
        }
        sink.cursor().get_ref().clone()
    }

    #[test]
    fn a_finished_track_gives_every_packet_at_its_block_time() {
        let bytes = recorded_track(120, true, |_| true);
        let track = demux(&bytes).unwrap_or_else(|e| panic!("demux: {e}"));
        assert!(!track.truncated);
        assert_eq!(track.packets.len(), 120);
        assert!(
            track.pre_skip > 0 && track.pre_skip < 960,
            "{}",
            track.pre_skip
        );
        for (n, packet) in track.packets.iter().enumerate() {
            assert_eq!(packet.at_sample, n as u64 * 960, "packet {n}");
        }
    }

    #[test]
    fn a_crashed_track_gives_its_flushed_clusters() {
        // 2.5 s recorded, never finished: two whole Clusters on disk, the third in memory.
        let bytes = recorded_track(125, false, |_| true);
        let track = demux(&bytes).unwrap_or_else(|e| panic!("demux: {e}"));
        assert_eq!(track.packets.len(), 100);
        assert_eq!(track.packets.last().map(|p| p.at_sample), Some(99 * 960));
    }

    #[test]
    fn a_cluster_cut_mid_write_yields_the_blocks_it_holds() {
        let whole = recorded_track(100, false, |_| true);
        let first_cluster_only =
            demux(&recorded_track(50, false, |_| true)).unwrap_or_else(|e| panic!("demux: {e}"));
        assert_eq!(first_cluster_only.packets.len(), 50);
        // Cut the second Cluster in the middle: the file ends inside a block.
        let one = recorded_track(50, false, |_| true).len();
        let cut = one + (whole.len() - one) / 2 + 3;
        let track = demux(&whole[..cut]).unwrap_or_else(|e| panic!("demux: {e}"));
        assert!(
            track.packets.len() > 55 && track.packets.len() < 100,
            "{} packets",
            track.packets.len()
        );
        for (n, packet) in track.packets.iter().enumerate() {
            assert_eq!(packet.at_sample, n as u64 * 960, "packet {n}");
        }
    }

    #[test]
    fn a_finished_track_whose_cues_were_lost_still_gives_its_clusters() {
        // Finished (the SeekHead names the Cues at the end), then cut inside its second Cluster.
        let whole = recorded_track(150, true, |_| true);
        let one = recorded_track(50, false, |_| true).len();
        let two = recorded_track(100, false, |_| true).len();
        let cut = (one + two) / 2;
        let track = demux(&whole[..cut]).unwrap_or_else(|e| panic!("demux: {e}"));
        assert!(track.truncated);
        assert!(
            track.packets.len() > 55 && track.packets.len() < 100,
            "{} packets",
            track.packets.len()
        );
    }

    #[test]
    fn a_file_that_is_not_webm_is_refused() {
        assert!(demux(b"RIFF....WAVEfmt ").is_err());
        assert!(demux(&[]).is_err());
    }

    #[test]
    fn pre_skip_comes_from_opus_head_or_codec_delay() {
        let mut head = b"OpusHead".to_vec();
        head.extend_from_slice(&[1, 1, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0]);
        assert_eq!(pre_skip(Some(&head), None), 312);
        assert_eq!(pre_skip(None, Some(6_500_000)), 312);
        assert_eq!(pre_skip(None, None), 0);
    }
}
