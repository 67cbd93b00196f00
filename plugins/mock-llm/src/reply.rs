//! Composing the mock's replies. Pure: a request in, text out, the same text for the same request.

use studio_plugin::transcript::{self, Who};
use studio_plugin::{LlmRequest, Speaker};

/// Replies are kept within this many words, like a spoken line.
pub const MIN_WORDS: usize = 20;
/// The longest reply in words.
pub const MAX_WORDS: usize = 40;

/// What the reply can lean on, read from the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The briefing's topic (or title), or a neutral phrase.
    pub topic: String,
    /// Who said the last line to this AI, if it was in an envelope.
    pub last_name: Option<String>,
    /// The last line said to this AI, envelope removed.
    pub last_line: Option<String>,
    /// The system prompt, lower-cased, to look for cues.
    pub system: String,
}

/// Reads the topic, the last line and the cues from `request`.
pub fn context(request: &LlmRequest) -> Context {
    // The newest line someone else said, from the studio's envelopes (a user message may hold
    // several, and studio notes).
    let last = transcript::last_said(&request.messages);
    let last_name = last.as_ref().and_then(|line| match &line.who {
        Who::Named(name) => Some(name.clone()),
        _ => None,
    });
    Context {
        topic: topic(&request.system),
        last_name,
        last_line: last.map(|line| line.text).filter(|t| !t.is_empty()),
        system: request.system.to_lowercase(),
    }
}

/// The briefing's `topic:` line, else its `title:` line, else its first Markdown heading.
pub fn topic(system: &str) -> String {
    let field = |name: &str| {
        system.lines().find_map(|line| {
            let line = line.trim().trim_start_matches(['-', '*', ' ']);
            let (key, value) = line.split_once(':')?;
            let value = value.trim().trim_matches(['"', '\'']).trim();
            (key.trim().eq_ignore_ascii_case(name) && !value.is_empty()).then(|| value.to_owned())
        })
    };
    let heading = || {
        system.lines().find_map(|line| {
            let title = line
                .trim()
                .strip_prefix('#')?
                .trim_start_matches('#')
                .trim();
            (!title.is_empty()).then(|| title.to_owned())
        })
    };
    // A topic phrased as a question ("Should cities ban cars?") reads badly after "on"; the title
    // is a noun phrase, so it wins then.
    let topic = field("topic");
    let is_question = topic
        .as_deref()
        .is_some_and(|t| t.trim_end().ends_with('?'));
    let found = match (topic, field("title")) {
        (Some(_), Some(title)) if is_question => Some(title),
        (topic, title) => topic.or(title).or_else(heading),
    };
    found
        .map(|t| {
            let t = clip_words(t.trim_end_matches(['.', '!', '?']), 8);
            match t.strip_prefix("The ") {
                Some(rest) => format!("the {rest}"),
                None => t,
            }
        })
        .unwrap_or_else(|| "today's topic".to_owned())
}

/// The reply for `request`: 20-40 words in the speaker's voice.
pub fn compose(request: &LlmRequest) -> String {
    let context = context(request);
    let seed = fnv(&format!(
        "{}|{}|{}",
        request.speaker.name(),
        request.messages.len(),
        context.last_line.as_deref().unwrap_or("")
    ));
    let mut sentences = Vec::new();
    // Phrases of the host's thinking-mode cue only: the standing studio rules also mention a
    // "considered answer" (telling the AI it may ask to think), which must not count.
    let thinking_done = ["seconds to prepare", "time to think", "thinking mode"]
        .iter()
        .any(|c| context.system.contains(c));
    if thinking_done {
        sentences.push("I've thought it over.".to_owned());
    } else if request.speaker == Speaker::Guest
        && asks_for_hard_thinking(context.last_line.as_deref())
    {
        return fit(vec![
            "That's a hard one, and I'd rather not answer it off the cuff.".to_owned(),
            format!(
                "Can I think for a minute about {} before I commit to a position?",
                context.topic
            ),
        ]);
    }
    if let Some(cue) = segment_sentence(request.speaker, &context) {
        sentences.push(cue);
    }
    let quote = context
        .last_line
        .as_deref()
        .map(|line| clip_words(first_clause(line), 8));
    let name = context
        .last_name
        .clone()
        .filter(|n| !n.eq_ignore_ascii_case(request.speaker.name()));
    sentences.extend(match request.speaker {
        Speaker::Guest => guest_lines(seed, &context.topic, quote.as_deref()),
        Speaker::Claude | Speaker::You => {
            claude_lines(seed, &context.topic, quote.as_deref(), name.as_deref())
        }
    });
    fit(sentences)
}

