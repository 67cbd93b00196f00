//! What AssemblyAI's Universal Streaming v3 server sends (`Begin`, `Turn`, `Termination`,
//! `Error`), parsed from the text frames. Pure, unit tested natively.

use studio_plugin::PluginError;
use studio_plugin::json::Value;

/// One word of a turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    /// The word.
    pub text: String,
    /// Start, in ms of the session's audio.
    pub start_ms: u64,
    /// End, in ms of the session's audio.
    pub end_ms: u64,
    /// The recognizer's confidence, when given.
    pub confidence: Option<f32>,
    /// Whether the word will not change any more.
    pub is_final: bool,
}

/// A `Turn` message: the words of one turn so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Which turn of the session (the formatted copy of a turn has the same number).
    pub order: u64,
    /// Whether the text is formatted (punctuation, casing).
    pub formatted: bool,
    /// Whether the turn is over.
    pub end_of_turn: bool,
    /// The finalized words only.
    pub transcript: String,
    /// Every word heard so far, final or not.
    pub words: Vec<Word>,
}

impl Turn {
    /// The best text so far: the finalized transcript, then the words that may still change.
    pub fn text_so_far(&self) -> String {
        let mut text = self.transcript.trim().to_owned();
        for word in self.words.iter().filter(|w| !w.is_final) {
            let word = word.text.trim();
            if word.is_empty() {
                continue;
            }
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(word);
        }
        text
    }

    /// Where the turn's words start and end, in ms of the session's audio (None without words).
    pub fn span_ms(&self) -> Option<(u64, u64)> {
        let first = self.words.first()?;
        let last = self.words.last()?;
        Some((first.start_ms, last.end_ms.max(first.start_ms)))
    }

    /// The mean confidence of the words, when they have one.
    pub fn confidence(&self) -> Option<f32> {
        let known: Vec<f32> = self.words.iter().filter_map(|w| w.confidence).collect();
        (!known.is_empty()).then(|| known.iter().sum::<f32>() / known.len() as f32)
    }
}

/// A message from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// The session is open.
    Begin {
        /// The session id.
        id: String,
    },
    /// Words of a turn.
    Turn(Turn),
    /// The session is over (the answer to `Terminate`).
    Termination,
    /// A problem: `{"type":"Error","error_code":N,"error":"..."}` or the older bare `{"error":"..."}`.
    Error {
        /// The code (the same numbers as the close codes), when given.
        code: Option<u16>,
        /// The server's text.
        message: String,
    },
    /// A warning worth logging.
    Warning(String),
    /// Anything else (`SpeechStarted`, `Heartbeat`, types added later): tolerated.
    Other,
}

/// Parses one text frame; text that is not a JSON object is a `protocol` error.
pub fn parse(text: &str) -> Result<ServerMessage, PluginError> {
    let value: Value = studio_plugin::json::from_str(text).map_err(|e| {
        PluginError::Protocol(format!(
            "AssemblyAI sent a message that is not JSON ({e}): {}",
            excerpt(text)
        ))
    })?;
    if !value.is_object() {
        return Err(PluginError::Protocol(format!(
            "AssemblyAI sent a message that is not a JSON object: {}",
            excerpt(text)
        )));
    }
    let kind = value.get("type").and_then(Value::as_str);
    let message = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Ok(match kind {
        Some("Begin") => ServerMessage::Begin { id: message("id") },
        Some("Turn") => ServerMessage::Turn(turn(&value)?),
        Some("Termination") => ServerMessage::Termination,
        Some("Error") => ServerMessage::Error {
            code: value
                .get("error_code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok()),
            message: message("error"),
        },
        Some("Warning") => ServerMessage::Warning(format!(
            "{} {}",
            value
                .get("warning_code")
                .map(Value::to_string)
                .unwrap_or_default(),
            message("warning")
        )),
        None if value.get("error").is_some() => ServerMessage::Error {
            code: None,
            message: message("error"),
        },
        _ => ServerMessage::Other,
    })
}

fn turn(value: &Value) -> Result<Turn, PluginError> {
    let bad = |what: &str| PluginError::Protocol(format!("AssemblyAI sent a Turn {what}"));
    let order = value
        .get("turn_order")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("without a turn_order"))?;
    let words = match value.get("words") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(words)) => words
            .iter()
            .map(|w| {
                Some(Word {
                    text: w.get("text")?.as_str()?.to_owned(),
                    start_ms: w.get("start")?.as_u64()?,
                    end_ms: w.get("end")?.as_u64()?,
                    confidence: w
                        .get("confidence")
                        .and_then(Value::as_f64)
                        .map(|c| c as f32),
                    is_final: w
                        .get("word_is_final")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                })
            })
            .collect::<Option<Vec<Word>>>()
            .ok_or_else(|| bad("with a malformed word"))?,
        Some(_) => return Err(bad("whose words are not a list")),
    };
    Ok(Turn {
        order,
        formatted: value
            .get("turn_is_formatted")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        end_of_turn: value
            .get("end_of_turn")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        transcript: value
            .get("transcript")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("without a transcript"))?
            .to_owned(),
        words,
    })
}

