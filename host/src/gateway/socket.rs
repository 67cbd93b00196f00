//! Socket.IO handlers of namespace `/`: validate every client event and hand it to the client's
//! studio. Bad input gets an `error {code, message}` event and the connection goes on.
//!
//! The handlers run inline in the connection's receive loop (see [`InOrder`]) rather than as
//! spawned tasks, so a client's events reach its studio in the order they were sent: audio chunks
//! must not overtake each other, and `hello` must land before the `client.request-state` after it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ConnectInfo;
use socketioxide::SocketIo;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{Event, SocketRef, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts, MessageHandler, Value};
use socketioxide::socket::Socket;

use super::access::{Access, AccessError, Grant, Role};
use super::protocol::{
    AudioEncoding, BinaryPayload, ErrorCode, ErrorPayload, Hello, InputFormat, StudioSnapshot,
    client_events, server_events,
};
use super::rate::{Admission, ClientGate, EventKind, address_key, media_duration};
use crate::config::ClientLimits;
use crate::session::{
    JoinError, Participant, StudioCommand, StudioHandle, StudioRegistry, StudioSendError,
};

/// Largest accepted `audio.chunk`: one second of 48 kHz mono s16 (the browser sends ~20-100 ms).
pub const MAX_AUDIO_CHUNK_BYTES: usize = 96_000;
/// Longest accepted `participantName`.
pub const MAX_PARTICIPANT_NAME_CHARS: usize = 100;

/// A connected client as the in-order handlers see it.
type Client = Arc<Socket<LocalAdapter>>;

/// The studio a client joined with `hello`, kept in the socket's extensions.
#[derive(Debug, Clone)]
struct Seat {
    studio: StudioHandle,
    input_format: InputFormat,
    /// What the client may do there (a viewer only watches).
    role: Role,
}

/// The access token a client presented when it connected: the handshake `auth.token`, else the
/// handshake query's `?token=` (how the original frontend carries one in its backend URL).
#[derive(Debug, Clone)]
struct HandshakeToken(String);

/// The handshake `auth` payload: `{token}`; anything else in it is ignored.
#[derive(Debug, Default, serde::Deserialize)]
struct HandshakeAuth {
    #[serde(default)]
    token: Option<String>,
}

/// When a viewer was last told its audio is refused: at most once a second, not per chunk.
#[derive(Debug, Default)]
struct ForbiddenAudioNotice(std::sync::Mutex<Option<Instant>>);

/// Registers the namespace `/` and its handlers on `io`; every client gets its own buckets of
/// `limits`.
pub fn register(
    io: &SocketIo,
    registry: StudioRegistry,
    limits: ClientLimits,
    access: Arc<Access>,
) {
    // The handlers are installed by a connect middleware, which socketioxide runs before it
    // answers the connect packet: a plain connect handler runs as a task spawned after that
    // answer, so a `hello` sent at once on `connect` (what socket.io-client does) could arrive
    // before `hello` had a handler and be dropped without a word (seen under load).
    let install = move |socket: SocketRef, TryData(auth): TryData<HandshakeAuth>| {
        let registry = registry.clone();
        let access = access.clone();
        async move {
            remember_handshake_token(&socket, auth.ok());
            install_handlers(socket, registry, limits, access);
            Ok::<(), std::convert::Infallible>(())
        }
    };
    io.ns("/", greet.with(install));
}

/// Whether the client got its greeting (`server.ack connected` and the empty state).
#[derive(Debug, Clone, Default)]
struct Greeted(Arc<std::sync::atomic::AtomicBool>);

/// Once connected: the original backend's greeting and the empty studio's state.
async fn greet(socket: SocketRef) {
    tracing::info!(client = %socket.id, "client connected");
    greet_once(&socket);
}

