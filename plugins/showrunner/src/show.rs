//! The show's plan and the pure rules that walk it. `memory` holds the progress:
//! `seg=<index>;phase=<running|paused|done>;wrap=<0|1>;then=<ai>`.

use studio_plugin::turns::{self, Addressee};
use studio_plugin::{AiLine, Decision, FloorEvent, FloorState, Speaker};

/// One segment of the show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentPlan {
    /// The segment's name in events and logs.
    pub name: &'static str,
    /// Its planned length (for the cross-exam: the earliest it may end).
    pub duration_ms: u32,
    /// What the segment is about, for both AIs' prompts.
    pub cue: &'static str,
    /// claude's instruction during the segment.
    pub host_cue: &'static str,
    /// The guest's instruction during the segment.
    pub guest_cue: &'static str,
}

/// The show, in order.
pub const PLAN: [SegmentPlan; 6] = [
    SegmentPlan {
        name: "cold-open",
        duration_ms: 15_000,
        cue: "Cold open: claude hooks the audience and introduces the guest and the topic.",
        host_cue: "Cold open: hook the audience in two sentences and introduce the guest and the topic.",
        guest_cue: "Cold open: say hello in one sentence.",
    },
    SegmentPlan {
        name: "guest-stance",
        duration_ms: 60_000,
        cue: "Guest stance: the guest states their position on the topic.",
        host_cue: "Guest stance: ask the guest for their position on the topic, then let them talk.",
        guest_cue: "Guest stance: state your position on the topic clearly, with your strongest reason.",
    },
    SegmentPlan {
        name: "cross-exam",
        duration_ms: CROSS_EXAM_MIN_MS,
        cue: "Cross-examination: claude presses the guest on the weakest points of their position.",
        host_cue: "Cross-examination: press the guest on the weakest point of their position with pointed questions.",
        guest_cue: "Cross-examination: defend your position under pressure; concede nothing without a reason.",
    },
    SegmentPlan {
        name: "steelman-swap",
        duration_ms: 90_000,
        cue: "Steelman swap: each side argues the other side's case as strongly as it can.",
        host_cue: "Steelman swap: steelman the guest's position as strongly as you can.",
        guest_cue: "Steelman swap: steelman the position opposite to your own.",
    },
    SegmentPlan {
        name: "verdict",
        duration_ms: 45_000,
        cue: "Verdict: the guest gives a final verdict.",
        host_cue: "Verdict: ask the guest for their final verdict in a sentence or two.",
        guest_cue: "Verdict: give your final verdict in two or three sentences.",
    },
    SegmentPlan {
        name: "outro",
        duration_ms: 15_000,
        cue: "Outro: claude thanks the guest and closes the show.",
        host_cue: "Outro: thank the guest and close the show in two sentences.",
        guest_cue: "Outro: say goodbye in one sentence.",
    },
];

/// The cross-exam runs at least this long, then ends after the guest's next line...
pub const CROSS_EXAM_MIN_MS: u32 = 120_000;
/// ...or at this length at the latest.
pub const CROSS_EXAM_MAX_MS: u32 = 240_000;
/// The timer that ends a segment.
pub const SEGMENT_TIMER: &str = "segment";
/// The timer that ends the cross-exam at its longest.
pub const SEGMENT_MAX_TIMER: &str = "segment-max";
const CROSS_EXAM: usize = 2;

/// The cue for a prepared answer in thinking mode.
pub const THINKING_CUE: &str = "You were given time to think. Give your considered answer now.";
/// The cue for the first AI when the human asked both.
pub const BOTH_FIRST_CUE: &str =
    "The host asked you both. Answer first, briefly; the other AI answers after you.";
/// The cue for the second AI when the human asked both.
pub const BOTH_SECOND_CUE: &str =
    "The host asked you both and the other AI has answered. Give your own view.";

/// Where the show is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// No show yet.
    #[default]
    Idle,
    /// A segment is on.
    Running,
    /// Autopilot was switched off mid-show; switching it on resumes the segment.
    Paused,
    /// The outro is over.
    Done,
}

