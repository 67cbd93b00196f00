//! Outbound WebSocket connections through the host (capability `websocket`), and the mapping from
//! close codes to the `PluginError` the host acts on.

pub use crate::__bindings::stt_world::studio::plugin::websocket::{
    CloseFrame, Connection, Message, connect,
};

use crate::{PluginError, RateLimit};

/// The error a close frame means, or None for a normal close (1000, 1001).
///
/// 1008 and 4001/4003 are `auth` (bad key); 3009 (AssemblyAI: too many concurrent sessions) and
/// 4029 are `rate-limited`; 1002/1003/1007 and 3006/3007 (a message the server could not accept)
/// are `protocol`; everything else (1006 dropped, 1011 server error, 3005, 3008 expired...) is
/// `unavailable`, which the host retries.
pub fn close_error(frame: &CloseFrame) -> Option<PluginError> {
    let message = format!("the WebSocket closed with {}: {}", frame.code, frame.reason);
    Some(match frame.code {
        1000 | 1001 => return None,
        1008 | 4001 | 4003 => PluginError::Auth(message),
        3009 | 4029 => PluginError::RateLimited(RateLimit {
            retry_after_ms: None,
            message,
        }),
        1002 | 1003 | 1007 | 3006 | 3007 => PluginError::Protocol(message),
        _ => PluginError::Unavailable(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(code: u16) -> Option<PluginError> {
        close_error(&CloseFrame {
            code,
            reason: "why".into(),
        })
    }

    #[test]
    fn close_codes_map_to_the_error_the_host_acts_on() {
        assert_eq!(close(1000), None);
        assert_eq!(close(1001), None);
        assert!(
            matches!(close(1008), Some(PluginError::Auth(m)) if m.contains("1008") && m.contains("why"))
        );
        assert!(matches!(close(3009), Some(PluginError::RateLimited(_))));
        assert!(matches!(close(3007), Some(PluginError::Protocol(_))));
        assert!(matches!(close(3005), Some(PluginError::Unavailable(_))));
        assert!(matches!(close(1006), Some(PluginError::Unavailable(_))));
    }
}
