//! Copies of a recording while it runs, so a host that dies loses at most the last copy interval
//! (`RECORDING_UPLOAD_EVERY_SECONDS`) of what it recorded.
//!
//! The recorder only appends, except in each file's first bytes: a track patches its Duration
//! and, at the end, its SeekHead and Segment size there (see `webm.rs`), and `session.yml` is
//! replaced whole. So every interval copies, per file, under `<folder>/live/<file>/`:
//! - the bytes appended since the last copy, as an object named by their offset
//!   (`000000012345`, zero-padded so names sort as offsets);
//! - the first [`HEAD_BYTES`] again (`head`) when they changed;
//! - and a file that is replaced whole (`session.yml`) whole (`whole`).
//!
//! [`RecordingBucket::assemble_live`] puts the pieces back together: the appended pieces in
//! order from offset 0, then the latest head over the start. The result is the file as it was at
//! the last copy, which the recorder's crash-safe layout makes a playable recording. When the
//! recording is finished and its files are copied whole, the live pieces are deleted.

use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::bucket::{BucketError, RecordingBucket};

/// The start of a file that may be rewritten in place; copied again whenever it changed.
pub const HEAD_BYTES: u64 = 4096;
/// Files the recorder replaces whole rather than appends to.
const WHOLE_FILES: [&str; 1] = ["session.yml"];
/// The files of a recording folder that are copied.
pub const RECORDING_FILES: [&str; 8] = [
    "you.webm",
    "claude.webm",
    "guest.webm",
    "you.vtt",
    "claude.vtt",
    "guest.vtt",
    "events.jsonl",
    "session.yml",
];

/// Where a take of an episode stands in the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeState {
    /// Its session ended and its files went up whole.
    Finished,
    /// Only its live copies are there: it runs now, or its host died mid-show.
    Unfinished,
}

/// The live copies of one file in the bucket.
#[derive(Debug, Default)]
struct LivePieces {
    /// Appended pieces and their offsets.
    appended: Vec<(u64, ObjectPath)>,
    head: Option<ObjectPath>,
    whole: Option<ObjectPath>,
}

/// What of one file the bucket already holds.
#[derive(Debug, Default)]
struct Copied {
    /// Bytes appended pieces cover, from 0.
    len: u64,
    /// The head (or whole file) last copied.
    head: Vec<u8>,
}

/// The copies of one live recording folder.
#[derive(Debug)]
pub struct LiveCopy {
    bucket: RecordingBucket,
    folder: PathBuf,
    name: String,
    copied: HashMap<&'static str, Copied>,
}

impl LiveCopy {
    /// Copies of the recording in `folder` (named by its last path component) to `bucket`.
    pub fn new(bucket: RecordingBucket, folder: &Path) -> Self {
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self {
            bucket,
            folder: folder.to_path_buf(),
            name,
            copied: HashMap::new(),
        }
    }

    /// Copies what changed since the last call; returns the bytes sent.
    pub async fn copy_changes(&mut self) -> Result<u64, BucketError> {
        let mut sent = 0;
        for file in RECORDING_FILES {
            let path = self.folder.join(file);
            let read_error = |source| BucketError::Read {
                path: path.display().to_string(),
                source,
            };
            let mut local = match tokio::fs::File::open(&path).await {
                Ok(local) => local,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(read_error(e)),
            };
            let len = local.metadata().await.map_err(read_error)?.len();
            let copied = self.copied.entry(file).or_default();
            if WHOLE_FILES.contains(&file) {
                let mut whole = Vec::new();
                local.read_to_end(&mut whole).await.map_err(read_error)?;
                if whole != copied.head {
                    sent += whole.len() as u64;
                    put(&self.bucket, &self.name, file, "whole", whole.clone()).await?;
                    copied.head = whole;
                }
                continue;
            }
            if len < copied.len {
                // Cut back (a write failed and the recorder trimmed a half-written Cluster):
                // start this file's pieces again.
                delete_under(&self.bucket, &live_prefix(&self.bucket, &self.name, file)).await?;
                *copied = Copied::default();
            }
            if len > copied.len {
                let count = usize::try_from(len - copied.len).unwrap_or(usize::MAX);
                let mut piece = vec![0; count];
                local
                    .seek(SeekFrom::Start(copied.len))
                    .await
                    .map_err(read_error)?;
                local.read_exact(&mut piece).await.map_err(read_error)?;
                sent += piece.len() as u64;
                put(
                    &self.bucket,
                    &self.name,
                    file,
                    &format!("{:012}", copied.len),
                    piece,
                )
                .await?;
                copied.len = len;
            }
            let head_len = usize::try_from(len.min(HEAD_BYTES)).unwrap_or(0);
            let mut head = vec![0; head_len];
            local.seek(SeekFrom::Start(0)).await.map_err(read_error)?;
            local.read_exact(&mut head).await.map_err(read_error)?;
            if head != copied.head {
                sent += head.len() as u64;
                put(&self.bucket, &self.name, file, "head", head.clone()).await?;
                copied.head = head;
            }
        }
        Ok(sent)
    }
}

