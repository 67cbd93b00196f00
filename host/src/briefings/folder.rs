//! The briefings folder as files to list, read and write: what the briefings API edits. Writes are
//! atomic (a temporary file in the same folder, synced, then renamed over the briefing), so the
//! store's watcher and a studio loading the briefing see the old file or the new one, never half
//! of one; and only text the loader accepts is ever written.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::store::check_episode_id;
use super::{Briefing, BriefingError, BriefingParseError, MAX_BRIEFING_BYTES};

/// Most briefings one listing reads: a folder of briefings is written by hand or by this API, so a
/// larger one is not a briefings folder.
pub const MAX_LISTED: usize = 1000;

/// Most bytes of a file returned for editing: enough to show (and fix) a file over
/// [`MAX_BRIEFING_BYTES`], bounded so a stray huge file cannot fill memory.
const MAX_READ_BYTES: u64 = 1024 * 1024;

/// One briefing file as found in the folder.
#[derive(Debug, Clone)]
pub struct BriefingFile {
    /// The id: the file name without `.md`.
    pub id: String,
    /// The file's text (lossy UTF-8, at most 1 MiB).
    pub markdown: String,
    /// The loader's reading of it, or why it refuses it.
    pub parsed: Result<Briefing, FileProblem>,
    /// When the file last changed.
    pub modified: SystemTime,
}

/// Why a file in the folder is not a briefing the studio can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    /// The loader refuses its text.
    #[error(transparent)]
    Invalid(#[from] BriefingParseError),
    /// It is larger than [`MAX_BRIEFING_BYTES`].
    #[error("the file is {0} bytes; at most {MAX_BRIEFING_BYTES} fit in a prompt, so shorten it")]
    TooLarge(u64),
    /// It is not UTF-8 text.
    #[error("the file is not UTF-8 text")]
    NotText,
}

/// Why a briefing could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The id cannot name a file in the folder (the store's own rule and message).
    #[error(transparent)]
    Id(BriefingError),
    /// The text is over [`MAX_BRIEFING_BYTES`].
    #[error(
        "the briefing is {0} bytes; at most {MAX_BRIEFING_BYTES} fit in a prompt, so shorten it"
    )]
    TooLarge(usize),
    /// The loader refuses the text.
    #[error(transparent)]
    Invalid(#[from] BriefingParseError),
    /// Creating, and the briefing exists already.
    #[error("briefing `{0}` exists already: change it with PUT /api/briefings/{0}")]
    Exists(String),
    /// The file system refused.
    #[error("writing the briefing failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Whether a write may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Create or replace (`PUT`).
    CreateOrReplace,
    /// Create only (`POST`): an existing briefing is [`WriteError::Exists`].
    CreateNew,
}

/// Whether `id` may name a briefing file: the store's own rule, and its message when not.
pub fn check_id(id: &str) -> Result<(), BriefingError> {
    check_episode_id(id)
}

fn is_valid_id(id: &str) -> bool {
    check_episode_id(id).is_ok()
}

/// Every `<id>.md` in `dir` whose id is valid, sorted by id, at most [`MAX_LISTED`]; a missing
/// folder lists nothing.
pub fn list(dir: &Path) -> std::io::Result<Vec<BriefingFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let id = name.strip_suffix(".md")?;
            is_valid_id(id).then(|| id.to_owned())
        })
        .collect();
    ids.sort();
    ids.truncate(MAX_LISTED);
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        // A file removed or unreadable since the listing is left out.
        if let Ok(Some(file)) = read(dir, &id) {
            out.push(file);
        }
    }
    Ok(out)
}

/// The briefing `id` in `dir`, `None` when there is none. The id must be valid.
pub fn read(dir: &Path, id: &str) -> std::io::Result<Option<BriefingFile>> {
    if !is_valid_id(id) {
        return Ok(None);
    }
    let path = path_of(dir, id);
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    file.take(MAX_READ_BYTES).read_to_end(&mut bytes)?;
    let parsed = if meta.len() > MAX_BRIEFING_BYTES {
        Err(FileProblem::TooLarge(meta.len()))
    } else {
        match std::str::from_utf8(&bytes) {
            Ok(text) => Briefing::parse(text).map_err(FileProblem::from),
            Err(_) => Err(FileProblem::NotText),
        }
    };
    Ok(Some(BriefingFile {
        id: id.to_owned(),
        markdown: String::from_utf8_lossy(&bytes).into_owned(),
        parsed,
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }))
}

/// Validates `markdown` exactly as the loader does and writes it to `<dir>/<id>.md` atomically,
/// creating the folder when it is missing. Nothing is written when anything is wrong, so the old
/// file stays. Returns whether the file is new, and the loader's reading of it.
pub fn write(
    dir: &Path,
    id: &str,
    markdown: &str,
    mode: WriteMode,
) -> Result<(bool, Briefing), WriteError> {
    check_id(id).map_err(WriteError::Id)?;
    if markdown.len() as u64 > MAX_BRIEFING_BYTES {
        return Err(WriteError::TooLarge(markdown.len()));
    }
    let briefing = Briefing::parse(markdown)?;
    std::fs::create_dir_all(dir)?;
    let path = path_of(dir, id);
    let existing = std::fs::metadata(&path).ok();
    if mode == WriteMode::CreateNew && existing.is_some() {
        return Err(WriteError::Exists(id.to_owned()));
    }
    // Hidden (a leading `.`), so the store's watcher never takes it for a briefing.
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{id}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(markdown.as_bytes())?;
    keep_permissions(temp.as_file(), existing.as_ref())?;
    temp.as_file().sync_all()?;
    match mode {
        WriteMode::CreateOrReplace => {
            temp.persist(&path).map_err(|e| e.error)?;
        }
        // No replacing a file created since the check above.
        WriteMode::CreateNew => {
            if let Err(e) = temp.persist_noclobber(&path) {
                if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                    return Err(WriteError::Exists(id.to_owned()));
                }
                return Err(e.error.into());
            }
        }
    }
    sync_folder(dir);
    Ok((existing.is_none(), briefing))
}