/// Sends the greeting unless it was sent: a `hello` handled before [`greet`] ran sends it first,
/// so the empty state never arrives after the studio's own.
fn greet_once(socket: &Socket<LocalAdapter>) {
    let first = socket
        .extensions
        .get::<Greeted>()
        .is_none_or(|g| !g.0.swap(true, std::sync::atomic::Ordering::AcqRel));
    if first {
        emit(socket, server_events::ACK, "connected");
        // Not in a studio yet: the empty studio's state, as the original backend sent on connect.
        emit(
            socket,
            server_events::STATE_SNAPSHOT,
            &StudioSnapshot::default(),
        );
    }
}

/// Keeps the handshake's token (from `auth`, else from the query) for the client's `hello`s.
fn remember_handshake_token(socket: &SocketRef, auth: Option<HandshakeAuth>) {
    let from_auth = auth.and_then(|a| a.token);
    let from_query = || {
        let query = socket.req_parts().uri.query()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "token")
            .map(|(_, value)| value.into_owned())
    };
    if let Some(token) = from_auth
        .filter(|t| !t.trim().is_empty())
        .or_else(from_query)
    {
        socket.extensions.insert(HandshakeToken(token));
    }
}

fn install_handlers(
    socket: SocketRef,
    registry: StudioRegistry,
    limits: ClientLimits,
    access: Arc<Access>,
) {
    // Before any handler can run: every event of this client passes its gate.
    socket.extensions.insert(Arc::new(ClientGate::new(&limits)));
    socket.extensions.insert(Greeted::default());

    let reg = registry.clone();
    socket.on(
        client_events::HELLO,
        InOrder::new(move |s: &Client, v: &mut Value| on_hello(s, v, &reg, &access)),
    );
    socket.on(client_events::AUDIO_CHUNK, InOrder::new(on_audio_chunk));
    socket.on(
        client_events::TOGGLE_AUTOPILOT,
        InOrder::new(on_toggle_autopilot),
    );
    socket.on(client_events::REQUEST_STATE, InOrder::new(on_request_state));
    socket.on(client_events::END_SESSION, InOrder::new(on_end_session));
    socket.on_fallback(InOrder::new(on_unknown_event));
    socket.on_disconnect(async |socket: SocketRef| {
        tracing::info!(client = %socket.id, "client disconnected");
        if let Some(gate) = socket.extensions.get::<Arc<ClientGate>>() {
            let dropped = gate.audio_dropped();
            if !dropped.is_zero() {
                tracing::info!(client = %socket.id, dropped_ms = dropped.as_millis(), rule = "MIC_REALTIME_FACTOR", "audio over the rate dropped");
            }
        }
        if let Some(seat) = socket.extensions.get::<Seat>() {
            leave(&seat.studio, socket.id).await;
        }
    });
}

fn on_hello(socket: &Client, value: &mut Value, registry: &StudioRegistry, access: &Access) {
    greet_once(socket);
    if !admit(socket, EventKind::Hello) {
        return;
    }
    let hello = match decode::<Hello>(socket, value) {
        Ok(hello) => hello,
        Err(e) => {
            return send_error(
                socket,
                ErrorCode::BadHello,
                &format!(
                    "hello needs {{episodeId?: string, participantName?: string, inputFormat?: {{encoding, sampleRate, channels}}}}: {e}"
                ),
            );
        }
    };
    let CheckedHello {
        name,
        input_format,
        episode_id: _,
    } = match check_hello(&hello) {
        Ok(checked) => checked,
        Err(message) => return send_error(socket, ErrorCode::BadHello, &message),
    };

    let Some((grant, episode)) = authorize(socket, access, &hello) else {
        return;
    };

    emit(socket, server_events::ACK, &format!("hello {name}"));
    // A client moves between studios by saying hello again; it leaves the old one first.
    if let Some(old) = socket.extensions.get::<Seat>() {
        let room = old.studio.episode_id().to_owned();
        if episode.as_deref() != Some(room.as_str()) {
            socket.leave(room);
            if old
                .studio
                .send(StudioCommand::Leave { client: socket.id })
                .is_err()
            {
                // The old studio is full or gone; deliver the leave off the receive loop.
                let studio = old.studio.clone();
                let client = socket.id;
                tokio::spawn(async move { leave(&studio, client).await });
            }
        }
    }
    let participant = Participant {
        name: name.clone(),
        input_format,
    };
    let creator = peer_address(socket).map(address_key);
    match registry.join_from(episode.as_deref(), socket.id, participant, creator) {
        Ok(studio) => {
            socket.join(studio.episode_id().to_owned());
            tracing::info!(client = %socket.id, name = %name, episode = studio.episode_id(), "hello");
            if let Some(gate) = socket.extensions.get::<Arc<ClientGate>>() {
                // A new studio hears about too-fast audio once more; the budget carries over.
                gate.joined();
            }
            socket.extensions.insert(Seat {
                studio,
                input_format,
                role: grant.role,
            });
        }
        Err(e) => {
            socket.extensions.remove::<Seat>();
            send_error(socket, join_error_code(&e), &e.to_string());
        }
    }
}

