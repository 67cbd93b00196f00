//! The floor's ear: the human's microphone audio decoded into frames on the session clock,
//! recorded on the `you` track, fed to the STT call and the VAD; speech start and end (barge-in,
//! latencies) and the recognizer's transcripts (captions, the transcript, the policy).

use std::time::{Duration, Instant};

use crate::session::ClientId;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Floor;
use super::timings::millis;
use crate::audio::{FRAME_MS, Frame, InputDecoder, InputEncoding, Vad, VadConfig, VadEvent};
use crate::gateway::protocol::{AudioEncoding, Caption, ErrorCode, OrbState};
use crate::plugins::SttInput;
use crate::plugins::wit::{FloorEvent, Transcript, TranscriptKind};
use crate::prompt::Line;
use crate::recording::Event;
use crate::session::room::Room;
use crate::speakers::Speaker;

/// How late the human's next microphone frames may arrive while a possible barge-in holds the
/// AIs' audio, and the VAD still decide before the held frames leave. With one frame of
/// allowance, the bench at 320 studios saw holds lapse: a busy host or network delayed the next
/// frames of a turn, and the AI's held frames left after the human had begun (docs/BENCHMARKS.md,
/// "Barge-in under load"). The pacer bounds every hold anyway: no frame waits past its play time less
/// `HOLD_MARGIN`, which its lead (100 ms) leaves room for.
const ONSET_JITTER: Duration = Duration::from_millis(60);

/// A microphone that paused longer than this restarts at the current session time, so the `you`
/// track stays aligned with the clock after a client stalls.
const MIC_RESYNC_MS: u64 = 200;
/// Silent tracks are filled up to about now this often, so they stay current on disk.
const RECORDING_ADVANCE_EVERY_MS: u64 = 1_000;
/// A microphone that goes quiet this long while the human's utterance is still open (muted,
/// tab closed, network stall) is heard as silence from then on, so the VAD and the recognizer
/// close the utterance instead of leaving a partial caption and the floor with the human forever.
const MIC_GAP: Duration = Duration::from_millis(200);
/// At most this much silence is filled in for one gap; a recognizer that has not finished by then
/// will not finish on more silence.
const MIC_GAP_FILL_MAX_MS: u64 = 3_000;

/// What the floor hears of the human.
pub(super) struct Ear {
    decoder: Option<InputDecoder>,
    frames: Vec<Frame>,
    vad: Vad,
    /// Session time of the next microphone frame.
    mic_next_ms: u64,
    /// When the last microphone audio arrived (or silence was filled in for a gap).
    mic_heard_at: Option<tokio::time::Instant>,
    /// Silence filled in since real microphone audio last arrived (ms).
    mic_gap_filled_ms: u64,
    /// A partial `you` transcript is showing and its final has not come yet.
    partial_open: bool,
    /// The STT call's input; `None` once the floor closed.
    pub(super) stt_tx: Option<mpsc::Sender<SttInput>>,
    /// The STT call's task.
    pub(super) stt_task: Option<JoinHandle<()>>,
    /// The VAD hears the human now.
    pub(super) human_speaking: bool,
    /// Until when the AIs' frames are held for a possible barge-in (loud frames the VAD has not
    /// called speech yet).
    onset_hold: Option<tokio::time::Instant>,
    speech_onset_ms: u64,
    /// Where the human's last utterance really ended on the session clock (the VAD's offset,
    /// known only after its hangover, which may be after the recognizer's final and even after
    /// the AI's first frame).
    pub(super) speech_offset_ms: Option<u64>,
    /// When the last final transcript arrived, on the session clock.
    final_heard_ms: Option<u64>,
    /// End of speech -> final transcript of the last utterance, for the line that answers it.
    pub(super) last_stt_final: Option<Duration>,
    /// When the last final transcript reached the host, for the timeline of the line that
    /// answers it.
    pub(super) final_at: Option<Instant>,
    /// The last utterance's end of speech and when the VAD heard it (its hangover later).
    pub(super) speech_end: Option<(Instant, Instant)>,
    /// How many utterances were final (caption ids).
    utterance: u64,
    /// How many lines were typed (`text.say`; caption ids of their own, so a typed line never
    /// replaces a spoken utterance's partial caption).
    typed: u64,
}

