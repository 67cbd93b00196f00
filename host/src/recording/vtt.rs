//! WebVTT caption file per speaker, appended cue by cue so a crash keeps every finished cue.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::RecordingError;

/// One speaker's `.vtt` file, written as captions become final.
pub struct CaptionFile {
    path: PathBuf,
    file: File,
    prefix: String,
    cues: u64,
    line: String,
    /// Cues were written since the last sync: a sync with nothing new would still cost the
    /// device a cache flush.
    unsynced: bool,
}

impl CaptionFile {
    /// Creates `path` (never overwriting) with the `WEBVTT` header; cue ids start with `prefix`.
    pub fn create(path: &Path, prefix: &str) -> Result<Self, RecordingError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| RecordingError::write(path, e))?;
        file.write_all(b"WEBVTT\n\n")
            .map_err(|e| RecordingError::write(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            prefix: prefix.replace(['\n', '\r'], "").replace("-->", "-"),
            cues: 0,
            line: String::with_capacity(256),
            unsynced: true,
        })
    }

    /// The file this writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Cues written so far.
    pub fn cue_count(&self) -> u64 {
        self.cues
    }

    /// Makes the cues written so far survive a power loss (`fdatasync`); nothing to do when no
    /// cue came since the last sync.
    pub fn sync_data(&mut self) -> Result<(), RecordingError> {
        if !self.unsynced {
            return Ok(());
        }
        self.file
            .sync_data()
            .map_err(|e| RecordingError::write(&self.path, e))?;
        self.unsynced = false;
        Ok(())
    }

    /// Appends one cue from session time `start_ms` to `end_ms` and hands it to the OS at once.
    ///
    /// Text is escaped (`&`, `<`, `>`) and blank lines are dropped, since a blank line would end
    /// the cue early. A cue must last, so an end at or before its start becomes start + 1 ms.
    pub fn append(&mut self, start_ms: u64, end_ms: u64, text: &str) -> Result<(), RecordingError> {
        let end_ms = end_ms.max(start_ms + 1);
        self.cues += 1;
        self.line.clear();
        use std::fmt::Write as _;
        let _ = write!(
            self.line,
            "{}-{}\n{} --> {}\n",
            self.prefix,
            self.cues,
            Timestamp(start_ms),
            Timestamp(end_ms)
        );
        let mut wrote_text = false;
        for text_line in text
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
        {
            escape_into(&mut self.line, text_line);
            self.line.push('\n');
            wrote_text = true;
        }
        if !wrote_text {
            // An empty cue payload is legal but useless to an editor; keep the cue visible.
            self.line.push_str("...\n");
        }
        self.line.push('\n');
        self.unsynced = true;
        self.file
            .write_all(self.line.as_bytes())
            .map_err(|e| RecordingError::write(&self.path, e))
    }
}

/// A WebVTT timestamp `HH:MM:SS.mmm` of a session time in ms (the recorder's captions and the
/// transcript API's `.vtt`).
pub(crate) struct Timestamp(pub(crate) u64);

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0;
        write!(
            f,
            "{:02}:{:02}:{:02}.{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    }
}

/// Appends `text` as WebVTT cue text: `&`, `<` and `>` escaped (so no `-->` is left in it).
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_hours_minutes_seconds_and_millis() {
        assert_eq!(Timestamp(0).to_string(), "00:00:00.000");
        assert_eq!(Timestamp(3_723_045).to_string(), "01:02:03.045");
        assert_eq!(Timestamp(100 * 3_600_000).to_string(), "100:00:00.000");
    }

    #[test]
    fn markup_characters_are_escaped() {
        let mut out = String::new();
        escape_into(&mut out, "a <b> & c --> d");
        assert_eq!(out, "a &lt;b&gt; &amp; c --&gt; d");
    }
}
