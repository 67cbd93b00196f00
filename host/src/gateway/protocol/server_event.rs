//! Every event the server sends a client, as one type: its name on the wire and its payload.
//!
//! The studio speaks in [`ServerEvent`]s and the gateway sends them over Socket.IO, so the studio
//! never touches a socket. The payload serializes exactly as it would on its own (`orb.state` as
//! its two arguments, `audio.out` with its binary attachment), so the wire is unchanged.

use serde::{Serialize, Serializer};

use super::{
    AudioOut, AudioStop, Caption, ErrorPayload, ModeNormal, ModeThinking, OrbState, RecordingReady,
    SessionEnd, SharedScreen, Speaker, StudioSnapshot, TurnEnd, server_events,
};

/// One server-to-client event, borrowing its payload.
#[derive(Debug, Clone, Copy)]
pub enum ServerEvent<'a> {
    /// `server.ack <string>`.
    Ack(&'a str),
    /// `state.snapshot <OrchestratorStateSnapshot>`.
    StateSnapshot(&'a StudioSnapshot),
    /// `orb.state (speaker, state)`: two arguments.
    OrbState(Speaker, OrbState),
    /// `caption <CaptionPayload>`.
    Caption(&'a Caption),
    /// `mode.thinking <ModeThinkingPayload>`.
    ModeThinking(&'a ModeThinking),
    /// `mode.normal <ModeNormalPayload>`.
    ModeNormal(&'a ModeNormal),
    /// `shared-screen.state <SharedScreenState>`.
    SharedScreen(&'a SharedScreen),
    /// `recording.ready <RecordingReadyPayload>`.
    RecordingReady(&'a RecordingReady),
    /// `error <ErrorPayload>`.
    Error(&'a ErrorPayload),
    /// `audio.out <AudioOut>`.
    AudioOut(&'a AudioOut),
    /// `audio.stop <AudioStop>`.
    AudioStop(&'a AudioStop),
    /// `turn.end <TurnEnd>`.
    TurnEnd(&'a TurnEnd),
    /// `session.end <SessionEnd>`.
    SessionEnd(&'a SessionEnd),
}

impl ServerEvent<'_> {
    /// The event's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::Ack(_) => server_events::ACK,
            ServerEvent::StateSnapshot(_) => server_events::STATE_SNAPSHOT,
            ServerEvent::OrbState(..) => server_events::ORB_STATE,
            ServerEvent::Caption(_) => server_events::CAPTION,
            ServerEvent::ModeThinking(_) => server_events::MODE_THINKING,
            ServerEvent::ModeNormal(_) => server_events::MODE_NORMAL,
            ServerEvent::SharedScreen(_) => server_events::SHARED_SCREEN,
            ServerEvent::RecordingReady(_) => server_events::RECORDING_READY,
            ServerEvent::Error(_) => server_events::ERROR,
            ServerEvent::AudioOut(_) => server_events::AUDIO_OUT,
            ServerEvent::AudioStop(_) => server_events::AUDIO_STOP,
            ServerEvent::TurnEnd(_) => server_events::TURN_END,
            ServerEvent::SessionEnd(_) => server_events::SESSION_END,
        }
    }
}

/// Serializes the payload alone, exactly as the payload type does: Socket.IO sends what this
/// writes as the event's arguments.
impl Serialize for ServerEvent<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ServerEvent::Ack(text) => text.serialize(serializer),
            ServerEvent::StateSnapshot(snapshot) => snapshot.serialize(serializer),
            // A tuple: socketioxide sends each element as an argument of its own.
            ServerEvent::OrbState(speaker, state) => (speaker, state).serialize(serializer),
            ServerEvent::Caption(caption) => caption.serialize(serializer),
            ServerEvent::ModeThinking(thinking) => thinking.serialize(serializer),
            ServerEvent::ModeNormal(normal) => normal.serialize(serializer),
            ServerEvent::SharedScreen(screen) => screen.serialize(serializer),
            ServerEvent::RecordingReady(ready) => ready.serialize(serializer),
            ServerEvent::Error(error) => error.serialize(serializer),
            ServerEvent::AudioOut(audio) => audio.serialize(serializer),
            ServerEvent::AudioStop(stop) => stop.serialize(serializer),
            ServerEvent::TurnEnd(end) => end.serialize(serializer),
            ServerEvent::SessionEnd(end) => end.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::protocol::ErrorCode;

    #[test]
    fn an_event_serializes_as_its_payload() {
        let error = ErrorPayload::new(ErrorCode::AudioUndecodable, "bad chunk");
        let event = ServerEvent::Error(&error);
        assert_eq!(event.name(), "error");
        assert_eq!(
            serde_json::to_value(event).ok(),
            serde_json::to_value(&error).ok()
        );
        let orb = ServerEvent::OrbState(Speaker::Guest, OrbState::Speaking);
        assert_eq!(orb.name(), "orb.state");
        assert_eq!(
            serde_json::to_value(orb).ok(),
            Some(serde_json::json!(["guest", "speaking"]))
        );
        assert_eq!(
            serde_json::to_value(ServerEvent::Ack("autopilot enabled")).ok(),
            Some(serde_json::json!("autopilot enabled"))
        );
    }
}
