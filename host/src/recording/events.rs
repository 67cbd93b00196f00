//! `events.jsonl`: every session event, one JSON object per line, written as it happens.
//!
//! The line shape is the studio recording format's (`{"type", "timestamp", "sessionId", ...}`,
//! what readers of `events.jsonl` expect; `docs/EVENTS.md`) plus `t`, the session clock in ms, so
//! events line up with the tracks and captions.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::error::RecordingError;
use crate::plugins::Redactor;
use crate::speakers::Speaker;

/// Measurements of one turn, all optional because a cut turn may not reach every stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnMetrics {
    /// Length of the turn's audio in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// End of the human's speech -> final transcript, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stt_final_ms: Option<u64>,
    /// LLM request -> first token, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm_first_token_ms: Option<u64>,
    /// TTS request -> first audio, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tts_first_audio_ms: Option<u64>,
    /// Floor given -> first audio frame out, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_audio_ms: Option<u64>,
    /// The human's end of speech -> this AI's first audio frame sent, in ms (a reply to the human).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_to_voice_ms: Option<u64>,
    /// The previous AI's last frame -> this AI's first frame, in ms (an AI answering an AI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff_gap_ms: Option<u64>,
    /// Whether barge-in cut the turn.
    #[serde(default)]
    pub interrupted: bool,
}

