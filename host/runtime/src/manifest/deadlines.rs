//! `[studio.deadlines]` and the CPU budget keys: how long one plugin call may take, by kind, and
//! how the guest-CPU budget of a streaming call is topped up by the work it serves.
//!
//! ```toml
//! [studio]
//! cpu_limit_ms = 1000               # guest CPU a call may burn without serving anything
//! cpu_per_audio_second_ms = 200     # credited per second of audio an STT reads / a TTS pushes
//! cpu_per_event_ms = 20             # credited per piece of text an LLM pushes
//! [studio.deadlines]
//! policy_ms = 100                   # one `decide`
//! tts_clause_ms = 20000             # one clause spoken
//! llm_line_ms = 60000               # one whole line written
//! stt_idle_ms = 30000               # STT away from `audio-input.next` (and not pushing)
//! ```
//!
//! A plugin table may override any of them (`[plugins.NAME.deadlines]`, `cpu_per_*` in the table).

use std::time::Duration;

use serde::Deserialize;

use super::PluginKind;

/// How long one `decide` may take when plugins.toml does not say.
pub const DEFAULT_POLICY_MS: u64 = 100;
/// How long one TTS clause may take when plugins.toml does not say.
pub const DEFAULT_TTS_CLAUSE_MS: u64 = 20_000;
/// How long one LLM line may take when plugins.toml does not say.
pub const DEFAULT_LLM_LINE_MS: u64 = 60_000;
/// How long an STT call may stay away from its input when plugins.toml does not say.
pub const DEFAULT_STT_IDLE_MS: u64 = 30_000;
/// Guest CPU credited per second of audio served when plugins.toml does not say: a fifth of a
/// core, some hundred times what the shipped adapters use, far below a plugin that spins. A
/// Python plugin fits as well: `plugins/whisper-py` burns about 48 ms per second of speech,
/// resampling in pure Python (the `python_plugin` bench).
pub const DEFAULT_CPU_PER_AUDIO_SECOND_MS: u64 = 200;
/// Guest CPU credited per piece of text an LLM pushes when plugins.toml does not say.
pub const DEFAULT_CPU_PER_EVENT_MS: u64 = 20;

/// `[studio.deadlines]` / `[plugins.NAME.deadlines]` as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDeadlines {
    policy_ms: Option<u64>,
    tts_clause_ms: Option<u64>,
    llm_line_ms: Option<u64>,
    stt_idle_ms: Option<u64>,
}

/// Wall-clock deadlines of plugin calls, by kind, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// One policy `decide`.
    pub policy_ms: u64,
    /// One TTS `synthesize` (a clause).
    pub tts_clause_ms: u64,
    /// One LLM `complete` (a line).
    pub llm_line_ms: u64,
    /// The longest an STT `transcribe` may go without calling `audio-input.next` or pushing a
    /// transcript. STT calls last a session, so they have an idle deadline, not a whole-call one.
    pub stt_idle_ms: u64,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            policy_ms: DEFAULT_POLICY_MS,
            tts_clause_ms: DEFAULT_TTS_CLAUSE_MS,
            llm_line_ms: DEFAULT_LLM_LINE_MS,
            stt_idle_ms: DEFAULT_STT_IDLE_MS,
        }
    }
}

impl Deadlines {
    /// The deadline of a call of `kind`, in milliseconds.
    pub fn ms(&self, kind: PluginKind) -> u64 {
        match kind {
            PluginKind::Policy => self.policy_ms,
            PluginKind::Tts => self.tts_clause_ms,
            PluginKind::Llm => self.llm_line_ms,
            PluginKind::Stt => self.stt_idle_ms,
        }
    }

    /// The deadline of a call of `kind`.
    pub fn of(&self, kind: PluginKind) -> Duration {
        Duration::from_millis(self.ms(kind))
    }

    /// The `[studio.deadlines]` key that sets the deadline of `kind` (for messages).
    pub fn key(kind: PluginKind) -> &'static str {
        match kind {
            PluginKind::Policy => "policy_ms",
            PluginKind::Tts => "tts_clause_ms",
            PluginKind::Llm => "llm_line_ms",
            PluginKind::Stt => "stt_idle_ms",
        }
    }

    /// `raw` over `base`; `table` names where `raw` was written, for errors.
    pub(super) fn over(base: Deadlines, raw: &RawDeadlines, table: &str) -> Result<Self, String> {
        let pick = |value: Option<u64>, fallback: u64, key: &str| match value {
            Some(0) => Err(format!("{table} {key} must be at least 1")),
            Some(ms) => Ok(ms),
            None => Ok(fallback),
        };
        Ok(Deadlines {
            policy_ms: pick(raw.policy_ms, base.policy_ms, "policy_ms")?,
            tts_clause_ms: pick(raw.tts_clause_ms, base.tts_clause_ms, "tts_clause_ms")?,
            llm_line_ms: pick(raw.llm_line_ms, base.llm_line_ms, "llm_line_ms")?,
            stt_idle_ms: pick(raw.stt_idle_ms, base.stt_idle_ms, "stt_idle_ms")?,
        })
    }
}

