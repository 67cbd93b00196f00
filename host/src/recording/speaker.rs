//! The recorder's view of the three speakers: the protocol's `Speaker`, plus the file stem and
//! the array slot each one's files use.

pub use crate::gateway::protocol::Speaker;

/// Where a speaker's files go: `<stem>.webm`, `<stem>.vtt`, and its slot in per-speaker arrays.
pub(crate) trait SpeakerFiles {
    /// The protocol name, also the stem of the speaker's files (`you.webm`, `you.vtt`).
    fn file_stem(self) -> &'static str;
    /// Index into per-speaker arrays, in `Speaker::ALL` order.
    fn slot(self) -> usize;
}

impl SpeakerFiles for Speaker {
    fn file_stem(self) -> &'static str {
        match self {
            Speaker::You => "you",
            Speaker::Claude => "claude",
            Speaker::Guest => "guest",
        }
    }

    fn slot(self) -> usize {
        match self {
            Speaker::You => 0,
            Speaker::Claude => 1,
            Speaker::Guest => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_the_protocol_names_and_slots_follow_all() {
        for (slot, speaker) in Speaker::ALL.into_iter().enumerate() {
            assert_eq!(speaker.slot(), slot);
            let json = serde_json::to_value(speaker).ok();
            assert_eq!(
                json.as_ref().and_then(|v| v.as_str()),
                Some(speaker.file_stem())
            );
        }
    }
}
