//! What every LLM adapter does the same way, whatever its provider's wire format: the limits read
//! from config (the reply budget within a cap, the time allowed), the temperature as sent, token
//! counts read from a `usage` object, and the loop that relays a streamed reply to the sink.
//!
//! An adapter implements [`StreamedReply`] for its provider's events and hands the response's
//! [`crate::http::SseStream`] to [`relay`]. Everything but [`Limits::from_config`] is pure, so it
//! runs (and is tested) natively; [`replay`] feeds a recorded stream through a reply for unit tests.

use crate::json::Value;
use crate::sse::{SseEvent, SseParser};
use crate::{Capability, Completion, LlmRequest, PluginError, PluginInfo, Role, config};

/// The default cap on a reply's tokens (config `max_tokens`).
pub const DEFAULT_MAX_TOKENS: u32 = 1024;
/// The default limit on one whole exchange, first byte to last token (config `timeout_ms`).
pub const DEFAULT_TIMEOUT_MS: u32 = 60_000;

/// What an LLM adapter that talks HTTP declares: the LLM role with log, config and http.
pub fn http_plugin_info() -> PluginInfo {
    PluginInfo::for_role(Role::Llm).with_capabilities(&[
        Capability::Log,
        Capability::Config,
        Capability::Http,
    ])
}

/// The configured limits on one call: `max_tokens` (a cap on the request's budget) and
/// `timeout_ms` (the whole exchange).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The cap on a reply's tokens; 0 means no cap.
    pub max_tokens: u32,
    /// The limit on the whole exchange in ms.
    pub timeout_ms: u32,
}

impl Limits {
    /// Reads `max_tokens` and `timeout_ms` from the plugin's config, with the defaults above.
    pub fn from_config() -> Self {
        Self {
            max_tokens: config::get_u32("max_tokens", DEFAULT_MAX_TOKENS),
            timeout_ms: config::get_u32("timeout_ms", DEFAULT_TIMEOUT_MS),
        }
    }

    /// The reply budget for a request that asks for `requested` tokens: see [`max_tokens`].
    pub fn max_tokens_for(&self, requested: u32) -> u32 {
        max_tokens(requested, self.max_tokens)
    }
}

/// The reply budget: the request's, within the configured cap (0 in the request means the cap,
/// a cap of 0 means none).
pub fn max_tokens(requested: u32, cap: u32) -> u32 {
    match (requested, cap) {
        (0, cap) => cap.max(1),
        (requested, 0) => requested,
        (requested, cap) => requested.min(cap),
    }
}

/// An `f32` temperature as the decimal the studio meant (0.7, not 0.699999988079071).
pub fn round_temperature(temperature: f32) -> f64 {
    (f64::from(temperature) * 1000.0).round() / 1000.0
}

/// The model for `request`: its own `model` when set (the studio's per-line choice wins), else
/// `default()` (the adapter's configured or built-in one).
pub fn model(request: &LlmRequest, default: impl FnOnce() -> String) -> String {
    match request.model.trim() {
        "" => default(),
        model => model.to_owned(),
    }
}

/// Token counts as the provider has reported them so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: Option<u32>,
    /// Reply tokens.
    pub output_tokens: Option<u32>,
}

impl Usage {
    /// Reads the counts in a `usage` object under the provider's names (`input_tokens` /
    /// `output_tokens` for Anthropic, `prompt_tokens` / `completion_tokens` for OpenAI). A count
    /// present replaces the earlier one: providers that repeat counts send cumulative ones.
    pub fn read(&mut self, usage: &Value, input_key: &str, output_key: &str) {
        let count = |key: &str| {
            usage
                .get(key)
                .and_then(Value::as_u64)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        if let Some(n) = count(input_key) {
            self.input_tokens = Some(n);
        }
        if let Some(n) = count(output_key) {
            self.output_tokens = Some(n);
        }
    }

    /// The completion of a reply that ended with `stop_reason`, with these counts.
    pub fn completion(self, stop_reason: impl Into<String>) -> Completion {
        Completion::new(stop_reason, self.input_tokens, self.output_tokens)
    }
}

/// What one streamed event asks of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Push this text to the sink.
    Text(String),
    /// Nothing to deliver (pings, boundaries, usage, unknown events).
    Continue,
    /// The provider said the reply is complete.
    Stop,
}

