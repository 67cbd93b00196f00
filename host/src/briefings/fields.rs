//! A briefing as named fields (what an editor form sends and shows) and the Markdown file written
//! from them. The file stays the source of truth: fields become a file, and the file is accepted
//! only if the loader reads the same fields back from it.

use serde::{Deserialize, Serialize};

use super::{Briefing, BriefingParseError, Section};
use crate::speakers::Ai;

/// A briefing's fields, as the loader reads them from a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BriefingFields {
    /// The episode's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Car-free centres")]
    pub title: Option<String>,
    /// What the episode is about (required, not blank).
    #[schema(example = "Should cities ban private cars from their centres?")]
    pub topic: String,
    /// How the conversation should feel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "lively but fair")]
    pub tone: Option<String>,
    /// Points the conversation has to reach.
    #[serde(default)]
    pub must_cover: Vec<String>,
    /// Subjects to stay away from (the file's `avoidTopics`; `avoid` is read as the same).
    #[serde(default, alias = "avoid")]
    pub avoid_topics: Vec<String>,
    /// The planned length of the whole episode, in seconds (above 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, example = 600)]
    pub target_duration: Option<u32>,
    /// Background for both AIs: the text before the first `## ` section.
    #[serde(default)]
    pub intro: String,
    /// Each AI's position (only that AI's prompt gets it).
    #[serde(default)]
    pub stances: Stances,
    /// The other `## ` sections, in file order (background for both AIs).
    #[serde(default)]
    pub sections: Vec<SectionFields>,
}

/// Each AI's position: the `## Claude's position` and `## Guest's position` sections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Stances {
    /// Claude's (the co-host's) position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude: Option<String>,
    /// The guest's position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<String>,
}

/// One `## heading` of the body and the text under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionFields {
    /// The heading, without `## `.
    pub heading: String,
    /// The text under it.
    pub text: String,
}

/// Why fields cannot become a briefing file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldsError {
    /// The file written from them is not a valid briefing: the loader's own message.
    #[error(transparent)]
    Invalid(#[from] BriefingParseError),
    /// The loader would read a field back differently from how it was sent.
    #[error("`{field}`: {message}")]
    NotReadBack {
        /// The field, e.g. `stances.claude` or `sections[1].heading`.
        field: String,
        /// Why it does not survive the file.
        message: String,
    },
}

impl From<&Briefing> for BriefingFields {
    fn from(b: &Briefing) -> Self {
        BriefingFields {
            title: b.title.clone(),
            topic: b.topic.clone(),
            tone: b.tone.clone(),
            must_cover: b.must_cover.clone(),
            avoid_topics: b.avoid_topics.clone(),
            target_duration: b.target_duration_secs,
            intro: b.intro.clone(),
            stances: Stances {
                claude: b.position(Ai::Claude).map(str::to_owned),
                guest: b.position(Ai::Guest).map(str::to_owned),
            },
            sections: b
                .sections
                .iter()
                .filter(|s| !Briefing::is_position(s))
                .map(|s| SectionFields {
                    heading: s.heading.clone(),
                    text: s.text.clone(),
                })
                .collect(),
        }
    }
}

/// The front matter as written to the file, in the loader's spelling.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FrontMatterOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    topic: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tone: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    must_cover: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    avoid_topics: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    target_duration: Option<u32>,
}

impl BriefingFields {
    /// The briefing file for these fields, checked by the loader: it must parse
    /// ([`FieldsError::Invalid`] with the loader's line and message) and read back as the same
    /// fields, whitespace around values aside ([`FieldsError::NotReadBack`] names the field).
    pub fn to_markdown(&self) -> Result<String, FieldsError> {
        let wanted = self.normalized();
        let markdown = wanted.render();
        let read = Briefing::parse(&markdown)?;
        wanted.same_as(&BriefingFields::from(&read))?;
        Ok(markdown)
    }

