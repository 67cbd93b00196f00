//! The on-disk compile cache, trusted only for what it wrote itself.
//!
//! Loading a compiled artifact (`Component::deserialize`) runs its machine code without any
//! check, so a file someone else put in the cache folder is code execution in the host. Two rules
//! keep that out:
//!
//! - Every entry carries an HMAC-SHA256 tag over its name (content hash and engine hash) and its
//!   bytes, with a 32-byte key kept in a file OUTSIDE the cache folder (created on first use,
//!   mode 0600). An entry whose tag is missing or wrong (tampered, copied from another plugin's
//!   entry, written by another install) is deleted and the plugin is recompiled, with a warning.
//!   The tag is checked on the bytes in memory and those same bytes are loaded, so the file
//!   cannot change between the check and the load.
//! - The cache folder (and the key file) must belong to the user the server runs as and must not
//!   be writable (the key: readable) by group or others. Otherwise the cache is not used at all:
//!   plugins are compiled at every start and a warning names the fix.
//!
//! Entries are `<artifact><32-byte tag>`, one file each, written with an atomic rename.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the HMAC key and of each entry's tag.
const TAG_LEN: usize = 32;
/// Bytes of the key file.
const KEY_LEN: usize = 32;
/// Domain separation: a tag of this cache is not valid for anything else keyed the same way.
const TAG_CONTEXT: &[u8] = b"voice-studio compile cache v1\0";

type CacheMac = Hmac<Sha256>;

/// Why the cache folder or its key cannot be trusted (the cache is then not used).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheRefused {
    /// The folder could not be created or inspected.
    #[error("cannot use compile cache folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// The folder or key file is writable (readable, for the key) by others or owned by someone else.
    #[error("{what} {path} {problem}; fix: {fix}")]
    Unsafe {
        /// `compile cache folder` or `compile cache key`.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// What the operator should do.
        fix: String,
    },
    /// The key file could not be created or read.
    #[error("cannot use compile cache key {path}: {source}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
}

/// What a cache lookup found.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// A verified artifact written by this server.
    Hit(Vec<u8>),
    /// No entry under that name.
    Missing,
    /// An entry that is not ours (bad or missing tag); it was deleted.
    Rejected,
}

/// An open compile cache: a folder we own and the key that tags its entries.
pub(crate) struct CompileCache {
    dir: PathBuf,
    key: [u8; KEY_LEN],
}

impl std::fmt::Debug for CompileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("CompileCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl CompileCache {
    /// Opens `dir` (created mode 0700 if missing) with the key in `key_file` (created mode 0600
    /// with fresh random bytes if missing). Refuses a folder or key that someone else could have
    /// written, and a key file inside the cache folder.
    pub(crate) fn open(dir: &Path, key_file: &Path) -> Result<CompileCache, CacheRefused> {
        create_private_dir(dir).map_err(|source| CacheRefused::Folder {
            path: dir.to_path_buf(),
            source,
        })?;
        check_folder(dir)?;
        if inside(key_file, dir) {
            return Err(CacheRefused::Unsafe {
                what: "compile cache key",
                path: key_file.to_path_buf(),
                problem: "is inside the cache folder it protects".into(),
                fix: "set PLUGIN_CACHE_KEY_FILE to a path outside PLUGIN_CACHE_DIR".into(),
            });
        }
        let key = load_or_create_key(key_file)?;
        Ok(CompileCache {
            dir: dir.to_path_buf(),
            key,
        })
    }

    /// The cache folder.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry `name` if it is ours. A rejected entry is deleted (a later store rewrites it).
    pub(crate) fn load(&self, name: &str) -> Lookup {
        let path = self.dir.join(name);
        let mut bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Lookup::Missing,
            Err(e) => {
                tracing::warn!(cache = %path.display(), "cannot read compile cache entry, recompiling: {e}");
                return Lookup::Missing;
            }
        };
        let verified = bytes.len() > TAG_LEN && {
            let (artifact, tag) = bytes.split_at(bytes.len() - TAG_LEN);
            self.mac(name, artifact).verify_slice(tag).is_ok()
        };
        if !verified {
            tracing::warn!(
                cache = %path.display(),
                "compile cache entry was not written by this server (its tag does not match); ignoring it and recompiling the plugin"
            );
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(cache = %path.display(), "cannot delete the rejected cache entry: {e}");
            }
            return Lookup::Rejected;
        }
        bytes.truncate(bytes.len() - TAG_LEN);
        Lookup::Hit(bytes)
    }

    /// Stores `artifact` under `name` with its tag. A failure only costs load time next start.
    pub(crate) fn store(&self, name: &str, artifact: &[u8]) {
        let path = self.dir.join(name);
        let partial = self
            .dir
            .join(format!("{name}.partial{}", std::process::id()));
        let tag = self.mac(name, artifact).finalize().into_bytes();
        let written = write_private(&partial, &[artifact, &tag[..]])
            .and_then(|()| fs::rename(&partial, &path));
        if let Err(e) = written {
            // The cache is an optimisation: a read-only disk costs load time, not correctness.
            tracing::warn!(cache = %path.display(), "cannot store compiled plugin: {e}");
            let _ = fs::remove_file(&partial);
        }
    }

    /// The MAC of entry `name` holding `artifact`; the name binds the tag to its content hash,
    /// so one plugin's valid entry copied over another's is refused.
    fn mac(&self, name: &str, artifact: &[u8]) -> CacheMac {
        // Infallible: HMAC takes keys of any length.
        let mut mac = <CacheMac as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts a 32-byte key"));
        mac.update(TAG_CONTEXT);
        mac.update(name.as_bytes());
        mac.update(b"\0");
        mac.update(artifact);
        mac
    }
}