/// A reply read event by event from one provider's stream.
pub trait StreamedReply {
    /// Reads one event. Malformed data is `protocol`; an error event maps to what the host acts on.
    fn on_event(&mut self, event: &SseEvent) -> Result<Step, PluginError>;

    /// How the reply ended, once the events stop (a stream cut short is `unavailable`).
    fn finish(self) -> Result<Completion, PluginError>;
}

/// Relays `events` through `reply`, pushing its text with `push` (the sink), until the reply stops
/// or the events end, then finishes it. A read failure is reworded to say that `provider`'s stream
/// broke off. Not retried: once text has been delivered, a failure is final.
pub fn relay<R: StreamedReply>(
    mut reply: R,
    events: impl IntoIterator<Item = Result<SseEvent, PluginError>>,
    provider: &str,
    mut push: impl FnMut(&str) -> Result<(), PluginError>,
) -> Result<Completion, PluginError> {
    for event in events {
        let event = event.map_err(|error| broke_off(provider, error))?;
        match reply.on_event(&event)? {
            Step::Text(text) => push(&text)?,
            Step::Continue => {}
            Step::Stop => break,
        }
    }
    reply.finish()
}

/// A read failure after the response began (a drop, the idle or overall timeout), said as such.
pub fn broke_off(provider: &str, error: PluginError) -> PluginError {
    match error {
        PluginError::Unavailable(message) => {
            PluginError::Unavailable(format!("{provider}'s stream broke off: {message}"))
        }
        other => other,
    }
}

/// Plays a whole recorded stream (`text/event-stream` text) through `reply`, as [`relay`] would:
/// the text delivered (also before a failure) and how it ended. For adapters' unit tests.
pub fn replay<R: StreamedReply>(
    reply: R,
    stream: &str,
) -> (String, Result<Completion, PluginError>) {
    let mut parser = SseParser::new();
    let mut events = parser.feed(stream.as_bytes());
    events.extend(parser.finish());
    let mut text = String::new();
    let result = relay(reply, events.into_iter().map(Ok), "the replay", |piece| {
        text.push_str(piece);
        Ok(())
    });
    (text, result)
}