/// What a valid `hello` asks for, after [`check_hello`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedHello {
    /// The trimmed participant name (`anonymous` when absent or blank).
    pub name: String,
    /// The declared input format, or the default PCM s16le 48 kHz mono.
    pub input_format: InputFormat,
    /// The studio asked for; `None`: the current live episode.
    pub episode_id: Option<String>,
}

/// Validates a decoded `hello`: name length and characters, input format, episode id. Pure, so
/// the fuzz bench drives it with the same checks the handler runs; the error is the message the
/// client gets with `bad-hello`.
pub fn check_hello(hello: &Hello) -> Result<CheckedHello, String> {
    let name = hello
        .participant_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("anonymous")
        .to_owned();
    if name.chars().count() > MAX_PARTICIPANT_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(format!(
            "participantName must be at most {MAX_PARTICIPANT_NAME_CHARS} characters without control characters"
        ));
    }
    let input_format = hello.input_format.unwrap_or_default();
    check_input_format(&input_format)?;
    if let Some(id) = hello.episode_id.as_deref()
        && !crate::session::is_valid_episode_id(id)
    {
        return Err(JoinError::BadEpisodeId.to_string());
    }
    Ok(CheckedHello {
        name,
        input_format,
        episode_id: hello.episode_id.clone(),
    })
}

/// Decides what a `hello` may join: the grant of the token it carries (in `hello`, else from the
/// handshake) and the episode to join. `None`: refused, and the client was told why.
fn authorize(socket: &Client, access: &Access, hello: &Hello) -> Option<(Grant, Option<String>)> {
    let handshake = socket.extensions.get::<HandshakeToken>();
    let token = hello
        .token
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .or(handshake.as_ref().map(|HandshakeToken(t)| t.as_str()));
    let grant = match access.admit(token) {
        Ok(grant) => grant,
        Err(e) => {
            let code = match e {
                AccessError::Expired => ErrorCode::TokenExpired,
                AccessError::WrongEpisode => ErrorCode::Forbidden,
                AccessError::Missing | AccessError::Invalid => ErrorCode::Unauthorized,
            };
            tracing::info!(client = %socket.id, peer = ?peer_address(socket), rule = "access-token", error = %e, "hello refused");
            send_error(socket, code, &e.to_string());
            return None;
        }
    };
    match grant.episode_for(hello.episode_id.as_deref()) {
        Ok(episode) => {
            let episode = episode.map(str::to_owned);
            Some((grant, episode))
        }
        Err(e) => {
            tracing::info!(client = %socket.id, peer = ?peer_address(socket), rule = "token-episode", asked = ?hello.episode_id, "hello refused");
            send_error(socket, ErrorCode::Forbidden, &e.to_string());
            None
        }
    }
}

/// A viewer's control event: refused, and nothing reaches the studio.
fn refuse_viewer(socket: &Client, event: &str) {
    // Debug, not info: a viewer's spam is already bounded by its control bucket, but not silent.
    tracing::debug!(client = %socket.id, event, rule = "viewer-role", "event refused");
    send_error(
        socket,
        ErrorCode::Forbidden,
        &format!("{event} needs a host link; this is a viewer link (it sees and hears only)"),
    );
}