/// The default key file: `<cache folder>.key`, beside the folder, not in it.
pub(crate) fn default_key_file(dir: &Path) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "plugin-cache".into());
    name.push(".key");
    match dir.parent() {
        Some(parent) => parent.join(name),
        None => PathBuf::from(name),
    }
}

/// Whether `path` lies inside `dir` (lexically, and after resolving what exists).
fn inside(path: &Path, dir: &Path) -> bool {
    if path.starts_with(dir) {
        return true;
    }
    let resolved_dir = fs::canonicalize(dir).ok();
    let resolved_parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .and_then(|p| fs::canonicalize(p).ok());
    matches!((resolved_parent, resolved_dir), (Some(p), Some(d)) if p.starts_with(&d))
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `path` (mode 0600) with `parts`, flushed to disk.
fn write_private(path: &Path, parts: &[&[u8]]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    for part in parts {
        file.write_all(part)?;
    }
    file.sync_all()
}

fn load_or_create_key(path: &Path) -> Result<[u8; KEY_LEN], CacheRefused> {
    let key_error = |source| CacheRefused::Key {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut key = [0u8; KEY_LEN];
            getrandom::fill(&mut key).map_err(|e| key_error(io::Error::other(e.to_string())))?;
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_private_dir(parent).map_err(key_error)?;
            }
            match write_private(path, &[&key]) {
                Ok(()) => {
                    tracing::info!(key = %path.display(), "created the compile cache key");
                    return Ok(key);
                }
                // Another server started at the same moment and wrote it first: use theirs.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    File::open(path).map_err(key_error)?
                }
                Err(e) => return Err(key_error(e)),
            }
        }
        Err(e) => return Err(key_error(e)),
    };
    // Checked on the open file, so what is checked is what is read.
    let meta = file.metadata().map_err(key_error)?;
    check_owner_and_mode(
        "compile cache key",
        path,
        &meta,
        0o077,
        "readable or writable by group or others",
        format!(
            "chmod 600 {0} (or delete it: a new key is made, and the cache is rebuilt)",
            path.display()
        ),
    )?;
    let mut key = [0u8; KEY_LEN];
    let mut rest = Vec::new();
    file.read_exact(&mut key).map_err(key_error)?;
    file.read_to_end(&mut rest).map_err(key_error)?;
    if !rest.is_empty() {
        return Err(key_error(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a key file holds exactly {KEY_LEN} bytes; delete it to make a new one"),
        )));
    }
    Ok(key)
}

fn check_folder(dir: &Path) -> Result<(), CacheRefused> {
    let meta = fs::metadata(dir).map_err(|source| CacheRefused::Folder {
        path: dir.to_path_buf(),
        source,
    })?;
    check_owner_and_mode(
        "compile cache folder",
        dir,
        &meta,
        0o022,
        "is writable by group or others",
        format!(
            "chmod go-w {0} (or point PLUGIN_CACHE_DIR at a folder only this user can write)",
            dir.display()
        ),
    )
}

