//! One briefing: front matter fields and the body's `## ` sections.

use serde::Deserialize;

use crate::speakers::Ai;

/// The briefing the studio uses when an episode has no file of its own.
const BUILT_IN: &str = include_str!("default.md");

/// Front matter keys, in the spelling the file uses; used to name the field in an error.
const FIELDS: [&str; 6] = [
    "title",
    "topic",
    "tone",
    "mustCover",
    "avoidTopics",
    "targetDuration",
];

/// An episode briefing: what the AIs are told about the episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Briefing {
    /// `title`: the episode's title, when given.
    pub title: Option<String>,
    /// `topic`: what the episode is about (required).
    pub topic: String,
    /// `tone`: how the conversation should feel, e.g. "lively but fair".
    pub tone: Option<String>,
    /// `mustCover`: points the conversation has to reach.
    pub must_cover: Vec<String>,
    /// `avoidTopics`: subjects to stay away from.
    pub avoid_topics: Vec<String>,
    /// `targetDuration`: the planned length of the whole episode in seconds.
    pub target_duration_secs: Option<u32>,
    /// The body's text before its first `## ` heading, trimmed.
    pub intro: String,
    /// The body's `## ` sections, in file order.
    pub sections: Vec<Section>,
}

/// One `## heading` of the body with the text under it (up to the next `## ` heading).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The heading text without the `## ` marker.
    pub heading: String,
    /// The text under the heading, trimmed.
    pub text: String,
}

/// Why a briefing's text is not a valid briefing; `line` counts from 1 in the whole file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {}{message}", field.as_ref().map(|f| format!("`{f}`: ")).unwrap_or_default())]
pub struct BriefingParseError {
    /// The line of the file the problem is on.
    pub line: usize,
    /// The front matter field at fault, when one is.
    pub field: Option<String>,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

/// The front matter as written; `deny_unknown_fields` turns a misspelt key into an error that
/// names it instead of a silently missing field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FrontMatter {
    title: Option<String>,
    topic: Option<String>,
    tone: Option<String>,
    #[serde(default)]
    must_cover: Vec<String>,
    #[serde(default)]
    avoid_topics: Vec<String>,
    target_duration: Option<u32>,
}

impl Briefing {
    /// Parses a briefing file's text: `---` YAML front matter `---`, then the Markdown body.
    pub fn parse(text: &str) -> Result<Briefing, BriefingParseError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (yaml, body) = split_front_matter(text)?;
        // The YAML starts on file line 2, right after the opening `---`.
        let front: FrontMatter = serde_yaml_ng::from_str(yaml).map_err(|e| yaml_error(&e, 1))?;
        let field_line = |key: &str| key_line(yaml, key).map_or(1, |l| l + 1);
        let blank = |key: &str, value: &str| -> Result<(), BriefingParseError> {
            if value.trim().is_empty() {
                return Err(BriefingParseError {
                    line: field_line(key),
                    field: Some(key.into()),
                    message: "must not be empty".into(),
                });
            }
            Ok(())
        };
        let topic = front.topic.ok_or_else(|| BriefingParseError {
            line: 1,
            field: Some("topic".into()),
            message: "is missing; add `topic: <what the episode is about>` to the front matter"
                .into(),
        })?;
        blank("topic", &topic)?;
        if let Some(title) = &front.title {
            blank("title", title)?;
        }
        for (key, list) in [
            ("mustCover", &front.must_cover),
            ("avoidTopics", &front.avoid_topics),
        ] {
            for item in list {
                blank(key, item)?;
            }
        }
        let (intro, sections) = sections(body);
        if front.target_duration == Some(0) {
            return Err(BriefingParseError {
                line: field_line("targetDuration"),
                field: Some("targetDuration".into()),
                message: "must be a number of seconds above 0, e.g. 600".into(),
            });
        }
        Ok(Briefing {
            title: front.title.map(|t| t.trim().to_owned()),
            topic: topic.trim().to_owned(),
            tone: front
                .tone
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
            must_cover: trim_all(front.must_cover),
            avoid_topics: trim_all(front.avoid_topics),
            target_duration_secs: front.target_duration,
            intro,
            sections,
        })
    }

    /// The studio's own briefing, for episodes that have no file: an open conversation the
    /// human steers.
    pub fn built_in() -> Briefing {
        match Briefing::parse(BUILT_IN) {
            Ok(briefing) => briefing,
            // The text is part of the binary and a test parses it, so this arm is unreachable in
            // a tested build; an empty topic still gives the AIs a usable prompt.
            Err(error) => {
                tracing::error!(%error, "the built-in briefing does not parse");
                Briefing {
                    title: None,
                    topic: "An open conversation".into(),
                    tone: None,
                    must_cover: Vec::new(),
                    avoid_topics: Vec::new(),
                    target_duration_secs: None,
                    intro: String::new(),
                    sections: Vec::new(),
                }
            }
        }
    }

    /// The text of the first section whose heading matches `heading`, ignoring case.
    pub fn section(&self, heading: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|s| s.heading.eq_ignore_ascii_case(heading.trim()))
            .map(|s| s.text.as_str())
    }

    /// The position section of an AI (`## Claude's position`, `## Guest stance`, ...), if any.
    pub fn position(&self, ai: Ai) -> Option<&str> {
        self.sections
            .iter()
            .find(|s| position_of(&s.heading) == Some(ai))
            .map(|s| s.text.as_str())
    }

    /// Whether a section is one of the AIs' position sections.
    pub fn is_position(section: &Section) -> bool {
        position_of(&section.heading).is_some()
    }
}

