//! OpenTelemetry traces: off unless an OTLP endpoint is set, read from the standard
//! `OTEL_EXPORTER_OTLP_*` variables (the traces-specific one wins over the general one, as the
//! OpenTelemetry specification says), so a collector's usual settings work unchanged.

use std::time::Duration;

use super::{Reader, Secret};

/// The OTLP path of traces under a general endpoint.
const TRACES_PATH: &str = "/v1/traces";
/// The exporter's default request timeout (the specification's 10 s).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How spans travel to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf`, the default.
    HttpProtobuf,
    /// `http/json`.
    HttpJson,
}

impl OtlpProtocol {
    /// Its spelling in `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::HttpProtobuf => "http/protobuf",
            OtlpProtocol::HttpJson => "http/json",
        }
    }
}

/// Where and how traces are exported; `endpoint: None` means traces are off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceConfig {
    /// The full URL spans are posted to (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is, or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`); `None`: no traces.
    pub endpoint: Option<String>,
    /// `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`.
    pub protocol: OtlpProtocol,
    /// `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`: sent with every export (often an API key, so
    /// kept secret).
    pub headers: Vec<(String, Secret)>,
    /// `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT` (milliseconds): one export's limit.
    pub timeout: Duration,
    /// `OTEL_SERVICE_NAME`: the service the spans belong to.
    pub service_name: String,
}

impl TraceConfig {
    /// Whether spans are exported.
    pub fn enabled(&self) -> bool {
        self.endpoint.is_some()
    }

    /// Reads the OpenTelemetry variables.
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        let disabled = r.flag("OTEL_SDK_DISABLED", false);
        let endpoint = read_endpoint(r).filter(|_| !disabled);
        let protocol = first_of(r, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
            .map_or(OtlpProtocol::HttpProtobuf, |(variable, raw)| match raw {
                "http/protobuf" => OtlpProtocol::HttpProtobuf,
                "http/json" => OtlpProtocol::HttpJson,
                other => {
                    r.problem(
                        variable,
                        format!("unknown or unsupported OTLP protocol `{other}` (this server exports over HTTP)"),
                        format!("set {variable}=http/protobuf (a collector's port 4318) or http/json"),
                    );
                    OtlpProtocol::HttpProtobuf
                }
            });
        let headers = first_of(r, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
            .map(|(variable, raw)| match parse_headers(raw) {
                Ok(headers) => headers,
                Err(entry) => {
                    r.problem(
                        variable,
                        format!("`{entry}` is not a header as key=value"),
                        format!("set {variable} to comma-separated key=value pairs, values percent-encoded, e.g. {variable}=authorization=Bearer%20abc"),
                    );
                    Vec::new()
                }
            })
            .unwrap_or_default();
        let timeout_variable = if r.raw("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT").is_some() {
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
        } else {
            "OTEL_EXPORTER_OTLP_TIMEOUT"
        };
        let fix = format!("set {timeout_variable} to e.g. 10000");
        let timeout = r.millis(timeout_variable, DEFAULT_TIMEOUT, 1..=600_000, fix);
        Self {
            endpoint,
            protocol,
            headers,
            timeout,
            service_name: r.text("OTEL_SERVICE_NAME", "voice-studio"),
        }
    }
}

/// The first of `specific` and `general` that is set, with its name.
fn first_of<'a>(
    r: &Reader<'a>,
    specific: &'static str,
    general: &'static str,
) -> Option<(&'static str, &'a str)> {
    r.raw(specific)
        .map(|v| (specific, v))
        .or_else(|| r.raw(general).map(|v| (general, v)))
}

/// The traces URL, when an endpoint is set and is an http(s) URL.
fn read_endpoint(r: &mut Reader<'_>) -> Option<String> {
    let (variable, raw) = first_of(
        r,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    )?;
    let url = if variable == "OTEL_EXPORTER_OTLP_ENDPOINT" {
        format!("{}{TRACES_PATH}", raw.trim_end_matches('/'))
    } else {
        raw.to_owned()
    };
    let valid = url::Url::parse(&url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if valid.is_none() {
        r.problem(
            variable,
            format!("`{raw}` is not an http(s) URL"),
            format!("set {variable} to the collector's OTLP/HTTP address, e.g. http://localhost:4318, or unset it to turn traces off"),
        );
        return None;
    }
    Some(url)
}

/// `key=value,key=value` with percent-encoded values (the W3C baggage form the specification
/// uses); `Err` names the first entry that is not a header.
fn parse_headers(raw: &str) -> Result<Vec<(String, Secret)>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (key, value) = entry.split_once('=').ok_or_else(|| entry.to_owned())?;
            let key = key.trim();
            let value = percent_encoding::percent_decode_str(value.trim())
                .decode_utf8()
                .map_err(|_| key.to_owned())?;
            let valid_key = !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !valid_key {
                return Err(key.to_owned());
            }
            Ok((key.to_ascii_lowercase(), Secret::new(value.into_owned())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSource;

    fn read(vars: &[(&str, &str)]) -> (TraceConfig, Vec<String>) {
        let src = ConfigSource::from_pairs(vars.iter().copied());
        let mut r = Reader::new(&src);
        let config = TraceConfig::read(&mut r);
        let problems = r.into_problems().iter().map(ToString::to_string).collect();
        (config, problems)
    }

    #[test]
    fn traces_are_off_without_an_endpoint() {
        let (config, problems) = read(&[("OTEL_SERVICE_NAME", "studio-a")]);
        assert!(!config.enabled());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.service_name, "studio-a");
    }

    #[test]
    fn the_general_endpoint_gets_the_traces_path_and_the_specific_one_wins() {
        let (config, _) = read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")]);
        assert_eq!(
            config.endpoint.as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        let (config, _) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:9/t"),
        ]);
        assert_eq!(config.endpoint.as_deref(), Some("http://collector:9/t"));
        let (config, _) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ]);
        assert!(!config.enabled());
    }

    #[test]
    fn headers_protocol_and_timeout_are_read_and_secret() {
        let (config, problems) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otel.example:4318"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Authorization=Bearer%20abc, x-team=studio",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.protocol, OtlpProtocol::HttpJson);
        assert_eq!(config.timeout, Duration::from_millis(2500));
        let headers: Vec<(&str, &str)> = config
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        assert_eq!(
            headers,
            [("authorization", "Bearer abc"), ("x-team", "studio")]
        );
        assert!(!format!("{config:?}").contains("abc"));
    }

    #[test]
    fn bad_values_are_problems_naming_the_variable() {
        let (config, problems) = read(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon"),
        ]);
        assert!(!config.enabled());
        let variables: Vec<&str> = problems
            .iter()
            .filter_map(|p| p.split_once(':').map(|(v, _)| v))
            .collect();
        assert_eq!(
            variables,
            [
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "OTEL_EXPORTER_OTLP_HEADERS",
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            ],
            "{problems:?}"
        );
    }
}