fn path_of(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.md"))
}

/// The new file gets the old one's permissions, or a plain readable file's (a temporary file is
/// created private, but a briefing is no secret and its author's editor must read it).
fn keep_permissions(
    file: &std::fs::File,
    existing: Option<&std::fs::Metadata>,
) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = existing.map_or(0o644, |m| m.permissions().mode() & 0o7777);
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (file, existing);
    Ok(())
}

/// Makes the rename itself durable (the folder's entry); a failure only costs durability.
fn sync_folder(dir: &Path) {
    #[cfg(unix)]
    if let Err(error) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(%error, dir = %dir.display(), "syncing the briefings folder failed");
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\ntopic: Tea\n---\nAbout tea.\n";

    #[test]
    fn a_write_creates_then_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("briefings");
        let (created, b) = write(&folder, "tea", GOOD, WriteMode::CreateOrReplace).unwrap();
        assert!(created);
        assert_eq!(b.topic, "Tea");
        let (created, b) = write(
            &folder,
            "tea",
            "---\ntopic: Coffee\n---\n",
            WriteMode::CreateOrReplace,
        )
        .unwrap();
        assert!(!created);
        assert_eq!(b.topic, "Coffee");
        let names: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["tea.md"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(folder.join("tea.md"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn a_bad_briefing_or_id_writes_nothing_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "tea", GOOD, WriteMode::CreateOrReplace).unwrap();
        let bad = "---\ntopic: Tea\nmustCover: one\n---\n";
        let e = write(dir.path(), "tea", bad, WriteMode::CreateOrReplace).unwrap_err();
        assert!(e.to_string().starts_with("line 3: `mustCover`"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("tea.md")).unwrap(),
            GOOD
        );
        for id in ["../tea", ".tea", "a/b", ""] {
            assert!(matches!(
                write(dir.path(), id, GOOD, WriteMode::CreateOrReplace),
                Err(WriteError::Id(_))
            ));
        }
        let big = format!("{GOOD}{}", "x".repeat(MAX_BRIEFING_BYTES as usize));
        assert!(matches!(
            write(dir.path(), "big", &big, WriteMode::CreateOrReplace),
            Err(WriteError::TooLarge(_))
        ));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn the_store_reloads_a_written_briefing_and_never_sees_the_temporary_file() {
        use crate::briefings::{BriefingEvent, BriefingStore};
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "tea", GOOD, WriteMode::CreateOrReplace).unwrap();
        let store = BriefingStore::open(dir.path()).unwrap();
        assert_eq!(store.load("tea").await.unwrap().topic, "Tea");
        let mut events = store.subscribe();
        let coffee = "---\ntopic: Coffee\n---\n";
        write(dir.path(), "tea", coffee, WriteMode::CreateOrReplace).unwrap();
        // The long limit only keeps a broken watcher from hanging the run.
        let event = tokio::time::timeout(std::time::Duration::from_secs(20), events.recv())
            .await
            .expect("no briefing event within 20 s")
            .expect("events");
        match event {
            BriefingEvent::Reloaded {
                episode_id,
                briefing,
            } => assert_eq!(
                (episode_id.as_str(), briefing.topic.as_str()),
                ("tea", "Coffee")
            ),
            other => panic!("expected the reload of tea, got {other:?}"),
        }
        assert_eq!(store.load("tea").await.unwrap().topic, "Coffee");
    }

    #[test]
    fn creating_refuses_an_existing_briefing() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "tea", GOOD, WriteMode::CreateNew).unwrap();
        assert!(matches!(
            write(dir.path(), "tea", GOOD, WriteMode::CreateNew),
            Err(WriteError::Exists(_))
        ));
    }

    #[test]
    fn listing_reads_valid_ids_only_and_reports_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list(&dir.path().join("missing")).unwrap().is_empty());
        std::fs::write(dir.path().join("b.md"), "no front matter").unwrap();
        std::fs::write(dir.path().join("a.md"), GOOD).unwrap();
        std::fs::write(dir.path().join(".swap.md"), GOOD).unwrap();
        std::fs::write(dir.path().join("notes.txt"), GOOD).unwrap();
        std::fs::create_dir(dir.path().join("dir.md")).unwrap();
        let files = list(dir.path()).unwrap();
        let ids: Vec<&str> = files.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(files[0].parsed.as_ref().unwrap().topic, "Tea");
        assert!(matches!(files[1].parsed, Err(FileProblem::Invalid(_))));
        assert!(read(dir.path(), "../a").unwrap().is_none());
    }
}
