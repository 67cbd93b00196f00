//! An episode's transcript: every final line of every speaker, merged in time order, as the
//! episode store keeps it and the HTTP API renders it (JSON, Markdown, SRT, VTT).

use serde::{Deserialize, Serialize};

use crate::speakers::Speaker;

/// One final line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptLine {
    /// Who said it.
    #[schema(value_type = String, example = "claude")]
    pub speaker: Speaker,
    /// When it began, in ms from the start of the session (the recording's timeline).
    pub start_ms: u64,
    /// When it ended, in ms from the start of the session.
    pub end_ms: u64,
    /// What was said (for an interrupted AI line: what was played before the cut).
    pub text: String,
    /// Whether barge-in cut the line.
    pub interrupted: bool,
}

mod cues;
pub mod json;
pub mod markdown;
pub mod srt;
pub mod vtt;

/// The name a transcript shows for a speaker: the human is the show's host.
pub fn speaker_label(speaker: Speaker) -> &'static str {
    match speaker {
        Speaker::You => "Host",
        Speaker::Claude => "Claude",
        Speaker::Guest => "Guest",
    }
}

/// The lines of all speakers merged in time order: by start, then end, then speaker (so equal
/// times always come out the same way).
pub fn in_time_order(lines: &[TranscriptLine]) -> Vec<&TranscriptLine> {
    let mut merged: Vec<&TranscriptLine> = lines.iter().collect();
    merged.sort_by_key(|l| (l.start_ms, l.end_ms, l.speaker.slot()));
    merged
}

/// A format the transcript is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"episode", "lines"}`.
    Json,
    /// Paragraphs with names and times.
    Markdown,
    /// SubRip subtitles.
    Srt,
    /// WebVTT captions.
    Vtt,
}

impl Format {
    /// Every format, in the order the API lists them.
    pub const ALL: [Format; 4] = [Format::Json, Format::Markdown, Format::Srt, Format::Vtt];

    /// The format a `?format=` value names: `json`, `md`, `srt` or `vtt`, as written (the API
    /// documents them in lower case, so no other spelling is taken).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The `?format=` value, which is also the file extension.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Markdown => "md",
            Format::Srt => "srt",
            Format::Vtt => "vtt",
        }
    }

    /// The media type served.
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Srt => "application/x-subrip; charset=utf-8",
            Format::Vtt => "text/vtt; charset=utf-8",
        }
    }

    /// The transcript of `episode` (a recording folder name; `title` heads the Markdown) in this
    /// format.
    pub fn render(self, episode: &str, title: Option<&str>, lines: &[TranscriptLine]) -> String {
        match self {
            Format::Json => json::render(episode, lines),
            Format::Markdown => markdown::render(episode, title, lines),
            Format::Srt => srt::render(lines),
            Format::Vtt => vtt::render(lines),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_named_as_the_api_documents_them() {
        for format in Format::ALL {
            assert_eq!(Format::from_name(format.name()), Some(format));
        }
        for other in ["JSON", "markdown", "", "txt", " srt"] {
            assert_eq!(Format::from_name(other), None, "{other}");
        }
    }

    #[test]
    fn lines_merge_by_start_then_end_then_speaker() {
        let line = |speaker, start_ms, end_ms| TranscriptLine {
            speaker,
            start_ms,
            end_ms,
            text: String::new(),
            interrupted: false,
        };
        let lines = [
            line(Speaker::Guest, 500, 900),
            line(Speaker::Claude, 500, 900),
            line(Speaker::You, 500, 700),
            line(Speaker::You, 100, 2000),
        ];
        let order: Vec<(Speaker, u64)> = in_time_order(&lines)
            .iter()
            .map(|l| (l.speaker, l.start_ms))
            .collect();
        assert_eq!(
            order,
            [
                (Speaker::You, 100),
                (Speaker::You, 500),
                (Speaker::Claude, 500),
                (Speaker::Guest, 500)
            ]
        );
    }
}
