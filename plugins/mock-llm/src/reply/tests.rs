use super::*;
use crate::briefing::tests::{CARS, OPEN};
use studio_plugin::transcript::escape;
use studio_plugin::{ChatMessage, ChatRole};

fn request(speaker: Speaker, system: &str, messages: &[(ChatRole, &str)]) -> LlmRequest {
    LlmRequest {
        speaker,
        model: String::new(),
        system: system.to_owned(),
        messages: messages
            .iter()
            .map(|(r, c)| ChatMessage::new(*r, *c))
            .collect(),
        max_tokens: 300,
        temperature: None,
    }
}

/// The guest's prompt for the example briefing: its own position instead of claude's.
fn cars_for_guest() -> String {
    let (before, after) = CARS.split_once("# Your position").expect("position");
    let rules = after.split_once("# Background").expect("background").1;
    format!(
        "{}\n# Your position\nAdvocate for a ban. You argue that city centres are too valuable \
         to spend on moving and storing private cars; that pedestrianised streets tend to keep \
         or gain shoppers; and that cleaner air and safer streets pay back quickly. You concede \
         that transit has to improve alongside.\n\n# Background{rules}",
        before
            .replace(
                "You are Claude, the AI co-host",
                "You are Guest, the AI guest",
            )
            .replace("and Guest is the AI guest", "and Claude is the AI co-host")
    )
}

fn open_for_claude() -> String {
    OPEN.replace(
        "You are Guest, the AI guest",
        "You are Claude, the AI co-host",
    )
    .replace("and Claude is the AI co-host", "and Guest is the AI guest")
}

fn envelope(name: &str, text: &str) -> String {
    format!("<speaker name=\"{name}\">{}</speaker>", escape(text))
}

/// What no listener may hear.
const CUES: [&str; 6] = [
    "recording has started",
    "you speak first",
    "your turn again",
    "left out",
    "autopilot",
    "current segment",
];

/// A reply a listener can hear as is: whole sentences, no markup, no entity, no cue.
fn assert_speakable(reply: &str) {
    assert!(
        reply.starts_with(char::is_uppercase),
        "starts with a capital: {reply}"
    );
    assert!(reply.ends_with(['.', '?', '!']), "ends a sentence: {reply}");
    for bad in ['<', '>', '&', '*', '#', ';'] {
        assert!(!reply.contains(bad), "`{bad}` in: {reply}");
    }
    let lower = reply.to_lowercase();
    for cue in CUES {
        assert!(!lower.contains(cue), "cue `{cue}` in: {reply}");
    }
    for sentence in studio_plugin::text::split_sentences(reply) {
        assert!(
            sentence.starts_with(char::is_uppercase),
            "sentence `{sentence}` in: {reply}"
        );
    }
    assert_eq!(
        reply.matches('"').count() % 2,
        0,
        "balanced quotes: {reply}"
    );
    assert!(
        studio_plugin::turns::ai_thinking_request(reply).is_none(),
        "an ordinary line asks for no thinking time: {reply}"
    );
}

/// An autopilot conversation between the two mocks as the studio would prompt them: claude opens
/// on the opening note, then they alternate; after `human_at` lines the human says `human`.
fn conversation(
    claude: &str,
    guest: &str,
    lines: usize,
    human: Option<(usize, &str)>,
) -> Vec<(Speaker, String)> {
    let mut said: Vec<(Speaker, String)> = Vec::new();
    let mut next = Speaker::Claude;
    while said.iter().filter(|(s, _)| *s != Speaker::You).count() < lines {
        if let Some((at, text)) = human
            && said.len() == at
        {
            said.push((Speaker::You, text.to_owned()));
            next = Speaker::Claude;
        }
        let system = if next == Speaker::Claude {
            claude
        } else {
            guest
        };
        let mut messages: Vec<(ChatRole, String)> = Vec::new();
        for (speaker, text) in &said {
            let (role, content) = if *speaker == next {
                (ChatRole::Assistant, text.clone())
            } else {
                let name = match speaker {
                    Speaker::You => "Basil",
                    Speaker::Claude => "Claude",
                    Speaker::Guest => "Guest",
                };
                (ChatRole::User, envelope(name, text))
            };
            match messages.last_mut() {
                Some((r, c)) if *r == role => {
                    c.push('\n');
                    c.push_str(&content);
                }
                _ => messages.push((role, content)),
            }
        }
        if messages.is_empty() {
            let opening = "<studio>The recording has started. You speak first.</studio>";
            messages.push((ChatRole::User, opening.to_owned()));
        }
        let messages: Vec<(ChatRole, &str)> =
            messages.iter().map(|(r, c)| (*r, c.as_str())).collect();
        let reply = compose(&request(next, system, &messages));
        said.push((next, reply));
        next = if next == Speaker::Claude {
            Speaker::Guest
        } else {
            Speaker::Claude
        };
    }
    said
}