/// The policy's memory, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// The current segment's index in [`PLAN`].
    pub segment: usize,
    /// Where the show is.
    pub phase: Phase,
    /// The cross-exam passed its minimum and ends after the guest's next line.
    pub wrap: bool,
    /// The AI that answers second after a question to both.
    pub then: Option<Speaker>,
}

impl Progress {
    /// Reads the memory text; anything unreadable reads as a fresh start.
    pub fn parse(text: &str) -> Self {
        let mut progress = Progress::default();
        for part in text.split(';') {
            match part.split_once('=') {
                Some(("seg", n)) => {
                    progress.segment = n.parse::<usize>().unwrap_or(0).min(PLAN.len() - 1)
                }
                Some(("phase", "running")) => progress.phase = Phase::Running,
                Some(("phase", "paused")) => progress.phase = Phase::Paused,
                Some(("phase", "done")) => progress.phase = Phase::Done,
                Some(("wrap", flag)) => progress.wrap = flag == "1",
                Some(("then", "claude")) => progress.then = Some(Speaker::Claude),
                Some(("then", "guest")) => progress.then = Some(Speaker::Guest),
                _ => {}
            }
        }
        progress
    }

    /// The memory text.
    pub fn render(&self) -> String {
        let phase = match self.phase {
            Phase::Idle => "idle",
            Phase::Running => "running",
            Phase::Paused => "paused",
            Phase::Done => "done",
        };
        let mut text = format!(
            "seg={};phase={phase};wrap={}",
            self.segment,
            u8::from(self.wrap)
        );
        if let Some(then) = self.then {
            text.push_str(";then=");
            text.push_str(then.name());
        }
        text
    }

    fn plan(&self) -> &'static SegmentPlan {
        &PLAN[self.segment.min(PLAN.len() - 1)]
    }
}

/// The instruction `speaker` gets in the current segment.
fn cue_for(plan: &SegmentPlan, speaker: Speaker) -> &'static str {
    match speaker {
        Speaker::Guest => plan.guest_cue,
        Speaker::Claude | Speaker::You => plan.host_cue,
    }
}

fn floor_is_free(state: &FloorState) -> bool {
    state.holder.is_none() && !state.human_speaking && state.thinking.is_none()
}

/// Decides what follows `event`.
pub fn decide(state: &FloorState, event: &FloorEvent) -> Vec<Decision> {
    let progress = Progress::parse(&state.memory);
    match event {
        FloorEvent::SessionStarted => vec![Decision::Wait],
        FloorEvent::HumanSpeechStarted => {
            let mut decisions = turns::barge_in(state);
            if progress.then.is_some() {
                decisions.push(Decision::Remember(
                    Progress {
                        then: None,
                        ..progress
                    }
                    .render(),
                ));
            }
            decisions
        }
        FloorEvent::HumanSpeechEnded => turns::unmute_both(),
        FloorEvent::HumanSaid(text) => human_said(progress, text),
        FloorEvent::AiFinished(line) => ai_finished(state, progress, line),
        FloorEvent::AutopilotChanged(true) => autopilot_on(state, progress),
        FloorEvent::AutopilotChanged(false) => {
            let phase = if progress.phase == Phase::Running {
                Phase::Paused
            } else {
                progress.phase
            };
            vec![
                Decision::CancelTimer(SEGMENT_TIMER.to_owned()),
                Decision::CancelTimer(SEGMENT_MAX_TIMER.to_owned()),
                Decision::Remember(
                    Progress {
                        phase,
                        then: None,
                        ..progress
                    }
                    .render(),
                ),
            ]
        }
        FloorEvent::Timer(name) => timer(state, progress, name),
    }
}

/// Autopilot on: start the show (again, after it ended) or resume the paused segment.
fn autopilot_on(state: &FloorState, progress: Progress) -> Vec<Decision> {
    let segment = match progress.phase {
        Phase::Paused | Phase::Running => progress.segment,
        Phase::Idle | Phase::Done => 0,
    };
    begin_segment(
        state,
        Progress {
            segment,
            phase: Phase::Running,
            wrap: false,
            then: None,
        },
        floor_is_free(state),
    )
}

