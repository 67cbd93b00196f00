//! Serving a file from `RECORDING_DIR` safely: opened only inside the folder (no symlinks, no
//! escape through swapped parents), streamed in chunks, one byte range at a time.

use std::path::Path;

use axum::body::Bytes;
use tokio::io::AsyncReadExt;

/// Bytes read from disk per body chunk while streaming a recording.
const RECORDING_READ_CHUNK: usize = 64 * 1024;

/// Opens `root/folder/file` when both are real (not symlinks) and the file lies inside `root`
/// once every link is resolved; `None` when there is no such file to serve.
pub(super) async fn open_recording_file(
    root: &Path,
    folder: &str,
    file: &str,
) -> std::io::Result<Option<(tokio::fs::File, u64)>> {
    let folder_path = root.join(folder);
    let path = folder_path.join(file);
    // A symlink planted in RECORDING_DIR could point anywhere; the recorder never makes one.
    for p in [&folder_path, &path] {
        match tokio::fs::symlink_metadata(p).await {
            Ok(m) if !m.file_type().is_symlink() => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    // Also refuse a RECORDING_DIR whose parents were swapped for links after the check above.
    let (Ok(real_root), Ok(real_path)) = (
        tokio::fs::canonicalize(root).await,
        tokio::fs::canonicalize(&path).await,
    ) else {
        return Ok(None);
    };
    if real_path.parent() != Some(real_root.join(folder).as_path()) {
        return Ok(None);
    }
    let handle = match tokio::fs::File::open(&real_path).await {
        Ok(h) => h,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = handle.metadata().await?;
    if !meta.is_file() {
        return Ok(None);
    }
    Ok(Some((handle, meta.len())))
}

/// The body of a file as a stream of chunks read as the client takes them.
pub(super) fn file_chunks(
    reader: tokio::io::Take<tokio::fs::File>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures::stream::try_unfold(reader, |mut reader| async move {
        let mut buf = vec![0u8; RECORDING_READ_CHUNK];
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), reader)))
    })
}

/// The single byte range a `Range` header asks for in a file of `len` bytes, as inclusive
/// `(first, last)`; `None` when it is malformed, has several ranges, or lies past the end.
pub fn byte_range(header: &str, len: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if first.is_empty() {
        // `bytes=-N`: the last N bytes.
        if !digits(last) {
            return None;
        }
        let n: u64 = last.parse().ok()?;
        if n == 0 {
            return None;
        }
        return Some((len.saturating_sub(n), len - 1));
    }
    if !digits(first) || !(last.is_empty() || digits(last)) {
        return None;
    }
    let start: u64 = first.parse().ok()?;
    let end = if last.is_empty() {
        len - 1
    } else {
        last.parse::<u64>().ok()?.min(len - 1)
    };
    (start <= end && start < len).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_follow_rfc_9110_for_one_range() {
        assert_eq!(byte_range("bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(byte_range("bytes=900-", 1000), Some((900, 999)));
        assert_eq!(byte_range("bytes=-100", 1000), Some((900, 999)));
        assert_eq!(byte_range("bytes=-5000", 1000), Some((0, 999)));
        assert_eq!(byte_range("bytes=990-5000", 1000), Some((990, 999)));
        assert_eq!(byte_range("bytes=1000-", 1000), None);
        assert_eq!(byte_range("bytes=5-4", 1000), None);
        assert_eq!(byte_range("bytes=0-1,5-9", 1000), None);
        assert_eq!(byte_range("items=0-1", 1000), None);
        assert_eq!(byte_range("bytes=-0", 1000), None);
        assert_eq!(byte_range("bytes=a-b", 1000), None);
        assert_eq!(byte_range("bytes=0-0", 0), None);
    }
}