/// One event of a session, tagged with its original name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Event {
    /// The session began; `config` is the effective configuration (no secrets).
    #[serde(rename = "session.start")]
    SessionStart {
        /// The episode this session records.
        episode_id: String,
        /// Effective configuration: roles, plugins, briefing (never keys).
        config: serde_json::Value,
    },
    /// The session ended.
    #[serde(rename = "session.end")]
    SessionEnd {
        /// Session length in ms.
        duration: u64,
    },
    /// Voice activity began.
    #[serde(rename = "vad.speech-start")]
    VadSpeechStart {
        /// Who started speaking.
        speaker: Speaker,
        /// Detector confidence 0..1, when it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<f32>,
    },
    /// Voice activity ended.
    #[serde(rename = "vad.speech-end")]
    VadSpeechEnd {
        /// Who stopped speaking.
        speaker: Speaker,
        /// Detector confidence 0..1, when it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<f32>,
    },
    /// An interim transcript.
    #[serde(rename = "stt.partial")]
    SttPartial {
        /// Whose speech.
        speaker: Speaker,
        /// The text so far.
        text: String,
        /// Recognizer confidence 0..1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<f32>,
    },
    /// A final transcript of an utterance, or a line the human typed (`text.say`).
    #[serde(rename = "stt.final")]
    SttFinal {
        /// Whose speech.
        speaker: Speaker,
        /// The final text.
        text: String,
        /// Recognizer confidence 0..1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<f32>,
        /// Typed, not spoken (no recognizer heard it).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        typed: bool,
    },
    /// An LLM request was sent for an AI's next line.
    #[serde(rename = "llm.start")]
    LlmStart {
        /// The AI that will speak.
        speaker: Speaker,
        /// The model asked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// A piece of streamed LLM text.
    #[serde(rename = "llm.chunk")]
    LlmChunk {
        /// The AI writing.
        speaker: Speaker,
        /// The new text.
        text: String,
    },
    /// The LLM finished its reply.
    #[serde(rename = "llm.complete")]
    LlmComplete {
        /// The AI that wrote.
        speaker: Speaker,
        /// Request -> last token, in ms.
        latency: u64,
        /// The whole reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// Speech synthesis of a sentence began.
    #[serde(rename = "tts.start")]
    TtsStart {
        /// The AI whose voice.
        speaker: Speaker,
        /// The text to speak.
        text: String,
    },
    /// A piece of synthesized audio arrived.
    #[serde(rename = "tts.chunk")]
    TtsChunk {
        /// The AI whose voice.
        speaker: Speaker,
        /// Bytes of audio in the chunk.
        audio_size: u64,
    },
    /// Speech synthesis of a sentence finished.
    #[serde(rename = "tts.complete")]
    TtsComplete {
        /// The AI whose voice.
        speaker: Speaker,
    },
    /// A speaker's orb changed state (`idle`, `listening`, `thinking`, `speaking`, `muted`, `error`).
    #[serde(rename = "orb.state-change")]
    OrbStateChange {
        /// Whose orb.
        speaker: Speaker,
        /// State before.
        old_state: String,
        /// State after.
        new_state: String,
    },
    /// Thinking mode began: the conversation pauses while `speaker` prepares.
    #[serde(rename = "mode.thinking")]
    ModeThinking {
        /// The AI thinking.
        speaker: Speaker,
        /// Pause length in ms.
        duration: u64,
    },
    /// Thinking mode ended.
    #[serde(rename = "mode.normal")]
    ModeNormal {
        /// The AI that was thinking.
        speaker: Speaker,
    },
    /// Autopilot was switched.
    #[serde(rename = "autopilot.toggle")]
    AutopilotToggle {
        /// Whether autopilot is now on.
        enabled: bool,
    },
    /// A speaker cut others off.
    #[serde(rename = "barge-in")]
    BargeIn {
        /// Who started speaking.
        interrupter: Speaker,
        /// Whose audio was stopped.
        interrupted: Vec<Speaker>,
    },
    /// The human's utterance was routed (addressing by name, thinking requests).
    #[serde(rename = "command.route")]
    CommandRoute {
        /// What the router decided (e.g. `address`, `thinking`).
        action: String,
        /// Speakers addressed.
        targets: Vec<Speaker>,
        /// The utterance without the address.
        remainder: String,
        /// Router confidence 0..1.
        confidence: f32,
        /// Requested pause in ms, for thinking.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    /// Something failed; the session went on.
    #[serde(rename = "error")]
    Error {
        /// The message.
        error: String,
        /// The service or plugin role that failed (`stt`, `tts`, `llm:claude`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// Anything that helps find the cause (no secrets).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<serde_json::Value>,
    },
    /// A speaker got the floor.
    #[serde(rename = "turn.start")]
    TurnStart {
        /// Who speaks.
        speaker: Speaker,
    },
    /// A speaker's turn ended (finished or cut).
    #[serde(rename = "turn.end")]
    TurnEnd {
        /// Who spoke.
        speaker: Speaker,
        /// What the turn measured.
        metrics: TurnMetrics,
    },
    /// A plugin version was swapped in, or a new file was rejected.
    #[serde(rename = "plugin.reload")]
    PluginReload {
        /// The role (`stt`, `tts`, `claude`, `guest`, `policy`).
        role: String,
        /// The plugin name.
        plugin: String,
        /// Version now serving.
        version: String,
        /// SHA-256 of the .wasm now serving.
        hash: String,
        /// Whether the new file was taken (false: the old version goes on).
        ok: bool,
        /// Why the new file was rejected.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Autopilot moved to a new show segment.
    #[serde(rename = "segment")]
    Segment {
        /// Segment name (`cold-open`, `guest-stance`, `cross-exam`, ...).
        name: String,
        /// Planned length in ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
}

/// The envelope every line carries around its event.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    event: &'a Event,
    timestamp: u64,
    #[serde(rename = "sessionId")]
    session_id: &'a str,
    t: u64,
}

/// The session's `events.jsonl`, one line per event, each handed to the OS as it is written.
pub struct EventLog {
    path: PathBuf,
    file: File,
    session_id: String,
    /// Epoch ms of session time 0, so `timestamp` and `t` come from one clock.
    epoch_ms_at_start: u64,
    line: Vec<u8>,
    /// Lines were written since the last sync: a sync with nothing new would still cost the
    /// device a cache flush.
    unsynced: bool,
    /// Cuts plugin secrets out of each line (an error a provider echoed a key in).
    redactor: Option<Arc<Redactor>>,
}

impl EventLog {
    /// Creates `path` (never overwriting) for the session `session_id` that began at epoch ms
    /// `epoch_ms_at_start`.
    pub fn create(
        path: &Path,
        session_id: &str,
        epoch_ms_at_start: u64,
    ) -> Result<Self, RecordingError> {
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(path)
            .map_err(|e| RecordingError::write(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            session_id: session_id.to_owned(),
            epoch_ms_at_start,
            line: Vec::with_capacity(512),
            unsynced: true,
            redactor: None,
        })
    }

    /// Redacts every line written from now on with `redactor` (the plugin host's).
    pub fn set_redactor(&mut self, redactor: Option<Arc<Redactor>>) {
        self.redactor = redactor;
    }

    /// The file this writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the lines written so far survive a power loss (`fdatasync`); nothing to do when
    /// no line came since the last sync.
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

    /// Writes `event` at session time `t_ms` as one line, in one write.
    pub fn write(&mut self, t_ms: u64, event: &Event) -> Result<(), RecordingError> {
        self.line.clear();
        let line = Line {
            event,
            timestamp: self.epoch_ms_at_start + t_ms,
            session_id: &self.session_id,
            t: t_ms,
        };
        serde_json::to_writer(&mut self.line, &line)
            .map_err(|e| RecordingError::write(&self.path, std::io::Error::other(e)))?;
        self.line.push(b'\n');
        if let Some(redactor) = &self.redactor
            && let Ok(text) = std::str::from_utf8(&self.line)
            && let Cow::Owned(redacted) = redactor.redact(text)
        {
            self.line = redacted.into_bytes();
        }
        self.unsynced = true;
        self.file
            .write_all(&self.line)
            .map_err(|e| RecordingError::write(&self.path, e))
    }
}
