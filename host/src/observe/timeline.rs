//! The timeline of one AI line: the instant each stage happened, from the end of the human's
//! speech to the line's first frame sent, with both sides of every wait on a plugin, so the time
//! the host itself spends between stages can be told apart from the time it waits for a provider.
//!
//! Pure bookkeeping: `Copy`, a handful of `Instant`s, no allocation; the floor stamps it as the
//! line goes, and traces ([`super::traces`]) and benchmarks read it afterwards.

use std::time::{Duration, Instant};

/// One wait on a plugin: when the call went out and when its first answer came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// The host made the call.
    pub sent: Instant,
    /// The first answer reached the host (the first token, the first audio, the decisions).
    pub answered: Instant,
}

impl Wait {
    /// A call sent at `sent` and answered now.
    pub fn since(sent: Instant) -> Self {
        Self {
            sent,
            answered: Instant::now(),
        }
    }

    /// How long the plugin took to answer.
    pub fn elapsed(&self) -> Duration {
        self.answered.saturating_duration_since(self.sent)
    }
}

/// The stages of one AI line, in order; each is `None` until it happened (a line that answers
/// another AI has no end of speech and no STT final; a line that failed stops early).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineTimeline {
    /// Where the human's speech really ended (the VAD's offset, on the clock of the audio).
    pub speech_end: Option<Instant>,
    /// When the VAD concluded the speech had ended (after its hangover).
    pub speech_end_heard: Option<Instant>,
    /// The STT plugin's final transcript of that speech reached the host.
    pub stt_final: Option<Instant>,
    /// The turn policy's `decide` call whose decision started the line.
    pub policy: Option<Wait>,
    /// The LLM request, to its first token.
    pub llm: Option<Wait>,
    /// The clause splitter finished the first clause.
    pub first_clause: Option<Instant>,
    /// The TTS request of the clause whose audio came first, to that audio.
    pub tts: Option<Wait>,
    /// The line had a whole frame (20 ms) of audio to play: a first chunk shorter than a frame
    /// waits for the provider's next one.
    pub frame_ready: Option<Instant>,
    /// Audio held back on purpose (thinking mode, the pause after the other AI's line) was let go.
    pub released: Option<Instant>,
    /// The line's first frame was sent to the clients.
    pub first_frame: Option<Instant>,
    /// The line ended (played out or cut).
    pub ended: Option<Instant>,
}

/// A stretch between two stages where the host, not a provider, has the line in hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostGap {
    /// The STT final reached the host -> the policy is asked about it (the note to the studio
    /// actor, the caption, the transcript, the recording).
    SttToPolicy,
    /// The policy decided -> the LLM request goes out (host rules, the prompt, the task).
    PolicyToLlm,
    /// The first clause is ready -> its TTS request goes out.
    ClauseToTts,
    /// A whole frame of audio reached the host (or held audio was let go) -> the first frame is
    /// sent (resampling, the note to the actor, the pacer, `audio.out`).
    AudioToFrame,
}

impl HostGap {
    /// Every gap, in the order of the line.
    pub const ALL: [HostGap; 4] = [
        HostGap::SttToPolicy,
        HostGap::PolicyToLlm,
        HostGap::ClauseToTts,
        HostGap::AudioToFrame,
    ];

    /// Its name in traces and tables.
    pub fn name(self) -> &'static str {
        match self {
            HostGap::SttToPolicy => "stt_final_to_policy",
            HostGap::PolicyToLlm => "policy_to_llm_request",
            HostGap::ClauseToTts => "first_clause_to_tts_request",
            HostGap::AudioToFrame => "tts_audio_to_first_frame",
        }
    }
}

/// `to - from`, when both happened and in that order.
fn between(from: Option<Instant>, to: Option<Instant>) -> Option<Duration> {
    let (from, to) = (from?, to?);
    (to >= from).then(|| to - from)
}