/// Starts `progress.segment`: announce it, time it, remember it, and give claude the floor when asked.
fn begin_segment(state: &FloorState, progress: Progress, claude_speaks: bool) -> Vec<Decision> {
    let plan = progress.plan();
    let mut decisions = vec![
        Decision::Remember(progress.render()),
        Decision::segment(
            plan.name,
            plan.cue,
            if progress.segment == CROSS_EXAM {
                CROSS_EXAM_MAX_MS
            } else {
                plan.duration_ms
            },
        ),
        Decision::set_timer(SEGMENT_TIMER, plan.duration_ms),
    ];
    if claude_speaks && !state.human_speaking {
        decisions.push(Decision::respond(Speaker::Claude, plan.host_cue));
    }
    decisions
}

/// The next segment, or the end of the show after the outro.
fn advance(state: &FloorState, progress: Progress, claude_speaks: bool) -> Vec<Decision> {
    let next = progress.segment + 1;
    if next >= PLAN.len() {
        return vec![
            Decision::CancelTimer(SEGMENT_MAX_TIMER.to_owned()),
            Decision::Remember(
                Progress {
                    phase: Phase::Done,
                    wrap: false,
                    then: None,
                    ..progress
                }
                .render(),
            ),
        ];
    }
    let mut decisions = Vec::new();
    if progress.segment == CROSS_EXAM {
        decisions.push(Decision::CancelTimer(SEGMENT_MAX_TIMER.to_owned()));
    }
    decisions.extend(begin_segment(
        state,
        Progress {
            segment: next,
            phase: Phase::Running,
            wrap: false,
            then: None,
        },
        claude_speaks,
    ));
    decisions
}

fn timer(state: &FloorState, progress: Progress, name: &str) -> Vec<Decision> {
    if !state.autopilot || progress.phase != Phase::Running {
        return vec![Decision::Wait]; // A stale timer from before autopilot went off.
    }
    match name {
        SEGMENT_TIMER if progress.segment == CROSS_EXAM && !progress.wrap => vec![
            // Past the minimum: end after the guest's next line, or at the maximum.
            Decision::Remember(
                Progress {
                    wrap: true,
                    ..progress
                }
                .render(),
            ),
            Decision::set_timer(SEGMENT_MAX_TIMER, CROSS_EXAM_MAX_MS - CROSS_EXAM_MIN_MS),
        ],
        SEGMENT_TIMER => advance(state, progress, floor_is_free(state)),
        SEGMENT_MAX_TIMER if progress.segment == CROSS_EXAM => {
            advance(state, progress, floor_is_free(state))
        }
        _ => vec![Decision::Wait],
    }
}

fn human_said(progress: Progress, text: &str) -> Vec<Decision> {
    if text.trim().is_empty() {
        return vec![Decision::Wait];
    }
    let addressee = turns::addressee(text);
    if let Some(duration_ms) = turns::human_thinking_request(text) {
        let speaker = if addressee == Addressee::Guest {
            Speaker::Guest
        } else {
            Speaker::Claude
        };
        return vec![Decision::think(speaker, duration_ms, THINKING_CUE)];
    }
    match addressee {
        Addressee::Claude | Addressee::Unnamed => vec![Decision::respond(Speaker::Claude, "")],
        Addressee::Guest => vec![Decision::respond(Speaker::Guest, "")],
        Addressee::Both => vec![
            Decision::Remember(
                Progress {
                    then: Some(Speaker::Guest),
                    ..progress
                }
                .render(),
            ),
            Decision::respond(Speaker::Claude, BOTH_FIRST_CUE),
        ],
    }
}