/// A viewer's audio: dropped; told at most once a second, so a stream is not echoed chunk by chunk.
fn refuse_viewer_audio(socket: &Client) {
    let notice = match socket.extensions.get::<Arc<ForbiddenAudioNotice>>() {
        Some(notice) => notice,
        None => {
            let notice = Arc::new(ForbiddenAudioNotice::default());
            socket.extensions.insert(notice.clone());
            notice
        }
    };
    let now = Instant::now();
    let mut last = notice
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if last.is_some_and(|t| now.duration_since(t) < std::time::Duration::from_secs(1)) {
        return;
    }
    *last = Some(now);
    drop(last);
    refuse_viewer(socket, "audio.chunk");
}

fn on_audio_chunk(socket: &Client, value: &mut Value) {
    let Some(seat) = socket.extensions.get::<Seat>() else {
        return send_error(
            socket,
            ErrorCode::NotInStudio,
            "send hello before audio.chunk",
        );
    };
    if seat.role == Role::Viewer {
        return refuse_viewer_audio(socket);
    }
    let chunk = match decode::<BinaryPayload>(socket, value) {
        Ok(BinaryPayload(bytes)) => bytes,
        Err(_) => {
            return send_error(
                socket,
                ErrorCode::AudioNotBinary,
                "audio.chunk must be binary (an ArrayBuffer, Blob or Buffer), not text or JSON",
            );
        }
    };
    if let Err((code, message)) = check_audio_chunk(&chunk, &seat.input_format) {
        return send_error(socket, code, &message);
    }
    if let Some(gate) = socket.extensions.get::<Arc<ClientGate>>() {
        let media = media_duration(&chunk, &seat.input_format);
        match gate.audio(media, Instant::now()) {
            Admission::Admit => {}
            Admission::Drop => return,
            Admission::DropAndTell(message) => {
                tracing::info!(client = %socket.id, episode = seat.studio.episode_id(), rule = "MIC_REALTIME_FACTOR", "microphone audio too fast; the excess is dropped");
                return send_error(socket, ErrorCode::AudioTooFast, &message);
            }
        }
    }
    let command = StudioCommand::Audio {
        client: socket.id,
        chunk,
    };
    if let Err(e) = seat.studio.send(command) {
        studio_unreachable(socket, e);
    }
}

fn on_toggle_autopilot(socket: &Client, value: &mut Value) {
    if !admit(socket, EventKind::Control) {
        return;
    }
    let on = match decode::<bool>(socket, value) {
        Ok(on) => on,
        Err(_) => {
            return send_error(
                socket,
                ErrorCode::BadPayload,
                "client.toggle-autopilot needs one boolean argument (true or false)",
            );
        }
    };
    let Some(seat) = socket.extensions.get::<Seat>() else {
        return send_error(
            socket,
            ErrorCode::NotInStudio,
            "send hello before client.toggle-autopilot",
        );
    };
    if seat.role == Role::Viewer {
        return refuse_viewer(socket, "client.toggle-autopilot");
    }
    if let Err(e) = seat.studio.send(StudioCommand::SetAutopilot {
        client: socket.id,
        on,
    }) {
        studio_unreachable(socket, e);
    }
}

fn on_request_state(socket: &Client, _value: &mut Value) {
    if !admit(socket, EventKind::Control) {
        return;
    }
    match socket.extensions.get::<Seat>() {
        Some(seat) => {
            if let Err(e) = seat
                .studio
                .send(StudioCommand::RequestState { client: socket.id })
            {
                studio_unreachable(socket, e);
            }
        }
        None => emit(
            socket,
            server_events::STATE_SNAPSHOT,
            &StudioSnapshot::default(),
        ),
    }
}

fn on_end_session(socket: &Client, _value: &mut Value) {
    if !admit(socket, EventKind::Control) {
        return;
    }
    let Some(seat) = socket.extensions.get::<Seat>() else {
        return send_error(
            socket,
            ErrorCode::NotInStudio,
            "send hello before client.end-session",
        );
    };
    if seat.role == Role::Viewer {
        return refuse_viewer(socket, "client.end-session");
    }
    if let Err(e) = seat
        .studio
        .send(StudioCommand::EndSession { client: socket.id })
    {
        studio_unreachable(socket, e);
    }
}

