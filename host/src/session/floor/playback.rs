//! A line as the clients hear it: each paced frame goes out as `audio.out` and into the
//! recording, its caption follows the clauses that started; a line ends played out or cut
//! (barge-in, the policy's stop), and what was heard of it is kept.

use std::time::Instant;

use super::Floor;
use super::timings::line_report;
use crate::audio::{FRAME_SAMPLES, PacedFrame};
use crate::gateway::protocol::{AudioOut, AudioStop, Caption, ModeNormal, OrbState, ServerEvent};
use crate::plugins::wit::{AiLine, FloorEvent};
use crate::prompt;
use crate::recording::Event;
use crate::session::room::Room;
use crate::speakers::Speaker;

/// The wire format of `audio.out` payloads.
const AUDIO_OUT_FORMAT: &str = "pcm_s16le;rate=48000;channels=1";

impl Floor {
    /// One paced frame of `speaker`'s line leaves now: to the recording and every client; the
    /// caption grows with each clause that starts.
    pub(super) async fn play_frame(
        &mut self,
        room: &mut Room,
        speaker: Speaker,
        paced: PacedFrame,
    ) {
        let due_ms = u64::try_from(
            paced
                .due
                .into_std()
                .saturating_duration_since(room.started)
                .as_millis(),
        )
        .unwrap_or(u64::MAX);
        let now_ms = room.clock_ms();
        let speech_offset_ms = self.ear.speech_offset_ms;
        let last_ai_end = self.last_ai_end;
        let mut record_error = None;
        if let Some(recorder) = self.tape.recorder.as_mut()
            && let Err(error) = recorder.push_frame(speaker, due_ms, paced.frame.samples())
        {
            record_error = Some(error);
        }
        let Some(voice) = self.voice(speaker) else {
            return;
        };
        let Some(line) = voice.line.as_mut() else {
            return;
        };
        crate::metrics::frame_sent(speaker, paced.late);
        let first = !line.timings.has_played();
        if first {
            line.timings
                .first_frame(now_ms, speech_offset_ms, last_ai_end);
            line.caption_start_ms = Some(due_ms.max(now_ms));
        }
        let released = FRAME_SAMPLES as u64
            + line
                .released
                .fetch_add(FRAME_SAMPLES as u64, std::sync::atomic::Ordering::Relaxed);
        let shown = line.spoken.clauses_started(released);
        let caption = (shown > line.clauses_shown).then(|| {
            line.clauses_shown = shown;
            Caption {
                id: line.caption_id.clone(),
                speaker,
                text: line.spoken.text_of_first(shown),
                timestamp: super::epoch_ms(),
                is_final: Some(false),
                start_ms: line.caption_start_ms,
                end_ms: None,
            }
        });
        let mut payload = vec![0u8; FRAME_SAMPLES * 2];
        for (bytes, sample) in payload.chunks_exact_mut(2).zip(paced.frame.samples()) {
            bytes.copy_from_slice(&sample.to_le_bytes());
        }
        room.broadcast(ServerEvent::AudioOut(&AudioOut {
            speaker,
            seq: paced.seq,
            format: AUDIO_OUT_FORMAT.to_owned(),
            payload,
        }))
        .await;
        if first {
            if let Some(line) = self.voice(speaker).and_then(|v| v.line.as_mut()) {
                line.timings.first_frame_sent();
            }
            self.set_orb(room, speaker, OrbState::Speaking).await;
        }
        if let Some(caption) = caption {
            room.show_caption(caption).await;
        }
        if let Some(error) = record_error {
            self.recording_error(room, error);
        }
    }

    /// The pacer played out everything it had: a line whose task is done ends.
    pub(super) async fn pacer_finished(
        &mut self,
        room: &mut Room,
        speaker: Speaker,
        played_ms: u64,
    ) {
        let produced = self
            .voice(speaker)
            .and_then(|v| v.line.as_ref())
            .is_some_and(|l| l.produced);
        if produced {
            self.end_line(room, speaker, false, played_ms).await;
        }
    }