impl Ear {
    /// An ear feeding the STT call through `stt_tx`.
    pub(super) fn new(stt_tx: mpsc::Sender<SttInput>, stt_task: JoinHandle<()>) -> Self {
        Self {
            decoder: None,
            frames: Vec::with_capacity(8),
            vad: Vad::new(VadConfig::default()),
            mic_next_ms: 0,
            mic_heard_at: None,
            mic_gap_filled_ms: 0,
            partial_open: false,
            stt_tx: Some(stt_tx),
            stt_task: Some(stt_task),
            human_speaking: false,
            onset_hold: None,
            speech_onset_ms: 0,
            speech_offset_ms: None,
            final_heard_ms: None,
            last_stt_final: None,
            final_at: None,
            speech_end: None,
            utterance: 0,
            typed: 0,
        }
    }

    /// A typed line arrived at `at`: the line that answers it measures from there, not from an
    /// earlier utterance's end of speech or recognizer.
    pub(super) fn typed_line(&mut self, at: Instant) {
        self.typed += 1;
        self.final_at = Some(at);
        self.last_stt_final = None;
        if !self.human_speaking {
            self.speech_offset_ms = None;
            self.speech_end = None;
        }
    }

    /// How many lines were typed.
    pub(super) fn typed_lines(&self) -> u64 {
        self.typed
    }

    /// When silence must be filled in for a quiet microphone: only while an utterance is open
    /// (the VAD hears speech or a partial transcript waits for its final), and not without end.
    pub(super) fn mic_gap_deadline(&self) -> Option<tokio::time::Instant> {
        let open = self.human_speaking || self.partial_open;
        if !open || self.mic_gap_filled_ms >= MIC_GAP_FILL_MAX_MS {
            return None;
        }
        self.mic_heard_at.map(|at| at + MIC_GAP)
    }
}

fn audio_format(format: crate::gateway::protocol::InputFormat) -> crate::audio::InputFormat {
    crate::audio::InputFormat {
        encoding: match format.encoding {
            AudioEncoding::PcmS16le => InputEncoding::PcmS16le,
            AudioEncoding::Opus => InputEncoding::Opus,
        },
        sample_rate: format.sample_rate,
        channels: u16::from(format.channels),
    }
}

impl Floor {
    /// Microphone audio of the human: frames on the session clock into the recording, the VAD
    /// and the STT call; speech start and end drive barge-in and the policy.
    pub(in crate::session) async fn hear(
        &mut self,
        room: &mut Room,
        client: ClientId,
        chunk: &[u8],
    ) {
        let now_ms = room.clock_ms();
        let Some(format) = room.state.participant(client).map(|p| p.input_format) else {
            return;
        };
        let format = audio_format(format);
        let ear = &mut self.ear;
        if ear.decoder.as_ref().is_none_or(|d| d.format() != format) {
            match InputDecoder::new(format) {
                Ok(decoder) => ear.decoder = Some(decoder),
                Err(error) => {
                    let message = format!("microphone audio cannot be decoded: {error}");
                    room.send_error(client, ErrorCode::AudioUndecodable, &message);
                    return;
                }
            }
        }
        let Some(decoder) = ear.decoder.as_mut() else {
            return;
        };
        let frames = &mut ear.frames;
        frames.clear();
        if let Err(error) = decoder.push(chunk, |frame| frames.push(frame.clone())) {
            let message = format!("an audio.chunk could not be decoded: {error}");
            room.send_error(client, ErrorCode::AudioUndecodable, &message);
            return;
        }
        ear.mic_heard_at = Some(tokio::time::Instant::now());
        ear.mic_gap_filled_ms = 0;
        self.take_mic_frames(room, now_ms).await;
    }

    /// The microphone went quiet with the utterance open: hear silence from where its audio
    /// stopped up to now, through the same path as real audio (recording, STT, VAD).
    pub(super) async fn fill_mic_gap(&mut self, room: &mut Room) {
        let now_ms = room.clock_ms();
        let ear = &mut self.ear;
        let missing_ms = now_ms
            .saturating_sub(ear.mic_next_ms)
            .min(MIC_GAP_FILL_MAX_MS - ear.mic_gap_filled_ms.min(MIC_GAP_FILL_MAX_MS));
        let count = usize::try_from(missing_ms / FRAME_MS).unwrap_or(0).max(1);
        ear.frames.clear();
        ear.frames.resize(count, Frame::silent());
        ear.mic_gap_filled_ms += FRAME_MS * count as u64;
        ear.mic_heard_at = Some(tokio::time::Instant::now());
        tracing::debug!(
            filled_ms = FRAME_MS * count as u64,
            "microphone quiet mid-utterance: heard as silence"
        );
        self.take_mic_frames(room, now_ms).await;
    }

