//! The pure checks of client input: a `hello`'s name, format and episode, an audio chunk against
//! its declared format. Public so the fuzz bench drives exactly what the handlers run.

use crate::gateway::protocol::{AudioEncoding, ErrorCode, Hello, InputFormat, TextSay};
use crate::session::{JoinError, StudioSendError};
use crate::speakers::Ai;

/// Largest accepted `audio.chunk`: one second of 48 kHz mono s16 (the browser sends ~20-100 ms).
pub const MAX_AUDIO_CHUNK_BYTES: usize = 96_000;
/// Longest accepted `participantName`.
pub const MAX_PARTICIPANT_NAME_CHARS: usize = 100;
/// Longest accepted `text.say` line, in characters: a long spoken turn is ~150 words; this leaves
/// room for a pasted question without letting a client fill the AIs' prompts.
pub const MAX_SAY_CHARS: usize = 1_000;

/// A `text.say` line after [`check_text_say`]: one line of text, its addressee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedSay {
    /// The text, trimmed, with every run of whitespace (newlines too) made one space.
    pub text: String,
    /// The AI it is for, if the client named one.
    pub to: Option<Ai>,
}

/// Validates a decoded `text.say`: not empty, at most [`MAX_SAY_CHARS`], no control characters.
/// Newlines and tabs become spaces: a caption and a transcript line are one line.
pub fn check_text_say(say: &TextSay) -> Result<CheckedSay, (ErrorCode, String)> {
    let text = say.text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return Err((
            ErrorCode::BadPayload,
            "text.say needs {text: \"...\"} with something to say".into(),
        ));
    }
    let chars = text.chars().count();
    if chars > MAX_SAY_CHARS {
        return Err((
            ErrorCode::TextTooLong,
            format!("text.say has {chars} characters; say at most {MAX_SAY_CHARS} at a time"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err((
            ErrorCode::BadPayload,
            "text.say text must not hold control characters".into(),
        ));
    }
    Ok(CheckedSay { text, to: say.to })
}

/// What a valid `hello` asks for, after [`check_hello`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedHello {
    /// The trimmed participant name (`anonymous` when absent or blank).
    pub name: String,
    /// The declared input format, or the default PCM s16le 48 kHz mono.
    pub input_format: InputFormat,
    /// The studio asked for; `None`: the current live episode.
    pub episode_id: Option<String>,
}

/// Validates a decoded `hello`: name length and characters, input format, episode id. Pure, so
/// the fuzz bench drives it with the same checks the handler runs; the error is the message the
/// client gets with `bad-hello`.
pub fn check_hello(hello: &Hello) -> Result<CheckedHello, String> {
    let name = hello
        .participant_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("anonymous")
        .to_owned();
    if name.chars().count() > MAX_PARTICIPANT_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(format!(
            "participantName must be at most {MAX_PARTICIPANT_NAME_CHARS} characters without control characters"
        ));
    }
    let input_format = hello.input_format.unwrap_or_default();
    check_input_format(&input_format)?;
    if let Some(id) = hello.episode_id.as_deref()
        && !crate::session::is_valid_episode_id(id)
    {
        return Err(JoinError::BadEpisodeId.to_string());
    }
    Ok(CheckedHello {
        name,
        input_format,
        episode_id: hello.episode_id.clone(),
    })
}

/// Checks a chunk against the client's declared format before it reaches the studio.
pub fn check_audio_chunk(chunk: &[u8], format: &InputFormat) -> Result<(), (ErrorCode, String)> {
    if chunk.is_empty() {
        return Err((ErrorCode::AudioEmpty, "audio.chunk is empty".into()));
    }
    if chunk.len() > MAX_AUDIO_CHUNK_BYTES {
        return Err((
            ErrorCode::AudioTooLarge,
            format!(
                "audio.chunk has {} bytes; send at most {MAX_AUDIO_CHUNK_BYTES} (1 s of 48 kHz mono s16), ideally 20-100 ms per chunk",
                chunk.len()
            ),
        ));
    }
    let frame = 2 * usize::from(format.channels);
    if format.encoding == AudioEncoding::PcmS16le && !chunk.len().is_multiple_of(frame) {
        return Err((
            ErrorCode::AudioOddLength,
            format!(
                "audio.chunk has {} bytes, not a whole number of {}-byte s16 frames",
                chunk.len(),
                frame
            ),
        ));
    }
    Ok(())
}