/// The start of a provider's text for an error message (120 characters).
pub fn excerpt(text: &str) -> String {
    text.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::json;

    /// A reply that speaks each event's data and stops at `stop`.
    #[derive(Default)]
    struct Echo {
        stopped: bool,
    }

    impl StreamedReply for Echo {
        fn on_event(&mut self, event: &SseEvent) -> Result<Step, PluginError> {
            match event.data.as_str() {
                "stop" => {
                    self.stopped = true;
                    Ok(Step::Stop)
                }
                "bad" => Err(PluginError::Protocol("bad".into())),
                "" => Ok(Step::Continue),
                text => Ok(Step::Text(text.to_owned())),
            }
        }

        fn finish(self) -> Result<Completion, PluginError> {
            if self.stopped {
                Ok(Completion::end_turn())
            } else {
                Err(PluginError::Unavailable("cut".into()))
            }
        }
    }

    fn event(data: &str) -> Result<SseEvent, PluginError> {
        Ok(SseEvent {
            data: data.to_owned(),
            ..SseEvent::default()
        })
    }

    #[test]
    fn max_tokens_stays_within_the_cap() {
        assert_eq!(max_tokens(300, 1024), 300);
        assert_eq!(max_tokens(4000, 1024), 1024);
        assert_eq!(max_tokens(0, 1024), 1024);
        assert_eq!(max_tokens(300, 0), 300);
        assert_eq!(max_tokens(0, 0), 1);
        let limits = Limits {
            max_tokens: 200,
            timeout_ms: 1,
        };
        assert_eq!(limits.max_tokens_for(300), 200);
    }

    #[test]
    fn temperatures_are_sent_as_the_decimal_meant() {
        assert_eq!(round_temperature(0.7), 0.7);
        assert_eq!(round_temperature(0.9), 0.9);
        assert_eq!(round_temperature(1.0), 1.0);
    }

    #[test]
    fn the_request_model_wins_over_the_default() {
        let mut request = LlmRequest {
            speaker: crate::Speaker::Claude,
            model: "  ".into(),
            system: String::new(),
            messages: Vec::new(),
            max_tokens: 0,
            temperature: None,
        };
        assert_eq!(model(&request, || "default".into()), "default");
        request.model = " picked ".into();
        assert_eq!(model(&request, || unreachable!()), "picked");
    }

    #[test]
    fn usage_reads_either_providers_names_and_the_latest_count_wins() {
        let mut usage = Usage::default();
        usage.read(
            &json!({"input_tokens": 11, "output_tokens": 1}),
            "input_tokens",
            "output_tokens",
        );
        usage.read(
            &json!({"output_tokens": 6}),
            "input_tokens",
            "output_tokens",
        );
        assert_eq!(
            usage.completion("end_turn"),
            Completion::new("end_turn", Some(11), Some(6))
        );
        let mut usage = Usage::default();
        usage.read(
            &json!({"prompt_tokens": 9, "completion_tokens": 5_000_000_000_u64}),
            "prompt_tokens",
            "completion_tokens",
        );
        assert_eq!(usage.input_tokens, Some(9));
        assert_eq!(usage.output_tokens, Some(u32::MAX));
        usage.read(&json!(null), "prompt_tokens", "completion_tokens");
        assert_eq!(usage.input_tokens, Some(9));
    }

    #[test]
    fn relay_pushes_text_until_the_reply_stops() {
        let mut pushed = Vec::new();
        let result = relay(
            Echo::default(),
            [
                event("Hi"),
                event(""),
                event(" there"),
                event("stop"),
                event("late"),
            ],
            "Test",
            |text| {
                pushed.push(text.to_owned());
                Ok(())
            },
        );
        assert_eq!(result, Ok(Completion::end_turn()));
        assert_eq!(pushed, ["Hi", " there"]);
    }

    #[test]
    fn relay_stops_at_a_cancelled_push_and_at_bad_events() {
        let result = relay(
            Echo::default(),
            [event("Hi"), event("stop")],
            "Test",
            |_| Err(PluginError::Cancelled),
        );
        assert_eq!(result, Err(PluginError::Cancelled));
        let (text, result) = replay(Echo::default(), "data: Hi\n\ndata: bad\n\ndata: stop\n\n");
        assert_eq!(text, "Hi");
        assert_eq!(result, Err(PluginError::Protocol("bad".into())));
    }

    #[test]
    fn a_read_failure_says_the_stream_broke_off_and_a_cut_stream_is_finished_as_such() {
        let result = relay(
            Echo::default(),
            [event("Hi"), Err(PluginError::Unavailable("reset".into()))],
            "Groq",
            |_| Ok(()),
        );
        assert_eq!(
            result,
            Err(PluginError::Unavailable(
                "Groq's stream broke off: reset".into()
            ))
        );
        assert_eq!(
            broke_off("Groq", PluginError::Cancelled),
            PluginError::Cancelled
        );
        let (text, result) = replay(Echo::default(), "data: Hi\n\n");
        assert_eq!(text, "Hi");
        assert_eq!(result, Err(PluginError::Unavailable("cut".into())));
    }

    #[test]
    fn excerpts_are_cut_on_characters() {
        assert_eq!(excerpt(&"é".repeat(200)).chars().count(), 120);
        assert_eq!(excerpt("short"), "short");
    }
}