/// Whether the last line calls for careful thought ("a tough one", "think carefully").
fn asks_for_hard_thinking(line: Option<&str>) -> bool {
    let Some(line) = line else { return false };
    let line = line.to_lowercase();
    [
        "tough question",
        "hard question",
        "difficult question",
        "think carefully",
        "tricky one",
        "tough one",
    ]
    .iter()
    .any(|p| line.contains(p))
}

/// A sentence for the showrunner's segment cue in the system prompt, if there is one.
fn segment_sentence(speaker: Speaker, context: &Context) -> Option<String> {
    let system = &context.system;
    let topic = &context.topic;
    let line = match speaker {
        Speaker::Guest if system.contains("steelman") => {
            "Fine, let me argue the other side as well as I can.".to_owned()
        }
        Speaker::Guest if system.contains("verdict") => format!("My verdict on {topic} is simple."),
        Speaker::Guest if system.contains("goodbye") || system.contains("outro") => {
            "Thanks for having me, this was fun.".to_owned()
        }
        Speaker::Claude | Speaker::You if system.contains("cold open") => {
            format!("Welcome to the show: today it's {topic}, and our guest has opinions.")
        }
        Speaker::Claude | Speaker::You if system.contains("steelman") => {
            "Let me steelman your position before I poke at it.".to_owned()
        }
        Speaker::Claude | Speaker::You if system.contains("verdict") => {
            "We're near the end, so I want a clear verdict.".to_owned()
        }
        Speaker::Claude | Speaker::You
            if system.contains("outro") || system.contains("close the show") =>
        {
            "That's our show, thank you for listening, and thank you to our guest.".to_owned()
        }
        _ => return None,
    };
    Some(line)
}

fn claude_lines(seed: u64, topic: &str, quote: Option<&str>, name: Option<&str>) -> Vec<String> {
    let to = name.map(|n| format!("{n}, ")).unwrap_or_default();
    match (quote, seed % 3) {
        (Some(q), 0) => vec![
            format!("{to}you said \"{q}\", and that is worth unpacking."),
            format!("When it comes to {topic}, what is the strongest evidence for it, and what would change your mind?"),
        ],
        (Some(q), 1) => vec![
            format!("So the claim on the table is \"{q}\"."),
            format!("Let me push a little on {topic}: who loses if that's right, and how would we even know?"),
        ],
        (Some(q), _) => vec![
            format!("Interesting, {to}\"{q}\" is a bold way to put it."),
            format!("For listeners new to {topic}, can you explain the core idea plainly, and then where the real disagreement lies?"),
        ],
        (None, _) => vec![
            format!("Let's get into {topic}."),
            "I want to start with the basics: what's actually at stake here, and why should anyone listening care about it today?".to_owned(),
        ],
    }
}

fn guest_lines(seed: u64, topic: &str, quote: Option<&str>) -> Vec<String> {
    match (quote, seed % 3) {
        (Some(q), 0) => vec![
            format!("Here's my view: \"{q}\" misses the point."),
            format!("On {topic}, the practical effects matter far more than the theory, and I'd bet on that every single time."),
        ],
        (Some(q), 1) => vec![
            format!("I disagree with the premise of \"{q}\"."),
            format!("Anyone who has worked on {topic} knows the hard part is incentives, not technology; fix those and the rest follows."),
        ],
        (Some(q), _) => vec![
            format!("Honestly, \"{q}\" is only half right."),
            format!("The long-run data on {topic} point the other way, and I'd stake my reputation on that reading."),
        ],
        (None, _) => vec![
            format!("My position on {topic} is clear."),
            "The conventional wisdom is wrong, the evidence is stronger than people think, and the costs of waiting keep growing.".to_owned(),
        ],
    }
}

/// Joins sentences and brings the reply within 20-40 words: a closing remark when short, cut at a
/// sentence (or word) boundary when long.
fn fit(mut sentences: Vec<String>) -> String {
    const CLOSERS: [&str; 2] = [
        "That's the heart of it, as far as I can see.",
        "I'm curious where you land on that.",
    ];
    let count = |s: &[String]| {
        s.iter()
            .map(|x| x.split_whitespace().count())
            .sum::<usize>()
    };
    let mut closer = 0;
    while count(&sentences) < MIN_WORDS {
        sentences.push(CLOSERS[closer % CLOSERS.len()].to_owned());
        closer += 1;
    }
    while count(&sentences) > MAX_WORDS
        && sentences.len() > 1
        && count(&sentences[..sentences.len() - 1]) >= MIN_WORDS
    {
        sentences.pop();
    }
    let text = sentences.join(" ");
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() <= MAX_WORDS {
        return text;
    }
    let mut cut = words[..MAX_WORDS].join(" ");
    cut = cut.trim_end_matches([',', ';', ':']).to_owned();
    if !cut.ends_with(['.', '?', '!']) {
        cut.push('.');
    }
    cut
}

