//! The gateway: one port serving HTTP (axum) and Socket.IO (socketioxide) to the studio frontend.
//!
//! Routes (one table, `http/openapi.rs`, documented at `GET /openapi.json`): `GET /health`,
//! `GET /ready`, `GET /api/config`, `POST /api/config/keys`, `POST /api/config/guest`,
//! `POST /api/episodes`, the transcript `GET /api/episodes/{id}/transcript`, the briefings
//! `GET`/`POST /api/briefings` and `GET`/`PUT /api/briefings/{id}`,
//! the admin view's `GET /api/studios` and `GET /api/plugins`,
//! `GET /recordings/{folder}/{file}`, the console's files (the studio and the producer's pages),
//! `GET /metrics` (admin token; or without one on `METRICS_ADDR`, see [`serve_metrics`]);
//! Socket.IO namespace `/` at `/socket.io/` (see `docs/PROTOCOL.md`).

pub mod access;
pub mod admin;
mod body_deadline;
pub mod connections;
mod console;
pub mod decoders;
pub mod download_links;
mod episodes;
mod http;
mod origin;
mod plugins_view;
pub mod protocol;
pub mod rate;
mod socket;

pub use http::serve_metrics;
pub use plugins_view::{PluginSummary, PluginsView};
pub use socket::{InOrder, InOrderMarker, MAX_AUDIO_CHUNK_BYTES, MAX_SAY_CHARS, check_audio_chunk};

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use socketioxide::{ParserConfig, SocketIo};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::briefings::BriefingStore;
use crate::config::{Config, LiveConfig};
use crate::plugins::PluginHost;
use crate::session::{StudioRegistry, TurnLoopSetup};
use crate::store::EpisodeStore;

/// Largest accepted HTTP body: 1 MiB, far above any settings payload.
pub const MAX_HTTP_BODY_BYTES: usize = 1024 * 1024;
/// Most binary attachments one Socket.IO event may carry (`audio.chunk` has one); their sum is
/// capped by `MAX_MESSAGE_BYTES`.
pub const MAX_SOCKET_ATTACHMENTS: usize = 16;
/// Packets queued for one client before emits to it fail (socketioxide's default, made explicit:
/// a client that stops reading costs at most this many packets, not unbounded memory).
pub const MAX_SOCKET_OUTBOUND_PACKETS: usize = 128;
/// How long shutdown waits for studios to end; the whole shutdown stays under 30 s.
pub const STUDIO_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

/// What the routes share.
pub struct GatewayState {
    /// The validated startup configuration.
    pub config: Arc<Config>,
    /// Live settings (settings API writes, studios read).
    pub live: Arc<LiveConfig>,
    /// The plugin runtime.
    pub plugins: Arc<dyn PluginsView>,
    /// The running studios.
    pub registry: StudioRegistry,
    /// Set once shutdown begins; `/ready` turns 503.
    pub shutting_down: AtomicBool,
    /// Who may join and act: the access mode and the token key.
    pub access: Arc<access::Access>,
    /// Wrong admin tokens per client address, so guessing slows down.
    pub admin_lockout: admin::AdminLockout,
    /// Signs and checks the recording links of `recording.ready`.
    pub download_links: download_links::DownloadLinks,
    /// Past and live episodes, their transcripts and turns (`studio.db`).
    pub store: EpisodeStore,
}

/// The assembled server: the router (with Socket.IO inside) and the handles needed to stop it.
pub struct Gateway {
    router: Router,
    io: SocketIo,
    state: Arc<GatewayState>,
    /// This host's place in a cluster (`CLUSTER_REDIS_URL`), if it is one's.
    cluster: Option<Arc<crate::cluster::Cluster>>,
}

impl Gateway {
    /// Builds routes, CORS, tracing and the Socket.IO namespace; its studios keep state but
    /// run no turn loop (see [`Gateway::with_turn_loop`]), and record nothing: its episode store
    /// is an empty one in memory.
    pub fn new(config: Arc<Config>, plugins: Arc<dyn PluginsView>) -> Self {
        // Opening an in-memory database fails only when SQLite cannot allocate.
        let store = EpisodeStore::open_in_memory().expect("an in-memory episode store");
        Self::build(config, plugins, None, store)
    }

