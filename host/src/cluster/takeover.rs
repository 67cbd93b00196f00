//! Before a host opens a take of an episode it just claimed: the takes the bucket already holds
//! (recorded on any host) reserve their folder names here, so the new take gets the next one
//! (`<episode>-2`, ...). When the latest of them was cut off by a crash, this host keeps it as an
//! `interrupted` episode in its store with its transcript, and the new take carries that
//! transcript over (see `EpisodeStore::interrupted_transcript`):
//!
//! - a take with only live copies (its host died mid-show) is put back together from them,
//!   stored whole in the bucket, and its live copies deleted;
//! - a take another host already put back together (its `session.yml` has no end) is fetched:
//!   its captions, event log and `session.yml`, enough for the store and the prompts; its
//!   tracks stay in the bucket, where a download of them is redirected.

use std::path::Path;

use crate::recording::live_copy::RECORDING_FILES;
use crate::recording::{RecordingBucket, TakeState, read_recording, reserve_folder};
use crate::store::EpisodeStore;

use super::ClusterError;

/// The files of a take that tell what was said (all but the tracks).
const SPOKEN_FILES: [&str; 5] = [
    "session.yml",
    "events.jsonl",
    "you.vtt",
    "claude.vtt",
    "guest.vtt",
];

/// What [`prepare`] found and did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Prepared {
    /// Takes of the episode in the bucket, in order.
    pub takes: Vec<String>,
    /// The latest take, when a crash cut it off.
    pub interrupted: Option<String>,
    /// Whether this host put that take back together from its live copies.
    pub assembled: bool,
}

/// Prepares this host to open the next take of `episode_id` (see the module's comment).
pub async fn prepare(
    episode_id: &str,
    bucket: &RecordingBucket,
    recording_dir: &Path,
    store: Option<&EpisodeStore>,
) -> Result<Prepared, ClusterError> {
    let takes = bucket.takes_of(episode_id).await?;
    let mut prepared = Prepared::default();
    for (name, _) in &takes {
        reserve_folder(recording_dir, name).map_err(|source| disk(recording_dir, source))?;
        prepared.takes.push(name.clone());
    }
    let Some((last, state)) = takes.last() else {
        return Ok(prepared);
    };
    let local = recording_dir.join(last);
    match state {
        TakeState::Unfinished => {
            let files = if local.exists() {
                // Recorded here (this host restarted): the local files are at least as far
                // along as the live copies, and the store's start-up recovery already marked
                // the take interrupted.
                RECORDING_FILES
                    .iter()
                    .filter(|file| local.join(file).is_file())
                    .map(|file| (*file).to_owned())
                    .collect()
            } else {
                let files = bucket.assemble_live(last, &local).await?;
                tracing::warn!(folder = %last, files = files.len(), "a take whose host died was put back together from its live copies");
                files
            };
            // Whole in the bucket, like a finished take; then its live pieces are not needed.
            let bytes = bucket.upload_recording(recording_dir, last, &files).await?;
            crate::metrics::recording_uploaded(Ok(bytes));
            if let Err(error) = bucket.forget_live(last).await {
                tracing::warn!(folder = %last, %error, "the live copies of a taken-over take could not be deleted");
            }
            prepared.assembled = true;
        }
        TakeState::Finished if local.exists() => {
            // Recorded or fetched here before: the store knows whether it was cut off.
            if read_recording(&local, last.clone()).finished {
                return Ok(prepared);
            }
        }
        TakeState::Finished => {
            // Fetched beside the folder first: a take that ended normally leaves nothing here.
            let incoming = recording_dir.join(format!(".incoming-{last}"));
            bucket.download(last, &SPOKEN_FILES, &incoming).await?;
            if read_recording(&incoming, last.clone()).finished {
                let _ = tokio::fs::remove_dir_all(&incoming).await;
                return Ok(prepared);
            }
            tokio::fs::rename(&incoming, &local)
                .await
                .map_err(|source| disk(&local, source))?;
        }
    }
    if let Some(store) = store {
        let store = store.clone();
        let dir = recording_dir.to_path_buf();
        let recovery = tokio::task::spawn_blocking(move || store.import_recordings(&dir))
            .await
            .map_err(|e| ClusterError::Store(e.to_string()))?
            .map_err(|e| ClusterError::Store(e.to_string()))?;
        for problem in recovery.problems {
            tracing::warn!(%problem, "a recording folder could not be read into the store");
        }
    }
    prepared.interrupted = Some(last.clone());
    Ok(prepared)
}

fn disk(path: &Path, source: std::io::Error) -> ClusterError {
    ClusterError::Disk {
        path: path.display().to_string(),
        source,
    }
}
