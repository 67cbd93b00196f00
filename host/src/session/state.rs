//! A studio's state, owned by its actor: orbs, captions, autopilot, shared screen, the clients in
//! the room and who holds the microphone. Pure data and rules, no I/O, so the rules are unit-tested.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::audience::ClientId;
use crate::gateway::protocol::{
    Caption, InputFormat, OrbState, OrbStates, SharedScreen, StudioSnapshot,
};
use crate::speakers::Speaker;

/// How many captions a studio keeps (newest first).
pub const CAPTIONS_KEPT: usize = 50;
/// How many captions a snapshot carries; the frontend shows 5.
pub const CAPTIONS_IN_SNAPSHOT: usize = 10;
/// A microphone holder that sent no audio for this long loses the microphone to the next sender,
/// so a display that once streamed does not lock the real microphone out forever.
pub const MICROPHONE_RELEASE_AFTER: Duration = Duration::from_secs(2);
/// At most one `microphone-busy` error per client in this interval (audio arrives 50 times a second).
pub const BUSY_ERROR_INTERVAL: Duration = Duration::from_secs(1);

/// A client in the studio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The name from `hello` (`anonymous` when absent).
    pub name: String,
    /// The format of its `audio.chunk`s.
    pub input_format: InputFormat,
}

/// Who holds the studio's microphone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MicrophoneHold {
    /// The client streaming the human's voice.
    pub client: ClientId,
    /// When its last chunk arrived.
    pub last_audio: Instant,
}

/// What to do with an audio chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MicrophoneVerdict {
    /// The sender holds the microphone: the chunk is the human's voice.
    Accept,
    /// Another client holds it: drop the chunk and tell the sender (`notify`: not told recently).
    Busy {
        /// Whether to send a `microphone-busy` error now.
        notify: bool,
    },
    /// The sender is not in this studio.
    NotInStudio,
}

/// Counters of the microphone audio a studio received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudioInStats {
    /// Chunks accepted.
    pub chunks: u64,
    /// Bytes accepted.
    pub bytes: u64,
}

/// The state of one studio.
#[derive(Debug)]
pub struct StudioState {
    orbs: OrbStates,
    captions: VecDeque<Caption>,
    autopilot: bool,
    shared_screen: SharedScreen,
    participants: HashMap<ClientId, Participant>,
    microphone: Option<MicrophoneHold>,
    last_busy_error: HashMap<ClientId, Instant>,
    audio_in: AudioInStats,
}

impl Default for StudioState {
    fn default() -> Self {
        Self::new()
    }
}

impl StudioState {
    /// A fresh studio: every orb idle, no captions, autopilot off, conversation screen.
    pub fn new() -> Self {
        Self {
            orbs: OrbStates::default(),
            captions: VecDeque::with_capacity(CAPTIONS_KEPT),
            autopilot: false,
            shared_screen: SharedScreen::default(),
            participants: HashMap::new(),
            microphone: None,
            last_busy_error: HashMap::new(),
            audio_in: AudioInStats::default(),
        }
    }

    /// What a client needs to draw the studio.
    pub fn snapshot(&self) -> StudioSnapshot {
        StudioSnapshot {
            orb_states: self.orbs,
            captions: self
                .captions
                .iter()
                .take(CAPTIONS_IN_SNAPSHOT)
                .cloned()
                .collect(),
            autopilot: self.autopilot,
            shared_screen: self.shared_screen,
        }
    }

    /// Adds or updates a client; a second `hello` from the same client replaces its details.
    pub fn join(&mut self, client: ClientId, participant: Participant) {
        self.participants.insert(client, participant);
    }

    /// Removes a client and frees the microphone if it held it. Returns whether it was here.
    pub fn leave(&mut self, client: ClientId) -> bool {
        if self.microphone.is_some_and(|m| m.client == client) {
            self.microphone = None;
        }
        self.last_busy_error.remove(&client);
        self.participants.remove(&client).is_some()
    }

    /// Whether any client is in the studio.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// How many clients are in the studio.
    pub fn participant_count(&self) -> usize {
        self.participants.len()
    }

    /// The clients in the studio.
    pub fn clients(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.participants.keys().copied()
    }

    /// A client in the studio.
    pub fn participant(&self, client: ClientId) -> Option<&Participant> {
        self.participants.get(&client)
    }

    /// Sets autopilot; returns whether it changed.
    pub fn set_autopilot(&mut self, on: bool) -> bool {
        let changed = self.autopilot != on;
        self.autopilot = on;
        changed
    }

    /// Whether autopilot is on.
    pub fn autopilot(&self) -> bool {
        self.autopilot
    }

    /// A speaker's orb.
    pub fn orb(&self, speaker: Speaker) -> OrbState {
        self.orbs.get(speaker)
    }

    /// Sets a speaker's orb; returns whether it changed.
    pub fn set_orb(&mut self, speaker: Speaker, state: OrbState) -> bool {
        self.orbs.set(speaker, state)
    }