/// The first clause of a line (up to a comma or sentence mark), for quoting.
fn first_clause(line: &str) -> &str {
    let trimmed = line.trim();
    // Skip a leading address ("Claude, ...") so the quote is the substance.
    let body = match trimmed.split_once(',') {
        Some((head, rest)) if head.split_whitespace().count() <= 2 && !rest.trim().is_empty() => {
            rest.trim()
        }
        _ => trimmed,
    };
    let end = body.find(['.', '?', '!', ';', ',']).unwrap_or(body.len());
    let clause = body[..end].trim();
    if clause.is_empty() { body } else { clause }
}

/// At most `max` words of `text`.
fn clip_words(text: &str, max: usize) -> String {
    text.split_whitespace()
        .take(max)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits the reply into streamed tokens (words with their leading space), cut at `max_tokens`.
/// Returns the tokens and the stop reason.
pub fn tokens(text: &str, max_tokens: u32) -> (Vec<String>, &'static str) {
    let mut tokens: Vec<String> = text
        .split_whitespace()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                w.to_owned()
            } else {
                format!(" {w}")
            }
        })
        .collect();
    let limit = usize::try_from(max_tokens).unwrap_or(usize::MAX);
    if max_tokens > 0 && tokens.len() > limit {
        tokens.truncate(limit);
        return (tokens, "max_tokens");
    }
    (tokens, "end_turn")
}

/// A rough prompt size in tokens (words), as a provider would report it.
pub fn prompt_tokens(request: &LlmRequest) -> u32 {
    let words = request.system.split_whitespace().count()
        + request
            .messages
            .iter()
            .map(|m| m.content.split_whitespace().count())
            .sum::<usize>();
    u32::try_from(words).unwrap_or(u32::MAX)
}

