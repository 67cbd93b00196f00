//! OpenTelemetry traces of the AI lines: one trace per line, a span per stage, exported over
//! OTLP/HTTP when `OTEL_EXPORTER_OTLP_*` sets an endpoint ([`TraceConfig`]), and nothing at all
//! otherwise.
//!
//! Nothing is traced on the hot path: the floor stamps a [`LineTimeline`] as the line goes and,
//! when the line ends, [`export_line`] builds its spans after the fact with the timeline's
//! instants as explicit start and end times. The SDK's batching processor queues them (bounded;
//! a full queue drops spans and says how many at shutdown) and exports from its own thread, so a
//! slow or dead collector never slows a studio; failed exports are counted and logged.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::{Span, SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};

use super::timeline::{HostGap, LineTimeline};
use crate::config::{OtlpProtocol, TraceConfig};

/// The instrumentation scope of the studio's spans.
const SCOPE: &str = "voice-studio";
/// Spans waiting for export at most (about 250 lines); beyond, new spans are dropped.
const MAX_QUEUED_SPANS: usize = 2048;

/// The running exporter, set once at start when traces are on.
static TRACES: OnceLock<Traces> = OnceLock::new();

struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

/// Why traces could not start.
#[derive(Debug, thiserror::Error)]
#[error("OpenTelemetry traces cannot start: {0}")]
pub struct TracesError(String);

/// Keeps the exporter running; [`TracesGuard::shutdown`] flushes what is queued.
#[derive(Debug)]
pub struct TracesGuard(());

impl TracesGuard {
    /// Exports what is still queued (waiting at most `timeout`) and stops the exporter.
    pub fn shutdown(self, timeout: Duration) {
        if let Some(traces) = TRACES.get()
            && let Err(error) = traces.provider.shutdown_with_timeout(timeout)
        {
            tracing::warn!(%error, "traces could not all be exported at shutdown");
        }
    }
}

/// Starts exporting traces as `config` says; `Ok(None)` when traces are off. Call once per
/// process (a second call with traces on is an error).
pub fn start(config: &TraceConfig) -> Result<Option<TracesGuard>, TracesError> {
    let Some(endpoint) = &config.endpoint else {
        return Ok(None);
    };
    let protocol = match config.protocol {
        OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
        OtlpProtocol::HttpJson => Protocol::HttpJson,
    };
    let headers = config
        .headers
        .iter()
        .map(|(key, value)| (key.clone(), value.expose().to_owned()))
        .collect();
    // The exporter's HTTP client is reqwest over rustls with the ring provider, as the plugin
    // runtime's; installing it is idempotent (whoever comes first installs it).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint.clone())
        .with_protocol(protocol)
        .with_timeout(config.timeout)
        .with_headers(headers)
        .build()
        .map_err(|e| TracesError(e.to_string()))?;
    let batches = BatchConfigBuilder::default()
        .with_max_queue_size(MAX_QUEUED_SPANS)
        .build();
    let processor = BatchSpanProcessor::builder(Counted::new(exporter))
        .with_batch_config(batches)
        .build();
    let resource = Resource::builder_empty()
        .with_service_name(config.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource)
        .build();
    let scope = InstrumentationScope::builder(SCOPE)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let tracer = provider.tracer_with_scope(scope);
    TRACES
        .set(Traces { provider, tracer })
        .map_err(|_| TracesError("traces were already started in this process".into()))?;
    tracing::info!(
        endpoint,
        protocol = config.protocol.as_str(),
        "exporting OpenTelemetry traces of each AI line"
    );
    Ok(Some(TracesGuard(())))
}

/// Whether traces are exported (so the caller gathers what a trace needs only then).
pub fn enabled() -> bool {
    TRACES.get().is_some()
}

/// A plugin that served a stage of a line.
#[derive(Debug, Clone, Default)]
pub struct ServedBy {
    /// Its name in `plugins.toml`.
    pub name: String,
    /// Its own version, from `describe()`.
    pub version: String,
}

/// The plugins a line went through, by role.
#[derive(Debug, Clone, Default)]
pub struct LinePlugins {
    /// Speech to text (end of speech, STT final).
    pub stt: Option<ServedBy>,
    /// The turn policy.
    pub policy: Option<ServedBy>,
    /// The speaking AI's LLM (first token, first clause).
    pub llm: Option<ServedBy>,
    /// Text to speech (first audio, first frame).
    pub tts: Option<ServedBy>,
}

