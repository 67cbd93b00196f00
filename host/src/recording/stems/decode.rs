//! Decoding a track onto the session timeline with the recorder's own libopus (audiopus).
//!
//! Each packet's samples go where its block time says, less the encoder's lookahead (pre-skip),
//! so a word spoken at `t` is at `t` in the stem. Where the timeline has no packet (a gap, or the
//! end of a track a crash cut short) the stem holds silence; after a gap the decoder starts
//! afresh, so no concealment noise or stale state fills it.

use std::time::Instant;

use audiopus::coder::Decoder;
use audiopus::packet::Packet as OpusPacket;
use audiopus::{Channels, MutSignals, SampleRate};

use super::StemsError;
use super::demux::DemuxedTrack;

/// The most samples one Opus packet decodes to: 120 ms at 48 kHz.
const MAX_PACKET_SAMPLES: usize = 5760;
/// Samples between checks of the deadline.
const DEADLINE_EVERY: u64 = 48_000 * 10;

/// Where decoded samples go: a WAV stem in production, a `Vec` in tests.
pub(crate) trait SampleSink {
    /// Appends samples.
    fn samples(&mut self, samples: &[i16]) -> Result<(), StemsError>;
    /// Appends `count` samples of silence.
    fn silence(&mut self, count: u64) -> Result<(), StemsError> {
        const ZEROS: [i16; 4800] = [0; 4800];
        let mut left = count;
        while left > 0 {
            let n = left.min(ZEROS.len() as u64) as usize;
            self.samples(&ZEROS[..n])?;
            left -= n as u64;
        }
        Ok(())
    }
}

impl SampleSink for Vec<i16> {
    fn samples(&mut self, samples: &[i16]) -> Result<(), StemsError> {
        self.extend_from_slice(samples);
        Ok(())
    }
}

/// Decodes `track` into `sink` as exactly `length` samples (48 kHz mono): the session's length.
pub(crate) fn decode_track(
    track: &DemuxedTrack,
    length: u64,
    sink: &mut dyn SampleSink,
    deadline: Instant,
) -> Result<(), StemsError> {
    let mut decoder: Option<Decoder> = None;
    let mut pcm = [0i16; MAX_PACKET_SAMPLES];
    // Samples written so far, and where the next packet continues the stream without a gap.
    let mut written: u64 = 0;
    let mut expected_at: Option<u64> = None;
    let mut next_check = DEADLINE_EVERY;
    for packet in &track.packets {
        if written >= length {
            break;
        }
        if expected_at != Some(packet.at_sample) {
            decoder = None;
        }
        let decoder = match &mut decoder {
            Some(decoder) => decoder,
            slot => slot.insert(new_decoder()?),
        };
        let input = OpusPacket::try_from(packet.data.as_slice()).map_err(opus)?;
        let output = MutSignals::try_from(&mut pcm[..]).map_err(opus)?;
        let decoded = match decoder.decode(Some(input), output, false) {
            Ok(n) => n,
            Err(error) => {
                // One corrupt packet is a moment of silence, not a lost stem.
                tracing::debug!(%error, at = packet.at_sample, "undecodable packet skipped");
                expected_at = None;
                continue;
            }
        };
        expected_at = Some(packet.at_sample + decoded as u64);
        // Decoded sample i is input sample i - pre_skip.
        let start = packet.at_sample as i64 - track.pre_skip as i64;
        let end = start + decoded as i64;
        if end <= written as i64 {
            continue;
        }
        if start > written as i64 {
            let gap = (start as u64).min(length) - written;
            sink.silence(gap)?;
            written += gap;
        }
        // Skip what lies before time 0 or was already written, stop at the session's end.
        let from = (written as i64 - start) as usize;
        let until = decoded.min((length as i64 - start).max(0) as usize);
        if from < until {
            sink.samples(&pcm[from..until])?;
            written += (until - from) as u64;
        }
        if written >= next_check {
            next_check = written + DEADLINE_EVERY;
            if Instant::now() > deadline {
                return Err(StemsError::TimedOut);
            }
        }
    }
    sink.silence(length - written.min(length))?;
    Ok(())
}

