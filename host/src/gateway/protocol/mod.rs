//! The Socket.IO protocol's payloads, spelled exactly like the frontend's TypeScript contract
//! (`packages/shared/src/index.ts` in its repository, `Baswold/basil-youtube-AI`), plus our
//! additions (`error`, `audio.out`, `session.end`, `hello.inputFormat`). `docs/PROTOCOL.md`
//! documents them all.

use serde::{Deserialize, Serialize};

mod server_event;

pub use server_event::ServerEvent;

/// Event names, client to server.
pub mod client_events {
    /// `hello {episodeId?, participantName?, inputFormat?}`: join a studio.
    pub const HELLO: &str = "hello";
    /// `audio.chunk <binary>`: microphone audio.
    pub const AUDIO_CHUNK: &str = "audio.chunk";
    /// `client.toggle-autopilot <boolean>`.
    pub const TOGGLE_AUTOPILOT: &str = "client.toggle-autopilot";
    /// `client.request-state`: ask for a `state.snapshot`.
    pub const REQUEST_STATE: &str = "client.request-state";
    /// Ours: `client.end-session`: end the episode now; the studio finishes its recording and
    /// sends `recording.ready`, then `session.end`.
    pub const END_SESSION: &str = "client.end-session";
    /// Ours: `text.say {text, to?}`: a line the human typed, taken as their final transcript.
    pub const TEXT_SAY: &str = "text.say";
}

/// Event names, server to client.
pub mod server_events {
    /// `server.ack <string>`.
    pub const ACK: &str = "server.ack";
    /// `state.snapshot <OrchestratorStateSnapshot>`.
    pub const STATE_SNAPSHOT: &str = "state.snapshot";
    /// `orb.state (speaker, state)`: two arguments.
    pub const ORB_STATE: &str = "orb.state";
    /// `caption <CaptionPayload>`.
    pub const CAPTION: &str = "caption";
    /// `mode.thinking <ModeThinkingPayload>`.
    pub const MODE_THINKING: &str = "mode.thinking";
    /// `mode.normal <ModeNormalPayload>`.
    pub const MODE_NORMAL: &str = "mode.normal";
    /// `shared-screen.state <SharedScreenState>`.
    pub const SHARED_SCREEN: &str = "shared-screen.state";
    /// `recording.ready <RecordingReadyPayload>`.
    pub const RECORDING_READY: &str = "recording.ready";
    /// Ours: `error <ErrorPayload>`.
    pub const ERROR: &str = "error";
    /// Ours: `audio.out <AudioOut>`.
    pub const AUDIO_OUT: &str = "audio.out";
    /// Ours: `session.end <SessionEnd>`.
    pub const SESSION_END: &str = "session.end";
    /// Ours: `audio.stop <AudioStop>`: drop the queued audio of a speaker (barge-in).
    pub const AUDIO_STOP: &str = "audio.stop";
    /// Ours: `turn.end <TurnEnd>`: an AI's line ended, with what it measured.
    pub const TURN_END: &str = "turn.end";
}

/// `SpeakerId`: who is speaking, spelled `"you"`, `"claude"`, `"guest"`.
pub use crate::speakers::Speaker;

/// `OrbState`: what a speaker's orb shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrbState {
    /// Nothing happening.
    #[default]
    Idle,
    /// Listening to someone else.
    Listening,
    /// Preparing an answer.
    Thinking,
    /// Speaking.
    Speaking,
    /// Silenced while the human speaks.
    Muted,
    /// Its provider failed.
    Error,
}

/// `Record<SpeakerId, OrbState>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrbStates {
    /// The human's orb.
    pub you: OrbState,
    /// Claude's orb.
    pub claude: OrbState,
    /// The guest's orb.
    pub guest: OrbState,
}

impl OrbStates {
    /// The orb of `speaker`.
    pub fn get(&self, speaker: Speaker) -> OrbState {
        match speaker {
            Speaker::You => self.you,
            Speaker::Claude => self.claude,
            Speaker::Guest => self.guest,
        }
    }

    /// Sets the orb of `speaker`; returns whether it changed.
    pub fn set(&mut self, speaker: Speaker, state: OrbState) -> bool {
        let slot = match speaker {
            Speaker::You => &mut self.you,
            Speaker::Claude => &mut self.claude,
            Speaker::Guest => &mut self.guest,
        };
        let changed = *slot != state;
        *slot = state;
        changed
    }
}

