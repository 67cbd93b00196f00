//! Episode briefings: Markdown files with YAML front matter that tell the AIs what an episode is
//! about (title, topic, tone, what to cover and avoid, each speaker's position).
//!
//! [`Briefing::parse`] reads one file; [`BriefingStore`] serves `<BRIEFINGS_DIR>/<episodeId>.md`,
//! falls back to a built-in studio briefing, and reloads a briefing when its file changes, keeping
//! the last good version when an edit is broken.
//!
//! The format (see `briefings/cars-in-city-centres.md`):
//! ```text
//! ---
//! title: Car-free centres            # optional
//! topic: Should cities ban cars?     # required
//! tone: lively but fair              # optional
//! mustCover: [deliveries, footfall]  # optional list
//! avoidTopics: [party politics]      # optional list
//! targetDuration: 600                # optional, seconds for the whole episode
//! ---
//! Free text (background for both AIs).
//! ## Claude's position
//! Only claude's prompt gets this.
//! ## Guest's position
//! Only the guest's prompt gets this.
//! ## Anything else
//! Background for both AIs.
//! ```
//! Unknown front matter keys are errors, so a misspelt key is reported rather than ignored.
//!
//! The briefings API edits the folder through [`folder`] (atomic writes of text the loader
//! accepts) and [`BriefingFields`] (a briefing as named fields, written as a file the loader
//! reads back to the same fields).

mod briefing;
mod fields;
pub mod folder;
mod store;

pub use briefing::{Briefing, BriefingParseError, Section};
pub use fields::{BriefingFields, FieldsError, SectionFields, Stances};
pub use store::{BriefingError, BriefingEvent, BriefingStore, MAX_BRIEFING_BYTES};
