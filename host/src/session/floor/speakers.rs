//! The studio's speakers as the floor needs them: the plugin contract's spelling, the AIs'
//! voice slots, and the names used in caption ids and error roles.

use crate::gateway::protocol::Speaker;
use crate::plugins::wit;

/// The studio's two AIs, in their voice-slot order.
pub(super) const AIS: [Speaker; 2] = [Speaker::Claude, Speaker::Guest];

/// The protocol's speaker as the plugin contract spells it.
pub(super) fn to_wit(speaker: Speaker) -> wit::Speaker {
    match speaker {
        Speaker::You => wit::Speaker::You,
        Speaker::Claude => wit::Speaker::Claude,
        Speaker::Guest => wit::Speaker::Guest,
    }
}

/// The plugin contract's speaker as the protocol spells it.
pub(super) fn from_wit(speaker: wit::Speaker) -> Speaker {
    match speaker {
        wit::Speaker::You => Speaker::You,
        wit::Speaker::Claude => Speaker::Claude,
        wit::Speaker::Guest => Speaker::Guest,
    }
}

/// The AI's index in the floor's voices; the human has none.
pub(super) fn voice_slot(speaker: Speaker) -> Option<usize> {
    match speaker {
        Speaker::Claude => Some(0),
        Speaker::Guest => Some(1),
        Speaker::You => None,
    }
}

/// The plugin role a speaker's failures are reported under.
pub(super) fn role_of(speaker: Speaker) -> &'static str {
    match speaker {
        Speaker::You => "stt",
        Speaker::Claude => "llm:claude",
        Speaker::Guest => "llm:guest",
    }
}

/// The speaker's name in caption ids.
pub(super) fn speaker_name(speaker: Speaker) -> &'static str {
    match speaker {
        Speaker::You => "you",
        Speaker::Claude => "claude",
        Speaker::Guest => "guest",
    }
}
