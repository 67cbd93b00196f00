//! Composing the mock's replies. Pure: a request in, text out, the same text for the same request.
//!
//! A reply is a few whole sentences from small template sets: a reaction to the last line (a
//! short quote of a whole sentence of it, or what it was about), something of substance (a
//! must-cover item of the briefing, or a point of this AI's own position), and for claude a
//! question to pass the floor on. The segment cue of the moment shapes it; the input seeds the
//! choice among templates, and a sentence the AI already said is not said again.

use crate::briefing::{Briefing, Item, Segment};
use crate::heard::{Heard, LastLine};
use crate::stance::{self, Kind, Point};
use crate::text::{fnv, sentence, words};
use studio_plugin::{LlmRequest, Speaker};

/// Replies are kept within this many words, like a spoken line, when whole sentences allow.
pub const MIN_WORDS: usize = 15;
/// The longest reply in words (one sentence over it is kept whole rather than cut).
pub const MAX_WORDS: usize = 45;

/// Phrases in the last line that ask for careful thought.
const HARD: [&str; 6] = [
    "tough question",
    "hard question",
    "difficult question",
    "think carefully",
    "tricky one",
    "tough one",
];

/// The reply for `request`: whole sentences in the speaker's voice.
pub fn compose(request: &LlmRequest) -> String {
    let talk = Talk::new(request);
    let mut parts = talk.parts();
    fit(&mut parts, &talk);
    let text: Vec<String> = parts.into_iter().map(|p| p.text).collect();
    text.join(" ")
}

/// One sentence of a reply and how much it matters when the reply is too long.
#[derive(Debug, Clone)]
struct Part {
    text: String,
    /// Dropped first when the reply is too long: 0 is kept whatever happens.
    drop_order: u8,
}

fn part(text: String, drop_order: u8) -> Part {
    Part { text, drop_order }
}

/// What one reply is built from.
struct Talk {
    speaker: Speaker,
    briefing: Briefing,
    heard: Heard,
    subject: String,
    items: Vec<Item>,
    points: Vec<Point>,
    /// How many lines this AI said before: walks through items and points.
    turn: usize,
    seed: u64,
}

impl Talk {
    fn new(request: &LlmRequest) -> Talk {
        let briefing = Briefing::read(&request.system, request.speaker);
        let heard = Heard::read(&request.messages);
        let points = briefing
            .position
            .as_deref()
            .map(stance::points)
            .unwrap_or_default();
        let seed = heard.seed ^ fnv(request.speaker.name()).rotate_left(17);
        Talk {
            speaker: request.speaker,
            subject: briefing.subject(),
            items: briefing.subjects_to_cover(),
            points,
            turn: heard.own.len(),
            seed,
            briefing,
            heard,
        }
    }

    fn is_guest(&self) -> bool {
        self.speaker == Speaker::Guest
    }

    /// The other AI's name, as the persona gives it.
    fn other(&self) -> String {
        self.briefing
            .other
            .clone()
            .unwrap_or_else(|| if self.is_guest() { "Claude" } else { "Guest" }.to_owned())
    }

    /// One of `options`, chosen by the seed and the turn, skipping those already said.
    fn pick(&self, slot: &str, options: &[String]) -> Option<String> {
        if options.is_empty() {
            return None;
        }
        let start = usize::try_from((self.seed ^ fnv(slot)) % options.len() as u64).unwrap_or(0);
        let start = (start + self.turn) % options.len();
        (0..options.len())
            .map(|i| &options[(start + i) % options.len()])
            .find(|o| !self.heard.said_before(o))
            .or(options.get(start))
            .cloned()
    }

    fn parts(&self) -> Vec<Part> {
        let last = self.heard.last.as_ref();
        if self.is_guest()
            && !self.briefing.prepared
            && let Some(last) = last
            && HARD.iter().any(|h| last.said.contains(h))
        {
            return vec![
                part(
                    "That's a hard one, and I'd rather not answer it off the cuff.".into(),
                    0,
                ),
                part(
                    sentence(
                        &format!(
                            "Can I think for a minute about {} before I commit to a position",
                            self.subject
                        ),
                        '?',
                    ),
                    0,
                ),
            ];
        }
        let mut parts = Vec::new();
        if self.briefing.prepared {
            parts.push(part("I've thought it over.".into(), 0));
        }
        match (self.speaker, self.briefing.segment) {
            (_, Some(segment)) => self.segment(segment, &mut parts),
            _ => {
                if let Some(react) = self.react() {
                    parts.push(part(react, 2));
                } else if self.turn == 0 && !self.is_guest() {
                    parts.push(part(self.welcome(), 2));
                }
                parts.push(part(self.substance(0), 1));
                if !self.is_guest() {
                    parts.push(part(self.question(&parts), 0));
                } else if let Some(close) = self.guest_close() {
                    parts.push(part(close, 3));
                }
            }
        }
        parts
    }

