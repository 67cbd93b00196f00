//! The audio on its way to AssemblyAI: microphone frames resampled to 16 kHz and cut into the
//! chunks the service wants (50-1000 ms each). Audio that could not be sent yet (while the
//! connection is re-established) waits here, up to a cap; beyond it the oldest is dropped.

use std::collections::VecDeque;

/// The unsent 16 kHz audio.
#[derive(Debug)]
pub struct Backlog {
    samples: VecDeque<i16>,
    chunk: usize,
    cap: usize,
    dropped: u64,
}

impl Backlog {
    /// A backlog sending `chunk` samples at a time and keeping at most `cap` samples.
    pub fn new(chunk: usize, cap: usize) -> Self {
        let chunk = chunk.max(1);
        Self {
            samples: VecDeque::new(),
            chunk,
            cap: cap.max(chunk),
            dropped: 0,
        }
    }

    /// Adds samples, dropping the oldest beyond the cap.
    pub fn push(&mut self, samples: &[i16]) {
        self.samples.extend(samples.iter().copied());
        let excess = self.samples.len().saturating_sub(self.cap);
        if excess > 0 {
            self.samples.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    /// The next full chunk, left in place until [`Backlog::sent`] says it went out.
    pub fn next_chunk(&self) -> Option<Vec<i16>> {
        (self.samples.len() >= self.chunk)
            .then(|| self.samples.iter().take(self.chunk).copied().collect())
    }

    /// The rest at the end of the stream, padded with silence to a whole chunk (a shorter one is
    /// refused by the service); None when nothing is left.
    pub fn last_chunk(&self) -> Option<Vec<i16>> {
        if self.samples.is_empty() {
            return None;
        }
        let mut rest: Vec<i16> = self.samples.iter().copied().collect();
        rest.resize(rest.len().max(self.chunk), 0);
        Some(rest)
    }

    /// Puts audio to send again in front of what waits (the cap still holds: the oldest goes).
    pub fn prepend(&mut self, samples: &[i16]) {
        for &sample in samples.iter().rev() {
            self.samples.push_front(sample);
        }
        let excess = self.samples.len().saturating_sub(self.cap);
        if excess > 0 {
            self.samples.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    /// `count` samples went out.
    pub fn sent(&mut self, count: usize) {
        let count = count.min(self.samples.len());
        self.samples.drain(..count);
    }

    /// Samples dropped so far because the cap was reached.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_out_whole_and_stay_until_sent() {
        let mut backlog = Backlog::new(800, 16_000);
        backlog.push(&[1; 320]);
        backlog.push(&[1; 320]);
        assert_eq!(backlog.next_chunk(), None);
        backlog.push(&[2; 320]);
        let chunk = backlog.next_chunk().expect("a chunk");
        assert_eq!(chunk.len(), 800);
        assert_eq!(
            backlog.next_chunk(),
            Some(chunk),
            "not sent yet: still there"
        );
        backlog.sent(800);
        assert_eq!(backlog.next_chunk(), None);
        let last = backlog.last_chunk().expect("160 left");
        assert_eq!(last.len(), 800);
        assert_eq!(&last[..160], &[2; 160][..]);
        assert!(last[160..].iter().all(|&s| s == 0));
    }

    #[test]
    fn replayed_audio_goes_first() {
        let mut backlog = Backlog::new(2, 5);
        backlog.push(&[5, 6]);
        backlog.prepend(&[1, 2, 3, 4]);
        assert_eq!(backlog.dropped(), 1);
        assert_eq!(backlog.next_chunk(), Some(vec![2, 3]));
    }

    #[test]
    fn the_oldest_audio_goes_past_the_cap() {
        let mut backlog = Backlog::new(2, 4);
        backlog.push(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(backlog.dropped(), 2);
        assert_eq!(backlog.next_chunk(), Some(vec![3, 4]));
        backlog.sent(4);
        assert_eq!(backlog.last_chunk(), None);
    }
}
