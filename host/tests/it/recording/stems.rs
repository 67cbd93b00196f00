//! Stems and a mixdown of a real recorded session: a studio with the shipped mock plugins hears
//! espeak-ng speech at a known time and answers; the stems are then made from its WebM tracks,
//! probed by ffprobe and measured against the times each speaker spoke.

use std::path::Path;

use crate::support::recording::{decode, ffprobe, probed_duration_ms};
use crate::support::studio::{StudioRig, final_caption, silence, stream, until};
use studio_test_kit::manifest::Manifest;
use studio_test_kit::speech::{samples_of, speech};
use voice_studio::gateway::protocol::OrbState;
use voice_studio::recording::stems::{STEM_FILES, StemLimits, Stems, make_stems};
use voice_studio::speakers::Speaker;

/// What the human says (the mock STT's script; espeak-ng speaks it).
const QUESTION: &str = "Claude, what do you make of today's topic?";
/// Silence streamed before the question: the question starts this far into the session.
const LEAD_IN_MS: usize = 1000;
/// Samples in 1 ms at 48 kHz.
const PER_MS: usize = 48;
/// Window of the energy comparisons.
const WINDOW_MS: usize = 100;

fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|s| f64::from(*s).powi(2)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// RMS of `samples` between `from_ms` and `to_ms` (clipped to its length).
fn rms_between(samples: &[i16], from_ms: usize, to_ms: usize) -> f64 {
    let end = (to_ms * PER_MS).min(samples.len());
    let start = (from_ms * PER_MS).min(end);
    rms(&samples[start..end])
}

/// The samples of a 48 kHz mono 16-bit WAV file, read by ffmpeg (not by the code under test).
fn wav_samples(path: &Path) -> Vec<i16> {
    decode(path)
}

/// `(start_ms, end_ms)` of every cue in a WebVTT file.
fn cues(path: &Path) -> Vec<(usize, usize)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ms = |stamp: &str| -> usize {
        let parts: Vec<&str> = stamp.trim().split([':', '.']).collect();
        let n = |i: usize| {
            parts[i]
                .parse::<usize>()
                .unwrap_or_else(|e| panic!("{stamp}: {e}"))
        };
        ((n(0) * 60 + n(1)) * 60 + n(2)) * 1000 + n(3)
    };
    text.lines()
        .filter_map(|line| line.split_once(" --> "))
        .map(|(from, to)| (ms(from), ms(to.split_whitespace().next().unwrap_or(to))))
        .collect()
}

/// A session: the human asks the question after [`LEAD_IN_MS`] of silence, Claude answers, the
/// session ends. Returns the recording folder and the question's samples as sent.
async fn recorded_session(rig: &StudioRig, episode: &str) -> (std::path::PathBuf, Vec<i16>) {
    let (studio, client) = rig.join(episode);
    let question = speech(QUESTION);
    let mut audio = silence(LEAD_IN_MS);
    audio.extend_from_slice(&question);
    stream(&studio, client, &audio).await;
    until(&studio, client, "claude's whole answer", |s| {
        final_caption(s, Speaker::Claude).is_some() && s.orb_states.claude == OrbState::Idle
    })
    .await;
    stream(&studio, client, &silence(400)).await;
    let (_, folder) = rig.end(&studio, client, episode).await;
    (folder, samples_of(&question))
}

fn session_track_ms(folder: &Path) -> f64 {
    let yml: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(folder.join("session.yml")).expect("session.yml"),
    )
    .expect("session.yml parses");
    yml["tracks"]["you"]["durationMs"]
        .as_f64()
        .unwrap_or_else(|| panic!("no you durationMs in session.yml: {yml:?}"))
}