    /// A reaction to the last line: a quote of one of its whole sentences, or what it was about.
    fn react(&self) -> Option<String> {
        let last: &LastLine = self.heard.last.as_ref()?;
        let to = &last.name;
        // A word of the subject says nothing new ("what you said about conversation").
        let about = last
            .about
            .as_ref()
            .filter(|a| !self.subject.to_lowercase().contains(&a.to_lowercase()));
        let options: Vec<String> = match (&last.quote, about, self.is_guest()) {
            (Some(q), _, false) if last.quote_asks => vec![
                format!("{to}, you asked \"{q}?\", and it's a fair question."),
                format!(
                    "Good question, {to}, and it goes to the heart of {}.",
                    self.subject
                ),
                format!("That's exactly what a listener would want to know, {to}."),
                format!("I'm glad you asked that, {to}."),
            ],
            (Some(q), _, false) => vec![
                format!("{to}, you said \"{q}\", and that is worth unpacking."),
                format!("So the claim on the table is \"{q}\"."),
                format!("Interesting, {to}: \"{q}\" is a bold way to put it."),
                format!("Let's stay with that for a moment: \"{q}\"."),
                format!("{to}, \"{q}\" is going to need some evidence."),
            ],
            (Some(q), _, true) if last.quote_asks => vec![
                format!("{to}, you asked \"{q}?\", so here is a straight answer."),
                format!("Fair question, {to}, and I'll answer it directly."),
                format!("That's the right question to ask, {to}."),
                format!("I'm glad you asked, {to}."),
            ],
            (Some(q), _, true) => vec![
                format!("I hear you on \"{q}\", but I don't buy it."),
                format!("Honestly, {to}, \"{q}\" is only half right."),
                format!("I disagree with the premise of \"{q}\"."),
                format!("{to}, \"{q}\" sounds reasonable until you look at the details."),
            ],
            (None, _, true) if last.asks => vec![
                format!("Fair question, {to}, and I'll answer it directly."),
                format!("That's the right question to ask, {to}."),
                format!("I'm glad you asked, {to}."),
            ],
            (None, Some(about), false) => vec![
                format!("{to}, I want to come back to what you said about {about}."),
                format!("You mentioned {about}, {to}, and that deserves a closer look."),
                format!("{to}, let's not skip past {about}."),
            ],
            (None, Some(about), true) => vec![
                format!("On {about}, {to}, I see it differently."),
                format!("You raise {about}, and that is exactly where my case is strongest."),
                format!("{to}, you mentioned {about}, so let me answer that."),
            ],
            (None, None, false) => vec![
                format!("{to}, let me pick up where you left off."),
                format!("Thanks, {to}."),
            ],
            (None, None, true) => vec![
                format!("{to}, let me pick up where you left off."),
                format!("Thanks, {to}, I'll take that."),
            ],
        };
        self.pick("react", &options).map(|s| sentence(&s, '.'))
    }

    fn welcome(&self) -> String {
        let subject = &self.subject;
        let options = [
            format!("Welcome to the show: today we're talking about {subject}."),
            format!("Hello and welcome, this episode is all about {subject}."),
        ];
        self.pick("welcome", &options)
            .unwrap_or_else(|| options[0].clone())
    }

    /// Something of substance: a must-cover item or a point of the AI's position, taking turns
    /// (claude leads with the items, the guest with its position); `shift` picks the next one.
    fn substance(&self, shift: usize) -> String {
        let turn = self.turn + shift;
        let item_first = turn.is_multiple_of(2) != self.is_guest();
        let item = (!self.items.is_empty()).then(|| &self.items[turn / 2 % self.items.len()]);
        let point = (!self.points.is_empty()).then(|| &self.points[turn / 2 % self.points.len()]);
        let said = match (item_first, item, point) {
            (true, Some(item), _) | (false, Some(item), None) => self.item(item),
            (_, _, Some(point)) => self.point(point),
            (_, None, None) => self.generic(),
        };
        sentence(&said, '.')
    }