/// Copies the recording whose folder `folder` names, once its recorder lane has made it, every
/// `every`, until the task is aborted (the recording is finished and copied whole). A failed
/// round is logged and the next one tries again from where the bucket stands.
pub async fn run(bucket: RecordingBucket, folder: Arc<OnceLock<PathBuf>>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The recorder lane creates the folder just after the studio opens it.
    let path = loop {
        ticks.tick().await;
        if let Some(path) = folder.get() {
            break path.clone();
        }
    };
    let mut live = LiveCopy::new(bucket, &path);
    let mut failing = false;
    loop {
        ticks.tick().await;
        match live.copy_changes().await {
            Ok(bytes) => {
                if std::mem::take(&mut failing) {
                    tracing::info!(folder = live.name, "live copies to the bucket work again");
                }
                crate::metrics::recording_live_copied(Ok(bytes));
            }
            Err(error) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(folder = live.name, %error, "a live copy to the bucket failed; retrying every interval");
                }
                crate::metrics::recording_live_copied(Err(()));
            }
        }
    }
}

async fn put(
    bucket: &RecordingBucket,
    folder: &str,
    file: &str,
    piece: &str,
    bytes: Vec<u8>,
) -> Result<(), BucketError> {
    let key = bucket.key(folder, &format!("live/{file}/{piece}"));
    bucket
        .store()
        .put(&key, PutPayload::from(bytes))
        .await
        .map(|_| ())
        .map_err(|source| BucketError::Store {
            key: key.to_string(),
            source,
        })
}

/// A local folder files from the bucket are written into, and what was written.
struct LocalFolder<'a> {
    path: &'a Path,
    written: Vec<String>,
}

