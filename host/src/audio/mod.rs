//! The studio's audio path: 48 kHz mono s16 in 20 ms frames, from any browser input to paced AI output.
//!
//! Everything the session actor does with samples lives here, kept free of I/O so it is cheap to
//! call on every frame and easy to test:
//! - [`Frame`] and [`FrameAssembler`]: the canonical 960-sample frame and the cutter that turns
//!   arbitrarily sized chunks into whole frames;
//! - [`InputFormat`] and [`InputDecoder`]: what a browser may send (PCM s16le at common rates, or
//!   Opus packets) and its decoding to frames;
//! - [`Resampler`]: a streaming polyphase windowed-sinc converter (browser input and TTS output to
//!   48 kHz), from the plugin SDK's `resample` module, which the host shares (plugins convert the 48 kHz
//!   microphone to 16 kHz with it);
//! - [`Vad`]: energy voice activity detection with an adaptive noise floor and hangover;
//! - [`Pacer`]: releases AI audio on a real-time clock, 20 ms at a time, with barge-in `stop()`.

mod frame;
mod input;
mod pacer;
mod vad;

pub use frame::{Frame, FrameAssembler, dbfs, rms};
pub use input::{InputDecoder, InputEncoding, InputError, InputFormat};
pub use pacer::{
    MAX_QUEUED_MS, MAX_QUEUED_SAMPLES, PacedFrame, Pacer, PacerConfig, PacerEvent, PacerStop,
};
pub use studio_plugin::resample::{ResampleError, Resampler};
pub use vad::{Vad, VadConfig, VadEvent};

/// The studio's one sample rate: every track, frame and pacer runs at 48 kHz.
pub const SAMPLE_RATE: u32 = 48_000;
/// Length of one frame in milliseconds.
pub const FRAME_MS: u64 = 20;
/// Samples in one 20 ms mono frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