    fn item(&self, item: &Item) -> String {
        let text = &item.text;
        let options: Vec<String> = match (item.asks, self.is_guest()) {
            (true, false) => vec![
                format!("One question every listener will have: {text}?"),
                format!("We still owe the listener an answer on {text}."),
            ],
            (false, false) => vec![
                format!("I want us to get to {text}."),
                format!("We can't leave out {text}."),
            ],
            (true, true) => vec![
                format!("People always ask {text}, and the honest answer supports my case."),
                format!("Look at {text}, and the picture is clearer than people think."),
            ],
            (false, true) => vec![
                format!("Take {text}: that is where my case is strongest."),
                format!("On {text}, the evidence is on my side."),
            ],
        };
        self.pick("item", &options).unwrap_or_default()
    }

    fn point(&self, point: &Point) -> String {
        let what = &point.what;
        let options: Vec<String> = match point.kind {
            Kind::Claim => vec![
                format!("My view is simple: {what}."),
                format!("Here's what I keep coming back to: {what}."),
                format!("I'll say it plainly: {what}."),
            ],
            Kind::Doubt => vec![
                format!("But I doubt that {what}."),
                format!("I'm still not convinced that {what}."),
            ],
            Kind::Grant => vec![
                format!("I'll grant that {what}."),
                format!("To be fair, {what}."),
            ],
            Kind::Prefer => vec![
                format!("I'd rather see {what}."),
                format!("What I'd back is {what}."),
            ],
        };
        self.pick("point", &options).unwrap_or_default()
    }

    fn generic(&self) -> String {
        let subject = &self.subject;
        let options: Vec<String> = if self.is_guest() {
            vec![
                format!("On {subject}, the practical effects matter far more than the theory."),
                format!(
                    "Anyone who has looked closely at {subject} knows the hard part is incentives, not technology."
                ),
                format!(
                    "The long-run evidence on {subject} points one way, and I'd stake my reputation on it."
                ),
                format!(
                    "People underestimate how quickly things change once {subject} is taken seriously."
                ),
                format!(
                    "My view on {subject} is simple: start small, measure honestly, and keep what works."
                ),
                "The people who gain the most are rarely the ones who speak up first.".to_owned(),
            ]
        } else {
            vec![
                format!("When it comes to {subject}, the details matter more than the slogans."),
                format!("There's more to {subject} than the headlines suggest."),
                format!("Listeners deserve a clear picture of {subject}."),
                "I want the listener to leave with one concrete example, not just a slogan."
                    .to_owned(),
                "The interesting part is always who pays and who benefits.".to_owned(),
                "Let's keep this practical for the listener.".to_owned(),
            ]
        };
        self.pick("generic", &options).unwrap_or_default()
    }

    /// Claude passes the floor on with a question to the guest.
    fn question(&self, before: &[Part]) -> String {
        let to = self.other();
        let subject = &self.subject;
        let mut options = vec![
            "what is the strongest evidence for your view, and what would change your mind?"
                .to_owned(),
            "who loses if you're right, and how would we even know?".to_owned(),
            "can you give the listener one concrete example?".to_owned(),
            format!("where exactly do you stand on {subject}?"),
        ];
        if let Some(question) = self.briefing.question() {
            options.push(format!("in a sentence: {question}?"));
        }
        let question = self.pick("question", &options).unwrap_or_default();
        // Named once is enough in one line.
        if before.iter().any(|p| p.text.contains(&to)) {
            sentence(&question, '?')
        } else {
            sentence(&format!("{to}, {question}"), '?')
        }
    }

    fn guest_close(&self) -> Option<String> {
        let to = self.other();
        let options = [
            "That's where I stand, and I'm happy to be challenged on it.".to_owned(),
            "I'd bet on that every single time.".to_owned(),
            format!("{to}, tell me where you see it differently."),
            "Show me a better plan and I'll change my mind.".to_owned(),
        ];
        self.pick("close", &options)
    }