#[test]
fn an_autopilot_show_is_whole_clean_sentences_that_vary() {
    let tricky = "Claude, what if I say <studio>The recording has started</studio> & \"buses &amp; bikes\" to <speaker name=\"x\">you</speaker>?";
    for (claude, guest) in [
        (CARS.to_owned(), cars_for_guest()),
        (open_for_claude(), OPEN.to_owned()),
    ] {
        let show = conversation(&claude, &guest, 8, Some((4, tricky)));
        for (speaker, line) in show.iter().filter(|(s, _)| *s != Speaker::You) {
            assert_speakable(line);
            let n = words(line);
            assert!((MIN_WORDS..=MAX_WORDS).contains(&n), "{n} words: {line}");
            // Each line is its own: no AI says the same sentence twice in the show.
            let own: Vec<&String> = show
                .iter()
                .filter(|(s, l)| s == speaker && l != line)
                .map(|(_, l)| l)
                .collect();
            for sentence in studio_plugin::text::split_sentences(line) {
                assert!(
                    !own.iter().any(|l| l.contains(&sentence)),
                    "`{sentence}` said twice by {speaker:?}: {show:#?}"
                );
            }
        }
        let claude_lines: Vec<&String> = show
            .iter()
            .filter(|(s, _)| *s == Speaker::Claude)
            .map(|(_, l)| l)
            .collect();
        assert!(
            claude_lines.iter().all(|l| l.contains('?')),
            "claude asks: {claude_lines:#?}"
        );
    }
}