    /// Puts the decoded microphone frames in `ear.frames` on the session clock: into the `you`
    /// track, the STT call and the VAD; speech start and end drive barge-in and the policy.
    async fn take_mic_frames(&mut self, room: &mut Room, now_ms: u64) {
        let ear = &mut self.ear;
        let tape = &mut self.tape;
        let mut vad_events = Vec::new();
        let mut record_error = None;
        if ear.mic_next_ms + MIC_RESYNC_MS < now_ms {
            ear.mic_next_ms = now_ms.saturating_sub(FRAME_MS * ear.frames.len() as u64);
        }
        for frame in &ear.frames {
            let at_ms = ear.mic_next_ms;
            ear.mic_next_ms += FRAME_MS;
            if let Some(recorder) = tape.recorder.as_mut()
                && let Err(error) = recorder.push_frame(Speaker::You, at_ms, frame.samples())
            {
                record_error.get_or_insert(error);
            }
            if let Some(tx) = &ear.stt_tx
                && tx
                    .try_send(SttInput::Audio(frame.samples().to_vec()))
                    .is_err()
            {
                tracing::debug!("STT input full; frame dropped");
                crate::metrics::stt_frame_dropped();
            }
            if let Some(event) = ear.vad.push(frame, at_ms + FRAME_MS) {
                vad_events.push(event);
            }
        }
        if now_ms >= tape.recorded_until_ms + RECORDING_ADVANCE_EVERY_MS {
            // Keep the silent AI tracks current on disk, a little behind now so a frame that is
            // about to play is not overtaken.
            tape.recorded_until_ms = now_ms;
            if let Some(recorder) = tape.recorder.as_mut()
                && let Err(error) = recorder.advance_to(now_ms.saturating_sub(500))
            {
                record_error.get_or_insert(error);
            }
        }
        if let Some(error) = record_error {
            self.recording_error(room, error);
        }
        for event in vad_events {
            match event {
                VadEvent::SpeechStart { onset_ms, .. } => self.human_started(room, onset_ms).await,
                VadEvent::SpeechEnd { offset_ms, .. } => self.human_stopped(room, offset_ms).await,
            }
        }
        self.hold_for_onset();
        self.run_policy(room).await;
        room.report_problems().await;
    }

    /// Loud frames that may be the start of speech hold the AIs' next frames until the VAD
    /// decides (its remaining onset time plus [`ONSET_JITTER`]): a barge-in then cuts the reply
    /// at the human's first loud frame instead of after the VAD's onset time. A false alarm is
    /// lifted at the first quiet frame and costs nothing audible: the pacer never holds a frame
    /// past its play time, and the kept-back frames leave at once.
    fn hold_for_onset(&mut self) {
        let ear = &mut self.ear;
        let heard_ms = ear.vad.onset_heard_ms();
        let hold = if heard_ms == 0 {
            ear.onset_hold = None;
            None
        } else {
            let config = ear.vad.config();
            Some(*ear.onset_hold.get_or_insert_with(|| {
                onset_hold_until(tokio::time::Instant::now(), config, heard_ms)
            }))
        };
        for voice in &mut self.voices {
            voice.pacer.hold(hold);
        }
    }

    /// The human took the floor (spoke, or typed a line): every AI that is speaking stops (a
    /// thinking AI goes on preparing), counted and recorded as a barge-in.
    pub(super) async fn human_barges_in(&mut self, room: &mut Room) {
        let speaking: Vec<Speaker> = self
            .voices
            .iter()
            .filter(|v| v.line.as_ref().is_some_and(|l| !l.thinking))
            .map(|v| v.speaker)
            .collect();
        for speaker in &speaking {
            self.stop_line(room, *speaker, "barge-in").await;
            crate::metrics::barge_in(*speaker);
        }
        if !speaking.is_empty() {
            self.record(
                room,
                &Event::BargeIn {
                    interrupter: Speaker::You,
                    interrupted: speaking,
                },
            );
        }
    }

