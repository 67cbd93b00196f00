//! Reading the conversation for turn policies: who the human addressed, and whether someone asked
//! for time to think. Pure functions on text, shared by the first-party policies and open to any
//! policy author.

use crate::{Decision, FloorState, Speaker};

/// Thinking time when the request names none ("take a moment"), in ms.
pub const DEFAULT_THINKING_MS: u32 = 30_000;
/// The shortest thinking time a request can set, in ms.
pub const MIN_THINKING_MS: u32 = 5_000;
/// The longest thinking time a request can set, in ms.
pub const MAX_THINKING_MS: u32 = 300_000;

/// Whom a line of the human's speech is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressee {
    /// "Claude, ..."
    Claude,
    /// "Guest, ..."
    Guest,
    /// "Both of you ...", "you two", "Claude and guest ..."
    Both,
    /// No name: the policy picks.
    Unnamed,
}

/// Lower-case words of `text`, punctuation removed (apostrophes kept: "what's").
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Finds whom the human addressed: a name at the start wins ("Claude, introduce our guest"),
/// then "both"/"you two"/"each of you", then a name at the end ("what do you think, guest?"),
/// then a single name anywhere.
pub fn addressee(text: &str) -> Addressee {
    const FILLERS: &[&str] = &[
        "hey", "ok", "okay", "so", "and", "well", "alright", "now", "right", "um", "uh",
    ];
    let words = words(text);
    let mut start = words.iter().skip_while(|w| FILLERS.contains(&w.as_str()));
    let first = start.next().map(String::as_str);
    let second = start.next().map(String::as_str);
    let third = start.next().map(String::as_str);
    let name = |w: Option<&str>| match w {
        Some("claude") => Some(Speaker::Claude),
        Some("guest") => Some(Speaker::Guest),
        _ => None,
    };
    if let Some(named) = name(first) {
        let also = second == Some("and") && name(third).is_some_and(|other| other != named);
        return if also {
            Addressee::Both
        } else {
            to_addressee(named)
        };
    }
    let joined = format!(" {} ", words.join(" "));
    let both_phrases = [
        " both ",
        " you two ",
        " each of you ",
        " you guys ",
        " the two of you ",
    ];
    if both_phrases.iter().any(|p| joined.contains(p)) {
        return Addressee::Both;
    }
    if let Some(named) = name(words.last().map(String::as_str)) {
        return to_addressee(named);
    }
    let claude = words.iter().any(|w| w == "claude");
    let guest = words.iter().any(|w| w == "guest");
    match (claude, guest) {
        (true, true) => Addressee::Both,
        (true, false) => Addressee::Claude,
        (false, true) => Addressee::Guest,
        (false, false) => Addressee::Unnamed,
    }
}

fn to_addressee(speaker: Speaker) -> Addressee {
    match speaker {
        Speaker::Claude => Addressee::Claude,
        Speaker::Guest => Addressee::Guest,
        Speaker::You => Addressee::Unnamed,
    }
}

/// Whether the human asked for thinking mode ("take a moment", "give me 30 seconds", "thinking
/// mode", "think about it"), and for how long in ms.
pub fn human_thinking_request(text: &str) -> Option<u32> {
    let joined = format!(" {} ", words(text).join(" "));
    const ASKS: &[&str] = &[
        " take a moment ",
        " take a minute ",
        " take your time ",
        " take a second ",
        " take some time ",
        " thinking mode ",
        " think about it ",
        " think about that ",
        " think it over ",
        " think this over ",
        " think that over ",
        " have a think ",
    ];
    let asked = ASKS.iter().any(|a| joined.contains(a))
        || (joined.contains(" give ")
            && (joined.contains(" seconds ") || joined.contains(" minutes ")))
        || (joined.contains(" take ")
            && (joined.contains(" seconds ") || joined.contains(" minutes ")));
    asked.then(|| thinking_duration(&joined))
}

/// Whether an AI's finished line asks for time to think ("Can I think for a minute?", "Let me
/// think about that for 20 seconds"), and for how long in ms.
pub fn ai_thinking_request(line: &str) -> Option<u32> {
    let joined = format!(" {} ", words(line).join(" "));
    const ASKS: &[&str] = &[
        " can i think ",
        " could i think ",
        " may i think ",
        " let me think ",
        " i need to think ",
        " i'd like to think ",
        " give me a moment ",
        " give me a minute ",
        " give me a second ",
        " i need a moment ",
        " i need a minute ",
        " can i have a moment ",
        " can i have a minute ",
        " can i take a moment ",
        " can i take a minute ",
    ];
    ASKS.iter()
        .any(|a| joined.contains(a))
        .then(|| thinking_duration(&joined))
}

/// The duration a request names ("30 seconds", "two minutes", "a minute"), clamped to
/// [`MIN_THINKING_MS`]..=[`MAX_THINKING_MS`]; [`DEFAULT_THINKING_MS`] when it names none.
/// `joined` is space-separated lower-case words with a space at both ends.
fn thinking_duration(joined: &str) -> u32 {
    let words: Vec<&str> = joined.split_whitespace().collect();
    for (i, unit) in words.iter().enumerate() {
        let unit_ms: u64 = match *unit {
            "second" | "seconds" | "sec" | "secs" => 1_000,
            "minute" | "minutes" | "min" | "mins" => 60_000,
            _ => continue,
        };
        let Some(count) = i
            .checked_sub(1)
            .and_then(|j| words.get(j))
            .and_then(|w| number(w))
        else {
            continue;
        };
        // "a second" / "a minute" as a figure of speech: only minutes count literally.
        if count == 1 && unit_ms == 1_000 && words.get(i - 1) == Some(&"a") {
            continue;
        }
        let ms = (count * unit_ms).clamp(u64::from(MIN_THINKING_MS), u64::from(MAX_THINKING_MS));
        return ms as u32;
    }
    DEFAULT_THINKING_MS
}