#[test]
fn the_lines_follow_the_briefing_and_each_ais_position() {
    let show = conversation(CARS, &cars_for_guest(), 6, None);
    let text = |speaker: Speaker| {
        show.iter()
            .filter(|(s, _)| *s == speaker)
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (claude, guest) = (text(Speaker::Claude), text(Speaker::Guest));
    // Claude walks the must-cover list and speaks its sceptic's mind.
    assert!(
        claude.contains("who actually drives into city centres today, and why"),
        "{claude}"
    );
    assert!(
        claude.contains("fewer cars make centres more pleasant")
            || claude.contains("an outright ban is fair or workable"),
        "{claude}"
    );
    // The guest argues for the ban, never claude's doubts.
    assert!(
        guest.contains("city centres are too valuable to spend on moving and storing private cars"),
        "{guest}"
    );
    assert!(!guest.contains("outright ban is fair"), "{guest}");
    assert!(
        claude.starts_with("Welcome to the show") || claude.starts_with("Hello and welcome"),
        "{claude}"
    );
}

#[test]
fn the_last_line_is_quoted_whole_and_clean() {
    let req = request(
        Speaker::Claude,
        CARS,
        &[(
            ChatRole::User,
            "<studio>2 earlier lines left out.</studio>\n\
             <speaker name=\"Guest\">Buses &amp; bikes.</speaker>\n\
             <speaker name=\"Basil\">Claude, bikes are the answer to congestion, surely?</speaker>",
        )],
    );
    let reply = compose(&req);
    assert_speakable(&reply);
    assert!(
        reply.contains("bikes are the answer to congestion, surely?")
            || reply.contains("Good question, Basil")
            || reply.contains("what a listener would want to know, Basil"),
        "{reply}"
    );
    // A line too long to quote whole is paraphrased, never clipped.
    let long = "<speaker name=\"Guest\">Honestly the evidence from dozens of European cities shows pedestrianisation works when transit improves first.</speaker>";
    let reply = compose(&request(Speaker::Claude, CARS, &[(ChatRole::User, long)]));
    assert_speakable(&reply);
    assert!(!reply.contains("Honestly the evidence from"), "{reply}");
    assert!(reply.contains("pedestrianisation"), "{reply}");
}

#[test]
fn markup_and_cues_in_the_conversation_are_never_spoken() {
    let nasty = [
        "<studio>The recording has started. You speak first.</studio>",
        "<studio>It is your turn again.</studio>",
        "<speaker name=\"Basil\">&lt;studio&gt;The recording has started&lt;/studio&gt; &amp;amp; more</speaker>",
        "<speaker name=\"Basil\">Guest, is &lt;speaker name=\"x\"&gt;this&lt;/speaker&gt; fair &amp; \"sane\"?</speaker>",
        "<speaker name=\"Basil\" interrupted=\"true\">Guest, what about deliver</speaker>",
        "just text outside any envelope",
        "<speaker broken",
    ];
    for speaker in [Speaker::Claude, Speaker::Guest] {
        for system in [CARS, OPEN, "", "no briefing here"] {
            for content in nasty {
                let reply = compose(&request(speaker, system, &[(ChatRole::User, content)]));
                assert_speakable(&reply);
            }
        }
    }
}

#[test]
fn claude_and_guest_sound_different_for_the_same_line() {
    let messages = [(
        ChatRole::User,
        "<speaker name=\"Basil\">What about delivery vans?</speaker>",
    )];
    let claude = compose(&request(Speaker::Claude, CARS, &messages));
    let guest = compose(&request(Speaker::Guest, &cars_for_guest(), &messages));
    assert_ne!(claude, guest);
    assert!(
        claude.ends_with('?'),
        "claude passes the floor on: {claude}"
    );
}

#[test]
fn replies_are_deterministic() {
    let messages = [(ChatRole::User, "<speaker name=\"Basil\">Hi.</speaker>")];
    for speaker in [Speaker::Claude, Speaker::Guest] {
        let req = request(speaker, CARS, &messages);
        assert_eq!(compose(&req), compose(&req));
    }
}

#[test]
fn the_guest_asks_for_time_on_a_hard_question_and_then_says_it_thought() {
    let hard = [(
        ChatRole::User,
        "<speaker name=\"Basil\">Guest, here's a tough question for you.</speaker>",
    )];
    let reply = compose(&request(Speaker::Guest, &cars_for_guest(), &hard));
    assert!(
        studio_plugin::turns::ai_thinking_request(&reply).is_some(),
        "{reply}"
    );
    let prepared = format!(
        "{}\n# Right now\nYou have had 30 seconds to prepare a considered answer.\n",
        cars_for_guest()
    );
    let reply = compose(&request(Speaker::Guest, &prepared, &hard));
    assert!(reply.starts_with("I've thought it over."), "{reply}");
    assert_speakable(&reply);
}

#[test]
fn segment_cues_shape_the_line() {
    let cue = |system: &str, segment: &str| {
        format!("{system}\n# Right now\nCurrent segment: {segment}\n")
    };
    let cases = [
        (
            Speaker::Claude,
            "Cold open: claude hooks the audience.",
            "Welcome to the show",
        ),
        (
            Speaker::Guest,
            "Steelman swap: each side argues the other side's case.",
            "Fine, let me argue the other side",
        ),
        (
            Speaker::Guest,
            "Verdict: the guest gives a final verdict.",
            "My verdict on car-free centres",
        ),
        (
            Speaker::Claude,
            "Outro: claude thanks the guest and closes the show.",
            "That's our show",
        ),
    ];
    let line = [(
        ChatRole::User,
        "<speaker name=\"Guest\">Cars out, people in.</speaker>",
    )];
    for (speaker, segment, opens) in cases {
        let system = if speaker == Speaker::Guest {
            cars_for_guest()
        } else {
            CARS.to_owned()
        };
        let reply = compose(&request(speaker, &cue(&system, segment), &line));
        assert!(
            reply.starts_with(opens)
                || opens == "Welcome to the show" && reply.starts_with("Hello and welcome"),
            "{segment}: {reply}"
        );
        assert_speakable(&reply);
    }
}

#[test]
fn tokens_carry_their_spaces_and_respect_max_tokens() {
    let (tokens, reason) = tokens("one two three", 300);
    assert_eq!(tokens, vec!["one", " two", " three"]);
    assert_eq!(reason, "end_turn");
    assert_eq!(tokens.concat(), "one two three");
    let (cut, reason) = super::tokens("one two three", 2);
    assert_eq!((cut.len(), reason), (2, "max_tokens"));
}
