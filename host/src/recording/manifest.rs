//! `session.yml`: what a recording is (episode, times, plugins, briefing, tracks, turns),
//! serialized with serde_yaml_ng from [`SessionDocument`], so every value is quoted or escaped by
//! the YAML emitter and none can change the document's structure.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::Path;

use serde::Serialize;

use super::error::RecordingError;
use crate::speakers::Speaker;
use crate::timestamp::iso8601_ms;

/// A plugin that served a role during the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRecord {
    /// The role it filled (`stt`, `tts`, `claude`, `guest`, `policy`).
    pub role: String,
    /// Its name from `describe()`.
    pub name: String,
    /// Its version from `describe()`.
    pub version: String,
    /// SHA-256 of its .wasm, hex.
    pub hash: String,
}

/// The briefing the AIs were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BriefingRecord {
    /// Path of the briefing file.
    pub path: String,
    /// Its `title` from the front matter, if any.
    pub title: Option<String>,
}

/// One speaker's files as they stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TrackFacts {
    pub duration_ms: u64,
    pub bytes: u64,
    pub cues: u64,
    pub turns: u64,
}

/// Everything `session.yml` says.
#[derive(Debug, Clone)]
pub(crate) struct Manifest {
    pub episode_id: String,
    pub session_id: String,
    pub folder: String,
    pub participant: Option<String>,
    pub started_at_ms: u64,
    pub ended_at_ms: Option<u64>,
    pub plugins: Vec<PluginRecord>,
    pub briefing: Option<BriefingRecord>,
    pub tracks: [TrackFacts; 3],
}

/// The first line of every `session.yml` (the YAML emitter writes no comments).
const HEADER: &str = "# voice-studio session record\n";

