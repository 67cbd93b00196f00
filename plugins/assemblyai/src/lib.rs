//! `assemblyai`: speech to text with AssemblyAI Universal Streaming v3 over one WebSocket per
//! session (`wss://streaming.assemblyai.com/v3/ws`).
//!
//! Microphone frames are resampled to 16 kHz and sent as binary PCM chunks of `chunk_ms` (50 ms by
//! default, the service takes 50-1000 ms). One loop serves the microphone and the socket
//! ([`Microphone::next_event`] with the connection). `Turn` messages become partial transcripts
//! while a turn grows and one final at `end_of_turn` (the formatted copy when `format_turns` is
//! on, waited for at most `format_wait_ms`). At the end of the stream the plugin sends
//! `Terminate` and waits (bounded) for `Termination`.
//!
//! Failures: a refused handshake or close 1008 is `auth` naming ASSEMBLYAI_API_KEY; `Error`
//! messages and close codes map through [`websocket::close_error`]; a connection that drops
//! mid-session is re-established with the SDK's retry policy (audio meanwhile waits in a capped
//! backlog, and word times continue where they were); a message that is not JSON is `protocol`.

#![deny(missing_docs)]

mod audio;
mod messages;
mod turns;

use std::time::Instant;

use audio::Backlog;
use messages::ServerMessage;
use studio_plugin::pcm::{self, Resampler, samples_for_ms, samples_to_le_bytes};
use studio_plugin::retry::RetryPolicy;
use studio_plugin::websocket::{self, CloseFrame, Connection, Message};
use studio_plugin::{
    Capability, InputEvent, Microphone, PluginError, PluginInfo, Role, SttPlugin, SttRequest,
    Transcript, TranscriptSink, config, log,
};
use turns::TurnTracker;

/// The rate sent to AssemblyAI.
const RATE: u32 = 16_000;
/// The key's variable, named in auth errors.
const KEY_VAR: &str = "ASSEMBLYAI_API_KEY";

/// The exported plugin.
pub struct AssemblyAi;

