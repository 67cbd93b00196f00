//! Which Piper to run, with which arguments: the plugin's settings turned into a command line.
//! Pure, so it is unit tested natively.

use studio_plugin::{PluginError, Speaker};

/// Piper's sample rate for medium and high voices (`audio.sample_rate` in `<voice>.onnx.json`).
pub const DEFAULT_SAMPLE_RATE: u32 = 22_050;

/// One synthesis run of Piper.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The executable (exactly as listed in `allowed_executables`).
    pub program: String,
    /// The `.onnx` voice model.
    pub model: String,
    /// `--output-raw` (Python piper) or `--output_raw` (the C++ binary).
    pub raw_flag: String,
    /// A speaker id of a multi-speaker model (`--speaker`).
    pub speaker_id: Option<u32>,
    /// Phoneme length (`--length_scale`): above 1 slower, below 1 faster.
    pub length_scale: Option<f32>,
    /// The model's output rate.
    pub sample_rate: u32,
}

impl Invocation {
    /// Piper's arguments: `--model M <raw flag> [--speaker N] [--length_scale X]`.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--model".to_owned(),
            self.model.clone(),
            self.raw_flag.clone(),
        ];
        if let Some(id) = self.speaker_id {
            args.extend(["--speaker".to_owned(), id.to_string()]);
        }
        if let Some(scale) = self.length_scale {
            args.extend(["--length_scale".to_owned(), scale.to_string()]);
        }
        args
    }
}

/// The settings key for `speaker`: `claude_<key>` or `guest_<key>`.
pub fn speaker_key(speaker: Speaker, key: &str) -> String {
    let prefix = match speaker {
        Speaker::Guest => "guest",
        _ => "claude",
    };
    format!("{prefix}_{key}")
}

/// A speaker id from a voice setting (`"3"`); empty is none, anything else a `config` error.
pub fn parse_speaker_id(what: &str, voice: &str) -> Result<Option<u32>, PluginError> {
    let voice = voice.trim();
    if voice.is_empty() {
        return Ok(None);
    }
    voice.parse::<u32>().map(Some).map_err(|_| {
        PluginError::Config(format!(
            "{what} `{voice}` is not a Piper speaker id (a number of a multi-speaker voice)"
        ))
    })
}

/// The text as one stdin line: Piper reads one utterance per line.
pub fn stdin_line(text: &str) -> String {
    let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.push('\n');
    line
}

/// The last few lines of stderr (Piper logs there), for an error message.
pub fn stderr_tail(stderr: &str) -> String {
    let trimmed = stderr.trim();
    let start = trimmed
        .char_indices()
        .rev()
        .nth(299)
        .map(|(i, _)| i)
        .unwrap_or(0);
    let tail = trimmed[start..].trim();
    if tail.is_empty() {
        "(nothing on stderr)".to_owned()
    } else {
        tail.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation() -> Invocation {
        Invocation {
            program: "/opt/piper/piper".into(),
            model: "/voices/en_US-lessac-medium.onnx".into(),
            raw_flag: "--output-raw".into(),
            speaker_id: None,
            length_scale: None,
            sample_rate: DEFAULT_SAMPLE_RATE,
        }
    }

    #[test]
    fn the_command_line_is_pipers() {
        assert_eq!(
            invocation().args(),
            vec![
                "--model",
                "/voices/en_US-lessac-medium.onnx",
                "--output-raw"
            ]
        );
        let full = Invocation {
            raw_flag: "--output_raw".into(),
            speaker_id: Some(3),
            length_scale: Some(0.9),
            ..invocation()
        };
        assert_eq!(
            full.args(),
            vec![
                "--model",
                "/voices/en_US-lessac-medium.onnx",
                "--output_raw",
                "--speaker",
                "3",
                "--length_scale",
                "0.9"
            ]
        );
    }

    #[test]
    fn speakers_have_their_own_keys() {
        assert_eq!(speaker_key(Speaker::Claude, "voice"), "claude_voice");
        assert_eq!(
            speaker_key(Speaker::Guest, "length_scale"),
            "guest_length_scale"
        );
    }

    #[test]
    fn speaker_ids_are_numbers() {
        assert_eq!(parse_speaker_id("voice", ""), Ok(None));
        assert_eq!(parse_speaker_id("voice", " 4 "), Ok(Some(4)));
        assert!(matches!(
            parse_speaker_id("voice", "en-US-Neural2-D"),
            Err(PluginError::Config(m)) if m.contains("en-US-Neural2-D")
        ));
    }

    #[test]
    fn text_becomes_one_line() {
        assert_eq!(
            stdin_line("Hello there.\nHow are  you?"),
            "Hello there. How are you?\n"
        );
    }

    #[test]
    fn stderr_is_cut_to_its_tail() {
        assert_eq!(stderr_tail("  "), "(nothing on stderr)");
        let long = format!("{}END", "x".repeat(1000));
        let tail = stderr_tail(&long);
        assert!(
            tail.ends_with("END") && tail.chars().count() == 300,
            "{tail}"
        );
    }
}
