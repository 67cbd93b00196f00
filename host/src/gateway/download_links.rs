//! Signed, expiring recording links: `/recordings/<folder>/<file>?exp=<unix>&sig=<hex>`.
//!
//! `sig` is HMAC-SHA256, keyed by the access model's signing key, over
//! `voice-studio recording\n<folder>\n<file>\n<exp>`. The prefix and the newlines keep this
//! message apart from anything else the key signs (a JWT's signing input has no newline), so a
//! download signature can never stand in for a token or the other way round. A link names one
//! file and lapses at `exp`; `recording.ready` and the console hand them out, so a client with
//! no token can still fetch what it just recorded.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::protocol::RecordingReady;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation for the signed message.
const CONTEXT: &str = "voice-studio recording";

/// Signs and checks recording links.
#[derive(Clone)]
pub struct DownloadLinks {
    key: Arc<[u8]>,
    ttl: Duration,
}

impl std::fmt::Debug for DownloadLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadLinks")
            .field("key", &"***")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl DownloadLinks {
    /// Links signed with `key` that live `ttl` (`DOWNLOAD_URL_TTL_SECONDS`).
    pub fn new(key: &[u8], ttl: Duration) -> Self {
        Self {
            key: Arc::from(key),
            ttl,
        }
    }

    /// Links under a random key of this process: for a registry no gateway serves (nothing
    /// could check them, and nothing can forge them).
    pub fn ephemeral() -> Self {
        let mut key = [0u8; 32];
        // The operating system's generator; without it a link could be forged, so stop.
        getrandom::fill(&mut key).expect("the operating system's random generator is unavailable");
        Self::new(&key, Duration::from_secs(3600))
    }

    /// The signed URL of `folder/file`, valid for the configured lifetime from now.
    pub fn url(&self, folder: &str, file: &str) -> String {
        let exp = unix_now().saturating_add(self.ttl.as_secs());
        self.url_until(folder, file, exp)
    }

    /// The signed URL of `folder/file`, valid until `exp` (unix seconds).
    pub fn url_until(&self, folder: &str, file: &str, exp: u64) -> String {
        let sig = hex(&self.mac(folder, file, exp).finalize().into_bytes());
        format!("/recordings/{folder}/{file}?exp={exp}&sig={sig}")
    }

    /// Whether `sig` signs `folder/file` until `exp` and `exp` has not passed at `now`. The
    /// signature is compared in constant time.
    pub fn verify(&self, folder: &str, file: &str, exp: &str, sig: &str, now: u64) -> bool {
        let Ok(exp) = exp.parse::<u64>() else {
            return false;
        };
        let Some(sig) = unhex(sig) else {
            return false;
        };
        let genuine = self.mac(folder, file, exp).verify_slice(&sig).is_ok();
        genuine && exp >= now
    }

    /// Rewrites every `details[].url` of `ready` as a fresh signed link.
    pub fn sign_ready(&self, ready: &mut RecordingReady) {
        let Some(folder) = ready.folder.clone() else {
            return;
        };
        for file in &mut ready.details {
            file.url = self.url(&folder, &file.name);
        }
    }

    fn mac(&self, folder: &str, file: &str, exp: u64) -> HmacSha256 {
        // HMAC takes a key of any length; this cannot fail.
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        mac.update(format!("{CONTEXT}\n{folder}\n{file}\n{exp}").as_bytes());
        mac
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> DownloadLinks {
        DownloadLinks::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60))
    }

    fn parts(url: &str) -> (String, String) {
        let query = url.split_once('?').expect("query").1;
        let mut exp = String::new();
        let mut sig = String::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("exp", v)) => exp = v.to_owned(),
                Some(("sig", v)) => sig = v.to_owned(),
                _ => {}
            }
        }
        (exp, sig)
    }

    #[test]
    fn a_link_opens_its_own_file_until_it_expires() {
        let links = links();
        let url = links.url_until("ep-1", "you.webm", 1000);
        assert!(url.starts_with("/recordings/ep-1/you.webm?exp=1000&sig="));
        let (exp, sig) = parts(&url);
        assert!(links.verify("ep-1", "you.webm", &exp, &sig, 999));
        assert!(links.verify("ep-1", "you.webm", &exp, &sig, 1000));
        assert!(!links.verify("ep-1", "you.webm", &exp, &sig, 1001));
        assert!(!links.verify("ep-1", "guest.webm", &exp, &sig, 999));
        assert!(!links.verify("ep-2", "you.webm", &exp, &sig, 999));
        assert!(!links.verify("ep-1", "you.webm", "2000", &sig, 999));
    }

    #[test]
    fn tampered_or_foreign_signatures_are_refused() {
        let links = links();
        let (exp, sig) = parts(&links.url_until("ep-1", "you.webm", 1000));
        let mut flipped = sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert!(!links.verify("ep-1", "you.webm", &exp, &flipped, 0));
        assert!(!links.verify("ep-1", "you.webm", &exp, &sig[..62], 0));
        assert!(!links.verify("ep-1", "you.webm", &exp, "", 0));
        assert!(!links.verify("ep-1", "you.webm", "x", &sig, 0));
        let other =
            DownloadLinks::new(b"another key of thirty-two bytes!", Duration::from_secs(60));
        assert!(!other.verify("ep-1", "you.webm", &exp, &sig, 0));
        assert!(links.verify("ep-1", "you.webm", &exp, &sig.to_uppercase(), 0));
    }
}