/// The plugin's settings, read once per call.
#[derive(Debug, Clone)]
struct Settings {
    base_url: String,
    speech_model: String,
    format_turns: bool,
    /// Optional end-of-turn tuning, passed on as query parameters when set.
    end_of_turn: Vec<(&'static str, String)>,
    key_terms: bool,
    chunk_ms: u32,
    buffer_ms: u32,
    format_wait_ms: u32,
    begin_timeout_ms: u32,
    terminate_timeout_ms: u32,
    max_reconnects: u32,
}

impl Settings {
    fn load() -> Self {
        let end_of_turn = [
            "end_of_turn_confidence_threshold",
            "min_turn_silence",
            "max_turn_silence",
            "inactivity_timeout",
        ]
        .into_iter()
        .filter_map(|key| Some((key, config::get(key).ok().flatten()?)))
        .collect();
        Self {
            base_url: config::get_str("base_url", "wss://streaming.assemblyai.com"),
            speech_model: config::get_str("speech_model", "universal-streaming-english"),
            format_turns: config::get_bool("format_turns", true),
            end_of_turn,
            key_terms: config::get_bool("key_terms", true),
            chunk_ms: config::get_u32("chunk_ms", 50).clamp(50, 1000),
            buffer_ms: config::get_u32("buffer_ms", 10_000),
            format_wait_ms: config::get_u32("format_wait_ms", 700),
            begin_timeout_ms: config::get_u32("begin_timeout_ms", 5_000),
            terminate_timeout_ms: config::get_u32("terminate_timeout_ms", 3_000),
            max_reconnects: config::get_u32("max_reconnects", 5),
        }
    }
}

/// The streaming URL with its query: `sample_rate`, `encoding=pcm_s16le`, `speech_model`,
/// `format_turns`, the end-of-turn thresholds and `keyterms_prompt`.
fn session_url(settings: &Settings, key_terms: &[String]) -> String {
    let mut query = vec![
        ("sample_rate", RATE.to_string()),
        ("encoding", "pcm_s16le".to_owned()),
        ("speech_model", settings.speech_model.clone()),
        ("format_turns", settings.format_turns.to_string()),
    ];
    query.extend(settings.end_of_turn.iter().cloned());
    if settings.key_terms && !key_terms.is_empty() {
        let list = studio_plugin::json::Value::from(key_terms.to_vec()).to_string();
        query.push(("keyterms_prompt", list));
    }
    let query: Vec<String> = query
        .iter()
        .map(|(key, value)| format!("{key}={}", percent_encode(value)))
        .collect();
    format!(
        "{}/v3/ws?{}",
        settings.base_url.trim_end_matches('/'),
        query.join("&")
    )
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Names the provider and, for a refused key, the variable.
fn in_context(error: PluginError) -> PluginError {
    match error {
        PluginError::Auth(message) => {
            PluginError::Auth(format!("AssemblyAI refused {KEY_VAR} ({message})"))
        }
        PluginError::Unavailable(message) => {
            PluginError::Unavailable(format!("AssemblyAI is unavailable: {message}"))
        }
        PluginError::RateLimited(mut limit) => {
            limit.message = format!("AssemblyAI is rate limiting: {}", limit.message);
            PluginError::RateLimited(limit)
        }
        other => other,
    }
}

/// The error an `Error` message means (its code is one of the close codes).
fn server_error(code: Option<u16>, message: &str) -> PluginError {
    let frame = CloseFrame {
        code: code.unwrap_or(3005),
        reason: message.to_owned(),
    };
    websocket::close_error(&frame)
        .unwrap_or_else(|| PluginError::Unavailable(format!("AssemblyAI error: {message}")))
}

impl SttPlugin for AssemblyAi {
    fn describe() -> PluginInfo {
        PluginInfo::for_role(Role::Stt).with_capabilities(&[
            Capability::Log,
            Capability::Config,
            Capability::Websocket,
        ])
    }

    fn transcribe(
        request: SttRequest,
        input: &mut Microphone<'_>,
        sink: &TranscriptSink<'_>,
    ) -> Result<(), PluginError> {
        let settings = Settings::load();
        let key = config::require_secret(KEY_VAR)?;
        let url = session_url(&settings, &request.key_terms);
        let mut stream = Stream {
            policy: RetryPolicy::from_config(),
            headers: vec![("Authorization".to_owned(), key)],
            url,
            backlog: Backlog::new(
                samples_for_ms(settings.chunk_ms, RATE),
                samples_for_ms(settings.buffer_ms, RATE),
            ),
            tracker: TurnTracker::new(settings.format_turns, u64::from(settings.format_wait_ms)),
            resampler: pcm::resampler(input.sample_rate(), RATE)?,
            resampled: Vec::new(),
            history: Default::default(),
            history_start: 0,
            reconnects: 0,
            began: Instant::now(),
            settings,
        };
        let mut connection = stream.open()?;
        loop {
            let now = stream.now_ms();
            // Wake up when a final waiting for its formatted copy is due.
            let timeout = stream
                .tracker
                .wait_ms(now)
                .map(|ms| u32::try_from(ms.max(1)).unwrap_or(u32::MAX));
            let step = match input.next_event(Some(&connection), timeout) {
                Ok(InputEvent::Audio(samples)) => {
                    stream.hear(&samples);
                    stream.send_ready(&connection)
                }
                Ok(InputEvent::Socket(message)) => stream.on_message(message, sink),
                Ok(InputEvent::End) => return stream.finish(&connection, sink),
                // The service finds turns on its own; hints and timeouts only wake the loop.
                Ok(InputEvent::SpeechStarted | InputEvent::SpeechEnded | InputEvent::Timeout) => {
                    Ok(())
                }
                Err(error) => Err(error),
            };
            push_all(sink, stream.tracker.on_tick(stream.now_ms()))?;
            match step {
                Ok(()) => {}
                Err(PluginError::Unavailable(cause)) => {
                    connection.close(1000, "");
                    connection = stream.reconnect(&cause, sink)?;
                }
                Err(error) => {
                    connection.close(1000, "");
                    push_all(sink, stream.tracker.flush())?;
                    return Err(in_context(error));
                }
            }
        }
    }
}

/// One call's state: the connection's settings, the unsent audio, the turns.
struct Stream {
    settings: Settings,
    policy: RetryPolicy,
    url: String,
    headers: Vec<(String, String)>,
    backlog: Backlog,
    tracker: TurnTracker,
    /// The microphone's rate to 16 kHz, one stream for the whole call (the filter's history
    /// carries from frame to frame). Its output runs about 1.5 ms behind the input and is as
    /// long as the input at the new rate, so what is sent lasts as long as what was heard; the
    /// last 1.5 ms of the session stay in the filter (not flushed: that would pad the stream
    /// past its end).
    resampler: Resampler,
    /// The last frame at 16 kHz (reused).
    resampled: Vec<i16>,
    /// The audio sent so far, kept (up to `buffer_ms`) to be sent again when a connection is
    /// lost before its words were final.
    history: std::collections::VecDeque<i16>,
    /// The stream position (16 kHz samples) of `history[0]`.
    history_start: u64,
    /// Connections re-established in a row without a turn heard in between.
    reconnects: u32,
    began: Instant,
}

impl Stream {
    /// Takes a microphone frame: at 16 kHz into the backlog.
    fn hear(&mut self, samples: &[i16]) {
        self.resampled.clear();
        self.resampler.process(samples, &mut self.resampled);
        self.backlog.push(&self.resampled);
    }

    fn now_ms(&self) -> u64 {
        self.began.elapsed().as_millis() as u64
    }

    /// Connects and waits for `Begin`, retrying per the SDK policy (nothing was delivered yet).
    fn open(&self) -> Result<Connection, PluginError> {
        self.policy
            .run("AssemblyAI connection", |_| {
                let connection = websocket::connect(&self.url, &self.headers)?;
                self.wait_for_begin(&connection)?;
                Ok(connection)
            })
            .map_err(in_context)
    }

    fn wait_for_begin(&self, connection: &Connection) -> Result<(), PluginError> {
        let started = Instant::now();
        let limit = u64::from(self.settings.begin_timeout_ms);
        loop {
            let left = limit.saturating_sub(started.elapsed().as_millis() as u64);
            if left == 0 {
                connection.close(1000, "");
                return Err(PluginError::Unavailable(format!(
                    "no Begin within {limit} ms of connecting"
                )));
            }
            match connection.receive(Some(left as u32))? {
                Some(Message::Text(text)) => match messages::parse(&text)? {
                    ServerMessage::Begin { id } => {
                        log::info!("AssemblyAI session {id} began");
                        return Ok(());
                    }
                    ServerMessage::Error { code, message } => {
                        return Err(server_error(code, &message));
                    }
                    _ => {}
                },
                Some(Message::Close(frame)) => {
                    return Err(websocket::close_error(&frame).unwrap_or_else(|| {
                        PluginError::Unavailable("the connection closed before Begin".into())
                    }));
                }
                Some(Message::Binary(_)) | None => {}
            }
        }
    }

    /// The connection was lost (`cause`): a new one starts (bounded), and the audio after the
    /// last final is sent again, so the words of the turn in progress are not lost; word times of
    /// the new session continue from there.
    fn reconnect(
        &mut self,
        cause: &str,
        sink: &TranscriptSink<'_>,
    ) -> Result<Connection, PluginError> {
        push_all(sink, self.tracker.abandon())?;
        self.reconnects += 1;
        if self.reconnects > self.settings.max_reconnects {
            return Err(in_context(PluginError::Unavailable(format!(
                "the connection dropped {} times in a row: {cause}",
                self.reconnects
            ))));
        }
        log::warn!("AssemblyAI connection lost ({cause}); reconnecting");
        let connection = self.open()?;
        let sent_end = self.history_start + self.history.len() as u64;
        let settled = (self.tracker.settled_ms() * u64::from(RATE) / 1000)
            .clamp(self.history_start, sent_end);
        let keep = (settled - self.history_start) as usize;
        let replay: Vec<i16> = self.history.drain(keep..).collect();
        let dropped_before = self.backlog.dropped();
        self.backlog.prepend(&replay);
        // What the cap dropped from the front of the replay is skipped in the stream.
        let skipped = self.backlog.dropped() - dropped_before;
        self.history.clear();
        self.history_start = settled + skipped;
        self.tracker
            .new_session(self.history_start * 1000 / u64::from(RATE));
        if self.backlog.dropped() > 0 {
            log::warn!(
                "{} ms of audio were dropped while reconnecting",
                self.backlog.dropped() * 1000 / u64::from(RATE)
            );
        }
        Ok(connection)
    }

    /// Sends every whole chunk of the backlog; a chunk leaves the backlog only once sent.
    fn send_ready(&mut self, connection: &Connection) -> Result<(), PluginError> {
        while let Some(chunk) = self.backlog.next_chunk() {
            self.send_chunk(connection, &chunk)?;
        }
        Ok(())
    }

    fn send_chunk(&mut self, connection: &Connection, chunk: &[i16]) -> Result<(), PluginError> {
        connection.send(&Message::Binary(samples_to_le_bytes(chunk)))?;
        self.backlog.sent(chunk.len());
        self.history.extend(chunk.iter().copied());
        let cap = samples_for_ms(self.settings.buffer_ms, RATE);
        let excess = self.history.len().saturating_sub(cap);
        self.history.drain(..excess);
        self.history_start += excess as u64;
        Ok(())
    }

    /// One message from the socket.
    fn on_message(
        &mut self,
        message: Message,
        sink: &TranscriptSink<'_>,
    ) -> Result<(), PluginError> {
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => return Ok(()),
            Message::Close(frame) => {
                return Err(websocket::close_error(&frame).unwrap_or_else(|| {
                    PluginError::Unavailable(format!(
                        "the server closed the session ({}: {})",
                        frame.code, frame.reason
                    ))
                }));
            }
        };
        match messages::parse(&text)? {
            ServerMessage::Turn(turn) => {
                self.reconnects = 0;
                push_all(sink, self.tracker.on_turn(&turn, self.now_ms()))
            }
            ServerMessage::Error { code, message } => Err(server_error(code, &message)),
            ServerMessage::Termination => Err(PluginError::Unavailable(
                "the server ended the session".into(),
            )),
            ServerMessage::Warning(warning) => {
                log::warn!("AssemblyAI warning: {warning}");
                Ok(())
            }
            ServerMessage::Begin { .. } | ServerMessage::Other => Ok(()),
        }
    }

    /// The stream ended: send the rest, `Terminate`, and wait (bounded) for the last turns and
    /// `Termination`; what is known then is final.
    fn finish(
        &mut self,
        connection: &Connection,
        sink: &TranscriptSink<'_>,
    ) -> Result<(), PluginError> {
        let outcome = self.terminate(connection, sink);
        connection.close(1000, "");
        push_all(sink, self.tracker.flush())?;
        match outcome {
            // The session is over either way; what was heard is delivered.
            Err(PluginError::Unavailable(cause)) => {
                log::warn!("AssemblyAI session did not end cleanly: {cause}");
                Ok(())
            }
            other => other.map_err(in_context),
        }
    }

    fn terminate(
        &mut self,
        connection: &Connection,
        sink: &TranscriptSink<'_>,
    ) -> Result<(), PluginError> {
        self.send_ready(connection)?;
        if let Some(rest) = self.backlog.last_chunk() {
            self.send_chunk(connection, &rest)?;
        }
        connection.send(&Message::Text(r#"{"type":"Terminate"}"#.to_owned()))?;
        let started = Instant::now();
        let limit = u64::from(self.settings.terminate_timeout_ms);
        loop {
            let left = limit.saturating_sub(started.elapsed().as_millis() as u64);
            if left == 0 {
                return Err(PluginError::Unavailable(format!(
                    "no Termination within {limit} ms of Terminate"
                )));
            }
            let Some(message) = connection.receive(Some(left as u32))? else {
                continue;
            };
            if let Message::Text(text) = &message
                && messages::parse(text)? == ServerMessage::Termination
            {
                return Ok(());
            }
            if let Message::Close(frame) = &message
                && websocket::close_error(frame).is_none()
            {
                return Ok(());
            }
            self.on_message(message, sink)?;
        }
    }
}

fn push_all(sink: &TranscriptSink<'_>, transcripts: Vec<Transcript>) -> Result<(), PluginError> {
    for transcript in &transcripts {
        sink.push(transcript)?;
    }
    Ok(())
}

studio_plugin::export_stt!(AssemblyAi);

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            base_url: "wss://streaming.assemblyai.com/".into(),
            speech_model: "universal-streaming-english".into(),
            format_turns: true,
            end_of_turn: vec![("min_turn_silence", "400".into())],
            key_terms: true,
            chunk_ms: 50,
            buffer_ms: 10_000,
            format_wait_ms: 700,
            begin_timeout_ms: 5000,
            terminate_timeout_ms: 3000,
            max_reconnects: 5,
        }
    }

