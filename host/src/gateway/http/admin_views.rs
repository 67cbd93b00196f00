//! What the producer's admin view reads (admin scope): `GET /api/studios`, the live studios with
//! their clients, who speaks and autopilot, and `GET /api/plugins`, each plugin with its roles,
//! version, hash and health (calls, errors, traps, the last error).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::openapi::schemas;
use crate::gateway::protocol::OrbState;
use crate::gateway::{GatewayState, admin};
use crate::timestamp::iso8601_utc;

/// How long the view waits for one studio's answer; a studio that is stuck (the watchdog will
/// end it) is listed as not answering rather than holding the page.
const STUDIO_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /api/studios`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveStudios {
    /// The running studios, by episode id.
    pub studios: Vec<LiveStudio>,
}

/// One running studio.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveStudio {
    /// Its episode.
    pub episode_id: String,
    /// Whether it answered the view in time; when not, only the episode id is known.
    pub answering: bool,
    /// The names its clients said `hello` with.
    pub clients: Vec<String>,
    /// What each speaker's orb shows (`idle`, `listening`, `thinking`, `speaking`, `muted`,
    /// `error`).
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaking: Option<StudioSpeakers>,
    /// Whether the AIs converse on their own.
    pub autopilot: bool,
    /// Whether its floor is open: it listens, answers and records.
    pub recording: bool,
    /// When its clock started (the recording's start once the floor opened), ISO 8601.
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
}

/// Each speaker's orb.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudioSpeakers {
    /// The human.
    pub you: OrbShown,
    /// The co-host.
    pub claude: OrbShown,
    /// The guest.
    pub guest: OrbShown,
}

/// What an orb shows.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrbShown {
    /// Nothing happening.
    Idle,
    /// Listening to someone else.
    Listening,
    /// Preparing an answer.
    Thinking,
    /// Speaking.
    Speaking,
    /// Silenced while the human speaks.
    Muted,
    /// Its provider failed.
    Error,
}

impl From<OrbState> for OrbShown {
    fn from(state: OrbState) -> Self {
        match state {
            OrbState::Idle => Self::Idle,
            OrbState::Listening => Self::Listening,
            OrbState::Thinking => Self::Thinking,
            OrbState::Speaking => Self::Speaking,
            OrbState::Muted => Self::Muted,
            OrbState::Error => Self::Error,
        }
    }
}

/// `GET /api/studios`: every running studio, what it is doing and who is in it.
#[utoipa::path(
    get,
    path = "/api/studios",
    tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The running studios, by episode id", body = LiveStudios),
        schemas::AdminRefusals,
    ),
)]
pub async fn studios(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = admin::require_admin(&state, &headers, peer.ip()) {
        return refused;
    }
    let mut studios = Vec::new();
    for episode_id in state.registry.episode_ids() {
        let Some(handle) = state.registry.get(&episode_id) else {
            continue;
        };
        let answer = tokio::time::timeout(STUDIO_ANSWER_TIMEOUT, handle.status()).await;
        let status = match answer {
            Ok(Ok(status)) => status,
            // Ended between the listing and the question: no longer live.
            Ok(Err(_)) => continue,
            Err(_) => {
                studios.push(LiveStudio {
                    episode_id,
                    answering: false,
                    clients: Vec::new(),
                    speaking: None,
                    autopilot: false,
                    recording: false,
                    started_at: None,
                });
                continue;
            }
        };
        let orbs = status.snapshot.orb_states;
        studios.push(LiveStudio {
            episode_id,
            answering: true,
            clients: status.clients,
            speaking: Some(StudioSpeakers {
                you: orbs.you.into(),
                claude: orbs.claude.into(),
                guest: orbs.guest.into(),
            }),
            autopilot: status.snapshot.autopilot,
            recording: status.recording,
            started_at: SystemTime::now().checked_sub(status.clock).map(iso8601_utc),
        });
    }
    Json(LiveStudios { studios }).into_response()
}

/// `GET /api/plugins`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginHealthList {
    /// Whether every role has a loaded plugin (what `/ready` checks).
    pub ready: bool,
    /// Every plugin of `plugins.toml`.
    pub plugins: Vec<PluginHealthEntry>,
}

/// One plugin and its health.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginHealthEntry {
    /// Its name in plugins.toml.
    pub name: String,
    /// The roles it serves (`stt`, `tts`, `claude`, `guest`, `policy`); empty when it only
    /// stands by (a fallback).
    pub roles: Vec<String>,
    /// The version it reports in `describe()` (empty when it did not load).
    pub version: String,
    /// SHA-256 of the loaded .wasm, hex (empty when it did not load).
    pub sha256: String,
    /// The last load or reload error; the previous version keeps serving.
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_error: Option<String>,
    /// Its calls since the server started.
    pub health: CallHealth,
}

/// A plugin's calls since the server started.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallHealth {
    /// Calls that ended.
    pub calls: u64,
    /// Calls that failed.
    pub errors: u64,
    /// Failed calls the host stopped (a trap, the CPU or memory limit).
    pub traps: u64,
    /// Calls the studio cancelled (a barge-in, a stopped line); not failures.
    pub cancelled: u64,
    /// The last failure, as the host logged it (secrets redacted).
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it happened, ISO 8601.
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<String>,
}

/// `GET /api/plugins`: each plugin, the roles it serves, its version and hash, and its health.
#[utoipa::path(
    get,
    path = "/api/plugins",
    tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Every plugin of plugins.toml with its health", body = PluginHealthList),
        schemas::AdminRefusals,
    ),
)]
pub async fn plugins(
    State(state): State<Arc<GatewayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = admin::require_admin(&state, &headers, peer.ip()) {
        return refused;
    }
    let mut health = state.plugins.health();
    let plugins = state
        .plugins
        .plugins()
        .into_iter()
        .map(|p| {
            let counted = health.remove(&p.name).unwrap_or_default();
            PluginHealthEntry {
                roles: p
                    .role
                    .split(',')
                    .filter(|r| !r.is_empty() && *r != "standby")
                    .map(str::to_owned)
                    .collect(),
                name: p.name,
                version: p.version,
                sha256: p.sha256,
                load_error: p.last_error,
                health: CallHealth {
                    calls: counted.calls,
                    errors: counted.errors,
                    traps: counted.traps,
                    cancelled: counted.cancelled,
                    last_error: counted.last_error,
                    last_error_at: counted.last_error_at.map(iso8601_utc),
                },
            }
        })
        .collect();
    Json(PluginHealthList {
        ready: state.plugins.is_ready(),
        plugins,
    })
    .into_response()
}
