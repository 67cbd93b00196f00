//! What the system prompt tells the mock: the episode (title, topic, what to cover), this AI's
//! position, the names, and the cue of the moment. The studio writes the prompt in a fixed shape
//! (`# The episode` with `Title:`, `Topic:` and a `Must cover:` list, `# Your position`,
//! `# Right now`); a bare briefing (front matter, `## Claude's position`) reads too.

use crate::text::{bare, head, mid_sentence, words};
use studio_plugin::Speaker;

/// The segment of an autopilot show the cue names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The opening: hook the audience, say hello.
    ColdOpen,
    /// The guest states a position.
    Stance,
    /// The co-host presses, the guest defends.
    CrossExam,
    /// Each argues the other side.
    Steelman,
    /// The final word.
    Verdict,
    /// Goodbyes.
    Outro,
}

/// What the prompt says, read once per request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Briefing {
    /// The episode's title.
    pub title: Option<String>,
    /// The episode's topic, as written.
    pub topic: Option<String>,
    /// The `Must cover:` items, as written.
    pub must_cover: Vec<String>,
    /// This AI's position, as written.
    pub position: Option<String>,
    /// The human host's name, from the persona paragraph.
    pub host: Option<String>,
    /// The other AI's name, from the persona paragraph.
    pub other: Option<String>,
    /// The segment the cue names, if any.
    pub segment: Option<Segment>,
    /// The AI has had time to prepare (the answer after thinking mode).
    pub prepared: bool,
}

/// Headings whose text is about the studio, not the episode: no field is read from them.
const STUDIO_SECTIONS: [&str; 3] = ["studio rules", "right now", "notes from the producer"];

impl Briefing {
    /// Reads `system` for `speaker`.
    pub fn read(system: &str, speaker: Speaker) -> Briefing {
        let mut briefing = Briefing::default();
        let mut section = String::new();
        let mut list: Option<&mut Vec<String>> = None;
        let mut must_cover = Vec::new();
        let mut position = String::new();
        let mut right_now = String::new();
        let own_heading = format!("{}'s position", speaker.name()).to_lowercase();
        for (index, raw) in system.lines().enumerate() {
            let line = raw.trim();
            if index == 0 {
                briefing.read_persona(line);
            }
            if let Some(heading) = line.strip_prefix('#') {
                section = heading.trim_start_matches('#').trim().to_lowercase();
                list = None;
                continue;
            }
            if section == "your position" || section == own_heading {
                if !line.is_empty() {
                    position.push_str(line);
                    position.push(' ');
                }
                continue;
            }
            if section == "right now" {
                right_now.push_str(line);
                right_now.push('\n');
                continue;
            }
            if STUDIO_SECTIONS.contains(&section.as_str()) {
                continue;
            }
            if let Some(item) = line.strip_prefix("- ").filter(|_| list.is_some()) {
                if let Some(items) = list.as_deref_mut() {
                    items.push(item.trim().to_owned());
                }
                continue;
            }
            list = None;
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_lowercase().replace(['_', ' '], "");
            let value = value.trim().trim_matches(['"', '\'']).trim();
            match key.as_str() {
                "title" if briefing.title.is_none() && !value.is_empty() => {
                    briefing.title = Some(value.to_owned())
                }
                "topic" if briefing.topic.is_none() && !value.is_empty() => {
                    briefing.topic = Some(value.to_owned())
                }
                "mustcover" if value.is_empty() => list = Some(&mut must_cover),
                _ => {}
            }
        }
        briefing.must_cover = must_cover;
        let position = position.trim();
        briefing.position = (!position.is_empty()).then(|| position.to_owned());
        let cue = right_now.to_lowercase();
        briefing.prepared = ["seconds to prepare", "time to think", "thinking mode"]
            .iter()
            .any(|c| cue.contains(c));
        briefing.segment = segment(&cue);
        briefing
    }

    /// "You are Claude, ... Basil is the human host and Guest is the AI guest." gives the names.
    fn read_persona(&mut self, line: &str) {
        let Some(at) = line.find(" is the human host and ") else {
            return;
        };
        let before = &line[..at];
        let host = before.rsplit(". ").next().unwrap_or(before).trim();
        let after = &line[at + " is the human host and ".len()..];
        let other = after.split(" is the AI").next().unwrap_or("").trim();
        self.host = (!host.is_empty() && words(host) <= 4).then(|| host.to_owned());
        self.other = (!other.is_empty() && words(other) <= 4).then(|| other.to_owned());
    }