/// `CaptionPayload`: a line of text on the shared screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caption {
    /// Unique id (the frontend keys its list with it).
    pub id: String,
    /// Who said it.
    pub speaker: Speaker,
    /// What was said.
    pub text: String,
    /// Wall-clock time, ms since the Unix epoch.
    pub timestamp: u64,
    /// Ours: whether the text is final (a partial transcript may be replaced).
    #[serde(rename = "final", skip_serializing_if = "Option::is_none")]
    pub is_final: Option<bool>,
    /// Ours: start on the studio clock (ms since the studio began).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    /// Ours: end on the studio clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
}

/// `SharedScreenMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SharedScreenMode {
    /// Captions of the conversation.
    #[default]
    Conversation,
    /// A thinking countdown.
    Thinking,
}

/// `SharedScreenThinkingState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingCountdown {
    /// Who is thinking.
    pub speaker: Speaker,
    /// How long, ms.
    pub duration_ms: u64,
    /// Start, epoch ms.
    pub started_at: u64,
    /// End, epoch ms.
    pub ends_at: u64,
}

/// `SharedScreenState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedScreen {
    /// What the shared screen shows.
    pub mode: SharedScreenMode,
    /// The countdown, in thinking mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingCountdown>,
}

/// `OrchestratorStateSnapshot`: everything a client needs to draw the studio.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StudioSnapshot {
    /// Each speaker's orb.
    pub orb_states: OrbStates,
    /// Captions, newest first.
    pub captions: Vec<Caption>,
    /// Whether the AIs converse on their own.
    pub autopilot: bool,
    /// The shared screen.
    pub shared_screen: SharedScreen,
}

/// `ModeThinkingPayload`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModeThinking {
    /// Who is thinking.
    pub speaker: Speaker,
    /// How long, ms.
    pub duration_ms: u64,
    /// Start, epoch ms.
    pub started_at: u64,
}

/// `ModeNormalPayload`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModeNormal {
    /// Who was thinking.
    pub speaker: Speaker,
    /// End, epoch ms.
    pub ended_at: u64,
}

/// `RecordingReadyPayload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingReady {
    /// The episode recorded.
    pub episode_id: String,
    /// The files written (paths relative to RECORDING_DIR).
    pub files: Vec<String>,
    /// Ours: the recording's folder inside RECORDING_DIR (`<episodeId>`, or `<episodeId>-2`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// Ours: each file with its download URL, size and length.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<RecordedFileInfo>,
}

/// Ours: one file of a finished recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedFileInfo {
    /// File name inside the folder (`you.webm`, `events.jsonl`, ...).
    pub name: String,
    /// Where to download it: `/recordings/<folder>/<name>`.
    pub url: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Audio length in ms, for the tracks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// Ours: `audio.stop {speaker, reason, playedMs}`: the server stopped a speaker's audio; the
/// client drops what it still has queued for that speaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioStop {
    /// Whose audio stopped.
    pub speaker: Speaker,
    /// Why: `barge-in` (the human spoke) or `stop` (the turn policy cut it).
    pub reason: String,
    /// How much of the line had played when it stopped, in ms.
    pub played_ms: u64,
}

/// Ours: `turn.end`: an AI's line ended; latencies in ms, absent when the turn did not get there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnEnd {
    /// The AI that spoke.
    pub speaker: Speaker,
    /// What it said (cut to what was played when interrupted).
    pub text: String,
    /// Whether the human cut it off.
    pub interrupted: bool,
    /// Audio played, ms.
    pub played_ms: u64,
    /// The human's end of speech -> final transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stt_final_ms: Option<u64>,
    /// LLM request -> first token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_first_token_ms: Option<u64>,
    /// TTS request -> first audio (first clause).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tts_first_audio_ms: Option<u64>,
    /// The human's end of speech -> first AI audio frame sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_to_voice_ms: Option<u64>,
    /// The previous AI's last frame -> this AI's first frame (AI to AI hand-off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_gap_ms: Option<u64>,
}