/// The end of `track` on the timeline, in samples: its last packet's start plus its length.
pub(crate) fn track_end(track: &DemuxedTrack) -> u64 {
    track.packets.last().map_or(0, |last| {
        let samples = OpusPacket::try_from(last.data.as_slice())
            .ok()
            .and_then(|p| audiopus::packet::nb_samples(p, SampleRate::Hz48000).ok())
            .unwrap_or(960);
        last.at_sample + samples as u64
    })
}

fn new_decoder() -> Result<Decoder, StemsError> {
    Decoder::new(SampleRate::Hz48000, Channels::Mono).map_err(opus)
}

fn opus(error: audiopus::Error) -> StemsError {
    StemsError::Opus(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::demux::demux;
    use super::super::demux::tests::{recorded_track, sweep};
    use super::*;

    fn far() -> Instant {
        Instant::now() + std::time::Duration::from_secs(600)
    }

    fn rms(samples: &[i16]) -> f64 {
        let sum: f64 = samples.iter().map(|s| f64::from(*s).powi(2)).sum();
        (sum / samples.len().max(1) as f64).sqrt()
    }

    #[test]
    fn a_tone_decodes_where_it_was_recorded_and_silence_stays_silent() {
        // Frames 50-99 (1.0-2.0 s) hold the sweep; 0-49 and 100-149 are silent.
        let bytes = recorded_track(150, true, |n| (50..100).contains(&n));
        let track = demux(&bytes).unwrap_or_else(|e| panic!("demux: {e}"));
        assert_eq!(track_end(&track), 150 * 960);
        let mut out = Vec::new();
        decode_track(&track, 150 * 960, &mut out, far()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.len(), 150 * 960);
        let window = |from_ms: usize, to_ms: usize| rms(&out[from_ms * 48..to_ms * 48]);
        assert!(window(0, 950) < 50.0, "before: {}", window(0, 950));
        assert!(window(1050, 1950) > 4000.0, "sweep: {}", window(1050, 1950));
        assert!(window(2060, 3000) < 50.0, "after: {}", window(2060, 3000));
        // The sweep sits where it was recorded: over 1.2-1.8 s the decoded audio matches the
        // signal best unshifted (the encoder's lookahead is taken off), not a few samples off.
        let reference: Vec<f64> = (57_600..86_400)
            .map(|i| f64::from(sweep(i as f64 / 48_000.0)))
            .collect();
        let correlation = |lag: i64| -> f64 {
            reference
                .iter()
                .enumerate()
                .map(|(k, r)| r * f64::from(out[(57_600 + k as i64 + lag) as usize]))
                .sum()
        };
        let best = (-1000..=1000)
            .max_by(|a, b| correlation(*a).total_cmp(&correlation(*b)))
            .unwrap_or(i64::MAX);
        assert!(best.abs() <= 2, "the decoded sweep is {best} samples off");
    }

    #[test]
    fn a_short_track_is_padded_and_a_long_one_cut_to_the_session() {
        let bytes = recorded_track(60, true, |_| true);
        let track = demux(&bytes).unwrap_or_else(|e| panic!("demux: {e}"));
        let mut longer = Vec::new();
        decode_track(&track, 100 * 960, &mut longer, far()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(longer.len(), 100 * 960);
        assert!(rms(&longer[61 * 960..]) == 0.0);
        let mut shorter = Vec::new();
        decode_track(&track, 30 * 960, &mut shorter, far()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(shorter.len(), 30 * 960);
    }

    #[test]
    fn a_gap_between_packets_becomes_silence_at_its_place() {
        let bytes = recorded_track(100, true, |_| true);
        let mut track = demux(&bytes).unwrap_or_else(|e| panic!("demux: {e}"));
        // Drop frames 40-59 (0.8-1.2 s) as if they were never written.
        track
            .packets
            .retain(|p| !(40 * 960..60 * 960).contains(&p.at_sample));
        let mut out = Vec::new();
        decode_track(&track, 100 * 960, &mut out, far()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.len(), 100 * 960);
        assert!(rms(&out[41 * 960..59 * 960]) == 0.0, "the gap is silent");
        assert!(
            rms(&out[62 * 960..98 * 960]) > 4000.0,
            "audio resumes after it"
        );
    }
}