fn excerpt(text: &str) -> String {
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_session_parses() {
        assert_eq!(
            parse(r#"{"type":"Begin","id":"de5d9927","expires_at":1759796682}"#),
            Ok(ServerMessage::Begin {
                id: "de5d9927".into()
            })
        );
        let partial = r#"{"type":"Turn","turn_order":0,"turn_is_formatted":false,"end_of_turn":false,"transcript":"hi my","end_of_turn_confidence":0.001,"words":[{"start":1920,"end":2000,"text":"hi","confidence":0.87,"word_is_final":true},{"start":2800,"end":2880,"text":"my","confidence":0.81,"word_is_final":true},{"start":2960,"end":3040,"text":"name","confidence":0.99,"word_is_final":false}],"utterance":""}"#;
        let Ok(ServerMessage::Turn(turn)) = parse(partial) else {
            panic!("a turn")
        };
        assert_eq!(
            (turn.order, turn.formatted, turn.end_of_turn),
            (0, false, false)
        );
        assert_eq!(turn.text_so_far(), "hi my name");
        assert_eq!(turn.span_ms(), Some((1920, 3040)));
        let confidence = turn.confidence().expect("words have confidences");
        assert!((confidence - 0.89).abs() < 0.001);
        let formatted = r#"{"type":"Turn","turn_order":0,"turn_is_formatted":true,"end_of_turn":true,"transcript":"Hi, my name is Sonny.","words":[]}"#;
        let Ok(ServerMessage::Turn(turn)) = parse(formatted) else {
            panic!("a turn")
        };
        assert!(turn.formatted && turn.end_of_turn);
        assert_eq!(turn.text_so_far(), "Hi, my name is Sonny.");
        assert_eq!(turn.span_ms(), None);
        assert_eq!(
            parse(
                r#"{"type":"Termination","audio_duration_seconds":7,"session_duration_seconds":7}"#
            ),
            Ok(ServerMessage::Termination)
        );
    }

    #[test]
    fn errors_new_and_old_parse_with_their_code() {
        assert_eq!(
            parse(r#"{"type":"Error","error_code":3005,"error":"Internal error"}"#),
            Ok(ServerMessage::Error {
                code: Some(3005),
                message: "Internal error".into()
            })
        );
        assert_eq!(
            parse(r#"{"error":"Invalid API key"}"#),
            Ok(ServerMessage::Error {
                code: None,
                message: "Invalid API key".into()
            })
        );
    }

    #[test]
    fn unknown_and_informational_messages_are_tolerated() {
        for text in [
            r#"{"type":"SpeechStarted","timestamp":1920}"#,
            r#"{"type":"Heartbeat"}"#,
            r#"{"type":"SomethingNew","x":1}"#,
        ] {
            assert_eq!(parse(text), Ok(ServerMessage::Other), "{text}");
        }
        assert!(matches!(
            parse(r#"{"type":"Warning","warning_code":1,"warning":"slow"}"#),
            Ok(ServerMessage::Warning(w)) if w.contains("slow")
        ));
    }

    #[test]
    fn malformed_messages_are_protocol_errors() {
        for text in [
            "not json",
            r#"{"type":"Turn","turn_order":0"#,
            "[1,2]",
            r#"{"type":"Turn","transcript":"x"}"#,
            r#"{"type":"Turn","turn_order":1,"transcript":"x","words":[{"text":"x"}]}"#,
            r#"{"type":"Turn","turn_order":1,"words":[]}"#,
        ] {
            assert!(
                matches!(parse(text), Err(PluginError::Protocol(_))),
                "{text}"
            );
        }
    }
}
