//! The events of a client in a studio: `audio.chunk`, `client.toggle-autopilot`,
//! `client.request-state`, `client.end-session`, `text.say`, and any unknown event. A viewer only watches:
//! its audio and control events are refused.

use std::sync::Arc;
use std::time::Instant;

use socketioxide::handler::Value;

use super::audience::client_id;
use super::checks::{check_audio_chunk, check_text_say};
use super::client::{
    Client, JoinedStudio, admit, decode, decode_event, emit, send_error, studio_unreachable,
};
use crate::gateway::access::Role;
use crate::gateway::protocol::{BinaryPayload, ErrorCode, StudioSnapshot, TextSay, server_events};
use crate::gateway::rate::{Admission, ClientGate, EventKind, media_duration};
use crate::session::StudioCommand;

/// When a viewer was last told its audio is refused: at most once a second, not per chunk.
#[derive(Debug, Default)]
struct ForbiddenAudioNotice(std::sync::Mutex<Option<Instant>>);

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

pub(super) fn on_audio_chunk(socket: &Client, value: &mut Value) {
    let Some(joined) = socket.extensions.get::<JoinedStudio>() else {
        return send_error(
            socket,
            ErrorCode::NotInStudio,
            "send hello before audio.chunk",
        );
    };
    if joined.role == Role::Viewer {
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
    if let Err((code, message)) = check_audio_chunk(&chunk, &joined.input_format) {
        return send_error(socket, code, &message);
    }
    if let Some(gate) = socket.extensions.get::<Arc<ClientGate>>() {
        let media = media_duration(&chunk, &joined.input_format);
        match gate.audio(media, Instant::now()) {
            Admission::Admit => {}
            Admission::Drop => return,
            Admission::DropAndTell(message) => {
                tracing::info!(client = %socket.id, episode = joined.studio.episode_id(), rule = "MIC_REALTIME_FACTOR", "microphone audio too fast; the excess is dropped");
                return send_error(socket, ErrorCode::AudioTooFast, &message);
            }
        }
    }
    let command = StudioCommand::Audio {
        client: client_id(socket.id),
        chunk,
    };
    if let Err(e) = joined.studio.send(command) {
        studio_unreachable(socket, e);
    }
}

pub(super) fn on_toggle_autopilot(socket: &Client, value: &mut Value) {
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
    let Some(joined) = socket.extensions.get::<JoinedStudio>() else {
        return send_error(
            socket,
            ErrorCode::NotInStudio,
            "send hello before client.toggle-autopilot",
        );
    };
    if joined.role == Role::Viewer {
        return refuse_viewer(socket, "client.toggle-autopilot");
    }
    if let Err(e) = joined.studio.send(StudioCommand::SetAutopilot {
        client: client_id(socket.id),
        on,
    }) {
        studio_unreachable(socket, e);
    }
}

pub(super) fn on_request_state(socket: &Client, _value: &mut Value) {
    if !admit(socket, EventKind::Control) {
        return;
    }
    match socket.extensions.get::<JoinedStudio>() {
        Some(joined) => {
            if let Err(e) = joined.studio.send(StudioCommand::RequestState {
                client: client_id(socket.id),
            }) {
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

pub(super) fn on_end_session(socket: &Client, _value: &mut Value) {
    if !admit(socket, EventKind::Control) {
        return;
    }
    let Some(joined) = socket.extensions.get::<JoinedStudio>() else {
        return send_error(
            socket,
            ErrorCode::NotInStudio,
            "send hello before client.end-session",
        );
    };
    if joined.role == Role::Viewer {
        return refuse_viewer(socket, "client.end-session");
    }
    if let Err(e) = joined.studio.send(StudioCommand::EndSession {
        client: client_id(socket.id),
    }) {
        studio_unreachable(socket, e);
    }
}

/// `text.say {text, to?}`: a typed line, through the control bucket like any control event.
pub(super) fn on_text_say(socket: &Client, value: &mut Value) {
    if !admit(socket, EventKind::Control) {
        return;
    }
    let say = match decode::<TextSay>(socket, value) {
        Ok(say) => say,
        Err(_) => {
            return send_error(
                socket,
                ErrorCode::BadPayload,
                "text.say needs one object {text: string, to?: \"claude\" | \"guest\"}",
            );
        }
    };
    let say = match check_text_say(&say) {
        Ok(say) => say,
        Err((code, message)) => return send_error(socket, code, &message),
    };
    let Some(joined) = socket.extensions.get::<JoinedStudio>() else {
        return send_error(socket, ErrorCode::NotInStudio, "send hello before text.say");
    };
    if joined.role == Role::Viewer {
        return refuse_viewer(socket, "text.say");
    }
    if let Err(e) = joined.studio.send(StudioCommand::Say {
        client: client_id(socket.id),
        text: say.text,
        to: say.to,
    }) {
        studio_unreachable(socket, e);
    }
}

pub(super) fn on_unknown_event(socket: &Client, value: &mut Value) {
    if !admit(socket, EventKind::Control) {
        return;
    }
    let event = decode_event(socket, value).unwrap_or_else(|| "?".to_owned());
    let shown: String = event.chars().take(64).collect();
    send_error(
        socket,
        ErrorCode::UnknownEvent,
        &format!(
            "`{shown}` is not an event of this server; see docs/PROTOCOL.md (hello, audio.chunk, client.toggle-autopilot, client.request-state, client.end-session, text.say)"
        ),
    );
}