    /// Whitespace around every value trimmed, blank optional values left out: what the loader
    /// itself does to a file's values.
    fn normalized(&self) -> BriefingFields {
        let text = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        let trim_all = |list: &[String]| list.iter().map(|s| s.trim().to_owned()).collect();
        BriefingFields {
            // A blank title is kept, so the loader refuses it rather than it vanishing.
            title: self.title.as_deref().map(|t| t.trim().to_owned()),
            topic: self.topic.trim().to_owned(),
            tone: text(&self.tone),
            must_cover: trim_all(&self.must_cover),
            avoid_topics: trim_all(&self.avoid_topics),
            target_duration: self.target_duration,
            intro: self.intro.trim().to_owned(),
            stances: Stances {
                claude: text(&self.stances.claude),
                guest: text(&self.stances.guest),
            },
            sections: self
                .sections
                .iter()
                .map(|s| SectionFields {
                    heading: s.heading.trim().to_owned(),
                    text: s.text.trim().to_owned(),
                })
                .collect(),
        }
    }

    /// The file: YAML front matter, the intro, the stances, the other sections.
    fn render(&self) -> String {
        let front = FrontMatterOut {
            title: self.title.as_deref(),
            topic: &self.topic,
            tone: self.tone.as_deref(),
            must_cover: &self.must_cover,
            avoid_topics: &self.avoid_topics,
            target_duration: self.target_duration,
        };
        // Strings, lists of strings and a number: serializing cannot fail; an empty front matter
        // would be refused by the loader below.
        let yaml = serde_yaml_ng::to_string(&front).unwrap_or_default();
        let mut out = format!("---\n{yaml}---\n");
        let mut block = |heading: Option<&str>, text: &str| {
            out.push('\n');
            if let Some(heading) = heading {
                out.push_str("## ");
                out.push_str(heading);
                out.push_str("\n\n");
            }
            if !text.is_empty() {
                out.push_str(text);
                out.push('\n');
            }
        };
        if !self.intro.is_empty() {
            block(None, &self.intro);
        }
        if let Some(claude) = &self.stances.claude {
            block(Some("Claude's position"), claude);
        }
        if let Some(guest) = &self.stances.guest {
            block(Some("Guest's position"), guest);
        }
        for section in &self.sections {
            block(Some(&section.heading), &section.text);
        }
        out
    }

