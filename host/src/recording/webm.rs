//! A small WebM (Matroska) writer for one Opus audio track, crash-safe by construction.
//!
//! Layout: EBML header, then a Segment whose size stays "unknown" until `finish` patches it. The
//! Segment starts with a fixed-size region holding the SeekHead (Info, Tracks, later Cues) padded
//! with a Void, then Info (Duration as an 8-byte float we rewrite in place; a Void holds its place
//! until there is audio), Tracks, an empty Cluster, and Clusters of at most one second. A Cluster
//! is built in memory and written with its exact size in one write, then Duration is patched and
//! the sink flushed: after every Cluster the file on disk is a complete WebM, so a crash loses at
//! most the Cluster being filled. `finish` writes the last Cluster, the Cues, the SeekHead entry
//! for the Cues, the exact Duration and the Segment size.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

use super::ebml;

/// Where a track's bytes go: a file in production, any seekable writer in tests.
///
/// `truncate` lets the writer cut a half-written Cluster after a failed write (a full disk), so
/// what stays on disk ends at the last complete Cluster and still plays.
pub trait TrackSink: Write + Seek + Send {
    /// Cuts the sink to `len` bytes.
    fn truncate(&mut self, len: u64) -> io::Result<()>;

    /// Asks the device to keep what was written through a power loss (`fdatasync` for a file);
    /// a sink in memory has nothing to do.
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TrackSink for File {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }
}

impl TrackSink for io::Cursor<Vec<u8>> {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(io::Error::other)?;
        self.get_mut().truncate(len);
        Ok(())
    }
}

/// Frames per Cluster: 50 x 20 ms = 1 s, the most a crash may lose.
pub(crate) const FRAMES_PER_CLUSTER: u32 = 50;
/// Opus frame length in ms; every block holds one frame.
pub(crate) const FRAME_MS: u64 = 20;
/// SeekPreRoll for Opus in WebM: decoders need 80 ms of audio before a seek target to converge.
const SEEK_PRE_ROLL_NS: u64 = 80_000_000;
/// Bytes of the Duration element: 2 id, 1 size, 8 float.
const DURATION_ELEMENT: usize = 11;
/// Bytes reserved at the Segment start for the SeekHead (3 entries) plus Void padding.
const SEEK_HEAD_REGION: usize = 68;

/// What the Opus track looks like, for the Tracks element.
pub(crate) struct OpusTrackInfo<'a> {
    /// Track name shown by players (the speaker).
    pub name: &'a str,
    /// Encoder lookahead in 48 kHz samples: OpusHead pre-skip and CodecDelay.
    pub pre_skip: u16,
}

/// Writes one Opus track into a WebM sink.
pub(crate) struct WebmWriter<S: TrackSink> {
    sink: S,
    /// Absolute offset of the Segment's 8-byte size field.
    segment_size_at: u64,
    /// Absolute offset where the Segment's payload starts (SeekHead positions count from here).
    segment_start: u64,
    /// Absolute offset of the Duration element (a Void until audio is on disk).
    duration_at: u64,
    /// Segment-relative positions of Info and Tracks for the SeekHead.
    info_pos: u64,
    tracks_pos: u64,
    /// Bytes safely on disk (end of the last complete element).
    written: u64,
    /// `written` at the last sync: a sync with nothing new would still cost the device a cache
    /// flush.
    synced: u64,
    /// The Cluster being filled: id, 8-byte size placeholder, Timestamp, SimpleBlocks.
    cluster: Vec<u8>,
    cluster_start_ms: u64,
    cluster_frames: u32,
    /// End of the audio in flushed Clusters, and including the open one, in ms.
    flushed_end_ms: u64,
    end_ms: u64,
    /// (Cluster time ms, Segment-relative Cluster position), one per Cluster, for the Cues.
    cues: Vec<(u64, u64)>,
}

