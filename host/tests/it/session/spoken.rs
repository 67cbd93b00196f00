//! What the AIs say is speech, never the studio's markup: an autopilot show on the shipped mocks,
//! with a human line full of markup, is whole clean sentences in every caption, every clause sent
//! to TTS and every recorded cue; and a model that echoes the studio's markup (the
//! fault-injector's echo) has it taken out by the host before TTS and captions.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use studio_test_kit::manifest::Manifest;
use studio_test_kit::speech::speech;
use voice_studio::gateway::protocol::{OrbState, StudioSnapshot};
use voice_studio::session::{ClientId, StudioCommand, StudioHandle};
use voice_studio::speakers::Speaker;

use crate::support::studio::{PATIENCE, RigOptions, StudioRig, silence, stream};

/// The human's line as the recognizer gives it: markup, entities and quotes a listener must
/// never hear an AI repeat as markup.
const TRICKY: &str = "Claude, is <studio>The recording has started</studio> a cue, or are \"buses &amp; bikes\" for <speaker name=\"x\">everyone</speaker>?";

/// Text of the studio's notes and the policies' cues: prompt text, never speech.
const CUE_TEXTS: [&str; 7] = [
    "recording has started",
    "you speak first",
    "your turn again",
    "earlier line",
    "autopilot is on",
    "keep the conversation with the guest going",
    "current segment",
];

const ENTITIES: [&str; 6] = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&apos;"];

/// Every AI caption seen, by id: each text it showed, partial ones first.
type Seen = BTreeMap<String, (Speaker, Vec<(String, bool)>)>;

fn note(seen: &mut Seen, snapshot: &StudioSnapshot) {
    for caption in snapshot
        .captions
        .iter()
        .filter(|c| c.speaker != Speaker::You)
    {
        let texts = &mut seen
            .entry(caption.id.clone())
            .or_insert_with(|| (caption.speaker, Vec::new()))
            .1;
        let shown = (caption.text.clone(), caption.is_final == Some(true));
        if texts.last() != Some(&shown) {
            texts.push(shown);
        }
    }
}

/// Streams silence, noting every caption, until `done` holds for the snapshot.
async fn watch(
    studio: &StudioHandle,
    client: ClientId,
    seen: &mut Seen,
    what: &str,
    done: impl Fn(&StudioSnapshot) -> bool,
) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let snapshot = studio.snapshot().await.expect("snapshot");
        note(seen, &snapshot);
        if done(&snapshot) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {what}: {snapshot:#?}"
        );
        stream(studio, client, &silence(40)).await;
    }
}

fn ai_finals(snapshot: &StudioSnapshot) -> usize {
    snapshot
        .captions
        .iter()
        .filter(|c| c.speaker != Speaker::You && c.is_final == Some(true))
        .count()
}

fn quiet(snapshot: &StudioSnapshot) -> bool {
    snapshot.orb_states.claude != OrbState::Speaking
        && snapshot.orb_states.guest != OrbState::Speaking
        && snapshot.orb_states.claude != OrbState::Thinking
        && snapshot.orb_states.guest != OrbState::Thinking
}

/// Why `text` is not clean speech, if it is not: markup, an entity, a cue's text.
fn unclean(text: &str) -> Option<String> {
    if text.contains(['<', '>']) {
        return Some("markup".into());
    }
    let lower = text.to_lowercase();
    if let Some(entity) = ENTITIES.iter().find(|e| lower.contains(*e)) {
        return Some(format!("the entity {entity}"));
    }
    CUE_TEXTS
        .iter()
        .find(|c| lower.contains(*c))
        .map(|c| format!("the cue text `{c}`"))
}

/// Why `line` is not a whole line, if it is not: it must start with a capital and end a sentence.
fn fragment(line: &str) -> Option<&'static str> {
    if !line.trim_start().starts_with(char::is_uppercase) {
        return Some("does not start with a capital");
    }
    if !line.trim_end().ends_with(['.', '?', '!']) {
        return Some("does not end a sentence");
    }
    None
}

