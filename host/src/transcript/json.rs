//! JSON: `{"episode": "<id>", "lines": [TranscriptLine...]}`, every line as stored (empty ones
//! too), in time order.

use serde::Serialize;

use super::{TranscriptLine, in_time_order};

/// The JSON transcript of an episode.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TranscriptDocument<'a> {
    /// The episode's recording folder (its id, or `<id>-N` for a later take).
    #[schema(example = "ep-n2h36sy3cctr6reel4ikle7afm")]
    pub episode: &'a str,
    /// Every final line of every speaker, in time order.
    pub lines: Vec<&'a TranscriptLine>,
}

/// The transcript as JSON.
pub fn render(episode: &str, lines: &[TranscriptLine]) -> String {
    let document = TranscriptDocument {
        episode,
        lines: in_time_order(lines),
    };
    // Strings, integers and booleans only: serializing cannot fail.
    serde_json::to_string(&document).unwrap_or_else(|_| String::from("{}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speakers::Speaker;

    #[test]
    fn lines_are_camel_case_and_in_time_order() {
        let lines = [
            TranscriptLine {
                speaker: Speaker::Guest,
                start_ms: 2_000,
                end_ms: 2_900,
                text: "Second".into(),
                interrupted: true,
            },
            TranscriptLine {
                speaker: Speaker::You,
                start_ms: 1_000,
                end_ms: 1_500,
                text: "".into(),
                interrupted: false,
            },
        ];
        let value: serde_json::Value = serde_json::from_str(&render("ep-1", &lines)).expect("JSON");
        assert_eq!(
            value,
            serde_json::json!({"episode": "ep-1", "lines": [
                {"speaker": "you", "startMs": 1000, "endMs": 1500, "text": "", "interrupted": false},
                {"speaker": "guest", "startMs": 2000, "endMs": 2900, "text": "Second", "interrupted": true},
            ]})
        );
    }
}