/// Which AI a heading gives the position of: it names `claude` or `guest` and, unless that is
/// the whole heading, a word such as position, stance, view, side or case.
fn position_of(heading: &str) -> Option<Ai> {
    let words: Vec<String> = heading
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let ai = if words.iter().any(|w| w == "claude") {
        Ai::Claude
    } else if words.iter().any(|w| w == "guest") {
        Ai::Guest
    } else {
        return None;
    };
    const POSITION_WORDS: [&str; 7] = [
        "position", "stance", "view", "side", "case", "argument", "brief",
    ];
    let named_alone = words.len() == 1;
    let positional = words.iter().any(|w| {
        POSITION_WORDS
            .iter()
            .any(|p| w == p || w.strip_suffix('s') == Some(p))
    });
    (named_alone || positional).then_some(ai)
}

fn trim_all(items: Vec<String>) -> Vec<String> {
    items.into_iter().map(|i| i.trim().to_owned()).collect()
}

/// Splits the file into its YAML and its body.
fn split_front_matter(text: &str) -> Result<(&str, &str), BriefingParseError> {
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        return Err(BriefingParseError {
            line: 1,
            field: None,
            message: "a briefing starts with YAML front matter: a `---` line, `topic: ...` and \
                      the other fields, then a closing `---` line"
                .into(),
        });
    }
    let yaml_start = first.len();
    let mut offset = yaml_start;
    for line in lines {
        let marker = line.trim_end();
        if marker == "---" || marker == "..." {
            return Ok((&text[yaml_start..offset], &text[offset + line.len()..]));
        }
        offset += line.len();
    }
    Err(BriefingParseError {
        line: 1,
        field: None,
        message: "the front matter opened here is never closed; add a `---` line after it".into(),
    })
}