fn on_unknown_event(socket: &Client, value: &mut Value) {
    if !admit(socket, EventKind::Control) {
        return;
    }
    let event = decode_event(socket, value).unwrap_or_else(|| "?".to_owned());
    let shown: String = event.chars().take(64).collect();
    send_error(
        socket,
        ErrorCode::UnknownEvent,
        &format!(
            "`{shown}` is not an event of this server; see docs/PROTOCOL.md (hello, audio.chunk, client.toggle-autopilot, client.request-state, client.end-session)"
        ),
    );
}

/// Checks a chunk against the client's declared format before it reaches the studio.
pub fn check_audio_chunk(chunk: &[u8], format: &InputFormat) -> Result<(), (ErrorCode, String)> {
    if chunk.is_empty() {
        return Err((ErrorCode::AudioEmpty, "audio.chunk is empty".into()));
    }
    if chunk.len() > MAX_AUDIO_CHUNK_BYTES {
        return Err((
            ErrorCode::AudioTooLarge,
            format!(
                "audio.chunk has {} bytes; send at most {MAX_AUDIO_CHUNK_BYTES} (1 s of 48 kHz mono s16), ideally 20-100 ms per chunk",
                chunk.len()
            ),
        ));
    }
    let frame = 2 * usize::from(format.channels);
    if format.encoding == AudioEncoding::PcmS16le && !chunk.len().is_multiple_of(frame) {
        return Err((
            ErrorCode::AudioOddLength,
            format!(
                "audio.chunk has {} bytes, not a whole number of {}-byte s16 frames",
                chunk.len(),
                frame
            ),
        ));
    }
    Ok(())
}

fn check_input_format(format: &InputFormat) -> Result<(), String> {
    if !(8_000..=48_000).contains(&format.sample_rate) {
        return Err(format!(
            "inputFormat.sampleRate {} is outside 8000-48000 Hz",
            format.sample_rate
        ));
    }
    if !(1..=2).contains(&format.channels) {
        return Err(format!(
            "inputFormat.channels {} must be 1 or 2",
            format.channels
        ));
    }
    if format.encoding == AudioEncoding::Opus && format.sample_rate != 48_000 {
        return Err("inputFormat: opus input must declare sampleRate 48000".into());
    }
    Ok(())
}

fn join_error_code(e: &JoinError) -> ErrorCode {
    match e {
        JoinError::BadEpisodeId => ErrorCode::BadHello,
        JoinError::ShuttingDown | JoinError::Send(StudioSendError::Ended) => ErrorCode::StudioEnded,
        JoinError::Send(StudioSendError::Busy) => ErrorCode::StudioBusy,
        JoinError::TooManyStudios { .. } | JoinError::TooManyStudiosFromAddress { .. } => {
            ErrorCode::TooManyStudios
        }
    }
}

/// Passes an event of `kind` through the client's token bucket; `false`: drop it. The client
/// hears `rate-limited` at most once a second, so a flood is not answered with a flood.
fn admit(socket: &Client, kind: EventKind) -> bool {
    let Some(gate) = socket.extensions.get::<Arc<ClientGate>>() else {
        return true;
    };
    match gate.event(kind, Instant::now()) {
        Admission::Admit => true,
        Admission::Drop => false,
        Admission::DropAndTell(message) => {
            tracing::info!(client = %socket.id, peer = ?peer_address(socket), ?kind, "events over the rate dropped");
            send_error(socket, ErrorCode::RateLimited, &message);
            false
        }
    }
}