fn make(folder: &Path) -> Stems {
    make_stems(folder, &StemLimits::default()).unwrap_or_else(|e| panic!("stems: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stems_and_mix_of_a_real_session_hold_each_voice_at_its_time() {
    let rig = StudioRig::start(Manifest::quick_mocks().script(&[QUESTION])).await;
    let (folder, question) = recorded_session(&rig, "ep-stems").await;
    let session_ms = session_track_ms(&folder);

    let stems = tokio::task::spawn_blocking({
        let folder = folder.clone();
        move || make(&folder)
    })
    .await
    .expect("stems job");
    assert!(stems.made);
    assert!(stems.truncated.is_empty(), "{:?}", stems.truncated);
    let names: Vec<&str> = stems.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, STEM_FILES);

    // ffprobe takes every file as 16-bit PCM, 48 kHz mono, as long as the session (one frame).
    for name in STEM_FILES {
        let probe = ffprobe(&folder.join(name));
        let stream = &probe["streams"][0];
        assert_eq!(stream["codec_name"], "pcm_s16le", "{name}: {probe}");
        assert_eq!(stream["sample_rate"], "48000", "{name}");
        assert_eq!(stream["channels"], 1, "{name}");
        let duration = probed_duration_ms(&probe);
        assert!(
            (duration - session_ms).abs() <= 20.0,
            "{name} lasts {duration} ms, the session {session_ms} ms"
        );
    }

    // The human's stem: silence during the lead-in, the question where it was sent. Each 100 ms
    // window of the question that was loud is loud in the stem at the same session time.
    let you = wav_samples(&folder.join("you.wav"));
    assert!(
        rms_between(&you, 0, LEAD_IN_MS - WINDOW_MS) < 30.0,
        "the lead-in is silent: {}",
        rms_between(&you, 0, LEAD_IN_MS - WINDOW_MS)
    );
    let windows = question.len() / (WINDOW_MS * PER_MS);
    let mut loud = 0;
    let mut matched = 0;
    for w in 0..windows {
        let sent = rms(&question[w * WINDOW_MS * PER_MS..(w + 1) * WINDOW_MS * PER_MS]);
        if sent < 1000.0 {
            continue;
        }
        loud += 1;
        let at = LEAD_IN_MS + w * WINDOW_MS;
        let heard = rms_between(&you, at, at + WINDOW_MS);
        if heard > 0.5 * sent && heard < 1.5 * sent {
            matched += 1;
        }
    }
    assert!(loud >= 10, "the question has {loud} loud windows");
    assert!(
        matched * 10 >= loud * 9,
        "{matched} of {loud} loud windows of the question are at their time in you.wav"
    );

    // The stem is the track as any decoder reads it: ffmpeg's decode of you.webm, window by window.
    let webm = decode(&folder.join("you.webm"));
    let end_ms = LEAD_IN_MS + question.len() / PER_MS;
    for at in (LEAD_IN_MS..end_ms).step_by(WINDOW_MS) {
        let (ours, theirs) = (
            rms_between(&you, at, at + WINDOW_MS),
            rms_between(&webm, at, at + WINDOW_MS),
        );
        assert!(
            (ours - theirs).abs() <= 0.05 * theirs.max(200.0),
            "at {at} ms: stem {ours}, ffmpeg {theirs}"
        );
    }

    // Claude's stem holds its answer at the times its captions say, and nothing while the human
    // asked; the mix holds both voices at their times.
    let claude = wav_samples(&folder.join("claude.wav"));
    let mix = wav_samples(&folder.join("mix.wav"));
    let answer = cues(&folder.join("claude.vtt"));
    assert!(!answer.is_empty(), "claude's captions");
    let (from, to) = (answer[0].0, answer.last().map_or(0, |c| c.1));
    assert!(
        from > end_ms,
        "claude answered after the question: {from} ms"
    );
    let spoken = rms_between(&claude, from, to);
    assert!(spoken > 300.0, "claude's answer in claude.wav: {spoken}");
    assert!(
        rms_between(&claude, 0, end_ms) < 30.0,
        "claude is silent while the human asks"
    );
    let mixed_answer = rms_between(&mix, from, to);
    assert!(
        (mixed_answer - spoken).abs() <= 0.1 * spoken,
        "the mix holds claude's answer: {mixed_answer} vs {spoken}"
    );
    let asked = rms_between(&you, LEAD_IN_MS, end_ms);
    let mixed_question = rms_between(&mix, LEAD_IN_MS, end_ms);
    assert!(
        (mixed_question - asked).abs() <= 0.1 * asked,
        "the mix holds the question: {mixed_question} vs {asked}"
    );

    // Asked again, the kept files are returned as they are.
    let again = tokio::task::spawn_blocking({
        let folder = folder.clone();
        move || make(&folder)
    })
    .await
    .expect("stems job");
    assert!(!again.made);
    assert_eq!(again.files, stems.files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_track_cut_off_by_a_crash_still_gives_stems_up_to_the_cut() {
    let rig = StudioRig::start(Manifest::quick_mocks().script(&[QUESTION])).await;
    let (finished, question) = recorded_session(&rig, "ep-stems-crash").await;
    let session_ms = session_track_ms(&finished);

    // The same recording as a power loss can leave it: no endedAt, and you.webm ending inside a
    // Cluster in the middle of the question, its index still naming Cues that never reached the
    // disk. (A track killed while recording, with no Cues at all, is the demuxer's unit test.)
    let folder = rig.recordings.join("ep-stems-crashed");
    std::fs::create_dir(&folder).expect("folder");
    for entry in std::fs::read_dir(&finished).expect("read folder") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), folder.join(entry.file_name())).expect("copy");
    }
    let yml = std::fs::read_to_string(folder.join("session.yml")).expect("session.yml");
    let unfinished: String = yml
        .lines()
        .map(|line| {
            if line.starts_with("endedAt:") {
                "endedAt: null"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(folder.join("session.yml"), unfinished).expect("session.yml");
    let track = std::fs::read(folder.join("you.webm")).expect("you.webm");
    let end_ms = LEAD_IN_MS + question.len() / PER_MS;
    assert!(end_ms > 3300, "the question lasts past 3.3 s: {end_ms} ms");
    // Clusters start every second (after the header's empty one): cut the one of 2-3 s, in the
    // middle of the question, half way through its bytes.
    let clusters: Vec<usize> = track
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0x1F, 0x43, 0xB6, 0x75])
        .map(|(at, _)| at)
        .skip(1)
        .collect();
    assert!(clusters.len() > 4, "{} clusters", clusters.len());
    let cut = (clusters[2] + clusters[3]) / 2;
    std::fs::write(folder.join("you.webm"), &track[..cut]).expect("cut");

    let stems = tokio::task::spawn_blocking({
        let folder = folder.clone();
        move || make(&folder)
    })
    .await
    .expect("stems job");
    assert_eq!(stems.truncated, ["you.webm"]);
    for name in STEM_FILES {
        let duration = probed_duration_ms(&ffprobe(&folder.join(name)));
        assert!(
            (duration - session_ms).abs() <= 20.0,
            "{name} lasts {duration} ms, the session {session_ms} ms (the other tracks)"
        );
    }
    // The question is there up to the cut, where it was; from the next second on, silence.
    let you = wav_samples(&folder.join("you.wav"));
    let whole = decode(&finished.join("you.webm"));
    let asked = rms_between(&whole, LEAD_IN_MS, 2000);
    let kept = rms_between(&you, LEAD_IN_MS, 2000);
    assert!(asked > 1000.0, "the question before the cut: {asked}");
    assert!(
        (kept - asked).abs() <= 0.05 * asked,
        "the question survives up to the cut: {kept} vs {asked}"
    );
    assert!(
        rms_between(&you, 2000, 2500) > 300.0,
        "the cut Cluster gives the blocks it holds"
    );
    assert!(
        rms_between(&whole, 3000, end_ms) > 300.0 && rms_between(&you, 3000, end_ms) == 0.0,
        "after the cut the stem is silent"
    );
}
