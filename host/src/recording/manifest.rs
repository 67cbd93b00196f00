//! `session.yml`: what a recording is (episode, times, plugins, briefing, tracks, turns), written
//! by hand as YAML because serde_yaml is unmaintained; every string is double-quoted and escaped,
//! so no value can change the document's structure.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::Write as _;
use std::path::Path;

use super::error::RecordingError;
use super::speaker::{Speaker, SpeakerFiles};

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

impl Manifest {
    /// The YAML document.
    pub(crate) fn to_yaml(&self) -> String {
        let mut y = String::with_capacity(1024);
        y.push_str("# voice-studio session record\n");
        let _ = writeln!(y, "episode: {}", quote(&self.episode_id));
        let _ = writeln!(y, "session: {}", quote(&self.session_id));
        let _ = writeln!(y, "folder: {}", quote(&self.folder));
        let _ = writeln!(y, "participant: {}", optional(self.participant.as_deref()));
        let _ = writeln!(y, "startedAt: {}", quote(&iso8601(self.started_at_ms)));
        match self.ended_at_ms {
            Some(end) => {
                let _ = writeln!(y, "endedAt: {}", quote(&iso8601(end)));
                let _ = writeln!(y, "durationMs: {}", end.saturating_sub(self.started_at_ms));
            }
            None => y.push_str("endedAt: null\ndurationMs: null\n"),
        }
        match &self.briefing {
            Some(briefing) => {
                y.push_str("briefing:\n");
                let _ = writeln!(y, "  path: {}", quote(&briefing.path));
                let _ = writeln!(y, "  title: {}", optional(briefing.title.as_deref()));
            }
            None => y.push_str("briefing: null\n"),
        }
        if self.plugins.is_empty() {
            y.push_str("plugins: []\n");
        } else {
            y.push_str("plugins:\n");
            for plugin in &self.plugins {
                let _ = writeln!(y, "  - role: {}", quote(&plugin.role));
                let _ = writeln!(y, "    name: {}", quote(&plugin.name));
                let _ = writeln!(y, "    version: {}", quote(&plugin.version));
                let _ = writeln!(y, "    hash: {}", quote(&plugin.hash));
            }
        }
        y.push_str("tracks:\n");
        for speaker in Speaker::ALL {
            let facts = self.tracks[speaker.slot()];
            let _ = writeln!(y, "  {}:", speaker.file_stem());
            let _ = writeln!(
                y,
                "    audio: {}",
                quote(&format!("{}.webm", speaker.file_stem()))
            );
            let _ = writeln!(y, "    durationMs: {}", facts.duration_ms);
            let _ = writeln!(y, "    bytes: {}", facts.bytes);
            let _ = writeln!(
                y,
                "    captions: {}",
                quote(&format!("{}.vtt", speaker.file_stem()))
            );
            let _ = writeln!(y, "    cues: {}", facts.cues);
        }
        y.push_str("turns:\n");
        for speaker in Speaker::ALL {
            let _ = writeln!(
                y,
                "  {}: {}",
                speaker.file_stem(),
                self.tracks[speaker.slot()].turns
            );
        }
        y
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

fn optional(value: Option<&str>) -> String {
    value.map_or_else(|| "null".to_owned(), quote)
}

/// A YAML double-quoted scalar: `"` and `\` escaped, and every control, line-separator or BOM
/// character as `\uXXXX`, which YAML 1.1 and 1.2 parsers both accept.
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}') => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Epoch ms as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), without a date crate.
pub(crate) fn iso8601(epoch_ms: u64) -> String {
    let days = (epoch_ms / 86_400_000) as i64;
    let ms_of_day = epoch_ms % 86_400_000;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_formats_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_795_684_946_123), "2026-11-26T09:22:26.123Z");
    }

    #[test]
    fn quoting_escapes_what_could_break_the_document() {
        assert_eq!(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(quote("\u{7}\u{85}"), "\"\\u0007\\u0085\"");
        assert_eq!(
            quote("key: value # not a comment"),
            "\"key: value # not a comment\""
        );
    }
}
