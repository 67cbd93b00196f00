//! The studio's Prometheus metrics, all in one place: every name, its help text and the one-line
//! functions the rest of the server calls. The plugin runtime keeps its own (plugin calls,
//! errors, traps, fallbacks, reloads) in `studio_plugin_runtime::metrics`; the process metrics
//! come from `metrics-process`.
//!
//! Recorded through the `metrics` facade into one process-wide Prometheus recorder, installed
//! once by [`install`] (the gateway does it as it is built); `GET /metrics` renders it with
//! [`render`]. Before [`install`], recording costs a lookup and keeps nothing.
//!
//! Conventions: names start with `studio_`, durations are seconds and sizes bytes, counters end
//! in `_total`. Labels stay bounded: `speaker` and `role` from the fixed roles, `plugin` a name
//! from `plugins.toml`, `stage` and `kind` from fixed lists here; never a session id or free text.

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::plugins::{LlmRole, PluginHost, RoleSlot};
use crate::recording::{RecordingError, RecordingSummary, TurnMetrics};
use crate::speakers::Speaker;

/// Studios running now (gauge).
pub const STUDIOS_LIVE: &str = "studio_studios_live";
/// Socket.IO clients connected now (gauge).
pub const CLIENTS_CONNECTED: &str = "studio_clients_connected";
/// Turns taken, by speaker: a final transcript of the human, a line an AI said (counter).
pub const TURNS: &str = "studio_turns_total";
/// AI lines cut by the human starting to speak, by the AI cut (counter).
pub const BARGE_INS: &str = "studio_barge_ins_total";
/// The human's end of speech -> the answering AI's first frame sent (histogram, seconds).
pub const VOICE_TO_VOICE: &str = "studio_voice_to_voice_seconds";
/// The human's end of speech -> the final transcript (histogram, seconds).
pub const STT_FINAL: &str = "studio_stt_final_seconds";
/// LLM request -> first token (histogram, seconds).
pub const LLM_FIRST_TOKEN: &str = "studio_llm_first_token_seconds";
/// TTS request -> first audio of a line (histogram, seconds).
pub const TTS_FIRST_AUDIO: &str = "studio_tts_first_audio_seconds";
/// The previous AI's last frame -> the next AI's first frame (histogram, seconds).
pub const HANDOFF_GAP: &str = "studio_handoff_gap_seconds";
/// AI audio frames (20 ms) sent to clients, by speaker (counter).
pub const FRAMES_SENT: &str = "studio_audio_frames_sent_total";
/// AI audio frames that left after their play time: the listener heard a gap (counter).
pub const FRAMES_LATE: &str = "studio_audio_frames_late_total";
/// Audio frames (20 ms) dropped, by stage (counter).
pub const FRAMES_DROPPED: &str = "studio_audio_frames_dropped_total";
/// Microphone chunks dropped before the studio took them: its audio lane was full (counter).
pub const MIC_CHUNKS_DROPPED: &str = "studio_mic_chunks_dropped_total";
/// Recordings finished (counter).
pub const RECORDINGS: &str = "studio_recordings_total";
/// Bytes written to recordings, counted as their files grow (counter).
pub const RECORDING_BYTES: &str = "studio_recording_bytes_total";
/// Finished recordings copied to the bucket, by outcome (counter).
pub const RECORDING_UPLOADS: &str = "studio_recording_uploads_total";
/// Bytes copied to the bucket, finished files and live pieces (counter).
pub const RECORDING_UPLOAD_BYTES: &str = "studio_recording_upload_bytes_total";
/// Rounds of copies of live recordings to the bucket, by outcome (counter).
pub const RECORDING_LIVE_COPIES: &str = "studio_recording_live_copies_total";
/// Recording failures, by kind (counter).
pub const RECORDING_FAILURES: &str = "studio_recording_failures_total";
/// Socket.IO requests relayed to the episode's host in a cluster, by outcome (counter).
pub const CLUSTER_RELAYS: &str = "studio_cluster_relays_total";
/// Episodes this host continued after their host died (counter).
pub const CLUSTER_TAKEOVERS: &str = "studio_cluster_takeovers_total";
/// Leases of running studios this host lost (it stalled past a lease, or Redis lost them) (counter).
pub const CLUSTER_LEASES_LOST: &str = "studio_cluster_leases_lost_total";
/// Episode store writes dropped: its queue was full or a batch failed (counter).
pub const STORE_WRITES_DROPPED: &str = "studio_store_writes_dropped_total";

