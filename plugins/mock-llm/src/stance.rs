//! This AI's stance, from its position in the briefing: the claims it makes, what it doubts and
//! what it grants, turned from "You argue that X" into what the AI can say in its own voice.

use crate::text::{bare, collapse, words};
use studio_plugin::text::split_sentences;

/// What a position sentence commits the AI to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// It argues this ("You argue that X").
    Claim,
    /// It doubts this ("you doubt that X").
    Doubt,
    /// It grants this ("You accept that X").
    Grant,
    /// It prefers this ("You favour X").
    Prefer,
}

/// One statement of the stance, in the first person where it speaks of the AI ("my", "I").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// What kind of statement.
    pub kind: Kind,
    /// What follows the verb: "city centres are too valuable to spend on private cars".
    pub what: String,
}

/// The verbs of a position sentence and what they commit to.
const VERBS: [(&str, Kind); 20] = [
    ("argue", Kind::Claim),
    ("believe", Kind::Claim),
    ("think", Kind::Claim),
    ("hold", Kind::Claim),
    ("maintain", Kind::Claim),
    ("say", Kind::Claim),
    ("insist", Kind::Claim),
    ("doubt", Kind::Doubt),
    ("question", Kind::Doubt),
    ("worry", Kind::Doubt),
    ("accept", Kind::Grant),
    ("concede", Kind::Grant),
    ("grant", Kind::Grant),
    ("admit", Kind::Grant),
    ("agree", Kind::Grant),
    ("favour", Kind::Prefer),
    ("favor", Kind::Prefer),
    ("prefer", Kind::Prefer),
    ("support", Kind::Prefer),
    ("want", Kind::Prefer),
];

/// Words that make a statement about someone else, which the AI cannot say as its own.
const OTHERS: [&str; 6] = [
    "the guest",
    "the host",
    "the co-host",
    "claude",
    "the other",
    "they",
];

/// The points of `position`, in order.
pub fn points(position: &str) -> Vec<Point> {
    let mut points = Vec::new();
    for sentence in split_sentences(position) {
        // What follows a colon elaborates ("think of people who ..."); a semicolon may carry
        // more of the same ("...; that streets keep shoppers; and that ...").
        let sentence = sentence.split(": ").next().unwrap_or("");
        let mut kind = None;
        for part in sentence.split("; ") {
            for clause in clauses(part) {
                let clause = bare(clause);
                let lower = clause.to_ascii_lowercase();
                let (found, what) = match lower.strip_prefix("you ") {
                    Some(rest) => {
                        let verb = rest.split_whitespace().next().unwrap_or("");
                        match VERBS.iter().find(|(v, _)| *v == verb) {
                            Some((_, k)) => (Some(*k), &clause[4 + verb.len()..]),
                            None => (None, ""),
                        }
                    }
                    // "...; that X" goes on with the verb before it.
                    None => match (kind, lower.strip_prefix("and ").unwrap_or(&lower)) {
                        (Some(k), rest) if rest.starts_with("that ") => {
                            let at = clause.len() - rest.len();
                            (Some(k), &clause[at..])
                        }
                        _ => (None, ""),
                    },
                };
                let Some(found) = found else {
                    kind = None;
                    continue;
                };
                kind = Some(found);
                let what = what.trim();
                let what = what.strip_prefix("that ").unwrap_or(what).trim();
                let what = first_person(what);
                let about_others = OTHERS
                    .iter()
                    .any(|o| format!(" {} ", what.to_lowercase()).contains(&format!(" {o} ")));
                if (3..=24).contains(&words(&what)) && !about_others {
                    points.push(Point { kind: found, what });
                }
            }
        }
    }
    points
}

/// A part cut where another "you ..." starts: "You accept X, but you doubt Y" is two clauses.
fn clauses(part: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = part;
    loop {
        let lower = rest.to_ascii_lowercase();
        let cut = [
            ", but you ",
            ", and you ",
            " but you ",
            " and you ",
            ", yet you ",
        ]
        .iter()
        .filter_map(|m| lower.find(m).map(|at| (at, m.len() - "you ".len())))
        .min();
        match cut {
            Some((at, skip)) if at > 0 => {
                out.push(&rest[..at]);
                rest = &rest[at + skip..];
            }
            _ => {
                out.push(rest);
                return out;
            }
        }
    }
}

/// "your case" -> "my case", "you are" -> "I am": the position speaks to the AI, the AI speaks
/// for itself.
fn first_person(text: &str) -> String {
    let swapped: Vec<String> = text
        .split_whitespace()
        .map(|word| {
            let core = word.trim_end_matches([',', '.', ';']);
            let tail = &word[core.len()..];
            let swapped = match core {
                "you" | "You" => "I",
                "your" | "Your" => "my",
                "yours" => "mine",
                "yourself" => "myself",
                "you're" => "I'm",
                "you've" => "I've",
                _ => return word.to_owned(),
            };
            format!("{swapped}{tail}")
        })
        .collect();
    collapse(&swapped.join(" ").replace("I are", "I am"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sceptic_grants_doubts_and_prefers() {
        let points = points(
            "Sceptical co-host. You accept that fewer cars make centres more pleasant, but you \
             doubt that an outright ban is fair or workable: think of people who cannot walk far. \
             You favour pricing, parking reform and better buses before bans, and you want the \
             guest to say how a ban would be phased in and who pays.",
        );
        assert_eq!(
            points,
            [
                Point {
                    kind: Kind::Grant,
                    what: "fewer cars make centres more pleasant".into()
                },
                Point {
                    kind: Kind::Doubt,
                    what: "an outright ban is fair or workable".into()
                },
                Point {
                    kind: Kind::Prefer,
                    what: "pricing, parking reform and better buses before bans".into()
                },
            ]
        );
    }

    #[test]
    fn an_advocate_makes_several_claims() {
        let points = points(
            "Advocate for a ban. You argue that city centres are too valuable to spend on moving \
             and storing private cars; that pedestrianised streets tend to keep or gain shoppers; \
             and that cleaner air and safer streets pay back quickly. You concede that transit \
             has to improve alongside.",
        );
        let said: Vec<(Kind, &str)> = points.iter().map(|p| (p.kind, p.what.as_str())).collect();
        assert_eq!(
            said,
            [
                (
                    Kind::Claim,
                    "city centres are too valuable to spend on moving and storing private cars"
                ),
                (
                    Kind::Claim,
                    "pedestrianised streets tend to keep or gain shoppers"
                ),
                (
                    Kind::Claim,
                    "cleaner air and safer streets pay back quickly"
                ),
                (Kind::Grant, "transit has to improve alongside"),
            ]
        );
    }

    #[test]
    fn instructions_and_roles_are_no_stance() {
        assert!(points("You are the guest. Take a clear view and defend it.").is_empty());
        assert!(points("").is_empty());
        assert_eq!(
            points("You think your case is strong.")[0].what,
            "my case is strong"
        );
    }
}