/// The document `session.yml` holds, field for field in the order written.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionDocument<'a> {
    episode: &'a str,
    session: &'a str,
    folder: &'a str,
    participant: Option<&'a str>,
    started_at: String,
    ended_at: Option<String>,
    duration_ms: Option<u64>,
    briefing: Option<BriefingDocument<'a>>,
    plugins: Vec<PluginDocument<'a>>,
    /// By file stem (`you`, `claude`, `guest`), in that order.
    #[serde(serialize_with = "ordered_map")]
    tracks: [(&'static str, TrackDocument); 3],
    /// Turns taken, by file stem.
    #[serde(serialize_with = "ordered_map")]
    turns: [(&'static str, u64); 3],
}

#[derive(Serialize)]
struct BriefingDocument<'a> {
    path: &'a str,
    title: Option<&'a str>,
}

#[derive(Serialize)]
struct PluginDocument<'a> {
    role: &'a str,
    name: &'a str,
    version: &'a str,
    hash: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TrackDocument {
    audio: String,
    duration_ms: u64,
    bytes: u64,
    captions: String,
    cues: u64,
}

/// Pairs written as a YAML mapping, in their order.
fn ordered_map<S, V, const N: usize>(
    pairs: &[(&'static str, V); N],
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    V: Serialize,
{
    serializer.collect_map(pairs.iter().map(|(key, value)| (key, value)))
}

impl Manifest {
    /// The YAML document.
    pub(crate) fn to_yaml(&self) -> String {
        let document = SessionDocument {
            episode: &self.episode_id,
            session: &self.session_id,
            folder: &self.folder,
            participant: self.participant.as_deref(),
            started_at: iso8601_ms(self.started_at_ms),
            ended_at: self.ended_at_ms.map(iso8601_ms),
            duration_ms: self
                .ended_at_ms
                .map(|end| end.saturating_sub(self.started_at_ms)),
            briefing: self.briefing.as_ref().map(|b| BriefingDocument {
                path: &b.path,
                title: b.title.as_deref(),
            }),
            plugins: self
                .plugins
                .iter()
                .map(|p| PluginDocument {
                    role: &p.role,
                    name: &p.name,
                    version: &p.version,
                    hash: &p.hash,
                })
                .collect(),
            tracks: Speaker::ALL.map(|speaker| {
                let facts = self.tracks[speaker.slot()];
                let stem = speaker.file_stem();
                let track = TrackDocument {
                    audio: format!("{stem}.webm"),
                    duration_ms: facts.duration_ms,
                    bytes: facts.bytes,
                    captions: format!("{stem}.vtt"),
                    cues: facts.cues,
                };
                (stem, track)
            }),
            turns: Speaker::ALL
                .map(|speaker| (speaker.file_stem(), self.tracks[speaker.slot()].turns)),
        };
        match serde_yaml_ng::to_string(&document) {
            Ok(body) => format!("{HEADER}{body}"),
            // Plain strings and numbers always serialize; this stays a header-only document.
            Err(e) => {
                tracing::error!(error = %e, "session.yml could not be serialized");
                HEADER.to_owned()
            }
        }
    }

    /// Writes the document to `path` through a temporary file and a rename, so a crash leaves
    /// either the old or the new version, never half of one. The temporary file is synced
    /// before the rename and the folder after it, so a power loss cannot leave an empty or
    /// missing `session.yml` either.
    pub(crate) fn write(&self, path: &Path) -> Result<(), RecordingError> {
        let temporary = path.with_extension("yml.tmp");
        let written = File::create(&temporary).and_then(|mut file| {
            file.write_all(self.to_yaml().as_bytes())?;
            file.sync_all()
        });
        written
            .and_then(|()| fs::rename(&temporary, path))
            .and_then(|()| match path.parent() {
                Some(folder) => sync_folder(folder),
                None => Ok(()),
            })
            .map_err(|e| RecordingError::write(path, e))
    }
}

/// Syncs a folder, so the names created or renamed in it survive a power loss.
pub(crate) fn sync_folder(folder: &Path) -> std::io::Result<()> {
    File::open(folder)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(participant: &str, title: &str, ended_at_ms: Option<u64>) -> Manifest {
        Manifest {
            episode_id: "ep-1".into(),
            session_id: "ep-1-1795684946123-0".into(),
            folder: "ep-1".into(),
            participant: Some(participant.into()),
            started_at_ms: 1_795_684_946_123,
            ended_at_ms,
            plugins: vec![PluginRecord {
                role: "stt".into(),
                name: "mock-stt".into(),
                version: "1.0".into(),
                // Looks like a number: must stay a string.
                hash: "1e10".into(),
            }],
            briefing: Some(BriefingRecord {
                path: "briefings/ep-1.md".into(),
                title: Some(title.into()),
            }),
            tracks: [TrackFacts {
                duration_ms: 1500,
                bytes: 2048,
                cues: 1,
                turns: 2,
            }; 3],
        }
    }

    fn parse(yaml: &str) -> serde_json::Value {
        serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}\n{e}"))
    }

    #[test]
    fn values_that_look_like_yaml_come_back_as_the_same_strings() {
        let hostile = "a\"b\\c\nd: e # f\u{7}\u{85}\u{2028}";
        let yaml = manifest(hostile, "null", Some(1_795_684_947_623)).to_yaml();
        assert!(yaml.starts_with(HEADER), "{yaml}");
        let doc = parse(&yaml);
        assert_eq!(doc["participant"], hostile);
        assert_eq!(doc["briefing"]["title"], "null");
        assert_eq!(doc["plugins"][0]["hash"], "1e10");
        assert_eq!(doc["startedAt"], "2026-11-26T09:22:26.123Z");
        assert_eq!(doc["endedAt"], "2026-11-26T09:22:27.623Z");
        assert_eq!(doc["durationMs"], 1500);
    }

    #[test]
    fn the_document_keeps_its_fields_and_order() {
        let yaml = manifest("Basil", "Trams", None).to_yaml();
        let doc = parse(&yaml);
        assert!(
            doc["endedAt"].is_null() && doc["durationMs"].is_null(),
            "{yaml}"
        );
        for stem in ["you", "claude", "guest"] {
            assert_eq!(doc["tracks"][stem]["audio"], format!("{stem}.webm"));
            assert_eq!(doc["tracks"][stem]["captions"], format!("{stem}.vtt"));
            assert_eq!(doc["tracks"][stem]["bytes"], 2048);
            assert_eq!(doc["tracks"][stem]["cues"], 1);
            assert_eq!(doc["turns"][stem], 2);
        }
        let keys: Vec<&str> = yaml
            .lines()
            .filter(|l| !l.starts_with([' ', '#', '-']))
            .filter_map(|l| l.split_once(':').map(|(key, _)| key))
            .collect();
        assert_eq!(
            keys,
            [
                "episode",
                "session",
                "folder",
                "participant",
                "startedAt",
                "endedAt",
                "durationMs",
                "briefing",
                "plugins",
                "tracks",
                "turns"
            ]
        );
        let stems: Vec<&str> = yaml
            .lines()
            .filter_map(|l| l.strip_prefix("  ")?.strip_suffix(':'))
            .collect();
        assert_eq!(stems, ["you", "claude", "guest"]);
    }
}
