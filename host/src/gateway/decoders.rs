//! Every function that decodes or validates client input at the gateway, in one public place,
//! so the fuzz bench (`cargo bench -p voice-studio --bench gateway_fuzz`) and its fast test
//! twin drive exactly the code the handlers run.

pub use super::http::{byte_range, is_recording_folder_name, parse_json};
pub use super::protocol::{BinaryPayload, Hello, InputFormat, TextSay};
pub use super::socket::{
    CheckedHello, CheckedSay, MAX_AUDIO_CHUNK_BYTES, MAX_PARTICIPANT_NAME_CHARS, MAX_SAY_CHARS,
    check_audio_chunk, check_hello, check_text_say,
};
pub use crate::config::{ApiKeyField, RuntimeConfigUpdate};
pub use crate::session::is_valid_episode_id;