impl<S: TrackSink> WebmWriter<S> {
    /// Writes the header (EBML, Segment start, SeekHead, Info, Tracks) and flushes it.
    pub(crate) fn new(mut sink: S, track: &OpusTrackInfo<'_>) -> io::Result<Self> {
        let mut b = Vec::with_capacity(512);
        let mut header = Vec::with_capacity(64);
        ebml::uint(&mut header, ebml::EBML_VERSION, 1);
        ebml::uint(&mut header, ebml::EBML_READ_VERSION, 1);
        ebml::uint(&mut header, ebml::EBML_MAX_ID_LENGTH, 4);
        ebml::uint(&mut header, ebml::EBML_MAX_SIZE_LENGTH, 8);
        ebml::bytes(&mut header, ebml::DOC_TYPE, b"webm");
        ebml::uint(&mut header, ebml::DOC_TYPE_VERSION, 4);
        ebml::uint(&mut header, ebml::DOC_TYPE_READ_VERSION, 2);
        ebml::master(&mut b, ebml::EBML, &header);

        ebml::id(&mut b, ebml::SEGMENT);
        let segment_size_at = b.len() as u64;
        b.extend_from_slice(&ebml::UNKNOWN_SIZE_8);
        let segment_start = b.len() as u64;

        // Info and Tracks follow the fixed SeekHead region, so their positions are known now.
        let info_pos = SEEK_HEAD_REGION as u64;
        let mut info = Vec::with_capacity(64);
        ebml::uint(&mut info, ebml::TIMESTAMP_SCALE, 1_000_000);
        let app = concat!("voice-studio ", env!("CARGO_PKG_VERSION"));
        ebml::bytes(&mut info, ebml::MUXING_APP, app.as_bytes());
        ebml::bytes(&mut info, ebml::WRITING_APP, app.as_bytes());
        // Matroska wants Duration > 0, so until the first Cluster is on disk its place is held
        // by a Void of the same size, which `patch_duration` overwrites.
        let duration_in_info = info.len();
        ebml::void(&mut info, DURATION_ELEMENT);
        let mut info_element = Vec::with_capacity(96);
        ebml::master(&mut info_element, ebml::INFO, &info);
        let duration_at =
            segment_start + info_pos + (info_element.len() - info.len() + duration_in_info) as u64;
        let tracks_pos = info_pos + info_element.len() as u64;

        write_seek_head(
            &mut b,
            &[(ebml::INFO, info_pos), (ebml::TRACKS, tracks_pos)],
        );
        b.extend_from_slice(&info_element);

        let mut audio = Vec::with_capacity(16);
        ebml::float(&mut audio, ebml::SAMPLING_FREQUENCY, 48_000.0);
        ebml::uint(&mut audio, ebml::CHANNELS, 1);
        let mut entry = Vec::with_capacity(128);
        ebml::uint(&mut entry, ebml::TRACK_NUMBER, 1);
        ebml::uint(&mut entry, ebml::TRACK_UID, 1);
        ebml::uint(&mut entry, ebml::TRACK_TYPE, 2);
        ebml::uint(&mut entry, ebml::FLAG_LACING, 0);
        ebml::bytes(&mut entry, ebml::NAME, track.name.as_bytes());
        ebml::bytes(&mut entry, ebml::LANGUAGE, b"und");
        ebml::bytes(&mut entry, ebml::CODEC_ID, b"A_OPUS");
        ebml::bytes(&mut entry, ebml::CODEC_PRIVATE, &opus_head(track.pre_skip));
        ebml::uint(
            &mut entry,
            ebml::CODEC_DELAY,
            u64::from(track.pre_skip) * 1_000_000_000 / 48_000,
        );
        ebml::uint(&mut entry, ebml::SEEK_PRE_ROLL, SEEK_PRE_ROLL_NS);
        ebml::master(&mut entry, ebml::AUDIO, &audio);
        let mut tracks = Vec::with_capacity(160);
        ebml::master(&mut tracks, ebml::TRACK_ENTRY, &entry);
        ebml::master(&mut b, ebml::TRACKS, &tracks);
        // An empty Cluster right after the header: a reader stops parsing the header at the first
        // Cluster, so a file killed before its first second still opens (with no audio).
        ebml::master(&mut b, ebml::CLUSTER, &[0xE7, 0x81, 0x00]);

        sink.write_all(&b)?;
        sink.flush()?;
        Ok(Self {
            sink,
            segment_size_at,
            segment_start,
            duration_at,
            info_pos,
            tracks_pos,
            written: b.len() as u64,
            synced: 0,
            // A full Cluster of 32-48 kbps Opus is 4-6 KB; room for 64 kbps avoids any regrowth.
            cluster: Vec::with_capacity(16 * 1024),
            cluster_start_ms: 0,
            cluster_frames: 0,
            flushed_end_ms: 0,
            end_ms: 0,
            cues: Vec::with_capacity(64),
        })
    }

