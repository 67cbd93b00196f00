//! What one step measured, as a table row.

use super::*;

/// The figures of one step.
pub(super) struct Report {
    pub(super) replies: usize,
    pub(super) client_v2v: Vec<f64>,
    pub(super) host_v2v: Vec<f64>,
    pub(super) overhead: Vec<f64>,
    pub(super) barge_last_frame: Vec<f64>,
    pub(super) barge_stop: Vec<f64>,
    pub(super) late_frames: usize,
    pub(super) lost_frames: usize,
    pub(super) cpu_percent: f64,
    pub(super) clients_cpu_percent: f64,
    pub(super) rss_ended_mib: f64,
    pub(super) rss_before_mib: f64,
    pub(super) rss_after_mib: f64,
    pub(super) studios: usize,
    pub(super) failed_clients: usize,
    pub(super) errors: usize,
    /// The error events by their `code`, so a report says what went wrong, not only how often.
    pub(super) error_codes: std::collections::BTreeMap<String, usize>,
    pub(super) first_seen: std::collections::BTreeMap<String, usize>,
}

impl Step {
    pub(super) fn analyse(&self, late: Duration) -> Report {
        let mut r = Report {
            replies: 0,
            client_v2v: Vec::new(),
            host_v2v: Vec::new(),
            overhead: Vec::new(),
            barge_last_frame: Vec::new(),
            barge_stop: Vec::new(),
            late_frames: 0,
            lost_frames: 0,
            cpu_percent: self.cpu_percent,
            clients_cpu_percent: self.clients_cpu_percent,
            rss_ended_mib: self.rss_ended_mib,
            rss_before_mib: self.rss_before_mib,
            rss_after_mib: self.rss_after_mib,
            studios: self.studios,
            failed_clients: self.failed_clients,
            errors: 0,
            error_codes: Default::default(),
            first_seen: self
                .logs
                .first()
                .map(|l| l.seen.clone())
                .unwrap_or_default(),
        };
        for (i, log) in self.logs.iter().enumerate() {
            r.errors += log.errors.len();
            for error in &log.errors {
                let code = error["code"].as_str().unwrap_or("(no code)").to_owned();
                *r.error_codes.entry(code).or_default() += 1;
            }
            if i == 0 && std::env::var_os("STUDIO_BENCH_DEBUG").is_some() {
                debug_timeline(log);
            }
            // Replies: runs of frames of one speaker with increasing seq and no long gap.
            let mut replies: Vec<Vec<&(Instant, String, u64, usize)>> = Vec::new();
            for f in &log.frames {
                let starts_new = match replies.last().and_then(|r| r.last()) {
                    None => true,
                    Some(prev) => {
                        prev.1 != f.1 || f.2 <= prev.2 || f.0.duration_since(prev.0) > REPLY_GAP
                    }
                };
                if starts_new {
                    replies.push(Vec::new());
                }
                if let Some(reply) = replies.last_mut() {
                    reply.push(f);
                }
            }
            for reply in &replies {
                let Some(first) = reply.first() else { continue };
                r.replies += 1;
                for f in reply.iter().skip(1) {
                    let due = first.0 + FRAME * u32::try_from(f.2 - first.2).unwrap_or(u32::MAX);
                    if f.0 > due + late {
                        r.late_frames += 1;
                    }
                }
                for pair in reply.windows(2) {
                    r.lost_frames += usize::try_from(pair[1].2 - pair[0].2 - 1).unwrap_or(0);
                }
                // Voice to voice: the end of the turn this reply answers (the last end before it,
                // with no new turn begun since).
                if let Some((_, ended)) = log
                    .turns
                    .iter()
                    .rfind(|(s, e)| *e <= first.0 && *s <= first.0)
                    && !log.turns.iter().any(|(s, _)| *s > *ended && *s <= first.0)
                {
                    let v2v = ms(first.0.duration_since(*ended));
                    r.client_v2v.push(v2v);
                    // Provider time on this path: the STT's configured end of speech, the LLM
                    // until the first clause is complete (first token, then one token per word
                    // at its pace), and the TTS until its first audio, as the host measured them.
                    let clause = log
                        .ai_captions
                        .iter()
                        .find(|(t, _)| *t >= *ended)
                        .map(|(_, text)| text.split_whitespace().count());
                    let end = log.turn_ends.iter().find(|(t, _)| *t >= first.0);
                    if let (Some(words), Some((_, end))) = (clause, end)
                        && let (Some(llm), Some(tts)) = (
                            end["llmFirstTokenMs"].as_f64(),
                            end["ttsFirstAudioMs"].as_f64(),
                        )
                    {
                        let pace = words.saturating_sub(1) as f64 * TOKEN_MS;
                        r.overhead
                            .push(v2v - STT_END_OF_SPEECH_MS - llm - pace - tts);
                    }
                }
            }
            // Barge-in: for each turn that began while a reply was playing, the last frame of
            // that reply after the turn began, and the audio.stop.
            for (started, _) in &log.turns {
                let playing = replies.iter().find(|reply| {
                    reply.first().is_some_and(|f| f.0 < *started)
                        && reply
                            .last()
                            .is_some_and(|l| l.0 + Duration::from_millis(100) >= *started)
                });
                let Some(reply) = playing else { continue };
                let last = reply.last().map_or(*started, |l| l.0.max(*started));
                r.barge_last_frame.push(ms(last.duration_since(*started)));
                if let Some(stop) = log.stops.iter().find(|s| **s >= *started) {
                    r.barge_stop.push(ms(stop.duration_since(*started)));
                }
            }
            for (_, end) in &log.turn_ends {
                if let Some(v2v) = end["voiceToVoiceMs"].as_f64() {
                    r.host_v2v.push(v2v);
                }
            }
        }
        r
    }
}