/// The time limits of one plugin's calls besides `cpu_limit_ms`: its deadlines and what tops up
/// the CPU budget of a streaming call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBudget {
    /// Wall-clock deadlines by kind.
    pub deadlines: Deadlines,
    /// Guest CPU credited per second of audio an STT call reads or a TTS call pushes.
    pub cpu_per_audio_second_ms: u64,
    /// Guest CPU credited per piece of text an LLM call pushes.
    pub cpu_per_event_ms: u64,
}

impl Default for CallBudget {
    fn default() -> Self {
        CallBudget {
            deadlines: Deadlines::default(),
            cpu_per_audio_second_ms: DEFAULT_CPU_PER_AUDIO_SECOND_MS,
            cpu_per_event_ms: DEFAULT_CPU_PER_EVENT_MS,
        }
    }
}

impl CallBudget {
    /// The budget written in a table (`[studio]` or `[plugins.NAME]`) over `base`.
    pub(super) fn over(
        base: CallBudget,
        deadlines: &RawDeadlines,
        cpu_per_audio_second_ms: Option<u64>,
        cpu_per_event_ms: Option<u64>,
        table: &str,
    ) -> Result<Self, String> {
        Ok(CallBudget {
            deadlines: Deadlines::over(base.deadlines, deadlines, &format!("{table}.deadlines"))?,
            cpu_per_audio_second_ms: cpu_per_audio_second_ms
                .unwrap_or(base.cpu_per_audio_second_ms),
            cpu_per_event_ms: cpu_per_event_ms.unwrap_or(base.cpu_per_event_ms),
        })
    }

    /// Guest CPU credited for `samples` of audio at `sample_rate`.
    pub fn audio_credit(&self, samples: usize, sample_rate: u32) -> Duration {
        if sample_rate == 0 {
            return Duration::ZERO;
        }
        let micros = u128::from(self.cpu_per_audio_second_ms) * 1000 * samples as u128
            / u128::from(sample_rate);
        Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    /// Guest CPU credited for one event (a pushed piece of text).
    pub fn event_credit(&self) -> Duration {
        Duration::from_millis(self.cpu_per_event_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_table_overrides_the_studio_which_overrides_the_defaults() {
        let studio = RawDeadlines {
            policy_ms: Some(250),
            ..RawDeadlines::default()
        };
        let studio = CallBudget::over(CallBudget::default(), &studio, Some(50), None, "[studio]")
            .expect("valid");
        assert_eq!(studio.deadlines.policy_ms, 250);
        assert_eq!(studio.deadlines.llm_line_ms, DEFAULT_LLM_LINE_MS);
        assert_eq!(studio.cpu_per_audio_second_ms, 50);
        assert_eq!(studio.cpu_per_event_ms, DEFAULT_CPU_PER_EVENT_MS);
        let plugin = RawDeadlines {
            stt_idle_ms: Some(5_000),
            ..RawDeadlines::default()
        };
        let plugin =
            CallBudget::over(studio, &plugin, None, Some(1), "[plugins.a]").expect("valid");
        assert_eq!(plugin.deadlines.policy_ms, 250);
        assert_eq!(plugin.deadlines.of(PluginKind::Stt), Duration::from_secs(5));
        assert_eq!(plugin.cpu_per_audio_second_ms, 50);
        assert_eq!(plugin.cpu_per_event_ms, 1);
    }

    #[test]
    fn a_zero_deadline_is_refused_by_table_and_key() {
        let raw = RawDeadlines {
            tts_clause_ms: Some(0),
            ..RawDeadlines::default()
        };
        let err = CallBudget::over(CallBudget::default(), &raw, None, None, "[plugins.a]")
            .expect_err("zero");
        assert_eq!(
            err,
            "[plugins.a].deadlines tts_clause_ms must be at least 1"
        );
    }

    #[test]
    fn audio_credit_is_proportional_to_the_seconds_of_audio() {
        let budget = CallBudget {
            cpu_per_audio_second_ms: 200,
            ..CallBudget::default()
        };
        // One 20 ms frame at 48 kHz earns 4 ms; a second at any rate earns the whole 200 ms.
        assert_eq!(budget.audio_credit(960, 48_000), Duration::from_millis(4));
        assert_eq!(
            budget.audio_credit(24_000, 24_000),
            Duration::from_millis(200)
        );
        assert_eq!(budget.audio_credit(100, 0), Duration::ZERO);
        assert_eq!(budget.event_credit(), Duration::from_millis(20));
    }
}
