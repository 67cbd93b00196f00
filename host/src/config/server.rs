//! Where the server listens and how it runs: `HOST`, `PORT`, `NODE_ENV`, `CORS_ORIGIN`,
//! `METRICS_ADDR`, `LIVE_AUDIO_NICE`, the signed download links' lifetime, and logging.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{Reader, Secret};

/// `NODE_ENV`: production turns the unauthenticated settings API off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeEnv {
    /// Local work; the settings API is open unless STUDIO_ADMIN_TOKEN is set.
    Development,
    /// Deployed; the settings API needs STUDIO_ADMIN_TOKEN.
    Production,
    /// Test runs; behaves like development.
    Test,
}

impl NodeEnv {
    /// The variable's spelling of this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
            Self::Test => "test",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "development" => Self::Development,
            "production" => Self::Production,
            "test" => Self::Test,
            _ => return None,
        })
    }
}

/// Where the HTTP + Socket.IO server listens and who may call it.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `HOST`: the address to bind.
    pub host: IpAddr,
    /// `PORT`: the TCP port (0 picks a free one; the banner shows which).
    pub port: u16,
    /// `NODE_ENV`.
    pub node_env: NodeEnv,
    /// `CORS_ORIGIN`, split on commas; `*` allows any origin.
    pub cors_origins: Vec<String>,
    /// `STUDIO_ADMIN_TOKEN`: when set, settings POSTs need `Authorization: Bearer <token>`
    /// (its length is checked with the access settings).
    pub admin_token: Option<Secret>,
    /// `METRICS_ADDR`: a second address serving only `GET /metrics`, without a token, for a
    /// scraper on the same machine or a private network (unset: `/metrics` only on the main
    /// port, behind the admin token).
    pub metrics_addr: Option<SocketAddr>,
    /// `LIVE_AUDIO_NICE`: the nice value the async runtime's workers ask for, ahead of other
    /// processes on the machine (-20 to 0, default -10; 0 leaves them at the normal priority).
    pub live_audio_nice: i32,
}

impl ServerConfig {
    /// Reads `PORT`, `HOST`, `NODE_ENV`, `CORS_ORIGIN`, `STUDIO_ADMIN_TOKEN`, `METRICS_ADDR` and
    /// `LIVE_AUDIO_NICE`.
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        let port = r.parsed(
            "PORT",
            4000,
            |raw| raw.parse().ok(),
            "a TCP port",
            "set PORT to a number from 0 to 65535, e.g. PORT=4000",
        );
        // Loopback by default: exposing the server is a decision (see the access settings).
        let loopback = IpAddr::from([127, 0, 0, 1]);
        let host = r.parsed(
            "HOST",
            loopback,
            |raw| raw.parse().ok(),
            "an IP address",
            "set HOST to an address such as 127.0.0.1 or 0.0.0.0",
        );
        let node_env = r
            .choice(
                "NODE_ENV",
                "environment",
                NodeEnv::parse,
                NodeEnv::Development,
                "set NODE_ENV to development, production or test",
            )
            .unwrap_or(NodeEnv::Development);
        let cors_origins = cors_origins(r);
        let admin_token = r.secret("STUDIO_ADMIN_TOKEN");
        let metrics_addr = r.parsed(
            "METRICS_ADDR",
            None,
            |raw| raw.parse::<SocketAddr>().ok().map(Some),
            "an address with a port",
            "set METRICS_ADDR to an IP address and port such as 127.0.0.1:9464, or leave it unset",
        );
        if let Some(addr) = metrics_addr
            && port != 0
            && addr.port() == port
        {
            r.problem(
                "METRICS_ADDR",
                format!("`{addr}` uses PORT {port}, which the studio itself listens on"),
                "give METRICS_ADDR a port of its own, e.g. 127.0.0.1:9464",
            );
        }
        let live_audio_nice = r.number(
            "LIVE_AUDIO_NICE",
            -10,
            -20..=0,
            "a nice value from -20 to 0",
            "set LIVE_AUDIO_NICE to e.g. -10, or 0 to leave the live-audio threads at the normal priority",
        );
        Self {
            host,
            port,
            node_env,
            cors_origins,
            admin_token,
            metrics_addr,
            live_audio_nice,
        }
    }
}

/// `CORS_ORIGIN`: origins separated by commas, a trailing `/` dropped; each must be `*` or an
/// http(s) origin that fits in a header.
fn cors_origins(r: &mut Reader<'_>) -> Vec<String> {
    let origins: Vec<String> = r
        .text("CORS_ORIGIN", "http://localhost:3000")
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    for origin in &origins {
        let valid = origin == "*"
            || ((origin.starts_with("http://") || origin.starts_with("https://"))
                && axum::http::HeaderValue::from_str(origin).is_ok());
        if !valid {
            r.problem(
                "CORS_ORIGIN",
                format!("`{origin}` is not an origin"),
                "list origins like http://localhost:3000, separated by commas (or *)",
            );
        }
    }
    origins
}

/// The HTTP doors besides the access model: how long a signed recording link lives.
#[derive(Debug, Clone)]
pub struct DoorConfig {
    /// `DOWNLOAD_URL_TTL_SECONDS`: lifetime of the signed URLs in `recording.ready` (default 3600).
    pub download_url_ttl: Duration,
}

impl DoorConfig {
    /// Reads `DOWNLOAD_URL_TTL_SECONDS`.
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        Self {
            download_url_ttl: r.whole_seconds(
                "DOWNLOAD_URL_TTL_SECONDS",
                Duration::from_secs(3600),
                1..=604_800,
                "set DOWNLOAD_URL_TTL_SECONDS to e.g. 3600 (one hour)",
            ),
        }
    }
}

/// `LOG_FORMAT`: human-readable lines or one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `LOG_FORMAT`.
    pub format: LogFormat,
    /// `RUST_LOG`: a tracing filter.
    pub filter: String,
}

impl LogConfig {
    /// Reads `LOG_FORMAT` and `RUST_LOG` (checked here so a bad filter stops the start).
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        let format = r
            .choice(
                "LOG_FORMAT",
                "format",
                |raw| match raw {
                    "text" => Some(LogFormat::Text),
                    "json" => Some(LogFormat::Json),
                    _ => None,
                },
                LogFormat::Text,
                "set LOG_FORMAT to text or json",
            )
            .unwrap_or(LogFormat::Text);
        let filter = r.text("RUST_LOG", "info");
        if tracing_subscriber::EnvFilter::try_new(&filter).is_err() {
            r.problem(
                "RUST_LOG",
                format!("`{filter}` is not a log filter"),
                "set RUST_LOG to a level or directives, e.g. info or voice_studio=debug,info",
            );
        }
        Self { format, filter }
    }
}