    /// Adds a caption (newest first); a caption with the id of an existing one replaces it, so a
    /// partial transcript can be updated in place.
    pub fn push_caption(&mut self, caption: Caption) {
        if let Some(existing) = self.captions.iter_mut().find(|c| c.id == caption.id) {
            *existing = caption;
            return;
        }
        self.captions.push_front(caption);
        self.captions.truncate(CAPTIONS_KEPT);
    }

    /// Sets the shared screen; returns whether it changed.
    pub fn set_shared_screen(&mut self, screen: SharedScreen) -> bool {
        let changed = self.shared_screen != screen;
        self.shared_screen = screen;
        changed
    }

    /// Decides whether `client`'s audio chunk, arriving `now`, is the human's voice. The first
    /// sender takes the microphone; it keeps it while it streams and loses it when it leaves or
    /// falls silent for [`MICROPHONE_RELEASE_AFTER`].
    pub fn claim_microphone(&mut self, client: ClientId, now: Instant) -> MicrophoneVerdict {
        if !self.participants.contains_key(&client) {
            return MicrophoneVerdict::NotInStudio;
        }
        match &mut self.microphone {
            Some(hold) if hold.client == client => {
                hold.last_audio = now;
                MicrophoneVerdict::Accept
            }
            Some(hold) if now.duration_since(hold.last_audio) < MICROPHONE_RELEASE_AFTER => {
                let notify = self
                    .last_busy_error
                    .get(&client)
                    .is_none_or(|t| now.duration_since(*t) >= BUSY_ERROR_INTERVAL);
                if notify {
                    self.last_busy_error.insert(client, now);
                }
                MicrophoneVerdict::Busy { notify }
            }
            _ => {
                self.microphone = Some(MicrophoneHold {
                    client,
                    last_audio: now,
                });
                self.last_busy_error.remove(&client);
                MicrophoneVerdict::Accept
            }
        }
    }

    /// Who holds the microphone.
    pub fn microphone(&self) -> Option<MicrophoneHold> {
        self.microphone
    }

    /// Counts an accepted microphone chunk.
    pub fn count_audio_in(&mut self, bytes: usize) {
        self.audio_in.chunks += 1;
        self.audio_in.bytes += bytes as u64;
    }

    /// The microphone audio received so far.
    pub fn audio_in(&self) -> AudioInStats {
        self.audio_in
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caption(id: usize) -> Caption {
        Caption {
            id: id.to_string(),
            speaker: Speaker::You,
            text: format!("line {id}"),
            timestamp: id as u64,
            is_final: None,
            start_ms: None,
            end_ms: None,
        }
    }

    fn participant() -> Participant {
        Participant {
            name: "p".into(),
            input_format: InputFormat::default(),
        }
    }

    #[test]
    fn captions_are_newest_first_and_capped() {
        let mut state = StudioState::new();
        for i in 0..(CAPTIONS_KEPT + 7) {
            state.push_caption(caption(i));
        }
        let snapshot = state.snapshot();
        assert_eq!(snapshot.captions.len(), CAPTIONS_IN_SNAPSHOT);
        assert_eq!(snapshot.captions[0].id, (CAPTIONS_KEPT + 6).to_string());
        assert_eq!(state.captions.len(), CAPTIONS_KEPT);
    }

    #[test]
    fn a_caption_with_a_known_id_replaces_the_old_text() {
        let mut state = StudioState::new();
        state.push_caption(caption(1));
        let mut updated = caption(1);
        updated.text = "final text".into();
        state.push_caption(updated);
        let snapshot = state.snapshot();
        assert_eq!(snapshot.captions.len(), 1);
        assert_eq!(snapshot.captions[0].text, "final text");
    }

    #[test]
    fn second_sender_is_refused_while_the_holder_streams() {
        let (a, b) = (ClientId::unique(), ClientId::unique());
        let mut state = StudioState::new();
        state.join(a, participant());
        state.join(b, participant());
        let t0 = Instant::now();
        assert_eq!(state.claim_microphone(a, t0), MicrophoneVerdict::Accept);
        assert_eq!(
            state.claim_microphone(b, t0 + Duration::from_millis(20)),
            MicrophoneVerdict::Busy { notify: true }
        );
        assert_eq!(
            state.claim_microphone(b, t0 + Duration::from_millis(40)),
            MicrophoneVerdict::Busy { notify: false }
        );
        // The holder falls silent: the next sender takes over.
        let later = t0 + MICROPHONE_RELEASE_AFTER + Duration::from_millis(1);
        assert_eq!(state.claim_microphone(b, later), MicrophoneVerdict::Accept);
        assert_eq!(state.microphone().map(|m| m.client), Some(b));
    }

    #[test]
    fn leaving_frees_the_microphone() {
        let (a, b) = (ClientId::unique(), ClientId::unique());
        let mut state = StudioState::new();
        state.join(a, participant());
        state.join(b, participant());
        let t0 = Instant::now();
        state.claim_microphone(a, t0);
        assert!(state.leave(a));
        assert_eq!(state.claim_microphone(b, t0), MicrophoneVerdict::Accept);
        assert_eq!(
            state.claim_microphone(a, t0),
            MicrophoneVerdict::NotInStudio
        );
    }
}
