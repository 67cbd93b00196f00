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
        responder(&studio.event(FloorEvent::HumanSaid("Guest, thoughts?".into()))).map(|(s, _)| s),
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
