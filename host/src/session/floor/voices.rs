//! The AIs' voices: each has a pacer and at most one line in progress. A line starts as a task
//! (LLM -> clauses -> TTS, see [`super::speak`]); its notes fill the line's clauses and audio,
//! which waits (thinking mode, the gap after another AI's line) or goes to the pacer.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Floor;
use super::note::Note;
use super::request::LineRequest;
use super::speak::{LineJob, speak_line};
use super::spoken::SpokenLine;
use super::timings::LineTimings;
use crate::audio::Pacer;
use crate::gateway::protocol::{ModeNormal, ModeThinking, OrbState};
use crate::observe::timeline::Wait;
use crate::plugins::CallCancel;
use crate::recording::Event;
use crate::session::room::Room;
use crate::speakers::Ai;
use crate::speakers::Speaker;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// An AI's voice: its pacer and its line in progress.
pub(super) struct Voice {
    pub(super) speaker: Speaker,
    pub(super) pacer: Pacer,
    pub(super) line: Option<LineInProgress>,
}

/// One AI line in progress.
pub(super) struct LineInProgress {
    /// Its id: notes of a line that was stopped are recognised and dropped.
    pub(super) id: u64,
    /// The task making it (LLM and TTS calls).
    pub(super) task: JoinHandle<()>,
    /// Cancel its LLM and TTS calls.
    pub(super) cancels: [CallCancel; 2],
    /// Its clauses and where each sits in its audio.
    pub(super) spoken: SpokenLine,
    /// Audio kept back until the line may play (thinking mode's countdown, or the gap after
    /// the previous AI's line, during which the line is already being written and spoken).
    pub(super) held: Option<Vec<i16>>,
    /// Prepared in thinking mode: the human's speech does not cancel the preparation.
    pub(super) thinking: bool,
    /// The task has produced everything.
    pub(super) produced: bool,
    /// Samples released to clients; shared with the line's task, which keeps its TTS at most
    /// [`AHEAD_OF_PLAYBACK`](super::speak::AHEAD_OF_PLAYBACK) ahead. Only the actor writes it.
    pub(super) released: Arc<AtomicU64>,
    /// Clauses shown in its caption so far.
    pub(super) clauses_shown: usize,
    pub(super) caption_id: String,
    pub(super) caption_start_ms: Option<u64>,
    /// What `turn.end` reports.
    pub(super) timings: LineTimings,
}

/// Starts a line's task with its first step already taken: the LLM request goes out from the
/// studio, in this poll, and the task goes on from there. A spawned task waits for its worker's
/// queue before its first poll, and at density that wait was most of the host's time between
/// the policy's decision and the LLM request (docs/BENCHMARKS.md, "Host-added latency").
async fn start_line_task(job: LineJob, notes: mpsc::Sender<Note>) -> JoinHandle<()> {
    let mut line = Box::pin(speak_line(job, notes));
    match futures::poll!(line.as_mut()) {
        std::task::Poll::Pending => tokio::spawn(line),
        // A line with nothing to do (its calls failed at once) is over already.
        std::task::Poll::Ready(()) => tokio::spawn(async {}),
    }
}

impl Floor {
    /// The voice of an AI (`None` for the human).
    pub(super) fn voice(&mut self, speaker: Speaker) -> Option<&mut Voice> {
        speaker.ai().map(|ai| &mut self.voices[ai.slot()])
    }

    /// The AI whose line is in progress, if any.
    pub(super) fn holder(&self) -> Option<Speaker> {
        self.voices
            .iter()
            .find(|v| v.line.is_some())
            .map(|v| v.speaker)
    }

    /// The line `id` of `speaker`, if it is still in progress.
    pub(super) fn line_mut(&mut self, speaker: Speaker, id: u64) -> Option<&mut LineInProgress> {
        self.voice(speaker)
            .and_then(|v| v.line.as_mut())
            .filter(|l| l.id == id)
    }