/// Refuses `path` unless the current user owns it and none of `forbidden` mode bits are set.
#[cfg(unix)]
fn check_owner_and_mode(
    what: &'static str,
    path: &Path,
    meta: &fs::Metadata,
    forbidden: u32,
    problem: &str,
    fix: String,
) -> Result<(), CacheRefused> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(CacheRefused::Unsafe {
            what,
            path: path.to_path_buf(),
            problem: format!(
                "belongs to user {} but the server runs as user {me}",
                meta.uid()
            ),
            fix: format!(
                "chown it to the server's user, or point {} elsewhere",
                if what == "compile cache key" {
                    "PLUGIN_CACHE_KEY_FILE"
                } else {
                    "PLUGIN_CACHE_DIR"
                }
            ),
        });
    }
    if meta.mode() & forbidden != 0 {
        return Err(CacheRefused::Unsafe {
            what,
            path: path.to_path_buf(),
            problem: format!("{problem} (mode {:o})", meta.mode() & 0o7777),
            fix,
        });
    }
    Ok(())
}

/// Other systems have no such mode bits; the tag still guards every entry.
#[cfg(not(unix))]
fn check_owner_and_mode(
    _what: &'static str,
    _path: &Path,
    _meta: &fs::Metadata,
    _forbidden: u32,
    _problem: &str,
    _fix: String,
) -> Result<(), CacheRefused> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn open(root: &Path) -> CompileCache {
        let dir = root.join("cache");
        CompileCache::open(&dir, &default_key_file(&dir)).expect("cache opens")
    }

    #[test]
    fn the_key_is_created_private_and_outside_the_cache_folder() {
        let root = tempfile::tempdir().expect("tempdir");
        let cache = open(root.path());
        let key = root.path().join("cache.key");
        let meta = fs::metadata(&key).expect("key file");
        assert_eq!(meta.len(), KEY_LEN as u64);
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let folder = fs::metadata(cache.dir()).expect("folder");
        assert_eq!(folder.permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::read_dir(cache.dir()).expect("list").count(), 0);
    }

    #[test]
    fn an_entry_round_trips_and_a_flipped_byte_is_rejected_and_deleted() {
        let root = tempfile::tempdir().expect("tempdir");
        let cache = open(root.path());
        cache.store("a-e.cwasm", b"compiled code");
        assert!(matches!(cache.load("a-e.cwasm"), Lookup::Hit(b) if b == b"compiled code"));
        // The same key after a restart.
        let again = open(root.path());
        assert!(matches!(again.load("a-e.cwasm"), Lookup::Hit(_)));

        let path = cache.dir().join("a-e.cwasm");
        let mut bytes = fs::read(&path).expect("entry");
        bytes[3] ^= 0x01;
        fs::write(&path, &bytes).expect("tamper");
        assert!(matches!(cache.load("a-e.cwasm"), Lookup::Rejected));
        assert!(!path.exists(), "a rejected entry is deleted");
        assert!(matches!(cache.load("a-e.cwasm"), Lookup::Missing));
    }

    #[test]
    fn another_entrys_valid_file_under_this_name_is_rejected() {
        let root = tempfile::tempdir().expect("tempdir");
        let cache = open(root.path());
        cache.store("one.cwasm", b"plugin one");
        cache.store("two.cwasm", b"plugin two");
        fs::copy(cache.dir().join("one.cwasm"), cache.dir().join("two.cwasm")).expect("copy");
        assert!(matches!(cache.load("two.cwasm"), Lookup::Rejected));
    }

    #[test]
    fn an_entry_written_with_another_key_is_rejected() {
        let root = tempfile::tempdir().expect("tempdir");
        let cache = open(root.path());
        cache.store("x.cwasm", b"code");
        fs::remove_file(root.path().join("cache.key")).expect("drop key");
        let other = open(root.path());
        assert!(matches!(other.load("x.cwasm"), Lookup::Rejected));
    }

    #[test]
    fn a_cache_folder_others_can_write_is_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("cache");
        fs::create_dir(&dir).expect("folder");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = CompileCache::open(&dir, &default_key_file(&dir)).expect_err("refused");
        assert!(
            err.to_string().contains("writable by group or others")
                && err.to_string().contains("chmod go-w"),
            "{err}"
        );
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o775)).expect("chmod");
        assert!(CompileCache::open(&dir, &default_key_file(&dir)).is_err());
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        assert!(CompileCache::open(&dir, &default_key_file(&dir)).is_ok());
    }

    #[test]
    fn a_key_others_can_read_or_inside_the_folder_is_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("cache");
        let key = default_key_file(&dir);
        drop(CompileCache::open(&dir, &key).expect("first open"));
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = CompileCache::open(&dir, &key).expect_err("refused");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        let err = CompileCache::open(&dir, &dir.join("key")).expect_err("refused");
        assert!(err.to_string().contains("inside the cache folder"), "{err}");
    }
}