    /// The first field `read` (the loader's reading of the file) has differently.
    fn same_as(&self, read: &BriefingFields) -> Result<(), FieldsError> {
        let differ = |field: &str, message: &str| {
            Err(FieldsError::NotReadBack {
                field: field.to_owned(),
                message: message.to_owned(),
            })
        };
        const LAYOUT: &str = "would not read back as written: a line starting with `## ` \
            starts a new section (use `### ` inside a text)";
        const STANCE: &str = "names claude or guest with a word such as position, stance or \
            view, so the loader reads it as that AI's position: put it in `stances` instead";
        let simple = [
            ("title", self.title != read.title),
            ("topic", self.topic != read.topic),
            ("tone", self.tone != read.tone),
            ("mustCover", self.must_cover != read.must_cover),
            ("avoidTopics", self.avoid_topics != read.avoid_topics),
            (
                "targetDuration",
                self.target_duration != read.target_duration,
            ),
        ];
        if let Some((field, _)) = simple.iter().find(|(_, differs)| *differs) {
            return differ(field, "would not read back as written");
        }
        if self.intro != read.intro {
            return differ("intro", LAYOUT);
        }
        for (i, section) in self.sections.iter().enumerate() {
            if Briefing::is_position(&Section {
                heading: section.heading.clone(),
                text: String::new(),
            }) {
                return differ(&format!("sections[{i}].heading"), STANCE);
            }
        }
        if self.stances.claude != read.stances.claude {
            return differ("stances.claude", LAYOUT);
        }
        if self.stances.guest != read.stances.guest {
            return differ("stances.guest", LAYOUT);
        }
        for (i, (sent, got)) in self.sections.iter().zip(&read.sections).enumerate() {
            if sent.heading != got.heading {
                return differ(
                    &format!("sections[{i}].heading"),
                    "would not read back as written: a heading is one line, and trailing `#` \
                     are dropped",
                );
            }
            if sent.text != got.text {
                return differ(&format!("sections[{i}].text"), LAYOUT);
            }
        }
        if self.sections.len() != read.sections.len() {
            let i = self.sections.len().min(read.sections.len());
            return differ(&format!("sections[{i}]"), LAYOUT);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../briefings/cars-in-city-centres.md");

    fn full() -> BriefingFields {
        BriefingFields {
            title: Some("Tea: a history".into()),
            topic: "Is tea better than coffee?".into(),
            tone: Some("warm, curious; no: yes".into()),
            must_cover: vec!["caffeine".into(), "- rituals #1".into(), "yes".into()],
            avoid_topics: vec!["brand names".into()],
            target_duration: Some(900),
            intro: "# Tea\n\nA gentle episode.\n\n### Notes\n- one".into(),
            stances: Stances {
                claude: Some("Coffee first.\nAlways.".into()),
                guest: Some("Tea, & only tea: <b>".into()),
            },
            sections: vec![SectionFields {
                heading: "Background".into(),
                text: "```\n## in a fence\n```".into(),
            }],
        }
    }

    #[test]
    fn fields_written_to_a_file_read_back_the_same() {
        let fields = full();
        let markdown = fields.to_markdown().expect("valid");
        let read = Briefing::parse(&markdown).expect("the loader reads it");
        assert_eq!(BriefingFields::from(&read), fields, "{markdown}");
        assert_eq!(read.position(Ai::Guest), Some("Tea, & only tea: <b>"));
    }

    #[test]
    fn the_example_file_survives_fields_and_back() {
        let fields = BriefingFields::from(&Briefing::parse(EXAMPLE).expect("example"));
        assert!(fields.stances.claude.is_some() && fields.stances.guest.is_some());
        let again = Briefing::parse(&fields.to_markdown().expect("valid")).expect("parses");
        assert_eq!(BriefingFields::from(&again), fields);
        assert_eq!(again, Briefing::parse(EXAMPLE).expect("example"));
    }

    #[test]
    fn only_a_topic_is_needed_and_blank_values_are_left_out() {
        let fields = BriefingFields {
            topic: "  Tea  ".into(),
            tone: Some(" ".into()),
            stances: Stances {
                claude: Some("".into()),
                guest: None,
            },
            ..BriefingFields::default()
        };
        let markdown = fields.to_markdown().expect("valid");
        assert_eq!(markdown, "---\ntopic: Tea\n---\n");
    }

    #[test]
    fn the_loaders_own_message_refuses_bad_fields() {
        let e = BriefingFields::default().to_markdown().unwrap_err();
        assert!(
            matches!(&e, FieldsError::Invalid(p) if p.field.as_deref() == Some("topic")),
            "{e}"
        );
        let zero = BriefingFields {
            topic: "Tea".into(),
            target_duration: Some(0),
            ..BriefingFields::default()
        };
        let e = zero.to_markdown().unwrap_err();
        assert!(e.to_string().contains("`targetDuration`"), "{e}");
        let blank_item = BriefingFields {
            topic: "Tea".into(),
            must_cover: vec!["a".into(), " ".into()],
            ..BriefingFields::default()
        };
        let e = blank_item.to_markdown().unwrap_err();
        assert!(
            e.to_string().contains("`mustCover`: must not be empty"),
            "{e}"
        );
    }

    #[test]
    fn text_that_would_change_the_files_layout_is_refused_by_name() {
        let mut f = BriefingFields {
            topic: "Tea".into(),
            ..BriefingFields::default()
        };
        f.stances.claude = Some("Fine.\n## Sneaky\nmore".into());
        let e = f.to_markdown().unwrap_err();
        assert!(e.to_string().starts_with("`stances.claude`:"), "{e}");

        f.stances.claude = None;
        f.sections = vec![SectionFields {
            heading: "Guest's view".into(),
            text: "x".into(),
        }];
        let e = f.to_markdown().unwrap_err();
        assert!(e.to_string().starts_with("`sections[0].heading`:"), "{e}");

        f.sections = vec![SectionFields {
            heading: "Two\nlines".into(),
            text: "x".into(),
        }];
        let e = f.to_markdown().unwrap_err();
        assert!(e.to_string().starts_with("`sections[0]"), "{e}");

        f.sections.clear();
        f.intro = "## Not an intro".into();
        let e = f.to_markdown().unwrap_err();
        assert!(e.to_string().starts_with("`intro`:"), "{e}");
    }

    #[test]
    fn avoid_is_read_as_avoid_topics() {
        let f: BriefingFields =
            serde_json::from_str(r#"{"topic": "Tea", "avoid": ["x"]}"#).expect("parses");
        assert_eq!(f.avoid_topics, ["x"]);
        assert!(serde_json::from_str::<BriefingFields>(r#"{"topic": "T", "avoidd": []}"#).is_err());
    }
}
