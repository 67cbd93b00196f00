//! Episode briefings: Markdown files with YAML front matter that tell the AIs what an episode is
//! about (title, topic, tone, what to cover and avoid, each speaker's position).
//!
//! [`Briefing::parse`] reads one file; [`BriefingStore`] serves `<BRIEFINGS_DIR>/<episodeId>.md`,
//! falls back to a built-in studio briefing, and reloads a briefing when its file changes, keeping
//! the last good version when an edit is broken.

mod briefing;
mod store;

pub use briefing::{Briefing, BriefingParseError, Section};
pub use store::{BriefingError, BriefingEvent, BriefingStore};
