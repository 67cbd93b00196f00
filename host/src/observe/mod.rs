//! What the server tells operators about itself beyond its logs: the timeline of each AI line
//! ([`timeline`]: the instant of each stage, and the time the host itself adds between them) and
//! its OpenTelemetry traces ([`traces`], off unless `OTEL_EXPORTER_OTLP_*` sets an endpoint).

pub mod timeline;
pub mod traces;
