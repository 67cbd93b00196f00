//! EBML primitives (RFC 8794): element ids, variable-size integers and typed elements.
//!
//! Everything writes into a caller's `Vec<u8>` so the hot path (one SimpleBlock per 20 ms frame)
//! reuses one buffer and allocates nothing.

/// The "unknown size" marker for an 8-byte size field: a reader takes the element to the end of
/// its parent (here: the file), which is what a growing Segment needs until it is finalized.
pub(crate) const UNKNOWN_SIZE_8: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// Writes an element id; ids carry their own length marker, so leading zero bytes are dropped.
pub(crate) fn id(buf: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(3);
    buf.extend_from_slice(&bytes[skip..]);
}

/// How many bytes the shortest vint encoding of `size` takes (all-ones values are reserved).
pub(crate) fn size_len(size: u64) -> usize {
    (1..=8)
        .find(|len| size < (1u64 << (7 * len)) - 1)
        .unwrap_or(8)
}

/// Writes `size` as a vint of exactly `len` bytes (1..=8).
pub(crate) fn size_fixed(buf: &mut Vec<u8>, size: u64, len: usize) {
    let marked = size | (1u64 << (7 * len));
    buf.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

/// `size` as an 8-byte vint, for patching a size field in place without a buffer.
pub(crate) fn size8(size: u64) -> [u8; 8] {
    (size | (1u64 << 56)).to_be_bytes()
}

/// Writes `size` as the shortest vint.
pub(crate) fn size(buf: &mut Vec<u8>, size: u64) {
    size_fixed(buf, size, size_len(size));
}

/// An unsigned integer element in the fewest bytes.
pub(crate) fn uint(buf: &mut Vec<u8>, element: u32, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    id(buf, element);
    size(buf, (8 - skip) as u64);
    buf.extend_from_slice(&bytes[skip..]);
}

/// An unsigned integer element in exactly 8 bytes, so it can be rewritten in place later.
pub(crate) fn uint8(buf: &mut Vec<u8>, element: u32, value: u64) {
    id(buf, element);
    size(buf, 8);
    buf.extend_from_slice(&value.to_be_bytes());
}

/// A 64-bit float element.
pub(crate) fn float(buf: &mut Vec<u8>, element: u32, value: f64) {
    id(buf, element);
    size(buf, 8);
    buf.extend_from_slice(&value.to_be_bytes());
}

/// A binary (or UTF-8 string) element.
pub(crate) fn bytes(buf: &mut Vec<u8>, element: u32, value: &[u8]) {
    id(buf, element);
    size(buf, value.len() as u64);
    buf.extend_from_slice(value);
}

/// A master element around already-serialized children, with the shortest size.
pub(crate) fn master(buf: &mut Vec<u8>, element: u32, children: &[u8]) {
    bytes(buf, element, children);
}

/// A Void element of exactly `total` bytes (id and size included); `total` must be at least 2.
pub(crate) fn void(buf: &mut Vec<u8>, total: usize) {
    debug_assert!(total >= 2);
    // A one-byte size covers payloads up to 126 bytes; anything longer takes a fixed 8-byte size.
    let len = if total.saturating_sub(2) <= 126 { 1 } else { 8 };
    let payload = total.saturating_sub(1 + len);
    id(buf, VOID);
    size_fixed(buf, payload as u64, len);
    buf.resize(buf.len() + payload, 0);
}

/// EBML header and Matroska element ids used by the WebM writer.
pub(crate) const EBML: u32 = 0x1A45_DFA3;
pub(crate) const EBML_VERSION: u32 = 0x4286;
pub(crate) const EBML_READ_VERSION: u32 = 0x42F7;
pub(crate) const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
pub(crate) const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
pub(crate) const DOC_TYPE: u32 = 0x4282;
pub(crate) const DOC_TYPE_VERSION: u32 = 0x4287;
pub(crate) const DOC_TYPE_READ_VERSION: u32 = 0x4285;
pub(crate) const VOID: u32 = 0xEC;
pub(crate) const SEGMENT: u32 = 0x1853_8067;
pub(crate) const SEEK_HEAD: u32 = 0x114D_9B74;
pub(crate) const SEEK: u32 = 0x4DBB;
pub(crate) const SEEK_ID: u32 = 0x53AB;
pub(crate) const SEEK_POSITION: u32 = 0x53AC;
pub(crate) const INFO: u32 = 0x1549_A966;
pub(crate) const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
pub(crate) const MUXING_APP: u32 = 0x4D80;
pub(crate) const WRITING_APP: u32 = 0x5741;
pub(crate) const DURATION: u32 = 0x4489;
pub(crate) const TRACKS: u32 = 0x1654_AE6B;
pub(crate) const TRACK_ENTRY: u32 = 0xAE;
pub(crate) const TRACK_NUMBER: u32 = 0xD7;
pub(crate) const TRACK_UID: u32 = 0x73C5;
pub(crate) const TRACK_TYPE: u32 = 0x83;
pub(crate) const FLAG_LACING: u32 = 0x9C;
pub(crate) const NAME: u32 = 0x536E;
pub(crate) const LANGUAGE: u32 = 0x22_B59C;
pub(crate) const CODEC_ID: u32 = 0x86;
pub(crate) const CODEC_PRIVATE: u32 = 0x63A2;
pub(crate) const CODEC_DELAY: u32 = 0x56AA;
pub(crate) const SEEK_PRE_ROLL: u32 = 0x56BB;
pub(crate) const AUDIO: u32 = 0xE1;
pub(crate) const SAMPLING_FREQUENCY: u32 = 0xB5;
pub(crate) const CHANNELS: u32 = 0x9F;
pub(crate) const CLUSTER: u32 = 0x1F43_B675;
pub(crate) const CLUSTER_TIMESTAMP: u32 = 0xE7;
pub(crate) const SIMPLE_BLOCK: u32 = 0xA3;
pub(crate) const CUES: u32 = 0x1C53_BB6B;
pub(crate) const CUE_POINT: u32 = 0xBB;
pub(crate) const CUE_TIME: u32 = 0xB3;
pub(crate) const CUE_TRACK_POSITIONS: u32 = 0xB7;
pub(crate) const CUE_TRACK: u32 = 0xF7;
pub(crate) const CUE_CLUSTER_POSITION: u32 = 0xF1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_the_shortest_vint_and_avoid_the_reserved_all_ones_value() {
        let mut b = Vec::new();
        size(&mut b, 0);
        size(&mut b, 126);
        size(&mut b, 127);
        assert_eq!(b, [0x80, 0xFE, 0x40, 0x7F]);
    }

    #[test]
    fn an_eight_byte_size_carries_its_length_marker() {
        let mut b = Vec::new();
        size_fixed(&mut b, 5000, 8);
        assert_eq!(b, size8(5000));
        assert_eq!(size8(5000)[0], 0x01);
    }

    #[test]
    fn ids_keep_their_marker_bits_and_drop_leading_zeros() {
        let mut b = Vec::new();
        id(&mut b, SEGMENT);
        id(&mut b, SIMPLE_BLOCK);
        id(&mut b, SEEK);
        assert_eq!(b, [0x18, 0x53, 0x80, 0x67, 0xA3, 0x4D, 0xBB]);
    }

    #[test]
    fn void_fills_exactly_the_requested_bytes() {
        for total in [2usize, 3, 21, 127, 128, 129, 200, 20_000] {
            let mut b = Vec::new();
            void(&mut b, total);
            assert_eq!(b.len(), total, "void of {total}");
            assert_eq!(b[0], 0xEC);
        }
    }

    #[test]
    fn uint_elements_are_minimal() {
        let mut b = Vec::new();
        uint(&mut b, TRACK_NUMBER, 1);
        uint(&mut b, TIMESTAMP_SCALE, 1_000_000);
        assert_eq!(
            b,
            [0xD7, 0x81, 0x01, 0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40]
        );
    }
}
