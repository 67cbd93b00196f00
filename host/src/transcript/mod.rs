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
