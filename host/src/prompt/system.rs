//! The system prompt: persona, episode briefing, studio rules and the current cue.

use std::fmt::Write as _;

use super::{Cast, Cue};
use crate::briefings::Briefing;
use crate::speakers::Ai;

/// The phrase an AI says to ask for thinking time; the turn policy listens for it.
pub const THINKING_REQUEST: &str = "Can I think for a minute?";

/// The whole system prompt for `ai`.
pub(super) fn system_prompt(ai: Ai, briefing: &Briefing, cast: &Cast, cue: &Cue) -> String {
    let mut p = String::with_capacity(4096);
    persona(&mut p, ai, cast);
    episode(&mut p, briefing);
    if let Some(position) = briefing.position(ai) {
        let _ = write!(p, "\n# Your position\n{position}\n");
    }
    background(&mut p, briefing);
    if ai == Ai::Guest
        && let Some(notes) = cast.guest_instructions.as_deref().map(str::trim)
        && !notes.is_empty()
    {
        let _ = write!(p, "\n# Notes from the producer\n{notes}\n");
    }
    rules(&mut p, ai, cast, cue);
    now(&mut p, cue);
    p
}

fn persona(p: &mut String, ai: Ai, cast: &Cast) {
    let (host, claude, guest) = (&cast.host, &cast.claude, &cast.guest);
    let _ = match ai {
        Ai::Guest => writeln!(
            p,
            "You are {guest}, the AI guest on a live spoken conversation show recorded in a \
             studio. {host} is the human host and {claude} is the AI co-host. Bring a clear point \
             of view, back it with reasons and concrete examples, answer the question you were \
             asked, and concede a good point honestly."
        ),
        Ai::Claude => writeln!(
            p,
            "You are {claude}, the AI co-host of a live spoken conversation show recorded in a \
             studio. {host} is the human host and {guest} is the AI guest. Keep the conversation \
             moving: ask sharp questions, test the guest's claims, make sure the episode covers \
             what it must, and sum up for the listener now and then."
        ),
    };
}

fn episode(p: &mut String, b: &Briefing) {
    p.push_str("\n# The episode\n");
    if let Some(title) = &b.title {
        let _ = writeln!(p, "Title: {title}");
    }
    let _ = writeln!(p, "Topic: {}", b.topic);
    if let Some(tone) = &b.tone {
        let _ = writeln!(p, "Tone: {tone}");
    }
    if let Some(secs) = b.target_duration_secs {
        let _ = writeln!(
            p,
            "Planned length: {} for the whole episode, so keep every turn short.",
            spoken_duration(secs)
        );
    }
    list(p, "Must cover:", &b.must_cover);
    list(p, "Stay away from:", &b.avoid_topics);
}

fn list(p: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(p, "{title}");
    for item in items {
        let _ = writeln!(p, "- {item}");
    }
}

/// The briefing's free text except the positions: each AI sees only its own position, so the two
/// argue their sides instead of blending them.
fn background(p: &mut String, b: &Briefing) {
    let others: Vec<_> = b
        .sections
        .iter()
        .filter(|s| !Briefing::is_position(s))
        .collect();
    if b.intro.is_empty() && others.is_empty() {
        return;
    }
    p.push_str("\n# Background from the briefing\n");
    // The intro's `# Title` line repeats the title given above and would clash with our headings.
    let intro: Vec<&str> = b.intro.lines().filter(|l| !l.starts_with("# ")).collect();
    let intro = intro.join("\n");
    if !intro.trim().is_empty() {
        let _ = writeln!(p, "{}", intro.trim());
    }
    for section in others {
        let _ = write!(p, "\n## {}\n{}\n", section.heading, section.text);
    }
}

fn rules(p: &mut String, ai: Ai, cast: &Cast, cue: &Cue) {
    let other = cast.name(ai.other().speaker());
    let host = &cast.host;
    let length = if cue.prepared_secs.is_some() {
        "This answer may run to five sentences; after it, go back to one to three per turn."
    } else {
        "Say one to three sentences per turn, then let the others talk."
    };
    let _ = write!(
        p,
        "\n# Studio rules\n\
         - Everything you write is spoken aloud, live, by a synthetic voice. Write only the words \
         you say: no markdown, lists, headings, emoji, or stage directions such as *laughs* or \
         (pauses).\n\
         - {length}\n\
         - Talk to people by name ({host}, {other}) when you address one of them, and never speak \
         for anyone else.\n\
         - The others' words reach you as <speaker name=\"...\">...</speaker>. Never write these \
         tags yourself. Text in <studio>...</studio> is a note from the studio, not something \
         anyone said.\n\
         - A line marked interrupted=\"true\", or one of yours ending in \"—\", was cut off at that \
         point; pick up naturally rather than repeating it.\n\
         - If a question deserves a considered answer, you may say only \"{THINKING_REQUEST}\"; \
         the studio then gives you time to prepare before you answer.\n"
    );
}

fn now(p: &mut String, cue: &Cue) {
    let segment = cue
        .segment
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let instruction = cue
        .instruction
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if segment.is_none() && instruction.is_none() && cue.prepared_secs.is_none() {
        return;
    }
    p.push_str("\n# Right now\n");
    if let Some(segment) = segment {
        let _ = writeln!(p, "Current segment: {segment}");
    }
    if let Some(secs) = cue.prepared_secs {
        let _ = writeln!(
            p,
            "You have had {secs} seconds to prepare a considered answer. Give it now, directly, \
             without saying that you were thinking."
        );
    }
    if let Some(instruction) = instruction {
        let _ = writeln!(p, "{instruction}");
    }
}

/// A duration as a listener would say it: "about 10 minutes", "45 seconds".
fn spoken_duration(secs: u32) -> String {
    match secs {
        0..60 => format!("{secs} seconds"),
        60..90 => "about 1 minute".into(),
        _ => format!("about {} minutes", (secs + 30) / 60),
    }
}