/// The client's address, from the connection that opened its Socket.IO session.
fn peer_address(socket: &Client) -> Option<IpAddr> {
    socket
        .req_parts()
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

fn studio_unreachable(socket: &Client, e: StudioSendError) {
    match e {
        StudioSendError::Busy => send_error(socket, ErrorCode::StudioBusy, &e.to_string()),
        StudioSendError::Ended => {
            // Forget the ended studio so the next event says "send hello" instead of repeating.
            if let Some(seat) = socket.extensions.remove::<Seat>() {
                socket.leave(seat.studio.episode_id().to_owned());
            }
            send_error(socket, ErrorCode::StudioEnded, &e.to_string());
        }
    }
}

/// Delivers a leave even when the studio's queue is momentarily full; a lost leave would keep a
/// studio alive forever.
async fn leave(studio: &StudioHandle, client: socketioxide::socket::Sid) {
    if let Err(e) = studio.deliver(StudioCommand::Leave { client }).await {
        tracing::debug!(%client, error = %e, "leave not delivered: studio already ended");
    }
}

fn send_error(socket: &Socket<LocalAdapter>, code: ErrorCode, message: &str) {
    tracing::debug!(client = %socket.id, ?code, message, "client error");
    emit(
        socket,
        server_events::ERROR,
        &ErrorPayload::new(code, message),
    );
}

fn emit<T: serde::Serialize + ?Sized>(socket: &Socket<LocalAdapter>, event: &str, data: &T) {
    if let Err(e) = socket.emit(event, data) {
        tracing::debug!(client = %socket.id, event, error = %e, "could not send to client");
    }
}

fn decode<T: serde::de::DeserializeOwned>(socket: &Client, value: &mut Value) -> Result<T, String> {
    let TryData(result) = match TryData::<T>::from_message_parts(socket, value, &None) {
        Ok(data) => data,
        Err(never) => match never {},
    };
    result.map_err(|e| e.to_string())
}

fn decode_event(socket: &Client, value: &mut Value) -> Option<String> {
    Event::from_message_parts(socket, value, &None)
        .ok()
        .map(|Event(name)| name)
}

/// A message handler that runs synchronously in the connection's receive loop, so events are
/// handled in arrival order (socketioxide's closure handlers are each spawned as a task, which
/// may reorder them). Its body must not block: it validates and queues.
pub struct InOrder<F> {
    body: Arc<F>,
}

impl<F> InOrder<F>
where
    F: Fn(&Client, &mut Value) + Send + Sync + 'static,
{
    /// Wraps a handler body.
    pub fn new(body: F) -> Self {
        Self {
            body: Arc::new(body),
        }
    }
}

/// Marker type for [`InOrder`]'s `MessageHandler` implementation.
pub struct InOrderMarker;

impl<F> MessageHandler<LocalAdapter, InOrderMarker> for InOrder<F>
where
    F: Fn(&Client, &mut Value) + Send + Sync + 'static,
{
    fn call(&self, socket: Client, mut value: Value, _ack_id: Option<i64>) {
        (self.body)(&socket, &mut value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm_chunks_must_hold_whole_samples_and_fit_the_limit() {
        let pcm = InputFormat::default();
        assert!(check_audio_chunk(&[0; 1920], &pcm).is_ok());
        assert_eq!(
            check_audio_chunk(&[0; 1921], &pcm).map_err(|e| e.0),
            Err(ErrorCode::AudioOddLength)
        );
        assert_eq!(
            check_audio_chunk(&[], &pcm).map_err(|e| e.0),
            Err(ErrorCode::AudioEmpty)
        );
        assert_eq!(
            check_audio_chunk(&vec![0; MAX_AUDIO_CHUNK_BYTES + 2], &pcm).map_err(|e| e.0),
            Err(ErrorCode::AudioTooLarge)
        );
        let opus = InputFormat {
            encoding: AudioEncoding::Opus,
            ..InputFormat::default()
        };
        assert!(check_audio_chunk(&[0; 77], &opus).is_ok());
    }

    #[test]
    fn input_formats_outside_what_the_studio_can_resample_are_refused() {
        assert!(check_input_format(&InputFormat::default()).is_ok());
        let too_fast = InputFormat {
            sample_rate: 96_000,
            ..InputFormat::default()
        };
        assert!(check_input_format(&too_fast).is_err());
    }
}