    async fn human_started(&mut self, room: &mut Room, onset_ms: u64) {
        let ear = &mut self.ear;
        ear.human_speaking = true;
        ear.speech_onset_ms = onset_ms;
        ear.speech_offset_ms = None;
        ear.final_heard_ms = None;
        ear.final_at = None;
        ear.speech_end = None;
        if let Some(tx) = &ear.stt_tx {
            let _ = tx.try_send(SttInput::SpeechStarted);
        }
        // Barge-in first, in this same step: the pacer must not release another frame.
        self.human_barges_in(room).await;
        self.record(
            room,
            &Event::VadSpeechStart {
                speaker: Speaker::You,
                confidence: None,
            },
        );
        self.set_orb(room, Speaker::You, OrbState::Listening).await;
        self.queue(FloorEvent::HumanSpeechStarted);
    }

    async fn human_stopped(&mut self, room: &mut Room, offset_ms: u64) {
        let ear = &mut self.ear;
        ear.human_speaking = false;
        ear.speech_offset_ms = Some(offset_ms);
        let speech_end = (
            room.started + Duration::from_millis(offset_ms),
            Instant::now(),
        );
        ear.speech_end = Some(speech_end);
        // The recognizer and even the reply may have been faster than the VAD's hangover: their
        // latencies are measured from the real end of speech now that it is known.
        let stt_final = ear
            .final_heard_ms
            .map(|heard| Duration::from_millis(heard.saturating_sub(offset_ms)));
        if ear.final_heard_ms.is_some() {
            ear.last_stt_final = stt_final;
        }
        for voice in &mut self.voices {
            if let Some(line) = voice.line.as_mut() {
                line.timings.speech_ended(offset_ms, stt_final);
                line.timings.speech_end_at(speech_end.0, speech_end.1);
            }
        }
        if let Some(tx) = &self.ear.stt_tx {
            let _ = tx.try_send(SttInput::SpeechEnded);
        }
        self.record(
            room,
            &Event::VadSpeechEnd {
                speaker: Speaker::You,
                confidence: None,
            },
        );
        self.set_orb(room, Speaker::You, OrbState::Idle).await;
        self.queue(FloorEvent::HumanSpeechEnded);
    }

    /// A transcript from the STT call: a partial shows as a caption; a final also goes into the
    /// transcript, the recording and the policy (`human-said`).
    pub(super) async fn on_transcript(
        &mut self,
        room: &mut Room,
        transcript: Transcript,
        at: Instant,
    ) {
        let now_ms = room.clock_ms();
        let ear = &mut self.ear;
        let text = transcript.text.trim().to_owned();
        let id = format!("you-{}-{}", room.generation, ear.utterance);
        let start_ms = if ear.speech_onset_ms > 0 {
            ear.speech_onset_ms
        } else {
            now_ms
        };
        match transcript.kind {
            TranscriptKind::Partial => {
                if text.is_empty() {
                    return;
                }
                ear.partial_open = true;
                self.record(
                    room,
                    &Event::SttPartial {
                        speaker: Speaker::You,
                        text: text.clone(),
                        confidence: transcript.confidence,
                    },
                );
                room.show_caption(Caption {
                    id,
                    speaker: Speaker::You,
                    text,
                    timestamp: super::epoch_ms(),
                    is_final: Some(false),
                    start_ms: Some(start_ms),
                    end_ms: None,
                })
                .await;
            }
            TranscriptKind::Final => {
                ear.utterance += 1;
                ear.partial_open = false;
                // From the real end of speech; when the VAD has not placed it yet, it is
                // measured once the VAD does (`human_stopped`).
                ear.final_heard_ms = Some(now_ms);
                ear.final_at = Some(at);
                let stt_final = ear
                    .speech_offset_ms
                    .map(|offset| Duration::from_millis(now_ms.saturating_sub(offset)));
                ear.last_stt_final = stt_final;
                if text.is_empty() {
                    return;
                }
                tracing::info!(episode = %room.episode_id, stt_final_ms = ?stt_final.map(millis), text = %text, "stt.final");
                let line = HumanLine {
                    id,
                    text,
                    start_ms,
                    end_ms: now_ms.max(start_ms),
                    confidence: transcript.confidence,
                    typed: false,
                };
                self.human_final(room, line).await;
            }
        }
    }

