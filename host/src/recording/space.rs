//! Free space on the recording disk, checked before a new recording folder is made: a full disk
//! would fail the recording mid-show and starve every other writer on it.

use std::io;
use std::path::Path;

/// Bytes an unprivileged process may still write on the file system that holds `dir` (or, when
/// `dir` does not exist yet, its nearest existing ancestor, where it will be created).
pub fn free_bytes(dir: &Path) -> io::Result<u64> {
    let existing = dir
        .ancestors()
        .find(|p| !p.as_os_str().is_empty() && p.exists())
        .unwrap_or(Path::new("."));
    let path = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `path` is a valid NUL-terminated string and `stat` is a plain C struct that
    // statvfs fills; both live across the call.
    let stat = unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut stat) != 0 {
            return Err(io::Error::last_os_error());
        }
        stat
    };
    #[allow(
        clippy::unnecessary_cast,
        reason = "the field types differ between targets"
    )]
    let free = (stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64);
    Ok(free)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_read_for_a_folder_that_does_not_exist_yet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let here = free_bytes(dir.path()).expect("statvfs");
        let later = free_bytes(&dir.path().join("not").join("yet")).expect("statvfs");
        assert!(here > 0, "a writable temp dir has some room");
        // Same file system: the same order of magnitude (other writers may run meanwhile).
        assert!(later.abs_diff(here) < here / 2 + 1);
    }
}