    /// Like [`Gateway::new`], with studios that run the turn loop on `plugins`: they listen,
    /// answer, speak and record into `RECORDING_DIR`.
    /// Sessions are kept in `store` (see [`crate::store`]).
    pub fn with_turn_loop(
        config: Arc<Config>,
        plugins: Arc<PluginHost>,
        briefings: BriefingStore,
        store: EpisodeStore,
    ) -> Self {
        let setup = TurnLoopSetup {
            plugins: plugins.clone(),
            briefings,
            recording_dir: config.folders.recording_dir.clone(),
            autopilot_max_turns: config.studio.autopilot_max_turns,
            turn_gap: config.studio.turn_gap,
            language: "en-US".to_owned(),
            recorder: crate::recording::WriterOptions::default(),
            store: Some(store.clone()),
        };
        Self::build(config, plugins, Some(setup), store)
    }

    fn build(
        config: Arc<Config>,
        plugins: Arc<dyn PluginsView>,
        turn_loop: Option<TurnLoopSetup>,
        store: EpisodeStore,
    ) -> Self {
        let live = Arc::new(LiveConfig::new(&config));
        // One process-wide recorder, whatever number of gateways a process builds (tests build many).
        crate::metrics::install();
        // One cap for every way a Socket.IO message arrives: a WebSocket message and each of its
        // frames (refused at the frame header, before buffering), a long-polling payload, and the
        // sum of one event's binary attachments (each attachment is a WebSocket message of its own,
        // so without this an event could gather up to 16 attachments of the cap each).
        let limits = config.connection_limits;
        let (socket_layer, io) = SocketIo::builder()
            .max_payload(limits.max_message_bytes as u64)
            .ws_max_message_size(limits.max_message_bytes)
            .ws_max_frame_size(limits.max_message_bytes)
            .max_buffer_size(MAX_SOCKET_OUTBOUND_PACKETS)
            .with_parser(
                ParserConfig::common()
                    .max_incoming_binary_buf_size(limits.max_message_bytes)
                    .max_incoming_binaries(MAX_SOCKET_ATTACHMENTS)
                    .packet_completion_timeout(limits.body_timeout),
            )
            .build_layer();
        // Studios reach their clients through the Socket.IO server, without knowing it is one.
        let audience = socket::SocketAudience::new(io.clone());
        let registry = match turn_loop {
            Some(setup) => {
                StudioRegistry::with_turn_loop(audience, config.studio.grace, live.clone(), setup)
            }
            None => StudioRegistry::new(audience, config.studio.grace, live.clone()),
        };
        registry.set_watchdog_timeout(config.studio.watchdog);
        registry.set_limits(crate::session::StudioLimits::from(&config.studio));
        let client_limits = config.client_limits;
        registry.set_quota(crate::session::StudioQuota {
            max_studios: client_limits.max_studios,
            max_per_address: client_limits.max_studios_per_ip,
        });
        let access = Arc::new(access::Access::from_config(&config.access));
        socket::register(&io, registry.clone(), client_limits, access.clone());
        // recording.ready hands out links signed with the access key, which the route checks.
        let download_links =
            download_links::DownloadLinks::new(access.signing_key(), config.doors.download_url_ttl);
        registry.set_download_links(download_links.clone());
        registry.set_recording_bucket(
            crate::recording::RecordingBucket::from_config(&config.bucket).unwrap_or_else(
                |error| {
                    tracing::error!(%error, "recordings stay on the local disk only");
                    None
                },
            ),
        );
        let cluster = join_cluster(&config, &registry, &store);
        let state = Arc::new(GatewayState {
            access,
            config: config.clone(),
            live,
            plugins,
            registry,
            shutting_down: AtomicBool::new(false),
            admin_lockout: admin::AdminLockout::default(),
            download_links,
            store,
        });
        let origins = Arc::new(origin::OriginPolicy::new(
            &config.server.cors_origins,
            config.server.host,
        ));
        // Every route comes from the one documented table (`http/openapi.rs`).
        let router = Router::from(http::openapi::routes())
            .with_state(state.clone())
            .layer(socket_layer);
        // A host of a cluster serves the Socket.IO requests of the episodes it holds and
        // relays the others to their hosts; outside the Socket.IO layer, inside the doors.
        let router = match &cluster {
            Some(cluster) => router.layer(axum::middleware::from_fn_with_state(
                cluster.clone(),
                crate::cluster::relay::route,
            )),
            None => router,
        };
        let router = router
            // Outside the Socket.IO layer, so handshakes and polling are checked too.
            .layer(axum::middleware::from_fn_with_state(
                origins,
                origin::check_origin,
            ))
            .layer(DefaultBodyLimit::max(MAX_HTTP_BODY_BYTES))
            .layer(cors(&config.server.cors_origins))
            // Outermost but for tracing: every route's body, Socket.IO polling included.
            .layer(axum::middleware::from_fn_with_state(
                limits.body_timeout,
                body_deadline::limit_body_time,
            ))
            .layer(TraceLayer::new_for_http());
        Self {
            router,
            io,
            state,
            cluster,
        }
    }