    /// Cuts an AI's line now: its pacer drops what is queued (no further frame leaves), its
    /// calls are cancelled and its task aborted; clients are told to drop queued audio.
    pub(super) async fn stop_line(&mut self, room: &mut Room, speaker: Speaker, reason: &str) {
        let Some(voice) = self.voice(speaker) else {
            return;
        };
        let stop = voice.pacer.stop();
        if voice.line.is_none() {
            return;
        }
        room.broadcast(ServerEvent::AudioStop(&AudioStop {
            speaker,
            reason: reason.to_owned(),
            played_ms: stop.played_ms,
        }))
        .await;
        self.end_line(room, speaker, true, stop.played_ms).await;
    }

    /// Ends an AI's line (finished or cut): the caption and transcript keep what was heard,
    /// metrics are logged, and the policy hears `ai-finished`.
    pub(super) async fn end_line(
        &mut self,
        room: &mut Room,
        speaker: Speaker,
        interrupted: bool,
        played_ms: u64,
    ) {
        let now_ms = room.clock_ms();
        let human_speaking = self.ear.human_speaking;
        let Some(voice) = self.voice(speaker) else {
            return;
        };
        let Some(line) = voice.line.take() else {
            return;
        };
        for cancel in &line.cancels {
            cancel.cancel();
        }
        line.task.abort();
        let text = if interrupted {
            line.spoken.heard_after(played_ms)
        } else {
            line.spoken.full_text()
        };
        if self.talk.thinking.is_some_and(|(s, _)| s == speaker) {
            self.talk.thinking = None;
        }
        self.talk.last_speaker = Some(speaker);
        if !text.is_empty() {
            self.talk.ai_turns_in_a_row += 1;
            self.talk.transcript.push(prompt::Line {
                speaker,
                text: text.clone(),
                interrupted,
            });
        }
        if line.timings.has_played() {
            self.last_ai_end = Some(Instant::now());
        }
        let start_ms = line.caption_start_ms.unwrap_or(now_ms);
        if !text.is_empty() {
            self.transcribed(
                room,
                speaker,
                (start_ms, now_ms.max(start_ms)),
                &text,
                interrupted,
            );
            room.show_caption(Caption {
                id: line.caption_id.clone(),
                speaker,
                text: text.clone(),
                timestamp: super::epoch_ms(),
                is_final: Some(true),
                start_ms: Some(start_ms),
                end_ms: Some(now_ms.max(start_ms)),
            })
            .await;
        }
        if let Some(ai) = speaker.ai() {
            self.trace_line(room, ai, &line, interrupted);
        }
        let metrics = line.timings.metrics(played_ms, interrupted);
        let report = line_report(speaker, &text, played_ms, &metrics);
        crate::metrics::line_ended(speaker, &metrics, !text.is_empty(), &self.setup.plugins);
        tracing::info!(
            episode = %room.episode_id,
            ?speaker,
            interrupted,
            played_ms,
            stt_final_ms = ?report.stt_final_ms,
            llm_first_token_ms = ?report.llm_first_token_ms,
            tts_first_audio_ms = ?report.tts_first_audio_ms,
            voice_to_voice_ms = ?report.voice_to_voice_ms,
            handoff_gap_ms = ?report.handoff_gap_ms,
            "turn.end"
        );
        self.record(room, &Event::TurnEnd { speaker, metrics });
        room.broadcast(ServerEvent::TurnEnd(&report)).await;
        let was_thinking = room
            .state
            .snapshot()
            .shared_screen
            .thinking
            .is_some_and(|t| t.speaker == speaker);
        if was_thinking {
            room.end_thinking(ModeNormal {
                speaker,
                ended_at: super::epoch_ms(),
            })
            .await;
        }
        let rest = if human_speaking {
            OrbState::Muted
        } else {
            OrbState::Idle
        };
        // An orb showing a plugin failure keeps it for its moment; it recovers on its own.
        if room.state.orb(speaker) != OrbState::Error {
            self.set_orb(room, speaker, rest).await;
        }
        self.queue(FloorEvent::AiFinished(AiLine {
            speaker: speaker.into(),
            text,
            interrupted,
        }));
    }
}