fn ai_finished(state: &FloorState, progress: Progress, line: &AiLine) -> Vec<Decision> {
    if line.interrupted || state.human_speaking {
        return vec![Decision::Wait];
    }
    if let Some(duration_ms) = turns::ai_thinking_request(&line.text) {
        return vec![Decision::think(line.speaker, duration_ms, THINKING_CUE)];
    }
    if let Some(then) = progress.then.filter(|then| *then != line.speaker) {
        return vec![
            Decision::Remember(
                Progress {
                    then: None,
                    ..progress
                }
                .render(),
            ),
            Decision::respond(then, BOTH_SECOND_CUE),
        ];
    }
    // The show bounds autopilot by its plan, so `max-ai-turns` does not cut it short.
    if !state.autopilot || progress.phase != Phase::Running {
        return vec![Decision::Wait];
    }
    if progress.segment == CROSS_EXAM && progress.wrap && line.speaker == Speaker::Guest {
        return advance(state, progress, true);
    }
    if progress.segment == PLAN.len() - 1 && line.speaker == Speaker::Guest {
        return vec![Decision::Wait]; // The guest said goodbye: the show is over bar the timer.
    }
    let next = line.speaker.other_ai();
    vec![Decision::respond(next, cue_for(progress.plan(), next))]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A floor that applies `remember` as the host does and keeps the clock and timers.
    struct Studio {
        state: FloorState,
        timers: Vec<(String, u64)>,
        segments: Vec<(String, u64)>,
    }

    impl Studio {
        fn new() -> Self {
            Self {
                state: FloorState::idle(0),
                timers: Vec::new(),
                segments: Vec::new(),
            }
        }

        fn event(&mut self, event: FloorEvent) -> Vec<Decision> {
            if let FloorEvent::AutopilotChanged(on) = event {
                self.state.autopilot = on;
            }
            let decisions = decide(&self.state, &event);
            for decision in &decisions {
                match decision {
                    Decision::Remember(memory) => self.state.memory = memory.clone(),
                    Decision::SetTimer(t) => {
                        self.timers.retain(|(name, _)| *name != t.name);
                        self.timers
                            .push((t.name.clone(), self.state.now_ms + u64::from(t.after_ms)));
                    }
                    Decision::CancelTimer(name) => self.timers.retain(|(n, _)| n != name),
                    Decision::Segment(s) => self.segments.push((s.name.clone(), self.state.now_ms)),
                    _ => {}
                }
            }
            decisions
        }

        /// Advances the clock to the next timer and fires it.
        fn fire_next_timer(&mut self) -> Option<Vec<Decision>> {
            self.timers.sort_by_key(|(_, at)| *at);
            let (name, at) = (!self.timers.is_empty()).then(|| self.timers.remove(0))?;
            self.state.now_ms = at;
            Some(self.event(FloorEvent::Timer(name)))
        }
    }

    fn responder(decisions: &[Decision]) -> Option<(Speaker, String)> {
        decisions.iter().find_map(|d| match d {
            Decision::Respond(r) => Some((r.speaker, r.cue.clone())),
            _ => None,
        })
    }

    #[test]
    fn autopilot_on_opens_the_show_with_claude_and_the_cold_open_cue() {
        let mut studio = Studio::new();
        let decisions = studio.event(FloorEvent::AutopilotChanged(true));
        assert!(decisions.contains(&Decision::segment("cold-open", PLAN[0].cue, 15_000)));
        assert!(decisions.contains(&Decision::set_timer(SEGMENT_TIMER, 15_000)));
        assert_eq!(
            responder(&decisions),
            Some((Speaker::Claude, PLAN[0].host_cue.to_owned()))
        );
        assert_eq!(Progress::parse(&studio.state.memory).phase, Phase::Running);
    }

    #[test]
    fn timers_walk_the_whole_show_in_order_with_the_planned_lengths() {
        let mut studio = Studio::new();
        studio.event(FloorEvent::AutopilotChanged(true));
        while studio.fire_next_timer().is_some() {}
        let names: Vec<&str> = studio.segments.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "cold-open",
                "guest-stance",
                "cross-exam",
                "steelman-swap",
                "verdict",
                "outro"
            ]
        );
        let starts: Vec<u64> = studio.segments.iter().map(|(_, at)| *at).collect();
        // Nobody speaks in this run, so the cross-exam runs to its maximum (4 min).
        assert_eq!(starts, vec![0, 15_000, 75_000, 315_000, 405_000, 450_000]);
        assert_eq!(Progress::parse(&studio.state.memory).phase, Phase::Done);
        assert!(studio.timers.is_empty());
    }

    #[test]
    fn the_ais_alternate_with_the_current_segment_cues() {
        let mut studio = Studio::new();
        studio.event(FloorEvent::AutopilotChanged(true));
        studio.fire_next_timer(); // guest-stance begins while claude... nobody holds: claude asks.
        let after_claude = studio.event(FloorEvent::AiFinished(AiLine::finished(
            Speaker::Claude,
            "What's your stance?",
        )));
        assert_eq!(
            responder(&after_claude),
            Some((Speaker::Guest, PLAN[1].guest_cue.to_owned()))
        );
        let after_guest = studio.event(FloorEvent::AiFinished(AiLine::finished(
            Speaker::Guest,
            "Here it is.",
        )));
        assert_eq!(
            responder(&after_guest),
            Some((Speaker::Claude, PLAN[1].host_cue.to_owned()))
        );
    }

    #[test]
    fn the_cross_exam_ends_after_the_guests_line_once_past_two_minutes() {
        let mut studio = Studio::new();
        studio.event(FloorEvent::AutopilotChanged(true));
        studio.fire_next_timer(); // -> guest-stance
        studio.fire_next_timer(); // -> cross-exam at 75 s
        assert_eq!(
            studio.segments.last().map(|(n, _)| n.as_str()),
            Some("cross-exam")
        );
        studio.state.holder = Some(Speaker::Claude);
        let at_min = studio.fire_next_timer().unwrap_or_default(); // 195 s: the minimum
        assert!(at_min.contains(&Decision::set_timer(SEGMENT_MAX_TIMER, 120_000)));
        assert_eq!(
            studio.segments.last().map(|(n, _)| n.as_str()),
            Some("cross-exam")
        );
        studio.state.holder = None;
        // claude's line does not end it; the guest's does.
        let claude = studio.event(FloorEvent::AiFinished(AiLine::finished(
            Speaker::Claude,
            "Answer that.",
        )));
        assert_eq!(responder(&claude).map(|(s, _)| s), Some(Speaker::Guest));
        let guest = studio.event(FloorEvent::AiFinished(AiLine::finished(
            Speaker::Guest,
            "There.",
        )));
        assert_eq!(
            studio.segments.last().map(|(n, _)| n.as_str()),
            Some("steelman-swap")
        );
        assert!(guest.contains(&Decision::CancelTimer(SEGMENT_MAX_TIMER.to_owned())));
        assert_eq!(
            responder(&guest),
            Some((Speaker::Claude, PLAN[3].host_cue.to_owned()))
        );
    }

    #[test]
    fn a_segment_change_while_an_ai_speaks_does_not_interrupt_it() {
        let mut studio = Studio::new();
        studio.event(FloorEvent::AutopilotChanged(true));
        studio.state.holder = Some(Speaker::Claude);
        let change = studio.fire_next_timer().unwrap_or_default();
        assert!(
            change
                .iter()
                .any(|d| matches!(d, Decision::Segment(s) if s.name == "guest-stance"))
        );
        assert_eq!(responder(&change), None);
        assert!(!change.iter().any(|d| matches!(d, Decision::Stop(_))));
    }

    #[test]
    fn switching_autopilot_off_pauses_and_on_resumes_the_segment() {
        let mut studio = Studio::new();
        studio.event(FloorEvent::AutopilotChanged(true));
        studio.fire_next_timer(); // guest-stance
        let off = studio.event(FloorEvent::AutopilotChanged(false));
        assert!(off.contains(&Decision::CancelTimer(SEGMENT_TIMER.to_owned())));
        assert!(studio.timers.is_empty());
        assert_eq!(
            studio.event(FloorEvent::AiFinished(AiLine::finished(
                Speaker::Claude,
                "x"
            ))),
            vec![Decision::Wait]
        );
        let on = studio.event(FloorEvent::AutopilotChanged(true));
        assert!(
            on.iter()
                .any(|d| matches!(d, Decision::Segment(s) if s.name == "guest-stance"))
        );
    }

    #[test]
    fn a_stale_timer_after_autopilot_off_does_nothing() {
        let mut studio = Studio::new();
        studio.event(FloorEvent::AutopilotChanged(true));
        studio.event(FloorEvent::AutopilotChanged(false));
        assert_eq!(
            studio.event(FloorEvent::Timer(SEGMENT_TIMER.into())),
            vec![Decision::Wait]
        );
    }

    #[test]
    fn outside_autopilot_it_follows_the_human_like_host_led() {
        let mut studio = Studio::new();
        assert_eq!(
            responder(&studio.event(FloorEvent::HumanSaid("Guest, thoughts?".into())))
                .map(|(s, _)| s),
            Some(Speaker::Guest)
        );
        assert_eq!(
            responder(&studio.event(FloorEvent::HumanSaid("What now?".into()))).map(|(s, _)| s),
            Some(Speaker::Claude)
        );
        let both = studio.event(FloorEvent::HumanSaid("Both of you, quickly.".into()));
        assert_eq!(
            responder(&both),
            Some((Speaker::Claude, BOTH_FIRST_CUE.to_owned()))
        );
        let second = studio.event(FloorEvent::AiFinished(AiLine::finished(
            Speaker::Claude,
            "Quick.",
        )));
        assert_eq!(
            responder(&second),
            Some((Speaker::Guest, BOTH_SECOND_CUE.to_owned()))
        );
        assert_eq!(
            studio.event(FloorEvent::AiFinished(AiLine::finished(
                Speaker::Guest,
                "Also quick."
            ))),
            vec![Decision::Wait]
        );
        let think = studio.event(FloorEvent::HumanSaid(
            "Claude, give me 40 seconds on that.".into(),
        ));
        assert_eq!(
            think,
            vec![Decision::think(Speaker::Claude, 40_000, THINKING_CUE)]
        );
    }

    #[test]
    fn the_human_barging_in_during_the_show_stops_the_speaker() {
        let mut studio = Studio::new();
        studio.event(FloorEvent::AutopilotChanged(true));
        studio.state.holder = Some(Speaker::Guest);
        let decisions = studio.event(FloorEvent::HumanSpeechStarted);
        assert_eq!(decisions[0], Decision::Stop(Speaker::Guest));
        studio.state.holder = None;
        studio.state.human_speaking = true;
        let cut = AiLine {
            speaker: Speaker::Guest,
            text: "I was".into(),
            interrupted: true,
        };
        assert_eq!(
            studio.event(FloorEvent::AiFinished(cut)),
            vec![Decision::Wait]
        );
    }

    #[test]
    fn after_the_outro_the_show_is_over() {
        let mut studio = Studio::new();
        studio.event(FloorEvent::AutopilotChanged(true));
        while studio.fire_next_timer().is_some() {}
        assert_eq!(
            studio.event(FloorEvent::AiFinished(AiLine::finished(
                Speaker::Claude,
                "Bye."
            ))),
            vec![Decision::Wait]
        );
        // Switching autopilot on again starts a new show.
        let again = studio.event(FloorEvent::AutopilotChanged(true));
        assert!(
            again
                .iter()
                .any(|d| matches!(d, Decision::Segment(s) if s.name == "cold-open"))
        );
    }

    #[test]
    fn progress_round_trips_and_garbage_reads_as_fresh() {
        let progress = Progress {
            segment: 2,
            phase: Phase::Paused,
            wrap: true,
            then: Some(Speaker::Guest),
        };
        assert_eq!(Progress::parse(&progress.render()), progress);
        assert_eq!(
            Progress::parse("seg=99;phase=x"),
            Progress {
                segment: PLAN.len() - 1,
                ..Progress::default()
            }
        );
    }
}