impl Report {
    pub(super) fn print_row(&self, n: usize) {
        let per = |x: f64| if n == 0 { 0.0 } else { x / n as f64 };
        let rss_growth = (self.rss_after_mib - self.rss_before_mib).max(0.0);
        println!(
            "| {n} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} ({:.2}) | {:.0} | {:.0} ({:.2}) | {:.0} / {:.0} |",
            self.replies,
            pair(&self.client_v2v),
            pair(&self.host_v2v),
            pair(&self.overhead),
            pair(&self.barge_last_frame),
            pair(&self.barge_stop),
            self.late_frames,
            self.lost_frames,
            self.cpu_percent,
            per(self.cpu_percent),
            self.clients_cpu_percent,
            self.rss_after_mib,
            per(rss_growth),
            self.rss_before_mib,
            self.rss_ended_mib,
        );
        if self.failed_clients > 0 || self.errors > 0 || self.studios != n {
            eprintln!(
                "step {n}: {} clients failed, {} error events {:?}, {} studios live at the end",
                self.failed_clients, self.errors, self.error_codes, self.studios
            );
        }
        eprintln!(
            "step {n}: events seen by the first client: {:?}",
            self.first_seen
        );
    }
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(super) fn pair(values: &[f64]) -> String {
    if values.is_empty() {
        return "-".into();
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!("{:.1} / {:.1}", at(0.5), at(0.99))
}

/// The first client's timeline on stderr (`STUDIO_BENCH_DEBUG=1`), to see why figures look off.
pub(super) fn debug_timeline(log: &ClientLog) {
    let Some(origin) = log.turns.first().map(|t| t.0) else {
        return;
    };
    let at = |t: Instant| {
        if t >= origin {
            ms(t.duration_since(origin))
        } else {
            -ms(origin.duration_since(t))
        }
    };
    for (s, e) in &log.turns {
        eprintln!("turn spoken {:.0} .. {:.0}", at(*s), at(*e));
    }
    let mut previous: Option<&(Instant, String, u64, usize)> = None;
    for f in &log.frames {
        if previous.is_none_or(|p| f.2 <= p.2 || f.0.duration_since(p.0) > REPLY_GAP) {
            eprintln!("reply {} from {:.0} (seq {})", f.1, at(f.0), f.2);
        }
        previous = Some(f);
    }
    for s in &log.stops {
        eprintln!("audio.stop at {:.0}", at(*s));
    }
    for (t, e) in &log.turn_ends {
        eprintln!("turn.end at {:.0}: {e}", at(*t));
    }
}