    #[test]
    fn the_url_carries_the_documented_query() {
        let url = session_url(&settings(), &[]);
        assert_eq!(
            url,
            "wss://streaming.assemblyai.com/v3/ws?sample_rate=16000&encoding=pcm_s16le&speech_model=universal-streaming-english&format_turns=true&min_turn_silence=400"
        );
    }

    #[test]
    fn key_terms_go_as_an_encoded_json_list() {
        let url = session_url(&settings(), &["Claude".into(), "Ada Lovelace".into()]);
        assert!(
            url.ends_with("&keyterms_prompt=%5B%22Claude%22%2C%22Ada%20Lovelace%22%5D"),
            "{url}"
        );
    }

    #[test]
    fn errors_name_assemblyai_and_the_key() {
        let PluginError::Auth(message) = in_context(PluginError::Auth("HTTP 401".into())) else {
            panic!("auth")
        };
        assert_eq!(message, "AssemblyAI refused ASSEMBLYAI_API_KEY (HTTP 401)");
        assert!(matches!(
            server_error(Some(3005), "boom"),
            PluginError::Unavailable(_)
        ));
        assert!(matches!(
            server_error(Some(1008), "bad key"),
            PluginError::Auth(_)
        ));
        assert!(matches!(
            server_error(Some(3009), "busy"),
            PluginError::RateLimited(_)
        ));
        assert!(matches!(
            server_error(Some(3007), "chunk"),
            PluginError::Protocol(_)
        ));
        assert!(matches!(
            server_error(None, "old style"),
            PluginError::Unavailable(_)
        ));
    }
}