/// Ours: the sample format of `audio.chunk` payloads a client will send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InputFormat {
    /// Encoding of the chunks.
    #[serde(default)]
    pub encoding: AudioEncoding,
    /// Sample rate in Hz.
    #[serde(default = "default_sample_rate")]
    pub sample_rate: u32,
    /// Channel count.
    #[serde(default = "default_channels")]
    pub channels: u8,
}

impl Default for InputFormat {
    /// PCM s16le, 48 kHz, mono: what the frontend sends without saying so.
    fn default() -> Self {
        Self {
            encoding: AudioEncoding::default(),
            sample_rate: default_sample_rate(),
            channels: default_channels(),
        }
    }
}

fn default_sample_rate() -> u32 {
    48_000
}

fn default_channels() -> u8 {
    1
}

/// Ours: audio encodings the gateway accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioEncoding {
    /// Little-endian signed 16-bit PCM (the default: what the frontend sends).
    #[default]
    #[serde(rename = "pcm_s16le")]
    PcmS16le,
    /// Opus packets, one per chunk.
    Opus,
}

/// `ClientHelloPayload` plus our `inputFormat`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    /// The studio to join; absent: the current live episode.
    #[serde(default)]
    pub episode_id: Option<String>,
    /// Shown in logs and in the `hello <name>` ack.
    #[serde(default)]
    pub participant_name: Option<String>,
    /// The format of this client's `audio.chunk`s; absent: PCM s16le 48 kHz mono.
    #[serde(default)]
    pub input_format: Option<InputFormat>,
    /// Ours: an access token (one of three places a client may carry it; see docs/SECURITY.md).
    #[serde(default)]
    pub token: Option<String>,
}

/// Ours: `text.say {text, to?}`: a line the human typed instead of speaking it. The studio takes
/// it as the human's final transcript (caption, transcript, recording, turn policy); `to` names
/// the AI it is for, as a spoken line does by starting with the AI's name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TextSay {
    /// What the human says (at most `MAX_SAY_CHARS` characters once trimmed).
    pub text: String,
    /// The AI addressed; absent: whoever the line names, as if spoken.
    #[serde(default)]
    pub to: Option<crate::speakers::Ai>,
}

/// Ours: `error {code, message}`; the connection stays usable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorPayload {
    /// Stable machine-readable code (see [`ErrorCode`]).
    pub code: ErrorCode,
    /// What went wrong and what to do.
    pub message: String,
}

/// Ours: the codes of `error` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// `hello` payload is not a valid ClientHelloPayload.
    BadHello,
    /// An event's payload has the wrong type.
    BadPayload,
    /// `audio.chunk` is not binary.
    AudioNotBinary,
    /// `audio.chunk` has an odd byte count (PCM s16 needs whole samples).
    AudioOddLength,
    /// `audio.chunk` is larger than the limit.
    AudioTooLarge,
    /// `audio.chunk` is empty.
    AudioEmpty,
    /// Another client holds the studio's microphone.
    MicrophoneBusy,
    /// The event needs a studio: send `hello` first.
    NotInStudio,
    /// The studio cannot keep up; the event was dropped.
    StudioBusy,
    /// The studio has ended; send `hello` to join another.
    StudioEnded,
    /// The event name is not part of the protocol.
    UnknownEvent,
    /// A plugin (STT, TTS, LLM or policy) failed; the message names the role and plugin.
    PluginFailed,
    /// The recording could not be written (full disk, unwritable folder); the studio goes on.
    RecordingFailed,
    /// The microphone audio could not be decoded in the declared input format.
    AudioUndecodable,
    /// The studio stopped answering and the watchdog ended it; send `hello` to start again.
    StudioStuck,
    /// No token, or a token this server did not sign (token mode); the message says how to get one.
    Unauthorized,
    /// The token has expired; ask the producer for a new link.
    TokenExpired,
    /// The client's role may not do this (a viewer sending audio, toggling autopilot, ending).
    Forbidden,
    /// Too many events of this kind from this client; the event was dropped (token bucket).
    RateLimited,
    /// The server or this address already runs as many studios as allowed.
    TooManyStudios,
    /// Microphone audio arrives faster than real time allows; the excess is dropped (said once).
    AudioTooFast,
    /// Autopilot reached its AI lines per minute or per episode; the AIs wait for the human.
    AutopilotLimit,
    /// Too little free disk space to start a recording; the studio goes on without one.
    DiskSpaceLow,
    /// A `text.say` line is longer than the limit; nothing was said.
    TextTooLong,
    /// This host of a cluster does not hold the episode; connect with `?episodeId=` in the URL.
    StudioElsewhere,
}

