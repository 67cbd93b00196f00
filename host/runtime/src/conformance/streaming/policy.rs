//! Policy: a few canned floor situations must be decided within the deadline, with decisions the
//! host can carry out.

use std::sync::Arc;
use std::time::Instant;

use super::super::CallRecord;
use super::super::report::Check;
use super::ms;
use crate::error::CallError;
use crate::host::PluginHost;
use crate::manifest::PluginKind;
use crate::wit;

/// A canned floor situation: its name, the event, and how the floor looks when it happens.
type Situation = (&'static str, wit::FloorEvent, fn(&mut wit::FloorState));

fn floor(now_ms: u64, memory: &str) -> wit::FloorState {
    wit::FloorState {
        now_ms,
        autopilot: false,
        holder: None,
        human_speaking: false,
        last_speaker: None,
        ai_turns_in_a_row: 0,
        max_ai_turns: 4,
        thinking: None,
        autopilot_since_ms: None,
        memory: memory.to_string(),
    }
}

pub(super) async fn check(host: &Arc<PluginHost>, records: &mut Vec<CallRecord>) -> Vec<Check> {
    let mut handle = host.policy();
    let situations: Vec<Situation> = vec![
        ("session started", wit::FloorEvent::SessionStarted, |_| {}),
        (
            "human speech started",
            wit::FloorEvent::HumanSpeechStarted,
            |s| s.human_speaking = true,
        ),
        (
            "human speech ended",
            wit::FloorEvent::HumanSpeechEnded,
            |_| {},
        ),
        (
            "human said a line",
            wit::FloorEvent::HumanSaid("So what do you two think about that?".into()),
            |s| s.last_speaker = Some(wit::Speaker::You),
        ),
        (
            "claude finished",
            wit::FloorEvent::AiFinished(wit::AiLine {
                speaker: wit::Speaker::Claude,
                text: "I think it depends on who you ask.".into(),
                interrupted: false,
            }),
            |s| {
                s.last_speaker = Some(wit::Speaker::Claude);
                s.ai_turns_in_a_row = 1;
            },
        ),
        (
            "autopilot on",
            wit::FloorEvent::AutopilotChanged(true),
            |s| {
                s.autopilot = true;
                s.autopilot_since_ms = Some(s.now_ms);
            },
        ),
        (
            "a timer fired",
            wit::FloorEvent::Timer("conformance".into()),
            |_| {},
        ),
    ];
    let mut memory = String::new();
    let mut slowest = 0.0f64;
    let mut decisions = 0usize;
    let mut problems = Vec::new();
    let mut skipped = None;
    for (i, (what, event, shape)) in situations.into_iter().enumerate() {
        let mut state = floor(1_000 * (i as u64 + 1), &memory);
        shape(&mut state);
        let started = Instant::now();
        let result = handle.decide(state, event).await;
        let wall = started.elapsed();
        slowest = slowest.max(ms(wall));
        match &result {
            Ok(list) => {
                decisions += list.len();
                for decision in list {
                    match decision {
                        wit::Decision::Respond(wit::Respond {
                            speaker: wit::Speaker::You,
                            ..
                        })
                        | wit::Decision::Think(wit::Think {
                            speaker: wit::Speaker::You,
                            ..
                        }) => problems.push(format!(
                            "{what}: it asks the human to speak (only an AI can respond or think)"
                        )),
                        wit::Decision::Remember(m) => memory = m.clone(),
                        _ => {}
                    }
                }
            }
            Err(e @ (CallError::Plugin { .. } | CallError::Denied { .. })) => {
                skipped.get_or_insert_with(|| format!("{what}: {e}"));
            }
            Err(e) => problems.push(format!("{what}: {e}")),
        }
        records.push(CallRecord::new(
            "policy decide",
            PluginKind::Policy,
            result.map(|_| ()),
            wall,
            handle.last_call(),
        ));
    }
    let decide = if !problems.is_empty() {
        Check::fail("policy decisions", problems.join("; "))
    } else if let Some(why) = skipped {
        Check::fail(
            "policy decisions",
            format!("a policy has no provider to blame, yet a decision failed: {why}"),
        )
    } else {
        Check::pass(
            "policy decisions",
            format!(
                "7 floor situations decided ({decisions} decisions), the slowest in {slowest:.1} ms"
            ),
        )
    }
    .figure("slowest_decide_ms", slowest);
    let cancel = Check::skipped(
        "policy cancellation",
        "policy calls are not cancelled; their deadline (policy_ms) stops them",
    );
    vec![decide, cancel]
}