    /// The studio registry (for the turn loop and tests).
    pub fn registry(&self) -> &StudioRegistry {
        &self.state.registry
    }

    /// The live settings.
    pub fn live_config(&self) -> &Arc<LiveConfig> {
        &self.state.live
    }

    /// Serves until `shutdown` resolves; then stops accepting connections at once, ends every
    /// studio (clients get `session.end`), disconnects the sockets, and returns when all of that
    /// is done.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            router,
            io,
            state,
            cluster,
        } = self;
        let limits = state.config.connection_limits;
        // The leases of this host's studios live while it serves; a host that stops (or dies)
        // stops renewing them, and its episodes can go on elsewhere once they lapse.
        let renewing = cluster.map(|cluster| tokio::spawn(cluster.renew_leases()));
        let (ending_tx, ending_rx) = tokio::sync::oneshot::channel();
        let stop = async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; ending studios");
            state.shutting_down.store(true, Ordering::Release);
            // Ending studios runs beside the HTTP drain: upgraded WebSocket connections are not
            // part of the drain, and the studios must still reach them to say goodbye.
            let ending = tokio::spawn(async move {
                state.registry.shutdown(STUDIO_SHUTDOWN_TIMEOUT).await;
                io.close().await;
                tracing::info!("studios ended, sockets closed");
            });
            let _ = ending_tx.send(ending);
        };
        // Our accept loop, not `axum::serve`: it caps connections per address and in total and
        // times out slow request heads. Every request carries its peer address
        // (`ConnectInfo<SocketAddr>` in its extensions), so limits per address can find it,
        // Socket.IO handlers included (`socket.req_parts()`).
        let served = connections::serve(listener, router, limits, stop).await;
        if let Some(renewing) = renewing {
            renewing.abort();
        }
        if let Ok(ending) = ending_rx.await
            && let Err(e) = ending.await
        {
            tracing::error!(error = %e, "ending the studios failed");
        }
        served
    }
}

/// This host's place in the cluster the configuration names, if any. Its registry serves only
/// the episodes the host holds. A cluster that cannot be joined (no usable bucket) fails
/// closed: no episode is served here, and the log says why.
fn join_cluster(
    config: &Config,
    registry: &StudioRegistry,
    store: &EpisodeStore,
) -> Option<Arc<crate::cluster::Cluster>> {
    if !config.cluster.enabled() {
        return None;
    }
    match crate::cluster::Cluster::from_config(config, registry, Some(store.clone())) {
        Ok(Some(cluster)) => {
            // Weak: the cluster holds the registry; the registry must not keep it alive.
            let weak = Arc::downgrade(&cluster);
            registry.set_placement(Arc::new(move |episode: &str| {
                weak.upgrade().is_some_and(|c| c.holds(episode))
            }));
            tracing::info!(me = cluster.me(), "serving as one host of a cluster");
            Some(cluster)
        }
        Ok(None) => None,
        Err(error) => {
            tracing::error!(%error, "this host cannot join its cluster: it serves no episode");
            registry.set_placement(Arc::new(|_: &str| false));
            None
        }
    }
}

/// CORS for the browser's API calls (a frontend on another origin posts or puts JSON, so it
/// needs preflight answers for `content-type` and `authorization`).
fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]);
    if origins.iter().any(|o| o == "*") {
        // Credentials cannot be combined with a wildcard origin.
        return layer.allow_origin(AllowOrigin::any());
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    layer.allow_origin(list).allow_credentials(true)
}