impl ErrorPayload {
    /// An error event with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Ours: `audio.out {speaker, seq, format, payload}`: AI speech for the browser to play.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioOut {
    /// Whose voice.
    pub speaker: Speaker,
    /// Per-speaker sequence number, from 0 for each utterance stream.
    pub seq: u64,
    /// Payload format, e.g. `pcm_s16le;rate=48000;channels=1` or `opus;rate=48000;channels=1`.
    pub format: String,
    /// The audio bytes (sent as a binary attachment).
    #[serde(with = "serde_bytes_compat")]
    pub payload: Vec<u8>,
}

/// Serializes `Vec<u8>` as bytes, so Socket.IO sends it as a binary attachment rather than an
/// array of numbers.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        super::BinaryPayload::deserialize_from(d).map(|b| b.0)
    }
}

/// Ours: `session.end {episodeId, reason}`: the studio ended; clients may send `hello` again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionEnd {
    /// The studio that ended.
    pub episode_id: String,
    /// Why: `idle` (no clients), `shutdown`, `internal-error`, `ended` (a client ended it) or
    /// `stuck` (the watchdog ended it).
    pub reason: String,
}

/// A binary Socket.IO payload. Unlike `Vec<u8>` or `bytes::Bytes`, it refuses strings and number
/// arrays, so a client that sends text as audio is told so instead of being heard as noise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryPayload(pub Vec<u8>);

impl BinaryPayload {
    fn deserialize_from<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = BinaryPayload;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a binary attachment")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(BinaryPayload(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
                Ok(BinaryPayload(v))
            }
        }
        // `deserialize_any`: the Socket.IO parser turns a binary placeholder into `visit_byte_buf`
        // there, while a JSON string arrives as `visit_str` (refused). `deserialize_bytes` would
        // accept strings from serde_json.
        d.deserialize_any(Visitor)
    }
}

impl<'de> Deserialize<'de> for BinaryPayload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::deserialize_from(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snapshot_is_spelled_like_the_typescript_contract() {
        let snapshot = StudioSnapshot::default();
        assert_eq!(
            serde_json::to_value(&snapshot).expect("serializes"),
            json!({
                "orbStates": {"you": "idle", "claude": "idle", "guest": "idle"},
                "captions": [],
                "autopilot": false,
                "sharedScreen": {"mode": "conversation"}
            })
        );
    }

    #[test]
    fn hello_accepts_the_frontends_payload_and_our_input_format() {
        let hello: Hello =
            serde_json::from_value(json!({"participantName": "frontend"})).expect("frontend hello");
        assert_eq!(hello.participant_name.as_deref(), Some("frontend"));
        let hello: Hello = serde_json::from_value(json!({
            "episodeId": "ep-1",
            "inputFormat": {"encoding": "opus", "sampleRate": 48000, "channels": 1}
        }))
        .expect("hello with format");
        assert_eq!(
            hello.input_format.map(|f| f.encoding),
            Some(AudioEncoding::Opus)
        );
    }

    #[test]
    fn thinking_state_serializes_ends_at_in_camel_case() {
        let screen = SharedScreen {
            mode: SharedScreenMode::Thinking,
            thinking: Some(ThinkingCountdown {
                speaker: Speaker::Claude,
                duration_ms: 30_000,
                started_at: 1,
                ends_at: 30_001,
            }),
        };
        let v = serde_json::to_value(screen).expect("serializes");
        assert_eq!(v["thinking"]["endsAt"], json!(30_001));
        assert_eq!(v["mode"], json!("thinking"));
    }

    #[test]
    fn binary_payload_refuses_strings() {
        assert!(serde_json::from_value::<BinaryPayload>(json!("abc")).is_err());
        assert!(serde_json::from_value::<BinaryPayload>(json!([1, 2])).is_err());
    }

    #[test]
    fn error_codes_are_kebab_case() {
        let v = serde_json::to_value(ErrorPayload::new(ErrorCode::AudioOddLength, "x"))
            .expect("serializes");
        assert_eq!(v["code"], json!("audio-odd-length"));
    }
}