    /// Appends one 20 ms Opus packet at `at_ms`; writes the Cluster to the sink when it is full.
    pub(crate) fn push_packet(&mut self, at_ms: u64, packet: &[u8]) -> io::Result<()> {
        if self.cluster_frames == 0 {
            self.cluster.clear();
            ebml::id(&mut self.cluster, ebml::CLUSTER);
            self.cluster.extend_from_slice(&[0; 8]);
            ebml::uint(&mut self.cluster, ebml::CLUSTER_TIMESTAMP, at_ms);
            self.cluster_start_ms = at_ms;
        }
        // Clusters never span more than a second, so the relative time fits an i16.
        let relative = i16::try_from(at_ms.saturating_sub(self.cluster_start_ms))
            .map_err(|_| io::Error::other("block time out of its cluster's range"))?;
        ebml::id(&mut self.cluster, ebml::SIMPLE_BLOCK);
        ebml::size(&mut self.cluster, 4 + packet.len() as u64);
        self.cluster.push(0x81); // track number 1 as a vint
        self.cluster.extend_from_slice(&relative.to_be_bytes());
        self.cluster.push(0x80); // keyframe: every Opus packet starts decoding on its own
        self.cluster.extend_from_slice(packet);
        self.cluster_frames += 1;
        self.end_ms = at_ms + FRAME_MS;
        if self.cluster_frames >= FRAMES_PER_CLUSTER {
            self.flush_cluster()?;
        }
        Ok(())
    }

    /// Audio in the file so far (flushed or not), in ms.
    pub(crate) fn end_ms(&self) -> u64 {
        self.end_ms
    }

    /// Audio that is safely on disk, in ms.
    pub(crate) fn flushed_end_ms(&self) -> u64 {
        self.flushed_end_ms
    }

    /// Makes the Clusters written so far survive a power loss (the open one is still in memory).
    pub(crate) fn sync_data(&mut self) -> io::Result<()> {
        if self.synced == self.written {
            return Ok(());
        }
        self.sink.sync_data()?;
        self.synced = self.written;
        Ok(())
    }

    /// Bytes safely on disk.
    #[cfg(test)]
    pub(crate) fn written_bytes(&self) -> u64 {
        self.written
    }

    /// Writes the open Cluster with its exact size, patches Duration and flushes.
    pub(crate) fn flush_cluster(&mut self) -> io::Result<()> {
        if self.cluster_frames == 0 {
            return Ok(());
        }
        let body = (self.cluster.len() - 12) as u64;
        self.cluster[4..12].copy_from_slice(&ebml::size8(body));
        let position = self.written - self.segment_start;
        let result = self.write_at_end_then_patch_duration(self.end_ms);
        if let Err(error) = result {
            self.rollback();
            return Err(error);
        }
        self.cues.push((self.cluster_start_ms, position));
        self.written += self.cluster.len() as u64;
        self.flushed_end_ms = self.end_ms;
        self.cluster_frames = 0;
        Ok(())
    }

    fn write_at_end_then_patch_duration(&mut self, end_ms: u64) -> io::Result<()> {
        self.sink.seek(SeekFrom::Start(self.written))?;
        self.sink.write_all(&self.cluster)?;
        // The Cluster is complete before Duration grows to cover it: a crash in between leaves
        // a Duration that is short by one second at most, never one that points past the data.
        self.patch_duration(end_ms)?;
        self.sink.flush()
    }

    /// Rewrites Duration in place: the float element, or the Void again for no audio at all.
    fn patch_duration(&mut self, end_ms: u64) -> io::Result<()> {
        let mut element = [0u8; DURATION_ELEMENT];
        if end_ms == 0 {
            element[0] = ebml::VOID as u8;
            element[1] = 0x80 | (DURATION_ELEMENT as u8 - 2); // one-byte size of the zeros
        } else {
            element[..2].copy_from_slice(&(ebml::DURATION as u16).to_be_bytes());
            element[2] = 0x88; // one-byte size: 8, a 64-bit float
            element[3..].copy_from_slice(&(end_ms as f64).to_be_bytes());
        }
        self.patch(self.duration_at, &element)
    }