fn check_input_format(format: &InputFormat) -> Result<(), String> {
    if !(8_000..=48_000).contains(&format.sample_rate) {
        return Err(format!(
            "inputFormat.sampleRate {} is outside 8000-48000 Hz",
            format.sample_rate
        ));
    }
    if !(1..=2).contains(&format.channels) {
        return Err(format!(
            "inputFormat.channels {} must be 1 or 2",
            format.channels
        ));
    }
    if format.encoding == AudioEncoding::Opus && format.sample_rate != 48_000 {
        return Err("inputFormat: opus input must declare sampleRate 48000".into());
    }
    Ok(())
}

/// The error code a client gets when it cannot join.
pub(super) fn join_error_code(e: &JoinError) -> ErrorCode {
    match e {
        JoinError::BadEpisodeId => ErrorCode::BadHello,
        JoinError::ShuttingDown | JoinError::Send(StudioSendError::Ended) => ErrorCode::StudioEnded,
        JoinError::Send(StudioSendError::Busy) => ErrorCode::StudioBusy,
        JoinError::TooManyStudios { .. } | JoinError::TooManyStudiosFromAddress { .. } => {
            ErrorCode::TooManyStudios
        }
        JoinError::NotHeldHere(_) => ErrorCode::StudioElsewhere,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm_chunks_must_hold_whole_samples_and_fit_the_limit() {
        let pcm = InputFormat::default();
        assert!(check_audio_chunk(&[0; 1920], &pcm).is_ok());
        assert_eq!(
            check_audio_chunk(&[0; 1921], &pcm).map_err(|e| e.0),
            Err(ErrorCode::AudioOddLength)
        );
        assert_eq!(
            check_audio_chunk(&[], &pcm).map_err(|e| e.0),
            Err(ErrorCode::AudioEmpty)
        );
        assert_eq!(
            check_audio_chunk(&vec![0; MAX_AUDIO_CHUNK_BYTES + 2], &pcm).map_err(|e| e.0),
            Err(ErrorCode::AudioTooLarge)
        );
        let opus = InputFormat {
            encoding: AudioEncoding::Opus,
            ..InputFormat::default()
        };
        assert!(check_audio_chunk(&[0; 77], &opus).is_ok());
    }

    #[test]
    fn typed_lines_are_one_trimmed_line_within_the_limit() {
        let say = |text: &str| {
            check_text_say(&TextSay {
                text: text.into(),
                to: Some(Ai::Guest),
            })
        };
        assert_eq!(
            say("  Guest,\n what do\tyou think?  "),
            Ok(CheckedSay {
                text: "Guest, what do you think?".into(),
                to: Some(Ai::Guest)
            })
        );
        assert_eq!(say(" \n ").map_err(|e| e.0), Err(ErrorCode::BadPayload));
        assert_eq!(say("a\u{7}b").map_err(|e| e.0), Err(ErrorCode::BadPayload));
        assert!(say(&"é".repeat(MAX_SAY_CHARS)).is_ok());
        assert_eq!(
            say(&"é".repeat(MAX_SAY_CHARS + 1)).map_err(|e| e.0),
            Err(ErrorCode::TextTooLong)
        );
    }

    #[test]
    fn input_formats_outside_what_the_studio_can_resample_are_refused() {
        assert!(check_input_format(&InputFormat::default()).is_ok());
        let too_fast = InputFormat {
            sample_rate: 96_000,
            ..InputFormat::default()
        };
        assert!(check_input_format(&too_fast).is_err());
    }
}
