//! The messages the host builds are the ones plugin authors are shown: a real request's messages
//! are kept as a fixture in the SDK (`sdk/tests/fixtures/claude-messages.txt`, which its parser's
//! tests read and its README shows), and the builder must still write exactly that and parse back
//! to the transcript it came from.

use studio_plugin::text::markup::{self, Who};

use super::*;

const FIXTURE: &str = include_str!("../../../sdk/tests/fixtures/claude-messages.txt");

/// Nine lines of a session, as Claude's next prompt sees them with a budget of six lines.
fn session() -> Vec<Line> {
    let cut = |speaker, text: &str| Line {
        speaker,
        text: text.to_owned(),
        interrupted: true,
    };
    vec![
        Line::said(
            Speaker::You,
            "Welcome to Open Roads. Today: should cities ban private cars downtown?",
        ),
        Line::said(
            Speaker::Claude,
            "Thanks, Ana. I want to know who pays for a ban.",
        ),
        Line::said(
            Speaker::Guest,
            "Commuters pay today, in hours lost to traffic.",
        ),
        Line::said(Speaker::You, "Let's start with the shops."),
        Line::said(Speaker::Claude, "Deliveries could run at night."),
        Line::said(
            Speaker::Guest,
            "Buses & bikes win if the road space goes to them: think <10 minute waits.",
        ),
        cut(Speaker::You, "Guest, what about deliver"),
        cut(Speaker::Claude, "That works for shops, but the night shift"),
        Line::said(Speaker::You, "Claude, is that \"fair\"?"),
    ]
}

fn claude_messages() -> Vec<Message> {
    let budget = HistoryBudget {
        max_lines: 6,
        max_chars: 6000,
        keep_first: 2,
    };
    let cast = Cast::with_host(Some("Ana"));
    build_within(
        Ai::Claude,
        &Briefing::built_in(),
        &cast,
        &Cue::default(),
        &session(),
        &budget,
    )
    .messages
}

/// Messages in the fixture's format: `--- user` or `--- assistant` on a line, then the content.
fn render(messages: &[Message]) -> String {
    let mut out = String::new();
    for message in messages {
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        out.push_str(&format!("--- {role}\n{}\n", message.content));
    }
    out
}

#[test]
fn the_builder_still_writes_the_sdks_fixture() {
    let built = render(&claude_messages());
    assert_eq!(
        built, FIXTURE,
        "the host's LLM messages changed: update sdk/tests/fixtures/claude-messages.txt, the SDK's \
         parser and the message format in sdk/README.md and the WIT docs. Built:\n{built}"
    );
}

#[test]
fn the_sdk_readme_shows_the_fixture_as_it_is() {
    let readme = include_str!("../../../sdk/README.md");
    assert!(
        readme.contains(&format!("```text\n{FIXTURE}```")),
        "sdk/README.md (\"What an LLM plugin receives\") must show \
         sdk/tests/fixtures/claude-messages.txt verbatim"
    );
}

#[test]
fn what_the_builder_writes_parses_back_to_the_transcript() {
    let mut lines = Vec::new();
    for message in claude_messages() {
        lines.extend(match message.role {
            Role::User => markup::user_lines(&message.content),
            Role::Assistant => markup::own_lines(&message.content),
        });
    }
    let heard: Vec<(Who, &str, bool)> = lines
        .iter()
        .map(|l| (l.who.clone(), l.text.as_str(), l.interrupted))
        .collect();
    let ana = || Who::Named("Ana".into());
    assert_eq!(
        heard,
        [
            (
                ana(),
                "Welcome to Open Roads. Today: should cities ban private cars downtown?",
                false
            ),
            (
                Who::Me,
                "Thanks, Ana. I want to know who pays for a ban.",
                false
            ),
            (Who::Studio, "3 earlier lines left out.", false),
            (
                Who::Named("Guest".into()),
                "Buses & bikes win if the road space goes to them: think <10 minute waits.",
                false
            ),
            (ana(), "Guest, what about deliver", true),
            (Who::Me, "That works for shops, but the night shift", true),
            (ana(), "Claude, is that \"fair\"?", false),
        ]
    );
}

#[test]
fn every_studio_note_parses_as_one() {
    let cast = Cast::default();
    let opening = build(
        Ai::Guest,
        &Briefing::built_in(),
        &cast,
        &Cue::default(),
        &[],
    );
    let own_first = build(
        Ai::Guest,
        &Briefing::built_in(),
        &cast,
        &Cue::default(),
        &[Line::said(Speaker::Guest, "Hello.")],
    );
    let notes: Vec<String> = [opening.messages, own_first.messages]
        .concat()
        .iter()
        .filter(|m| m.role == Role::User)
        .flat_map(|m| markup::user_lines(&m.content))
        .map(|l| {
            assert_eq!(l.who, Who::Studio, "{l:?}");
            l.text
        })
        .collect();
    assert_eq!(
        notes,
        [
            "The recording has started. You speak first.",
            "The recording has started.",
            "It is your turn again.",
        ]
    );
}