impl LineTimeline {
    /// The host's own time in `gap`, when both of its ends happened.
    pub fn host_gap(&self, gap: HostGap) -> Option<Duration> {
        match gap {
            HostGap::SttToPolicy => between(self.stt_final, self.policy.map(|p| p.sent)),
            HostGap::PolicyToLlm => {
                between(self.policy.map(|p| p.answered), self.llm.map(|l| l.sent))
            }
            HostGap::ClauseToTts => between(self.first_clause, self.tts.map(|t| t.sent)),
            HostGap::AudioToFrame => between(self.frame_playable(), self.first_frame),
        }
    }

    /// When the first frame could have left: a whole frame of audio had arrived and, if it was
    /// held back on purpose, had been let go.
    pub fn frame_playable(&self) -> Option<Instant> {
        let audio = self.frame_ready.or(self.tts.map(|t| t.answered));
        match (audio, self.released) {
            (Some(audio), Some(released)) => Some(audio.max(released)),
            (audio, _) => audio,
        }
    }

    /// The host's own time over every gap that happened, `None` when none did.
    pub fn host_added(&self) -> Option<Duration> {
        HostGap::ALL
            .into_iter()
            .filter_map(|gap| self.host_gap(gap))
            .reduce(|a, b| a + b)
    }

    /// The first stage that happened (where a trace of the line starts).
    pub fn start(&self) -> Option<Instant> {
        [
            self.speech_end,
            self.stt_final,
            self.policy.map(|p| p.sent),
            self.llm.map(|l| l.sent),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    fn wait(base: Instant, sent: u64, answered: u64) -> Option<Wait> {
        Some(Wait {
            sent: at(base, sent),
            answered: at(base, answered),
        })
    }

    #[test]
    fn host_gaps_are_the_stretches_between_provider_waits() {
        let t = Instant::now();
        let line = LineTimeline {
            speech_end: Some(at(t, 0)),
            speech_end_heard: Some(at(t, 300)),
            stt_final: Some(at(t, 150)),
            policy: wait(t, 151, 152),
            llm: wait(t, 154, 354),
            first_clause: Some(at(t, 500)),
            tts: wait(t, 503, 600),
            frame_ready: Some(at(t, 603)),
            released: None,
            first_frame: Some(at(t, 607)),
            ended: Some(at(t, 3000)),
        };
        let ms = |gap| line.host_gap(gap).map(|d: Duration| d.as_millis());
        assert_eq!(ms(HostGap::SttToPolicy), Some(1));
        assert_eq!(ms(HostGap::PolicyToLlm), Some(2));
        assert_eq!(ms(HostGap::ClauseToTts), Some(3));
        assert_eq!(ms(HostGap::AudioToFrame), Some(4));
        assert_eq!(line.host_added(), Some(Duration::from_millis(10)));
        assert_eq!(line.start(), Some(t));
    }

    #[test]
    fn held_audio_counts_from_its_release_and_missing_stages_count_nothing() {
        let t = Instant::now();
        let line = LineTimeline {
            policy: wait(t, 0, 1),
            llm: wait(t, 2, 200),
            tts: wait(t, 300, 400),
            released: Some(at(t, 900)),
            first_frame: Some(at(t, 901)),
            ..LineTimeline::default()
        };
        assert_eq!(line.host_gap(HostGap::SttToPolicy), None);
        assert_eq!(line.host_gap(HostGap::ClauseToTts), None);
        assert_eq!(
            line.host_gap(HostGap::AudioToFrame),
            Some(Duration::from_millis(1))
        );
        assert_eq!(line.host_added(), Some(Duration::from_millis(2)));
        assert_eq!(LineTimeline::default().host_added(), None);
    }

    #[test]
    fn a_stage_out_of_order_is_no_gap() {
        let t = Instant::now();
        // The STT final came after the policy call that started the line (the line answers an
        // earlier event): no STT -> policy gap.
        let line = LineTimeline {
            stt_final: Some(at(t, 10)),
            policy: wait(t, 5, 6),
            ..LineTimeline::default()
        };
        assert_eq!(line.host_gap(HostGap::SttToPolicy), None);
    }
}
