//! The timings of one AI line: what `turn.end` reports and the recording keeps (STT final, LLM
//! first token, TTS first audio, voice to voice, hand-off gap), and the line's timeline (the
//! instant of each stage, for its trace and the host's own share of the latency). Pure
//! bookkeeping.

use std::time::{Duration, Instant};

use crate::audio::FRAME_SAMPLES;
use crate::gateway::protocol::TurnEnd;
use crate::observe::timeline::LineTimeline;
use crate::recording::TurnMetrics;
use crate::speakers::Speaker;

/// Milliseconds of a duration, saturating.
pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The measured moments of one line, from the request to its first frame.
#[derive(Debug)]
pub(super) struct LineTimings {
    /// When the line was asked for.
    asked_at: Instant,
    /// A reply to the human's line (voice to voice is measured), not an AI answering an AI.
    answers_human: bool,
    /// Request -> first LLM token.
    pub(super) llm_first_token: Option<Duration>,
    /// TTS request -> first audio.
    pub(super) tts_first_audio: Option<Duration>,
    /// When the first frame was sent.
    first_frame_at: Option<Instant>,
    /// Session time the first frame was sent.
    first_frame_ms: Option<u64>,
    voice_to_voice: Option<Duration>,
    handoff_gap: Option<Duration>,
    /// End of the human's speech -> final transcript.
    stt_final: Option<Duration>,
    /// The instant of each stage.
    pub(super) timeline: LineTimeline,
    /// Samples of audio that reached the line so far (until a whole frame has).
    audio_samples: usize,
}

impl LineTimings {
    /// Timings of a line asked for now.
    pub(super) fn new(answers_human: bool, stt_final: Option<Duration>) -> Self {
        Self {
            asked_at: Instant::now(),
            answers_human,
            llm_first_token: None,
            tts_first_audio: None,
            first_frame_at: None,
            first_frame_ms: None,
            voice_to_voice: None,
            handoff_gap: None,
            stt_final,
            timeline: LineTimeline::default(),
            audio_samples: 0,
        }
    }

    /// Whether a frame of the line has been sent.
    pub(super) fn has_played(&self) -> bool {
        self.first_frame_at.is_some()
    }

    /// The line's first frame leaves now (`now_ms` on the session clock). Voice to voice only
    /// for an answer to the human (completed by [`LineTimings::speech_ended`] when the VAD
    /// places the end of speech later); hand-off gap for an AI after an AI.
    pub(super) fn first_frame(
        &mut self,
        now_ms: u64,
        speech_offset_ms: Option<u64>,
        last_ai_end: Option<Instant>,
    ) {
        let now = Instant::now();
        self.first_frame_at = Some(now);
        self.first_frame_ms = Some(now_ms);
        if self.answers_human {
            if let Some(offset) = speech_offset_ms.filter(|offset| *offset <= now_ms) {
                self.voice_to_voice = Some(Duration::from_millis(now_ms - offset));
            }
        } else if let Some(ended) = last_ai_end {
            self.handoff_gap = Some(now.saturating_duration_since(ended));
        }
    }

    /// The VAD placed the end of the human's speech at `offset_ms`, after the recognizer (and
    /// maybe this reply) was already faster: latencies of an answer are measured from it.
    pub(super) fn speech_ended(&mut self, offset_ms: u64, stt_final: Option<Duration>) {
        if !self.answers_human {
            return;
        }
        if self.stt_final.is_none() {
            self.stt_final = stt_final;
        }
        if let Some(first) = self.first_frame_ms.filter(|first| *first >= offset_ms)
            && self.voice_to_voice.is_none()
        {
            self.voice_to_voice = Some(Duration::from_millis(first - offset_ms));
        }
    }

    /// The human's speech this line answers ended at `end`, which the VAD heard at `heard`.
    pub(super) fn speech_end_at(&mut self, end: Instant, heard: Instant) {
        if self.answers_human && self.timeline.speech_end.is_none() {
            self.timeline.speech_end = Some(end);
            self.timeline.speech_end_heard = Some(heard);
        }
    }

    /// `samples` of the line's audio arrived: the first whole frame of it is a stage.
    pub(super) fn audio_arrived(&mut self, samples: usize) {
        if self.timeline.frame_ready.is_none() {
            self.audio_samples += samples;
            if self.audio_samples >= FRAME_SAMPLES {
                self.timeline.frame_ready = Some(Instant::now());
            }
        }
    }

    /// The line's first frame has just been sent to the clients.
    pub(super) fn first_frame_sent(&mut self) {
        self.timeline.first_frame.get_or_insert_with(Instant::now);
    }

    /// The metrics of the line as it ends after `played_ms` of audio.
    pub(super) fn metrics(&self, played_ms: u64, interrupted: bool) -> TurnMetrics {
        let first_audio = self
            .first_frame_at
            .map(|t| t.saturating_duration_since(self.asked_at));
        TurnMetrics {
            duration_ms: Some(played_ms),
            stt_final_ms: self.stt_final.map(millis),
            llm_first_token_ms: self.llm_first_token.map(millis),
            tts_first_audio_ms: self.tts_first_audio.map(millis),
            first_audio_ms: first_audio.map(millis),
            voice_to_voice_ms: self.voice_to_voice.map(millis),
            handoff_gap_ms: self.handoff_gap.map(millis),
            interrupted,
        }
    }
}

/// The `turn.end` report of a line that said `text`, with its `metrics`.
pub(super) fn line_report(
    speaker: Speaker,
    text: &str,
    played_ms: u64,
    metrics: &TurnMetrics,
) -> TurnEnd {
    TurnEnd {
        speaker,
        text: text.to_owned(),
        interrupted: metrics.interrupted,
        played_ms,
        stt_final_ms: metrics.stt_final_ms,
        llm_first_token_ms: metrics.llm_first_token_ms,
        tts_first_audio_ms: metrics.tts_first_audio_ms,
        voice_to_voice_ms: metrics.voice_to_voice_ms,
        handoff_gap_ms: metrics.handoff_gap_ms,
    }
}