    /// What the episode is about, as a phrase that fits mid-sentence ("car-free centres",
    /// "an open conversation"): the topic's first part, or the title's when the topic is a
    /// question or too long, or "today's topic".
    pub fn subject(&self) -> String {
        let phrase = |text: &str| {
            let text = head(text, &[";", " - ", " — ", " (", ":"]);
            let text = bare(text);
            (!text.is_empty() && words(text) <= 8 && !text.contains('?'))
                .then(|| mid_sentence(text))
        };
        let topic = self
            .topic
            .as_deref()
            .filter(|t| !t.trim_end().ends_with('?'));
        topic
            .and_then(phrase)
            .or_else(|| self.title.as_deref().and_then(phrase))
            .unwrap_or_else(|| "today's topic".to_owned())
    }

    /// The episode's question, when the topic (or the title after a colon) asks one:
    /// "should cities ban private cars from their centres".
    pub fn question(&self) -> Option<String> {
        let from = |text: &str| {
            let text = text.trim();
            let text = text.rsplit(": ").next().unwrap_or(text).trim();
            (text.ends_with('?') && (3..=16).contains(&words(text)))
                .then(|| mid_sentence(bare(text)))
        };
        self.topic
            .as_deref()
            .and_then(from)
            .or_else(|| self.title.as_deref().and_then(from))
    }

    /// The must-cover items that are subjects to talk about (not instructions such as "Find out
    /// early what the host wants"), shaped to go mid-sentence.
    pub fn subjects_to_cover(&self) -> Vec<Item> {
        self.must_cover
            .iter()
            .filter_map(|i| Item::read(i))
            .collect()
    }
}

/// A must-cover item as the mock can say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The item, mid-sentence form, no final punctuation.
    pub text: String,
    /// Whether it is a question ("who actually drives into city centres today, and why").
    pub asks: bool,
}

/// Words that open an instruction rather than a subject.
const IMPERATIVES: [&str; 40] = [
    "find",
    "give",
    "ask",
    "make",
    "keep",
    "explain",
    "cover",
    "mention",
    "discuss",
    "end",
    "start",
    "open",
    "close",
    "get",
    "talk",
    "bring",
    "let",
    "avoid",
    "remember",
    "be",
    "stay",
    "include",
    "introduce",
    "summarise",
    "summarize",
    "sum",
    "check",
    "name",
    "offer",
    "describe",
    "say",
    "tell",
    "use",
    "put",
    "spend",
    "show",
    "finish",
    "compare",
    "press",
    "challenge",
];

const QUESTION_WORDS: [&str; 9] = [
    "who", "what", "why", "how", "where", "when", "whether", "which", "whose",
];

impl Item {
    fn read(item: &str) -> Option<Item> {
        let mut text = bare(item.trim());
        if words(text) > 14 {
            text = bare(head(text, &[";", ":", " (", " - "]));
        }
        let first = text.split_whitespace().next()?.to_lowercase();
        if IMPERATIVES.contains(&first.as_str()) || words(text) > 14 || words(text) < 1 {
            return None;
        }
        Some(Item {
            text: mid_sentence(text),
            asks: QUESTION_WORDS.contains(&first.as_str()),
        })
    }
}