/// Histogram buckets in seconds: 5 ms to 10 s, finest where a voice studio's latencies live.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
];

/// How often histograms are folded in and idle state cleared when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Where a dropped audio frame was dropped: the `stage` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DropStage {
    /// A microphone frame the STT plugin did not take in time (its input queue was full).
    SttInput,
    /// AI speech beyond the pacer's bound (the TTS far ahead of playback).
    AiQueue,
    /// AI speech held back (thinking mode, a hand-off gap) beyond the same bound.
    AiHeld,
}

impl DropStage {
    fn label(self) -> &'static str {
        match self {
            Self::SttInput => "stt_input",
            Self::AiQueue => "ai_queue",
            Self::AiHeld => "ai_held",
        }
    }
}

struct Exporter {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

static EXPORTER: OnceLock<Option<Exporter>> = OnceLock::new();

// The gauges are kept here and set at each scrape, so a studio or client that began before the
// recorder was installed is still counted, and its end never drives a gauge below zero.
static STUDIOS_RUNNING: AtomicU64 = AtomicU64::new(0);
static CLIENTS: AtomicU64 = AtomicU64::new(0);

/// Installs the process-wide Prometheus recorder (once; later calls are no-ops) and describes
/// every metric. Returns whether `/metrics` can be served: not when another recorder was
/// installed first (a library user's own), which is logged.
pub fn install() -> bool {
    EXPORTER
        .get_or_init(|| {
            let builder = match PrometheusBuilder::new().set_buckets(&LATENCY_BUCKETS) {
                Ok(builder) => builder,
                Err(error) => {
                    tracing::error!(%error, "metrics: the histogram buckets were refused");
                    return None;
                }
            };
            let handle = match builder.install_recorder() {
                Ok(handle) => handle,
                Err(error) => {
                    tracing::warn!(%error, "metrics: another recorder is installed; /metrics stays off");
                    return None;
                }
            };
            describe();
            crate::plugins::metrics::describe();
            let process = metrics_process::Collector::default();
            process.describe();
            // Histogram samples pile up until they are folded in; without a scraper, this bounds
            // them. A plain thread: the recorder outlives any one async runtime (tests run many).
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(error) = spawned {
                tracing::warn!(%error, "metrics: no upkeep thread; histograms fold in at scrapes");
            }
            Some(Exporter { handle, process })
        })
        .is_some()
}

/// The Prometheus text exposition of every metric now (process metrics read at this moment), or
/// `None` when [`install`] could not install the recorder.
pub fn render() -> Option<String> {
    let exporter = EXPORTER.get()?.as_ref()?;
    gauge!(STUDIOS_LIVE).set(STUDIOS_RUNNING.load(Ordering::Relaxed) as f64);
    gauge!(CLIENTS_CONNECTED).set(CLIENTS.load(Ordering::Relaxed) as f64);
    exporter.process.collect();
    exporter.handle.run_upkeep();
    Some(exporter.handle.render())
}

fn describe() {
    describe_gauge!(STUDIOS_LIVE, "Studios running now.");
    describe_gauge!(CLIENTS_CONNECTED, "Socket.IO clients connected now.");
    describe_counter!(
        TURNS,
        "Turns taken, by speaker: the human's final transcripts, the lines the AIs said."
    );
    describe_counter!(
        BARGE_INS,
        "AI lines cut by the human starting to speak, by the AI that was cut."
    );
    describe_histogram!(
        VOICE_TO_VOICE,
        Unit::Seconds,
        "The human's end of speech to the answering AI's first audio frame sent, by AI (role) and its LLM plugin."
    );
    describe_histogram!(
        STT_FINAL,
        Unit::Seconds,
        "The human's end of speech to the final transcript, by STT plugin."
    );
    describe_histogram!(
        LLM_FIRST_TOKEN,
        Unit::Seconds,
        "LLM request to first token, by AI (role) and LLM plugin."
    );
    describe_histogram!(
        TTS_FIRST_AUDIO,
        Unit::Seconds,
        "TTS request to a line's first audio, by AI (role) and TTS plugin."
    );
    describe_histogram!(
        HANDOFF_GAP,
        Unit::Seconds,
        "The previous AI's last frame to the next AI's first frame, by the AI taking over (role) and its LLM plugin."
    );
    describe_counter!(FRAMES_SENT, "AI audio frames (20 ms) sent, by speaker.");
    describe_counter!(
        FRAMES_LATE,
        "AI audio frames sent after their play time (the listener heard a gap), by speaker."
    );
    describe_counter!(
        FRAMES_DROPPED,
        "Audio frames (20 ms) dropped, by stage (stt_input, ai_queue, ai_held)."
    );
    describe_counter!(
        MIC_CHUNKS_DROPPED,
        "Microphone chunks dropped because a studio's audio lane was full."
    );
    describe_counter!(RECORDINGS, "Recordings finished.");
    describe_counter!(
        STORE_WRITES_DROPPED,
        "Episode store writes dropped (its queue was full, or a batch failed); the recording's files still hold them."
    );
    describe_counter!(
        RECORDING_BYTES,
        Unit::Bytes,
        "Bytes written to recordings (tracks, captions, event log, session.yml), counted as the files grow."
    );
    describe_counter!(
        RECORDING_UPLOADS,
        "Finished recordings copied to the bucket (RECORDING_BUCKET), by outcome: ok or failed."
    );
    describe_counter!(
        RECORDING_UPLOAD_BYTES,
        Unit::Bytes,
        "Bytes copied to the bucket: finished recordings, and the pieces of live ones."
    );
    describe_counter!(
        RECORDING_LIVE_COPIES,
        "Rounds of copies of live recordings to the bucket (every RECORDING_UPLOAD_EVERY_SECONDS per live studio), by outcome: ok or failed."
    );
    describe_counter!(
        RECORDING_FAILURES,
        "Recording failures (the studio goes on), by kind."
    );
    describe_counter!(
        CLUSTER_RELAYS,
        "Socket.IO requests relayed to the episode's host (CLUSTER_REDIS_URL), by outcome: ok or failed (the host did not answer)."
    );
    describe_counter!(
        CLUSTER_TAKEOVERS,
        "Episodes continued here in a new take after their host died."
    );
    describe_counter!(
        CLUSTER_LEASES_LOST,
        "Leases of studios running here that this host lost: another host may continue the episode."
    );
}

/// A running studio, counted in [`STUDIOS_LIVE`] until dropped (however its task ends).
#[must_use = "the studio counts as live while this is held"]
pub struct StudioLive(());

/// A studio starts running; hold the guard for as long as it runs.
pub fn studio_opened() -> StudioLive {
    STUDIOS_RUNNING.fetch_add(1, Ordering::Relaxed);
    StudioLive(())
}

impl Drop for StudioLive {
    fn drop(&mut self) {
        STUDIOS_RUNNING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A Socket.IO client connected.
pub fn client_connected() {
    CLIENTS.fetch_add(1, Ordering::Relaxed);
}

/// A Socket.IO client disconnected (once per [`client_connected`]).
pub fn client_disconnected() {
    // Never below zero, whatever a transport reports twice.
    let _ = CLIENTS.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
}

/// The human's turn: a final transcript with words.
pub fn human_turn() {
    counter!(TURNS, "speaker" => Speaker::You.name()).increment(1);
}

/// The human's speech cut `speaker`'s line.
pub fn barge_in(speaker: Speaker) {
    counter!(BARGE_INS, "speaker" => speaker.name()).increment(1);
}

/// A paced frame of `speaker` left; `late` after its play time.
pub fn frame_sent(speaker: Speaker, late: bool) {
    counter!(FRAMES_SENT, "speaker" => speaker.name()).increment(1);
    if late {
        counter!(FRAMES_LATE, "speaker" => speaker.name()).increment(1);
    }
}

/// A microphone frame was dropped: the STT plugin's input queue was full.
pub fn stt_frame_dropped() {
    counter!(FRAMES_DROPPED, "stage" => DropStage::SttInput.label()).increment(1);
}

/// `samples` (48 kHz) of AI speech were dropped at the pacer's bound; `held` while held back.
pub fn ai_audio_dropped(held: bool, samples: usize) {
    if samples == 0 {
        return;
    }
    let stage = if held {
        DropStage::AiHeld
    } else {
        DropStage::AiQueue
    };
    // In whole frames, rounded up.
    let frames = samples.div_ceil(crate::audio::FRAME_SAMPLES) as u64;
    counter!(FRAMES_DROPPED, "stage" => stage.label()).increment(frames);
}

/// A microphone chunk was dropped at a studio's full audio lane.
pub fn mic_chunk_dropped() {
    counter!(MIC_CHUNKS_DROPPED).increment(1);
}

/// `speaker`'s line ended with `turn`'s timings (`said`: it said something); latencies go to
/// the histograms labelled with the plugins `plugins.toml` names for the stages now.
pub fn line_ended(speaker: Speaker, turn: &TurnMetrics, said: bool, plugins: &PluginHost) {
    if said {
        counter!(TURNS, "speaker" => speaker.name()).increment(1);
    }
    let Some(ai) = speaker.ai() else {
        return;
    };
    let role = speaker.name();
    let plugin = |slot: RoleSlot| plugins.role_plugin(slot).unwrap_or_default();
    let llm = plugin(ai.role_slot());
    let observe = |name: &'static str, plugin: &str, ms: Option<u64>| {
        if let Some(ms) = ms {
            histogram!(name, "role" => role, "plugin" => plugin.to_owned())
                .record(Duration::from_millis(ms).as_secs_f64());
        }
    };
    observe(VOICE_TO_VOICE, &llm, turn.voice_to_voice_ms);
    observe(LLM_FIRST_TOKEN, &llm, turn.llm_first_token_ms);
    observe(HANDOFF_GAP, &llm, turn.handoff_gap_ms);
    if turn.tts_first_audio_ms.is_some() {
        observe(
            TTS_FIRST_AUDIO,
            &plugin(RoleSlot::Tts),
            turn.tts_first_audio_ms,
        );
    }
    if let Some(ms) = turn.stt_final_ms {
        histogram!(STT_FINAL, "role" => "stt", "plugin" => plugin(RoleSlot::Stt))
            .record(Duration::from_millis(ms).as_secs_f64());
    }
}

/// A recording's files in `folder` were synced; `counted` of their bytes are counted already.
/// Counts what they grew by and returns the new count.
pub fn recording_grew(folder: &Path, counted: u64) -> u64 {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return counted;
    };
    let now: u64 = entries
        .filter_map(|entry| entry.ok()?.metadata().ok())
        .filter(std::fs::Metadata::is_file)
        .map(|metadata| metadata.len())
        .sum();
    counter!(RECORDING_BYTES).increment(now.saturating_sub(counted));
    now.max(counted)
}

/// A recording was finished (its studio ended, or its writer finished it alone); `counted` of
/// its bytes were counted while it grew.
pub fn recording_finished(summary: &RecordingSummary, counted: u64) {
    counter!(RECORDINGS).increment(1);
    let bytes: u64 = summary.files.iter().map(|file| file.bytes).sum();
    counter!(RECORDING_BYTES).increment(bytes.saturating_sub(counted));
}

/// A finished recording was copied to the bucket (`Ok(bytes)`) or was not.
pub fn recording_uploaded(result: Result<u64, ()>) {
    bucket_copy(RECORDING_UPLOADS, result);
}

/// A Socket.IO request was relayed to its episode's host (`true`), or the host did not answer.
pub fn cluster_relay(ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    counter!(CLUSTER_RELAYS, "outcome" => outcome).increment(1);
}

/// This host continued an episode whose host died.
pub fn cluster_takeover() {
    counter!(CLUSTER_TAKEOVERS).increment(1);
}

/// This host lost the lease of a studio it runs.
pub fn cluster_lease_lost() {
    counter!(CLUSTER_LEASES_LOST).increment(1);
}

/// A round of copies of a live recording to the bucket sent `Ok(bytes)`, or failed.
pub fn recording_live_copied(result: Result<u64, ()>) {
    bucket_copy(RECORDING_LIVE_COPIES, result);
}

/// One copy to the bucket counted under `counter` by outcome, its bytes in the shared total.
fn bucket_copy(counter: &'static str, result: Result<u64, ()>) {
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    counter!(counter, "outcome" => outcome).increment(1);
    if let Ok(bytes) = result {
        counter!(RECORDING_UPLOAD_BYTES).increment(bytes);
    }
}

/// An episode store write was dropped (see `store::EpisodeFeed`).
pub fn store_write_dropped() {
    counter!(STORE_WRITES_DROPPED).increment(1);
}

/// A recording failed with `error` (counted once per recording: its first failure).
pub fn recording_failed(error: &RecordingError) {
    let kind = match error {
        RecordingError::InvalidEpisodeId(_) => "invalid_episode_id",
        RecordingError::CreateFolder { .. } => "create_folder",
        RecordingError::Write { .. } => "write",
        RecordingError::Encoder { .. } => "encoder",
        RecordingError::FrameSize { .. } => "frame_size",
        RecordingError::Stopped { .. } => "stopped",
        RecordingError::Backlog { .. } => "backlog",
        RecordingError::FinishTimedOut { .. } => "finish_timed_out",
        RecordingError::WriterLost { .. } => "writer_lost",
    };
    counter!(RECORDING_FAILURES, "kind" => kind).increment(1);
}
