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
mod tests;