/// A small number in digits or words.
fn number(word: &str) -> Option<u64> {
    if let Ok(n) = word.parse::<u64>() {
        return Some(n);
    }
    let n = match word {
        "a" | "an" | "one" => 1,
        "two" | "couple" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "fifteen" => 15,
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "ninety" => 90,
        _ => return None,
    };
    Some(n)
}

/// The barge-in reply to the human starting to speak: stop the AI holding the floor (if any), and
/// show both AIs as muted while the human talks.
pub fn barge_in(state: &FloorState) -> Vec<Decision> {
    let mut decisions = Vec::new();
    if let Some(holder) = state.holder.filter(|s| *s != Speaker::You) {
        decisions.push(Decision::Stop(holder));
    }
    decisions.push(Decision::Mute(Speaker::Claude));
    decisions.push(Decision::Mute(Speaker::Guest));
    decisions
}

/// Lifts the mutes when the human stops speaking.
pub fn unmute_both() -> Vec<Decision> {
    vec![
        Decision::Unmute(Speaker::Claude),
        Decision::Unmute(Speaker::Guest),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_at_the_start_addresses_that_ai() {
        assert_eq!(
            addressee("Claude, what do you make of today's topic?"),
            Addressee::Claude
        );
        assert_eq!(
            addressee("Guest, do you agree with that?"),
            Addressee::Guest
        );
        assert_eq!(addressee("Hey guest: really?"), Addressee::Guest);
        assert_eq!(
            addressee("Okay, Claude, introduce our guest."),
            Addressee::Claude
        );
    }

    #[test]
    fn both_and_you_two_address_both() {
        assert_eq!(
            addressee("Both of you, give me your closing thoughts."),
            Addressee::Both
        );
        assert_eq!(addressee("What do you two think?"), Addressee::Both);
        assert_eq!(
            addressee("I'd like to hear from each of you."),
            Addressee::Both
        );
        assert_eq!(addressee("Claude and guest, wrap it up."), Addressee::Both);
    }

    #[test]
    fn a_name_at_the_end_or_alone_addresses_that_ai() {
        assert_eq!(addressee("What do you think, guest?"), Addressee::Guest);
        assert_eq!(
            addressee("I wonder whether Claude would agree with this"),
            Addressee::Claude
        );
    }

    #[test]
    fn no_name_is_unnamed() {
        assert_eq!(
            addressee("That's an interesting point."),
            Addressee::Unnamed
        );
        assert_eq!(addressee(""), Addressee::Unnamed);
        assert_eq!(addressee("Claudette is my aunt"), Addressee::Unnamed);
    }

    #[test]
    fn human_thinking_requests_parse_their_duration() {
        assert_eq!(
            human_thinking_request("Guest, take a moment and think about it."),
            Some(DEFAULT_THINKING_MS)
        );
        assert_eq!(
            human_thinking_request("Claude, I'll give you 45 seconds on this one."),
            Some(45_000)
        );
        assert_eq!(
            human_thinking_request("Give me two minutes of thinking, guest."),
            Some(120_000)
        );
        assert_eq!(
            human_thinking_request("Let's switch to thinking mode."),
            Some(DEFAULT_THINKING_MS)
        );
        assert_eq!(
            human_thinking_request("Take a minute with that."),
            Some(60_000)
        );
    }

    #[test]
    fn thinking_durations_are_clamped() {
        assert_eq!(
            human_thinking_request("Give me 1 seconds"),
            Some(MIN_THINKING_MS)
        );
        assert_eq!(
            human_thinking_request("Take 90 minutes to think about it"),
            Some(MAX_THINKING_MS)
        );
    }

    #[test]
    fn ordinary_speech_is_not_a_thinking_request() {
        assert_eq!(
            human_thinking_request("I think you're wrong about that."),
            None
        );
        assert_eq!(human_thinking_request("It took minutes to load."), None);
        assert_eq!(
            ai_thinking_request("I think the evidence says otherwise."),
            None
        );
    }

    #[test]
    fn ai_lines_that_ask_to_think_are_recognized() {
        assert_eq!(
            ai_thinking_request("That's a hard one. Can I think for a minute?"),
            Some(60_000)
        );
        assert_eq!(
            ai_thinking_request("Let me think about that for 20 seconds."),
            Some(20_000)
        );
        assert_eq!(
            ai_thinking_request("Give me a moment."),
            Some(DEFAULT_THINKING_MS)
        );
    }

    #[test]
    fn barge_in_stops_the_holder_and_mutes_both() {
        let mut state = FloorState::idle(1_000);
        state.holder = Some(Speaker::Guest);
        assert_eq!(
            barge_in(&state),
            vec![
                Decision::Stop(Speaker::Guest),
                Decision::Mute(Speaker::Claude),
                Decision::Mute(Speaker::Guest)
            ]
        );
        assert_eq!(barge_in(&FloorState::idle(0)).len(), 2);
    }
}