    /// The human's final line, spoken (a final transcript) or typed (`text.say`): into the
    /// transcript the prompts read, the recording (`stt.final`, a WebVTT cue), a final caption,
    /// and the policy (`human-said`).
    pub(super) async fn human_final(&mut self, room: &mut Room, line: HumanLine) {
        let HumanLine {
            id,
            text,
            start_ms,
            end_ms,
            confidence,
            typed,
        } = line;
        crate::metrics::human_turn();
        self.talk
            .transcript
            .push(Line::said(Speaker::You, text.clone()));
        self.talk.last_speaker = Some(Speaker::You);
        self.talk.ai_turns_in_a_row = 0;
        self.transcribed(room, Speaker::You, (start_ms, end_ms), &text, false);
        self.record(
            room,
            &Event::SttFinal {
                speaker: Speaker::You,
                text: text.clone(),
                confidence,
                typed,
            },
        );
        room.show_caption(Caption {
            id,
            speaker: Speaker::You,
            text: text.clone(),
            timestamp: super::epoch_ms(),
            is_final: Some(true),
            start_ms: Some(start_ms),
            end_ms: Some(end_ms),
        })
        .await;
        self.queue(FloorEvent::HumanSaid(text));
    }
}

/// A final line of the human's, for [`Floor::human_final`].
pub(super) struct HumanLine {
    /// The caption's id.
    pub(super) id: String,
    pub(super) text: String,
    /// On the session clock.
    pub(super) start_ms: u64,
    pub(super) end_ms: u64,
    /// The recognizer's confidence (none for a typed line).
    pub(super) confidence: Option<f32>,
    /// Typed with `text.say`, not spoken.
    pub(super) typed: bool,
}

/// Until when a possible speech onset holds the AIs' frames, `heard_ms` of it heard at `now`:
/// the rest of the VAD's onset time, plus [`ONSET_JITTER`] for the frames that bring it.
fn onset_hold_until(
    now: tokio::time::Instant,
    vad: &VadConfig,
    heard_ms: u64,
) -> tokio::time::Instant {
    now + Duration::from_millis(vad.start_ms.saturating_sub(heard_ms)) + ONSET_JITTER
}

#[cfg(test)]
mod tests {
    use tokio::time::{sleep_until, timeout};

    use super::*;
    use crate::audio::{FRAME_SAMPLES, Pacer, PacerConfig, PacerEvent};

    #[tokio::test(start_paused = true)]
    async fn a_possible_barge_in_holds_the_ai_while_the_next_microphone_frames_come_late() {
        let start = tokio::time::Instant::now();
        let mut pacer = Pacer::new(PacerConfig::default());
        pacer.push(&vec![1_000; FRAME_SAMPLES * 100]);
        // The AI has spoken for 50 ms: frames 0..=7 are out (lead 100 ms, in pairs).
        let mut released = 0;
        loop {
            tokio::select! {
                biased;
                event = pacer.next() => {
                    assert!(matches!(event, PacerEvent::Frame(_)));
                    released += 1;
                }
                () = sleep_until(start + Duration::from_millis(50)) => break,
            }
        }
        assert_eq!(released, 8);
        // The human's first loud frame (20 ms of the VAD's 60) reaches the studio at 50 ms. The
        // two that complete the onset come 50 ms late: the VAD calls speech at 140 ms, not 90.
        let vad = VadConfig::default();
        assert_eq!(vad.start_ms, 60);
        pacer.hold(Some(onset_hold_until(
            tokio::time::Instant::now(),
            &vad,
            20,
        )));
        assert!(
            timeout(Duration::from_millis(90), pacer.next())
                .await
                .is_err(),
            "no AI frame leaves before the VAD decides"
        );
        // Had it been a false alarm with the microphone gone quiet, the held frame still leaves
        // before it must play: frame 8 plays at 160 ms.
        let PacerEvent::Frame(frame) = pacer.next().await else {
            panic!("frame 8");
        };
        assert_eq!((frame.seq, frame.late), (8, false));
        assert_eq!(
            tokio::time::Instant::now() - start,
            Duration::from_millis(150)
        );
    }
}