    fn patch(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        self.sink.seek(SeekFrom::Start(at))?;
        self.sink.write_all(bytes)?;
        self.sink.seek(SeekFrom::End(0))?;
        Ok(())
    }

    /// After a failed write: cut the half-written Cluster and restore Duration (best effort: a
    /// full disk still allows shrinking a file).
    fn rollback(&mut self) {
        let _ = self.sink.truncate(self.written);
        let _ = self.patch_duration(self.flushed_end_ms);
        let _ = self.sink.flush();
        self.end_ms = self.flushed_end_ms;
        self.cluster_frames = 0;
    }

    /// Writes the last Cluster, the Cues, the complete SeekHead, the exact Duration and the
    /// Segment size; returns the sink and the total bytes.
    pub(crate) fn finish(mut self) -> io::Result<(S, u64)> {
        self.flush_cluster()?;
        let cues_pos = self.written - self.segment_start;
        let mut points = Vec::with_capacity(self.cues.len() * 16);
        for &(time, position) in &self.cues {
            let mut track_positions = Vec::with_capacity(16);
            ebml::uint(&mut track_positions, ebml::CUE_TRACK, 1);
            ebml::uint(&mut track_positions, ebml::CUE_CLUSTER_POSITION, position);
            let mut point = Vec::with_capacity(24);
            ebml::uint(&mut point, ebml::CUE_TIME, time);
            ebml::master(&mut point, ebml::CUE_TRACK_POSITIONS, &track_positions);
            ebml::master(&mut points, ebml::CUE_POINT, &point);
        }
        let mut cues = Vec::with_capacity(points.len() + 12);
        ebml::id(&mut cues, ebml::CUES);
        ebml::size_fixed(&mut cues, points.len() as u64, 8);
        cues.extend_from_slice(&points);
        self.sink.seek(SeekFrom::Start(self.written))?;
        self.sink.write_all(&cues)?;
        self.written += cues.len() as u64;

        let mut seek_head = Vec::with_capacity(SEEK_HEAD_REGION);
        write_seek_head(
            &mut seek_head,
            &[
                (ebml::INFO, self.info_pos),
                (ebml::TRACKS, self.tracks_pos),
                (ebml::CUES, cues_pos),
            ],
        );
        self.patch(self.segment_start, &seek_head)?;
        self.patch_duration(self.end_ms)?;
        let mut segment_size = Vec::with_capacity(8);
        ebml::size_fixed(&mut segment_size, self.written - self.segment_start, 8);
        self.patch(self.segment_size_at, &segment_size)?;
        self.sink.flush()?;
        // A finished track is synced: the recording is reported ready only once it is on the disk.
        self.sink.sync_data()?;
        Ok((self.sink, self.written))
    }
}

/// Writes a SeekHead for `entries` padded with a Void to exactly `SEEK_HEAD_REGION` bytes.
fn write_seek_head(buf: &mut Vec<u8>, entries: &[(u32, u64)]) {
    let mut seeks = Vec::with_capacity(64);
    for &(element, position) in entries {
        let mut seek = Vec::with_capacity(24);
        let mut id = Vec::with_capacity(4);
        ebml::id(&mut id, element);
        ebml::bytes(&mut seek, ebml::SEEK_ID, &id);
        // Fixed 8 bytes, so every entry has the same size and the region layout never moves.
        ebml::uint8(&mut seek, ebml::SEEK_POSITION, position);
        ebml::master(&mut seeks, ebml::SEEK, &seek);
    }
    let start = buf.len();
    ebml::master(buf, ebml::SEEK_HEAD, &seeks);
    let used = buf.len() - start;
    if used < SEEK_HEAD_REGION {
        ebml::void(buf, SEEK_HEAD_REGION - used);
    }
}