    /// Starts `speaker`'s line with `request`: its task runs at once; the audio plays after the
    /// hand-off gap (`after_ai`) or, in thinking mode, when the time is up.
    pub(super) async fn launch_line(
        &mut self,
        room: &mut Room,
        speaker: Speaker,
        request: LineRequest,
        think_ms: Option<u32>,
        after_ai: bool,
    ) {
        let now_ms = room.clock_ms();
        let Some(ai) = speaker.ai() else {
            return;
        };
        let slot = ai.slot();
        let mut llm = self.setup.plugins.llm(ai);
        llm.set_session_clock_origin(room.started);
        let mut tts = self.setup.plugins.tts();
        tts.set_session_clock_origin(room.started);
        let cancels = [llm.canceller(), tts.canceller()];
        let id = self.next_line;
        self.next_line += 1;
        let gap = if after_ai {
            self.setup.turn_gap
        } else {
            Duration::ZERO
        };
        let released = Arc::new(AtomicU64::new(0));
        let job = LineJob {
            speaker,
            line: id,
            released: released.clone(),
            llm,
            tts,
            request: request.llm,
            voice: request.voice,
            language: self.setup.language.clone(),
        };
        let task = start_line_task(job, self.notes_tx.clone()).await;
        if !gap.is_zero() && think_ms.is_none() {
            self.keep_helper(gap, Note::GapOver { speaker, line: id });
        }
        let stt_final = self.ear.last_stt_final.take();
        let answers_human = !after_ai && think_ms.is_none();
        let mut timings = LineTimings::new(answers_human, stt_final);
        timings.timeline.policy = self.talk.deciding;
        if answers_human {
            timings.timeline.stt_final = self.ear.final_at.take();
            if let Some((offset, heard)) = self.ear.speech_end {
                timings.speech_end_at(offset, heard);
            }
        }
        self.voices[slot].line = Some(LineInProgress {
            id,
            task,
            cancels,
            spoken: SpokenLine::default(),
            held: (think_ms.is_some() || !gap.is_zero()).then(Vec::new),
            thinking: think_ms.is_some(),
            produced: false,
            released,
            clauses_shown: 0,
            caption_id: format!("{}-{}-{id}", speaker.name(), room.generation),
            caption_start_ms: None,
            timings,
        });
        self.record(room, &Event::TurnStart { speaker });
        let model = request.model;
        self.record(
            room,
            &Event::LlmStart {
                speaker,
                model: (!model.is_empty()).then_some(model),
            },
        );
        self.set_orb(room, speaker, OrbState::Thinking).await;
        if let Some(duration_ms) = think_ms {
            let ends_at_ms = now_ms + u64::from(duration_ms);
            self.talk.thinking = Some((speaker, ends_at_ms));
            self.keep_helper(
                Duration::from_millis(u64::from(duration_ms)),
                Note::ThinkingOver { speaker, line: id },
            );
            room.start_thinking(ModeThinking {
                speaker,
                duration_ms: u64::from(duration_ms),
                started_at: super::epoch_ms(),
            })
            .await;
            self.record(
                room,
                &Event::ModeThinking {
                    speaker,
                    duration: u64::from(duration_ms),
                },
            );
            for other in Ai::ALL
                .map(Ai::speaker)
                .into_iter()
                .filter(|s| *s != speaker)
            {
                self.set_orb(room, other, OrbState::Muted).await;
            }
        }
    }

    /// 48 kHz audio of the line's current clause: held back, or to the pacer.
    pub(super) fn line_audio(
        &mut self,
        room: &mut Room,
        speaker: Speaker,
        id: u64,
        samples: &[i16],
        first: Option<Wait>,
    ) {
        let Some(voice) = self.voice(speaker) else {
            return;
        };
        let Some(line) = voice.line.as_mut().filter(|l| l.id == id) else {
            return;
        };
        if let Some(wait) = first {
            line.timings.tts_first_audio = Some(wait.elapsed());
            line.timings.timeline.tts = Some(wait);
        }
        line.spoken.add_audio(samples.len());
        line.timings.audio_arrived(samples.len());
        match line.held.as_mut() {
            // Held audio goes to the pacer whole later: the same bound applies here.
            Some(held) => {
                let room_left = crate::audio::MAX_QUEUED_SAMPLES.saturating_sub(held.len());
                if samples.len() > room_left {
                    crate::metrics::ai_audio_dropped(true, samples.len() - room_left);
                    tracing::warn!(
                        ?speaker,
                        "held-back AI speech is full; audio beyond is dropped"
                    );
                }
                held.extend_from_slice(&samples[..samples.len().min(room_left)]);
            }
            None => crate::metrics::ai_audio_dropped(false, voice.pacer.push(samples)),
        }
        if first.is_some() {
            self.record(
                room,
                &Event::TtsChunk {
                    speaker,
                    audio_size: (samples.len() * 2) as u64,
                },
            );
        }
    }

    /// The line's task produced everything: the pacer plays out what it has.
    pub(super) async fn line_produced(&mut self, room: &mut Room, speaker: Speaker, id: u64) {
        let Some(voice) = self.voice(speaker) else {
            return;
        };
        let Some(line) = voice.line.as_mut().filter(|l| l.id == id) else {
            return;
        };
        line.produced = true;
        if line.held.is_none() {
            voice.pacer.finish();
            if voice.pacer.is_idle() {
                // Nothing to play (the LLM or TTS failed, or the reply was empty).
                self.end_line(room, speaker, false, 0).await;
            }
        }
    }

    /// Thinking mode's time is up: the prepared line plays now.
    pub(super) async fn thinking_over(&mut self, room: &mut Room, speaker: Speaker, id: u64) {
        if self.talk.thinking.is_some_and(|(s, _)| s == speaker) {
            self.talk.thinking = None;
        }
        // From now on the prepared answer is an ordinary line: the human can cut it off.
        if let Some(line) = self.line_mut(speaker, id) {
            line.thinking = false;
        }
        room.end_thinking(ModeNormal {
            speaker,
            ended_at: super::epoch_ms(),
        })
        .await;
        self.record(room, &Event::ModeNormal { speaker });
        for other in Ai::ALL
            .map(Ai::speaker)
            .into_iter()
            .filter(|s| *s != speaker)
        {
            if room.state.orb(other) == OrbState::Muted {
                self.set_orb(room, other, OrbState::Idle).await;
            }
        }
        self.release_held(room, speaker, id).await;
    }

    /// The held-back audio of a line plays now (and what is still being made follows it).
    pub(super) async fn release_held(&mut self, room: &mut Room, speaker: Speaker, id: u64) {
        let Some(voice) = self.voice(speaker) else {
            return;
        };
        let Some(line) = voice.line.as_mut().filter(|l| l.id == id) else {
            return;
        };
        if line.held.is_some() {
            line.timings.timeline.released = Some(Instant::now());
        }
        let held = line.held.take().unwrap_or_default();
        crate::metrics::ai_audio_dropped(false, voice.pacer.push(&held));
        if line.produced {
            voice.pacer.finish();
            if voice.pacer.is_idle() {
                self.end_line(room, speaker, false, 0).await;
            }
        }
    }
}