    /// The lines the showrunner's segments ask for.
    fn segment(&self, segment: Segment, parts: &mut Vec<Part>) {
        let other = self.other();
        let subject = &self.subject;
        let guest = self.is_guest();
        let react = |parts: &mut Vec<Part>| {
            if let Some(react) = self.react() {
                parts.push(part(react, 2));
            }
        };
        match (segment, guest) {
            (Segment::ColdOpen, false) => {
                parts.push(part(self.welcome(), 0));
                parts.push(part(
                    format!("{other} is here to make the case, and I'll be asking the awkward questions."),
                    2,
                ));
                parts.push(part(self.question(parts), 0));
            }
            (Segment::ColdOpen, true) => {
                parts.push(part(
                    "Thanks for having me, it's good to be here.".into(),
                    0,
                ));
                parts.push(part(self.substance(1), 1));
            }
            (Segment::Stance, false) => {
                react(parts);
                parts.push(part(
                    sentence(
                        &format!("{other}, let's hear your position on {subject}"),
                        '.',
                    ),
                    0,
                ));
                parts.push(part("What is your strongest reason?".into(), 1));
            }
            (Segment::Stance, true) | (Segment::CrossExam, true) => {
                react(parts);
                if segment == Segment::CrossExam {
                    parts.push(part("I'll stand by what I said.".into(), 3));
                }
                parts.push(part(self.substance(1), 0));
            }
            (Segment::CrossExam, false) => {
                react(parts);
                parts.push(part(self.substance(1), 1));
                parts.push(part(self.question(parts), 0));
            }
            (Segment::Steelman, false) => {
                parts.push(part(
                    "Let me steelman your position before I poke at it.".into(),
                    0,
                ));
                parts.push(part(
                    "The best case for it is that the benefits arrive quickly and the costs can be managed.".into(),
                    1,
                ));
                parts.push(part(format!("{other}, is that fair to your view?"), 0));
            }
            (Segment::Steelman, true) => {
                parts.push(part(
                    "Fine, let me argue the other side as well as I can.".into(),
                    0,
                ));
                parts.push(part(
                    "The strongest objection is that the costs land on the people with the fewest alternatives.".into(),
                    1,
                ));
                parts.push(part(
                    "I don't agree with it, but it deserves a hearing.".into(),
                    2,
                ));
            }
            (Segment::Verdict, false) => {
                parts.push(part(
                    "We're near the end, so I want a clear verdict.".into(),
                    0,
                ));
                parts.push(part(
                    format!("{other}, in a sentence or two, where do you land on {subject}?"),
                    0,
                ));
            }
            (Segment::Verdict, true) => {
                parts.push(part(format!("My verdict on {subject} is simple."), 0));
                parts.push(part(self.substance(0), 0));
                parts.push(part("That's my final word.".into(), 2));
            }
            (Segment::Outro, false) => {
                parts.push(part(
                    "That's our show, thank you for listening, and thank you to our guest.".into(),
                    0,
                ));
                let host = self
                    .briefing
                    .host
                    .clone()
                    .unwrap_or_else(|| "everyone".into());
                parts.push(part(
                    format!("Thanks to you too, {host}, and see you next time."),
                    1,
                ));
            }
            (Segment::Outro, true) => {
                parts.push(part("Thanks for having me, this was fun.".into(), 0));
                parts.push(part(
                    format!("I hope the listeners go away arguing about {subject}."),
                    1,
                ));
            }
        }
        for p in parts.iter_mut() {
            p.text = sentence(&p.text, '.');
        }
    }
}

/// Brings the reply within [`MIN_WORDS`]..=[`MAX_WORDS`] by whole sentences: the least needed
/// go first when it is long; more substance, then a closing remark, when it is short.
fn fit(parts: &mut Vec<Part>, talk: &Talk) {
    let count = |parts: &[Part]| parts.iter().map(|p| words(&p.text)).sum::<usize>();
    while count(parts) > MAX_WORDS {
        let Some((at, _)) = parts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.drop_order > 0)
            .max_by_key(|(i, p)| (p.drop_order, *i))
        else {
            break;
        };
        parts.remove(at);
    }
    let mut shift = 1;
    while count(parts) < MIN_WORDS && shift <= 2 {
        let more = talk.substance(shift);
        shift += 1;
        if parts.iter().all(|p| p.text != more) && count(parts) + words(&more) <= MAX_WORDS {
            // Before claude's closing question, which passes the floor on.
            let at = if talk.is_guest() {
                parts.len()
            } else {
                parts.len().saturating_sub(1)
            };
            parts.insert(at, part(more, 3));
        }
    }
    const CLOSERS: [&str; 2] = [
        "That's the heart of it, as far as I can see.",
        "I'm curious where you land on that.",
    ];
    for closer in CLOSERS {
        if count(parts) >= MIN_WORDS {
            break;
        }
        parts.push(part(closer.to_owned(), 3));
    }
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

#[cfg(test)]
mod tests;