/// One ended AI line, as its trace tells it.
#[derive(Debug)]
pub struct LineTrace<'a> {
    /// Who spoke (`claude`, `guest`).
    pub speaker: &'a str,
    /// The episode (the studio).
    pub episode_id: &'a str,
    /// The studio session of that episode (its generation).
    pub session: u64,
    /// The line's number in the session.
    pub line: u64,
    /// Whether it was cut (barge-in, the policy's stop, the session's end).
    pub interrupted: bool,
    /// The line's stages.
    pub timeline: &'a LineTimeline,
    /// Who served them.
    pub plugins: &'a LinePlugins,
}

/// Builds the spans of an ended line and queues them for export (nothing when traces are off).
pub fn export_line(line: &LineTrace<'_>) {
    let Some(traces) = TRACES.get() else {
        return;
    };
    let t = line.timeline;
    let Some(start) = t.start() else {
        return;
    };
    // One anchor per line: the spans keep the timeline's exact differences.
    let anchor = (Instant::now(), SystemTime::now());
    let wall = |at: Instant| {
        anchor
            .1
            .checked_sub(anchor.0.saturating_duration_since(at))
            .unwrap_or(anchor.1)
    };
    let end = t.first_frame.or(t.ended).unwrap_or(anchor.0).max(start);
    let session = format!("{}/{}", line.episode_id, line.session);
    let common = [
        KeyValue::new("studio.speaker", line.speaker.to_owned()),
        KeyValue::new("studio.episode_id", line.episode_id.to_owned()),
        KeyValue::new("studio.session_id", session),
        KeyValue::new("studio.line", line.line as i64),
    ];
    let mut root_attributes = common.to_vec();
    root_attributes.push(KeyValue::new("studio.interrupted", line.interrupted));
    for gap in HostGap::ALL {
        if let Some(d) = t.host_gap(gap) {
            let key = format!("studio.host_gap.{}_us", gap.name());
            root_attributes.push(KeyValue::new(key, micros(d)));
        }
    }
    if let Some(d) = t.host_added() {
        root_attributes.push(KeyValue::new("studio.host_added_us", micros(d)));
    }
    let tracer = &traces.tracer;
    let root = tracer
        .span_builder("ai.line")
        .with_kind(SpanKind::Internal)
        .with_start_time(wall(start))
        .with_attributes(root_attributes)
        .start(tracer);
    let cx = Context::current_with_span(root);
    let heard = t.speech_end_heard;
    // The VAD's offset is on the audio's clock; it cannot be after the VAD noticed it.
    let speech_end = t.speech_end.map(|s| heard.map_or(s, |h| s.min(h)));
    let p = line.plugins;
    let stages = [
        ("end_of_speech", speech_end, heard, &p.stt),
        ("stt.final", speech_end, t.stt_final, &p.stt),
        (
            "policy",
            t.policy.map(|w| w.sent),
            t.policy.map(|w| w.answered),
            &p.policy,
        ),
        (
            "llm.first_token",
            t.llm.map(|w| w.sent),
            t.llm.map(|w| w.answered),
            &p.llm,
        ),
        (
            "first_clause",
            t.llm.map(|w| w.answered),
            t.first_clause,
            &p.llm,
        ),
        (
            "tts.first_audio",
            t.tts.map(|w| w.sent),
            t.tts.map(|w| w.answered),
            &p.tts,
        ),
        ("first_frame", t.frame_playable(), t.first_frame, &p.tts),
    ];
    // The root spans its children: the VAD may call the end of speech only after the reply's
    // first frame has left (the recognizer was faster), and a stage must not outlast its line.
    let mut root_end = end;
    for (name, from, to, plugin) in stages {
        let (Some(from), Some(to)) = (from, to) else {
            continue;
        };
        root_end = root_end.max(to.max(from));
        let mut attributes = common.to_vec();
        if let Some(plugin) = plugin {
            attributes.push(KeyValue::new("plugin.name", plugin.name.clone()));
            attributes.push(KeyValue::new("plugin.version", plugin.version.clone()));
        }
        let mut span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            .with_start_time(wall(from))
            .with_attributes(attributes)
            .start_with_context(tracer, &cx);
        span.end_with_timestamp(wall(to.max(from)));
    }
    cx.span().end_with_timestamp(wall(root_end));
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The OTLP exporter, with its failures counted and logged (the first, then at each power of
/// two, so a dead collector does not flood the log).
#[derive(Debug)]
struct Counted<E> {
    inner: E,
    failures: AtomicU64,
}

impl<E> Counted<E> {
    fn new(inner: E) -> Self {
        Self {
            inner,
            failures: AtomicU64::new(0),
        }
    }
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        if let Err(error) = &result {
            let failed = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
            if failed.is_power_of_two() {
                tracing::warn!(failed_exports = failed, spans, %error, "traces could not be exported; their spans are dropped (studios are not affected)");
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