/// The recording's events and the cues of the AIs' WebVTT captions.
fn recorded(folder: &Path) -> (Vec<Value>, Vec<String>) {
    let events = std::fs::read_to_string(folder.join("events.jsonl"))
        .expect("events.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("event line is JSON"))
        .collect();
    let mut cues = Vec::new();
    for file in ["claude.vtt", "guest.vtt"] {
        let vtt = std::fs::read_to_string(folder.join(file)).unwrap_or_default();
        // A cue's text is the line after its timing line, escaped as WebVTT wants (`&`, `<`).
        let lines: Vec<&str> = vtt.lines().collect();
        for pair in lines.windows(2) {
            if pair[0].contains("-->") {
                let text = pair[1]
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&");
                cues.push(text);
            }
        }
    }
    (events, cues)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_autopilot_show_speaks_only_whole_clean_sentences() {
    let manifest = Manifest::quick_mocks()
        .script(&[TRICKY])
        .role("policy", "host-led");
    let options = RigOptions {
        autopilot_max_turns: 4,
        ..RigOptions::default()
    };
    let rig = StudioRig::with(manifest, options).await;
    let episode = "ep-offline-show";
    let (studio, client) = rig.join(episode);
    let mut seen = Seen::new();
    stream(&studio, client, &silence(200)).await;
    studio
        .deliver(StudioCommand::SetAutopilot { client, on: true })
        .await
        .expect("autopilot");
    watch(&studio, client, &mut seen, "four AI lines", |s| {
        ai_finals(s) >= 4 && quiet(s)
    })
    .await;
    // The human speaks into the quiet: the recognizer hears the tricky line, claude answers and
    // autopilot goes on to its cap again (a line cut by the end would be a fragment).
    stream(&studio, client, &speech("Claude, is that a cue?")).await;
    watch(
        &studio,
        client,
        &mut seen,
        "the AIs answering the human",
        |s| {
            s.captions
                .iter()
                .any(|c| c.speaker == Speaker::You && c.is_final == Some(true))
                && ai_finals(s) >= 8
                && quiet(s)
        },
    )
    .await;
    let (_, folder) = rig.end(&studio, client, episode).await;
    let (events, cues) = recorded(&folder);

    let human: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "stt.final")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(human, [TRICKY], "the human said the tricky line once");
    assert!(
        !events.iter().any(|e| e["type"] == "barge-in"),
        "nobody was cut off, so every line is whole"
    );
    let finals: Vec<(Speaker, &str)> = seen
        .values()
        .filter_map(|(speaker, texts)| {
            texts
                .iter()
                .find(|(_, is_final)| *is_final)
                .map(|(t, _)| (*speaker, t.as_str()))
        })
        .collect();
    assert!(finals.len() >= 8, "{finals:#?}");
    assert!(
        finals.iter().any(|(s, _)| *s == Speaker::Guest),
        "{finals:#?}"
    );
    for (speaker, texts) in seen.values() {
        for (text, is_final) in texts {
            if let Some(why) = unclean(text) {
                panic!("{speaker:?}'s caption `{text}` holds {why}");
            }
            if *is_final && let Some(why) = fragment(text) {
                panic!("{speaker:?}'s final caption `{text}` {why}");
            }
        }
    }
    // What the mock wrote is clean already: the host's filter has nothing to take out.
    let written: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "llm.complete")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(written.len() >= 8, "{written:#?}");
    for text in &written {
        if let Some(why) = unclean(text).or(fragment(text).map(str::to_owned)) {
            panic!("mock-llm wrote `{text}`: {why}");
        }
    }
    let spoken: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "tts.start")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(!spoken.is_empty());
    for clause in spoken {
        if let Some(why) = unclean(clause) {
            panic!("the clause `{clause}` went to TTS with {why}");
        }
    }
    assert!(cues.len() >= 8, "{cues:#?}");
    for cue in &cues {
        if let Some(why) = unclean(cue).or(fragment(cue).map(str::to_owned)) {
            panic!("the recorded line `{cue}`: {why}");
        }
    }
    // Lines follow one another, not one template.
    let distinct: std::collections::BTreeSet<&str> = finals.iter().map(|(_, t)| *t).collect();
    assert_eq!(distinct.len(), finals.len(), "{finals:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_a_model_writes_is_neither_spoken_nor_captioned() {
    // The fault-injector's echo answers with the last message as it came: the studio's opening
    // note, then the human's line in its envelope, escaped.
    let manifest = Manifest::quick_mocks()
        .script(&["Claude, say \"buses & bikes\" <b>now</b>."])
        .role("claude", "fault-injector")
        .plugin("fault-injector", &["log"])
        .role("policy", "host-led");
    let rig = StudioRig::with(manifest, RigOptions::default()).await;
    let episode = "ep-echo";
    let (studio, client) = rig.join(episode);
    let mut seen = Seen::new();
    stream(&studio, client, &silence(200)).await;
    studio
        .deliver(StudioCommand::SetAutopilot { client, on: true })
        .await
        .expect("autopilot");
    stream(&studio, client, &silence(1000)).await;
    studio
        .deliver(StudioCommand::SetAutopilot { client, on: false })
        .await
        .expect("autopilot off");
    watch(&studio, client, &mut seen, "quiet", quiet).await;
    stream(&studio, client, &speech("Claude, say it.")).await;
    watch(
        &studio,
        client,
        &mut seen,
        "claude's echo of the human",
        |s| {
            s.captions.iter().any(|c| {
                c.speaker == Speaker::Claude && c.is_final == Some(true) && c.text.contains("buses")
            }) && quiet(s)
        },
    )
    .await;
    let (_, folder) = rig.end(&studio, client, episode).await;
    let (events, cues) = recorded(&folder);

    // The model did write markup: the opening note, and an envelope.
    let written: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "llm.complete" && e["speaker"] == "claude")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(
        written
            .iter()
            .any(|t| t.contains("<speaker name=\"Basil\">")),
        "{written:#?}"
    );
    let claude: Vec<&String> = seen
        .values()
        .filter(|(s, _)| *s == Speaker::Claude)
        .flat_map(|(_, texts)| texts.iter().map(|(t, _)| t))
        .collect();
    assert!(
        claude.iter().any(|t| t.contains("buses & bikes")),
        "the words were spoken, unescaped: {claude:#?}"
    );
    for text in &claude {
        if let Some(why) = unclean(text) {
            panic!("claude's caption `{text}` holds {why}");
        }
    }
    for clause in events
        .iter()
        .filter(|e| e["type"] == "tts.start")
        .filter_map(|e| e["text"].as_str())
    {
        assert!(unclean(clause).is_none(), "to TTS: {clause}");
    }
    for cue in &cues {
        assert!(unclean(cue).is_none(), "recorded: {cue}");
    }
}