/// FNV-1a: a stable hash, so the choice of phrasing does not change between builds.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use studio_plugin::{ChatMessage, ChatRole};

    const BRIEFING: &str = "You are Claude, the co-host.\n---\ntitle: \"The Future of Cities\"\ntopic: Should cities ban private cars downtown?\ntone: lively\n---\n## Claude's position\nCurious.";

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

    fn words(text: &str) -> usize {
        text.split_whitespace().count()
    }

    #[test]
    fn the_rule_that_allows_asking_to_think_is_not_a_thinking_cue() {
        let system = format!(
            "{BRIEFING}\n- If a question deserves a considered answer, you may say only \
             \"Can I think for a minute?\"; the studio then gives you time to prepare."
        );
        let req = request(
            Speaker::Claude,
            &system,
            &[(
                ChatRole::User,
                "<speaker name=\"Basil\">Claude, what do you think?</speaker>",
            )],
        );
        assert!(
            !compose(&req).starts_with("I've thought it over."),
            "{}",
            compose(&req)
        );
        let prepared = format!(
            "{system}\n# Right now\nYou have had 30 seconds to prepare a considered answer."
        );
        let req = request(
            Speaker::Claude,
            &prepared,
            &[(
                ChatRole::User,
                "<speaker name=\"Basil\">Claude, what do you think?</speaker>",
            )],
        );
        assert!(
            compose(&req).starts_with("I've thought it over."),
            "{}",
            compose(&req)
        );
    }

    #[test]
    fn the_topic_comes_from_the_briefing() {
        assert_eq!(topic(BRIEFING), "the Future of Cities");
        assert_eq!(
            topic("topic: Deep sea mining\ntitle: Oceans"),
            "Deep sea mining"
        );
        assert_eq!(
            topic("topic: Is rent control good?\n"),
            "Is rent control good"
        );
        assert_eq!(topic("title: Rivers\n"), "Rivers");
        assert_eq!(topic("# Deep Sea Mining\nSome text"), "Deep Sea Mining");
        assert_eq!(topic("no briefing here"), "today's topic");
    }

    #[test]
    fn claude_quotes_the_last_line_without_its_envelope_and_asks_a_question() {
        let req = request(
            Speaker::Claude,
            BRIEFING,
            &[(
                ChatRole::User,
                "<speaker name=\"Basil\">Claude, bikes are the answer to congestion, surely?</speaker>",
            )],
        );
        let reply = compose(&req);
        assert!(
            reply.contains("bikes are the answer to congestion"),
            "{reply}"
        );
        assert!(!reply.contains("<speaker"), "{reply}");
        assert!(reply.contains('?'), "claude asks: {reply}");
        assert!(reply.contains("the Future of Cities"), "{reply}");
        assert!(
            (MIN_WORDS..=MAX_WORDS).contains(&words(&reply)),
            "{} words: {reply}",
            words(&reply)
        );
    }

    #[test]
    fn the_last_line_is_the_newest_envelope_of_a_message_that_holds_several() {
        // As the studio sends it: a note and two lines in one user message, escaped.
        let req = request(
            Speaker::Claude,
            BRIEFING,
            &[(
                ChatRole::User,
                "<studio>2 earlier lines left out.</studio>\n\
                 <speaker name=\"Guest\">Buses &amp; bikes.</speaker>\n\
                 <speaker name=\"Basil\">Claude, can buses &amp; bikes replace cars?</speaker>",
            )],
        );
        let context = context(&req);
        assert_eq!(context.last_name.as_deref(), Some("Basil"));
        assert_eq!(
            context.last_line.as_deref(),
            Some("Claude, can buses & bikes replace cars?")
        );
        let reply = compose(&req);
        assert!(reply.contains("can buses & bikes replace cars"), "{reply}");
        assert!(!reply.contains("&amp;") && !reply.contains('<'), "{reply}");
    }

    #[test]
    fn the_guest_takes_a_position_on_the_topic() {
        let req = request(
            Speaker::Guest,
            BRIEFING,
            &[(
                ChatRole::User,
                "<speaker name=\"claude\">So, is a car ban fair to commuters?</speaker>",
            )],
        );
        let reply = compose(&req);
        assert!(reply.contains("is a car ban fair to commuters"), "{reply}");
        assert!(reply.contains("the Future of Cities"), "{reply}");
        assert!(
            ["misses the point", "disagree", "half right"]
                .iter()
                .any(|p| reply.contains(p)),
            "{reply}"
        );
        assert!((MIN_WORDS..=MAX_WORDS).contains(&words(&reply)), "{reply}");
    }

    #[test]
    fn claude_and_guest_sound_different_for_the_same_line() {
        let messages = [(
            ChatRole::User,
            "<speaker name=\"Basil\">What about delivery vans?</speaker>",
        )];
        assert_ne!(
            compose(&request(Speaker::Claude, BRIEFING, &messages)),
            compose(&request(Speaker::Guest, BRIEFING, &messages))
        );
    }

    #[test]
    fn replies_are_deterministic_and_always_20_to_40_words() {
        let long = "word ".repeat(200);
        let cases = [
            request(Speaker::Claude, "", &[]),
            request(Speaker::Guest, "", &[]),
            request(Speaker::Claude, BRIEFING, &[(ChatRole::User, "hi")]),
            request(
                Speaker::Guest,
                &format!("topic: {long}"),
                &[(ChatRole::User, long.as_str())],
            ),
            request(
                Speaker::Claude,
                "cold open. steelman. verdict.",
                &[(ChatRole::User, "<speaker name=\"g\">x</speaker>")],
            ),
        ];
        for req in &cases {
            let reply = compose(req);
            assert_eq!(reply, compose(req));
            assert!(
                (MIN_WORDS..=MAX_WORDS).contains(&words(&reply)),
                "{} words: {reply}",
                words(&reply)
            );
        }
    }

    #[test]
    fn the_guest_asks_for_time_on_a_hard_question() {
        let req = request(
            Speaker::Guest,
            BRIEFING,
            &[(
                ChatRole::User,
                "<speaker name=\"Basil\">Guest, here's a tough question for you.</speaker>",
            )],
        );
        let reply = compose(&req);
        assert!(
            studio_plugin::turns::ai_thinking_request(&reply).is_some(),
            "{reply}"
        );
    }

    #[test]
    fn after_thinking_mode_the_answer_says_so() {
        let system =
            format!("{BRIEFING}\nYou were given time to think. Give your considered answer now.");
        let req = request(
            Speaker::Guest,
            &system,
            &[(
                ChatRole::User,
                "<speaker name=\"Basil\">Guest, here's a tough question for you.</speaker>",
            )],
        );
        let reply = compose(&req);
        assert!(reply.starts_with("I've thought it over."), "{reply}");
        assert!(
            studio_plugin::turns::ai_thinking_request(&reply).is_none(),
            "{reply}"
        );
    }

    #[test]
    fn segment_cues_shape_the_line() {
        let system = format!("{BRIEFING}\nCold open: hook the audience and introduce the guest.");
        let reply = compose(&request(Speaker::Claude, &system, &[]));
        assert!(reply.starts_with("Welcome to the show"), "{reply}");
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
}