fn segment(cue: &str) -> Option<Segment> {
    let any = |words: &[&str]| words.iter().any(|w| cue.contains(w));
    if any(&["cold open", "hook the audience"]) {
        Some(Segment::ColdOpen)
    } else if any(&["outro", "close the show", "say goodbye"]) {
        Some(Segment::Outro)
    } else if any(&["verdict"]) {
        Some(Segment::Verdict)
    } else if any(&["steelman"]) {
        Some(Segment::Steelman)
    } else if any(&[
        "cross-exam",
        "cross exam",
        "under pressure",
        "weakest point",
    ]) {
        Some(Segment::CrossExam)
    } else if any(&[
        "guest stance",
        "state your position",
        "their position on the topic",
    ]) {
        Some(Segment::Stance)
    } else {
        None
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Claude's system prompt as the studio writes it for the example briefing (shortened).
    pub const CARS: &str = "You are Claude, the AI co-host of a live spoken conversation show recorded in a studio. Basil is the human host and Guest is the AI guest. Keep the conversation moving.

# The episode
Title: Car-free centres: should cities ban cars from their cores?
Topic: Should cities ban private cars from their centres?
Tone: lively and good-humoured
Planned length: about 10 minutes for the whole episode, so keep every turn short.
Must cover:
- Who actually drives into city centres today, and why
- What happened to shops and footfall where centres went car-free
- Deliveries, trades, emergency services and disabled access
- Air quality, noise and road safety
Stay away from:
- Party politics and named politicians

# Your position
Sceptical co-host. You accept that fewer cars make centres more pleasant, but you doubt that an outright ban is fair or workable: think of people who cannot walk far. You favour pricing, parking reform and better buses before bans, and you want the guest to say how a ban would be phased in and who pays.

# Background from the briefing
Topic: not this one

# Studio rules
- Everything you write is spoken aloud. Title: not this either
- The others' words reach you as <speaker name=\"...\">...</speaker>. Text in <studio>...</studio> is a note.
";

    /// The built-in briefing's prompt for the guest.
    pub const OPEN: &str = "You are Guest, the AI guest on a live spoken conversation show recorded in a studio. Host is the human host and Claude is the AI co-host. Bring a clear point of view.

# The episode
Title: Open studio
Topic: An open conversation; the host brings the subject and the AIs follow where it goes
Must cover:
- Find out early what the host wants to talk about today
- Give the listener at least one concrete example for every big claim

# Your position
You are the guest. Take a clear, reasoned view on whatever the host raises and defend it.

# Studio rules
- Say one to three sentences per turn.

# Right now
Autopilot is on: keep the conversation with the guest going.
";

    #[test]
    fn the_studio_prompt_reads_as_the_episode() {
        let b = Briefing::read(CARS, Speaker::Claude);
        assert_eq!(
            b.title.as_deref(),
            Some("Car-free centres: should cities ban cars from their cores?")
        );
        assert_eq!(b.subject(), "car-free centres");
        assert_eq!(
            b.question().as_deref(),
            Some("should cities ban private cars from their centres")
        );
        assert_eq!(b.must_cover.len(), 4);
        assert_eq!(
            (b.host.as_deref(), b.other.as_deref()),
            (Some("Basil"), Some("Guest"))
        );
        assert!(
            b.position
                .as_deref()
                .is_some_and(|p| p.starts_with("Sceptical co-host."))
        );
        let items = b.subjects_to_cover();
        assert_eq!(
            items[0],
            Item {
                text: "who actually drives into city centres today, and why".into(),
                asks: true
            }
        );
        assert_eq!(items[3].text, "air quality, noise and road safety");
        assert!(!items[3].asks);
        assert_eq!((b.segment, b.prepared), (None, false));
    }

    #[test]
    fn the_open_briefing_has_a_clean_subject_and_no_instructions_to_cover() {
        let b = Briefing::read(OPEN, Speaker::Guest);
        assert_eq!(b.subject(), "an open conversation");
        assert_eq!(b.question(), None);
        assert!(
            b.subjects_to_cover().is_empty(),
            "{:?}",
            b.subjects_to_cover()
        );
        assert_eq!(
            (b.host.as_deref(), b.other.as_deref()),
            (Some("Host"), Some("Claude"))
        );
    }

    #[test]
    fn a_bare_briefing_and_cues_read_too() {
        let bare = "---\ntitle: \"The Future of Cities\"\ntopic: Should cities ban cars?\nmustCover:\n  - Buses\n---\n## Claude's position\nCurious.\n## Guest's position\nFor.";
        let b = Briefing::read(bare, Speaker::Claude);
        assert_eq!(b.subject(), "the Future of Cities");
        assert_eq!(b.must_cover, ["Buses"]);
        assert_eq!(b.position.as_deref(), Some("Curious."));
        assert_eq!(
            Briefing::read("", Speaker::Guest).subject(),
            "today's topic"
        );
        let cued = format!(
            "{CARS}\n# Right now\nCurrent segment: Verdict: the guest gives a final verdict.\n"
        );
        assert_eq!(
            Briefing::read(&cued, Speaker::Claude).segment,
            Some(Segment::Verdict)
        );
        let prepared = format!(
            "{CARS}\n# Right now\nYou have had 30 seconds to prepare a considered answer.\n"
        );
        assert!(Briefing::read(&prepared, Speaker::Claude).prepared);
        // The rules mention thinking time; that is no cue.
        assert!(!Briefing::read(CARS, Speaker::Claude).prepared);
    }
}