/// The Opus identification header (RFC 7845 section 5.1), WebM's CodecPrivate for Opus.
fn opus_head(pre_skip: u16) -> [u8; 19] {
    let mut head = [0u8; 19];
    head[..8].copy_from_slice(b"OpusHead");
    head[8] = 1; // version
    head[9] = 1; // channels
    head[10..12].copy_from_slice(&pre_skip.to_le_bytes());
    head[12..16].copy_from_slice(&48_000u32.to_le_bytes());
    // Output gain 0 and channel mapping family 0 (mono/stereo) are the zeros already there.
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_head_region_has_the_same_size_with_two_or_three_entries() {
        let mut two = Vec::new();
        write_seek_head(&mut two, &[(ebml::INFO, 68), (ebml::TRACKS, 120)]);
        let mut three = Vec::new();
        write_seek_head(
            &mut three,
            &[(ebml::INFO, 68), (ebml::TRACKS, 120), (ebml::CUES, 9)],
        );
        assert_eq!(two.len(), SEEK_HEAD_REGION);
        assert_eq!(three.len(), SEEK_HEAD_REGION);
    }

    #[test]
    fn opus_head_carries_pre_skip_and_rate_little_endian() {
        let head = opus_head(312);
        assert_eq!(&head[..8], b"OpusHead");
        assert_eq!(u16::from_le_bytes([head[10], head[11]]), 312);
        assert_eq!(
            u32::from_le_bytes([head[12], head[13], head[14], head[15]]),
            48_000
        );
    }

    #[test]
    fn a_cluster_is_on_the_sink_once_it_holds_one_second() {
        let info = OpusTrackInfo {
            name: "you",
            pre_skip: 312,
        };
        let mut writer = match WebmWriter::new(io::Cursor::new(Vec::new()), &info) {
            Ok(w) => w,
            Err(e) => panic!("header: {e}"),
        };
        let header = writer.written_bytes();
        for frame in 0..u64::from(FRAMES_PER_CLUSTER) - 1 {
            assert!(
                writer
                    .push_packet(frame * FRAME_MS, &[0xF8, 0xFF, 0xFE])
                    .is_ok()
            );
        }
        assert_eq!(writer.written_bytes(), header, "49 frames stay in memory");
        assert!(writer.push_packet(980, &[0xF8, 0xFF, 0xFE]).is_ok());
        assert!(writer.written_bytes() > header);
        assert_eq!(writer.flushed_end_ms(), 1000);
    }

    /// A sink in memory that counts the syncs asked of it.
    struct CountingSink {
        bytes: io::Cursor<Vec<u8>>,
        syncs: usize,
    }

    impl Write for CountingSink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.bytes.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Seek for CountingSink {
        fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
            self.bytes.seek(pos)
        }
    }

    impl TrackSink for CountingSink {
        fn truncate(&mut self, len: u64) -> io::Result<()> {
            self.bytes.truncate(len)
        }
        fn sync_data(&mut self) -> io::Result<()> {
            self.syncs += 1;
            Ok(())
        }
    }

    #[test]
    fn a_sync_reaches_the_device_only_when_a_cluster_was_written_since_the_last() {
        let info = OpusTrackInfo {
            name: "you",
            pre_skip: 312,
        };
        let sink = CountingSink {
            bytes: io::Cursor::new(Vec::new()),
            syncs: 0,
        };
        let mut writer = match WebmWriter::new(sink, &info) {
            Ok(w) => w,
            Err(e) => panic!("header: {e}"),
        };
        let sync = |writer: &mut WebmWriter<CountingSink>| {
            writer.sync_data().unwrap_or_else(|e| panic!("sync: {e}"));
            writer.sink.syncs
        };
        assert_eq!(sync(&mut writer), 1, "the header is new");
        assert_eq!(sync(&mut writer), 1, "nothing new since");
        for frame in 0..10 {
            assert!(writer.push_packet(frame * FRAME_MS, &[0xF8]).is_ok());
        }
        assert_eq!(sync(&mut writer), 1, "the open Cluster is still in memory");
        for frame in 10..u64::from(FRAMES_PER_CLUSTER) {
            assert!(writer.push_packet(frame * FRAME_MS, &[0xF8]).is_ok());
        }
        assert_eq!(sync(&mut writer), 2, "a Cluster reached the sink");
        assert_eq!(sync(&mut writer), 2);
    }
}