impl<'a> LocalFolder<'a> {
    async fn create(path: &'a Path) -> Result<Self, BucketError> {
        tokio::fs::create_dir_all(path)
            .await
            .map_err(|source| BucketError::Read {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Self {
            path,
            written: Vec::new(),
        })
    }

    async fn write(&mut self, file: &str, contents: &[u8]) -> Result<(), BucketError> {
        let path = self.path.join(file);
        tokio::fs::write(&path, contents)
            .await
            .map_err(|source| BucketError::Read {
                path: path.display().to_string(),
                source,
            })?;
        self.written.push(file.to_owned());
        Ok(())
    }
}

/// The bytes of the object at `key`.
async fn get(store: &Arc<dyn ObjectStore>, key: &ObjectPath) -> Result<Vec<u8>, BucketError> {
    let store_error = |source| BucketError::Store {
        key: key.to_string(),
        source,
    };
    let got = store.get(key).await.map_err(store_error)?;
    Ok(got.bytes().await.map_err(store_error)?.to_vec())
}

fn live_prefix(bucket: &RecordingBucket, folder: &str, file: &str) -> ObjectPath {
    bucket.key(folder, &format!("live/{file}"))
}

/// The keys of every object under `prefix`.
async fn keys_under(
    bucket: &RecordingBucket,
    prefix: &ObjectPath,
) -> Result<Vec<ObjectPath>, BucketError> {
    bucket
        .store()
        .list(Some(prefix))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(|source| BucketError::Store {
            key: prefix.to_string(),
            source,
        })
}

/// Deletes every object under `prefix`.
pub(super) async fn delete_under(
    bucket: &RecordingBucket,
    prefix: &ObjectPath,
) -> Result<(), BucketError> {
    let store = bucket.store();
    for key in keys_under(bucket, prefix).await? {
        store
            .delete(&key)
            .await
            .map_err(|source| BucketError::Store {
                key: key.to_string(),
                source,
            })?;
    }
    Ok(())
}

impl RecordingBucket {
    /// Rebuilds the live copies of recording `folder` into `dest` (one file each): appended
    /// pieces in order from offset 0 as far as they join up, the latest head over the start.
    /// Returns the files written.
    pub async fn assemble_live(
        &self,
        folder: &str,
        dest: &Path,
    ) -> Result<Vec<String>, BucketError> {
        let prefix = self.key(folder, "live");
        let store = self.store();
        let keys = keys_under(self, &prefix).await?;
        let mut files: HashMap<String, LivePieces> = HashMap::new();
        for key in keys {
            let mut parts = key.as_ref().rsplit('/');
            let (Some(piece), Some(file)) = (parts.next(), parts.next()) else {
                continue;
            };
            if !RECORDING_FILES.contains(&file) {
                continue;
            }
            let entry = files.entry(file.to_owned()).or_default();
            match piece {
                "head" => entry.head = Some(key.clone()),
                "whole" => entry.whole = Some(key.clone()),
                offset => {
                    if let Ok(offset) = offset.parse::<u64>() {
                        entry.appended.push((offset, key.clone()));
                    }
                }
            }
        }
        let mut dest = LocalFolder::create(dest).await?;
        for (file, pieces) in files {
            let LivePieces {
                appended: mut pieces,
                head,
                whole,
            } = pieces;
            let mut contents = Vec::new();
            if let Some(whole) = whole {
                contents = get(&store, &whole).await?;
            } else {
                pieces.sort_by_key(|(offset, _)| *offset);
                for (offset, key) in pieces {
                    if offset != contents.len() as u64 {
                        break;
                    }
                    contents.extend_from_slice(&get(&store, &key).await?);
                }
                if let Some(head) = head {
                    let head = get(&store, &head).await?;
                    let n = head.len().min(contents.len());
                    contents[..n].copy_from_slice(&head[..n]);
                }
            }
            dest.write(&file, &contents).await?;
        }
        let mut written = dest.written;
        written.sort();
        Ok(written)
    }

    /// The takes of `episode_id` in the bucket, in order: `<episode>`, `<episode>-2`, ... as
    /// far as they go, each with whether it finished (its `session.yml` is there whole) or not
    /// (only live copies: it is running, or its host died). One HEAD or two per take.
    pub async fn takes_of(
        &self,
        episode_id: &str,
    ) -> Result<Vec<(String, TakeState)>, BucketError> {
        let base = crate::recording::folder_name(episode_id)
            .map_err(|e| BucketError::Config(e.to_string()))?;
        let mut takes = Vec::new();
        for n in 1u32.. {
            let name = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let state = if self.exists(&self.key(&name, "session.yml")).await? {
                TakeState::Finished
            } else if self
                .exists(&self.key(&name, "live/session.yml/whole"))
                .await?
            {
                TakeState::Unfinished
            } else {
                break;
            };
            takes.push((name, state));
        }
        Ok(takes)
    }

    /// Downloads the `files` of recording `folder` that the bucket holds into `dest`; returns
    /// those it wrote (a file the bucket does not have is skipped).
    pub async fn download(
        &self,
        folder: &str,
        files: &[&str],
        dest: &Path,
    ) -> Result<Vec<String>, BucketError> {
        let mut dest = LocalFolder::create(dest).await?;
        let store = self.store();
        for file in files {
            let key = self.key(folder, file);
            let contents = match get(&store, &key).await {
                Ok(contents) => contents,
                Err(BucketError::Store {
                    source: object_store::Error::NotFound { .. },
                    ..
                }) => continue,
                Err(error) => return Err(error),
            };
            dest.write(file, &contents).await?;
        }
        Ok(dest.written)
    }

    async fn exists(&self, key: &ObjectPath) -> Result<bool, BucketError> {
        match self.store().head(key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(BucketError::Store {
                key: key.to_string(),
                source,
            }),
        }
    }

    /// Deletes the live copies of recording `folder` (its files are in the bucket whole now).
    pub async fn forget_live(&self, folder: &str) -> Result<(), BucketError> {
        delete_under(self, &self.key(folder, "live")).await
    }
}