/// The 1-based line (within the YAML) of a top-level `key:`.
fn key_line(yaml: &str, key: &str) -> Option<usize> {
    yaml.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// Turns a YAML error into one with the file's line and the field named.
fn yaml_error(error: &serde_yaml_ng::Error, lines_before: usize) -> BriefingParseError {
    let mut message = error.to_string();
    let mut line = lines_before + 1;
    if let Some(at) = error.location() {
        line = lines_before + at.line();
        // The library appends the position within the YAML; ours is in `line` instead.
        let suffix = format!(" at line {} column {}", at.line(), at.column());
        message = message.replacen(&suffix, "", 1);
    }
    let message = shift_line_numbers(&message, lines_before);
    let mut message = message;
    let mut field = None;
    if let Some((path, rest)) = message.split_once(": ")
        && let Some(key) = FIELDS.iter().find(|f| path.starts_with(**f))
    {
        field = Some((*key).to_owned());
        message = rest.to_owned();
    } else if let Some(named) = message.split('`').nth(1)
        && (message.starts_with("unknown field") || message.starts_with("missing field"))
    {
        field = Some(named.to_owned());
        if message.starts_with("unknown field") {
            message = format!("is not a briefing field (known: {})", FIELDS.join(", "));
        }
    }
    BriefingParseError {
        line,
        field,
        message,
    }
}

/// Rewrites "line N" in a YAML message (context positions the library leaves in) to file lines.
fn shift_line_numbers(message: &str, lines_before: usize) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("line ") {
        let (head, tail) = rest.split_at(at + "line ".len());
        out.push_str(head);
        let digits = tail.len() - tail.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        match tail[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + lines_before).to_string()),
            Err(_) => out.push_str(&tail[..digits]),
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

/// The body's `## ` sections; `#`, `###` and deeper headings stay part of the text, and headings
/// inside fenced code blocks are not headings.
fn sections(body: &str) -> (String, Vec<Section>) {
    let mut intro = String::new();
    let mut sections: Vec<Section> = Vec::new();
    let mut current: Option<(String, String)> = None;
    let mut in_fence = false;
    for line in body.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        }
        if !in_fence && let Some(heading) = line.strip_prefix("## ") {
            if let Some((heading, text)) = current.take() {
                sections.push(Section {
                    heading,
                    text: text.trim().to_owned(),
                });
            }
            current = Some((
                heading.trim().trim_end_matches('#').trim().to_owned(),
                String::new(),
            ));
            continue;
        }
        let text = match &mut current {
            Some((_, text)) => text,
            None => &mut intro,
        };
        text.push_str(line);
        text.push('\n');
    }
    if let Some((heading, text)) = current {
        sections.push(Section {
            heading,
            text: text.trim().to_owned(),
        });
    }
    (intro.trim().to_owned(), sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../briefings/cars-in-city-centres.md");

    fn error_of(text: &str) -> BriefingParseError {
        match Briefing::parse(text) {
            Ok(briefing) => panic!("expected an error, parsed {briefing:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn example_briefing_parses_with_both_positions() {
        let b = Briefing::parse(EXAMPLE).unwrap();
        assert_eq!(
            b.title.as_deref(),
            Some("Car-free centres: should cities ban cars from their cores?")
        );
        assert_eq!(
            b.topic,
            "Should cities ban private cars from their centres?"
        );
        assert!(b.tone.as_deref().unwrap().starts_with("lively"));
        assert_eq!(b.must_cover.len(), 5);
        assert_eq!(
            b.must_cover[2],
            "Deliveries, trades, emergency services and disabled access"
        );
        assert_eq!(
            b.avoid_topics,
            [
                "Party politics and named politicians",
                "Individual road accidents or victims"
            ]
        );
        assert_eq!(b.target_duration_secs, Some(600));
        assert!(b.intro.starts_with("# Car-free centres"));
        let headings: Vec<&str> = b.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(
            headings,
            ["Claude's position", "Guest's position", "Background"]
        );
        assert!(
            b.position(Ai::Claude)
                .unwrap()
                .starts_with("Sceptical co-host.")
        );
        assert!(
            b.position(Ai::Guest)
                .unwrap()
                .starts_with("Advocate for a ban.")
        );
        assert!(
            b.section("background")
                .unwrap()
                .ends_with("headline figures.")
        );
    }

    #[test]
    fn built_in_briefing_has_a_topic_and_both_positions() {
        let b = Briefing::parse(BUILT_IN).unwrap();
        assert_eq!(b, Briefing::built_in());
        assert_eq!(b.title.as_deref(), Some("Open studio"));
        assert!(!b.must_cover.is_empty());
        assert!(b.position(Ai::Claude).unwrap().contains("co-host"));
        assert!(b.position(Ai::Guest).unwrap().contains("guest"));
    }

    #[test]
    fn minimal_briefing_needs_only_a_topic() {
        let b = Briefing::parse("---\ntopic: Tea or coffee\n---\n").unwrap();
        assert_eq!(b.topic, "Tea or coffee");
        assert_eq!(b.title, None);
        assert!(b.must_cover.is_empty() && b.sections.is_empty() && b.intro.is_empty());
        assert_eq!(b.target_duration_secs, None);
    }

    #[test]
    fn file_without_front_matter_is_rejected_at_line_one() {
        let e = error_of("# Just a heading\n\nSome notes.\n");
        assert_eq!(e.line, 1);
        assert_eq!(e.field, None);
        assert!(e.message.contains("front matter"), "{e}");
    }

    #[test]
    fn unclosed_front_matter_is_rejected() {
        let e = error_of("---\ntopic: Tea\n## Claude\n");
        assert!(e.message.contains("never closed"), "{e}");
    }

    #[test]
    fn missing_topic_names_the_field() {
        let e = error_of("---\ntitle: Tea\n---\n");
        assert_eq!(e.field.as_deref(), Some("topic"));
        assert!(e.to_string().contains("`topic`"), "{e}");
    }

    #[test]
    fn wrongly_typed_list_names_field_and_file_line() {
        let e =
            error_of("---\ntitle: Tea\ntopic: Tea or coffee\nmustCover: just one string\n---\n");
        assert_eq!(e.field.as_deref(), Some("mustCover"));
        assert_eq!(e.line, 4);
        assert!(e.message.contains("expected a sequence"), "{e}");
        assert!(!e.message.contains("column"), "{e}");
        assert!(e.to_string().starts_with("line 4: `mustCover`: "), "{e}");
    }

    #[test]
    fn non_numeric_duration_names_field_and_file_line() {
        let e = error_of("---\ntopic: Tea\n\ntargetDuration: ten minutes\n---\n");
        assert_eq!(e.field.as_deref(), Some("targetDuration"));
        assert_eq!(e.line, 4);
    }

    #[test]
    fn zero_duration_is_rejected_on_its_line() {
        let e = error_of("---\ntopic: Tea\ntargetDuration: 0\n---\n");
        assert_eq!((e.line, e.field.as_deref()), (3, Some("targetDuration")));
    }

    #[test]
    fn misspelt_field_is_named_with_the_known_ones() {
        let e = error_of("---\ntopic: Tea\nmustcover: [a, b]\n---\n");
        assert_eq!(e.field.as_deref(), Some("mustcover"));
        assert_eq!(e.line, 3);
        assert!(e.message.contains("mustCover"), "{e}");
    }

    #[test]
    fn yaml_syntax_error_points_at_the_file_line() {
        let e = error_of("---\ntopic: Tea\ntone: \"open\nmustCover: []\n---\n");
        assert_eq!(e.line, 5, "{e}");
        // The library's own context position is shifted to the file's numbering too.
        assert!(
            e.message.contains("quoted scalar at line 3 column 7"),
            "{e}"
        );
    }

    #[test]
    fn empty_list_item_is_rejected() {
        let e = error_of("---\ntopic: Tea\navoidTopics:\n  - politics\n  - \"  \"\n---\n");
        assert_eq!((e.line, e.field.as_deref()), (3, Some("avoidTopics")));
    }

    #[test]
    fn sections_split_on_level_two_headings_outside_code_fences() {
        let text = "---\ntopic: T\n---\nIntro line.\n## One\nfirst\n### Detail\nmore\n```\n## not a heading\n```\n## Two ##\nsecond\n";
        let b = Briefing::parse(text).unwrap();
        assert_eq!(b.intro, "Intro line.");
        assert_eq!(b.sections.len(), 2);
        assert_eq!(b.sections[0].heading, "One");
        assert_eq!(
            b.sections[0].text,
            "first\n### Detail\nmore\n```\n## not a heading\n```"
        );
        assert_eq!(
            b.sections[1],
            Section {
                heading: "Two".into(),
                text: "second".into()
            }
        );
    }

    #[test]
    fn position_headings_are_recognised_by_name() {
        for (heading, ai) in [
            ("Claude's position", Some(Ai::Claude)),
            ("Position: Claude", Some(Ai::Claude)),
            ("CLAUDE STANCE", Some(Ai::Claude)),
            ("Claude", Some(Ai::Claude)),
            ("Guest's position", Some(Ai::Guest)),
            ("The guest's views", Some(Ai::Guest)),
            ("Guest (the advocate) argues this case", Some(Ai::Guest)),
            ("Notes for Claude", None),
            ("Background", None),
            ("Guestlist position", None),
        ] {
            assert_eq!(position_of(heading), ai, "{heading}");
        }
    }
}
