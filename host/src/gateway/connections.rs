//! Connection-level limits: the gateway's own accept loop (in place of `axum::serve`) that counts
//! open TCP connections per peer address and in total, refuses one over a cap with a short HTTP
//! answer naming the limit, and cuts a client that sends its request head too slowly.
//!
//! A connection's slot is held by its IO object, so a WebSocket keeps its slot after the HTTP
//! upgrade (hyper hands the same IO to socketioxide) and frees it when the socket closes.
//! Graceful shutdown behaves as `axum::serve`'s: stop accepting at once, ask every HTTP
//! connection to finish its request in flight, and return when they all have.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::config::ConnectionLimits;

/// Refused connections being answered at once; past this a refusal gets one non-blocking write
/// and is dropped, so a flood of refused connections costs no more than this many tasks.
const REFUSALS_IN_FLIGHT: usize = 64;
/// How long a refused connection may take to take its answer (and to stop sending).
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// How often, at most, a refusal rule logs at info level; each refusal is also logged at debug.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

/// The address a connection counts against: the IPv4 address, or an IPv6 address's /64 (one
/// subscriber's usual allocation), so rotating through a prefix gains nothing.
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `MAX_CONNECTIONS` connections are open on the server.
    Total {
        /// The cap.
        max: usize,
    },
    /// `MAX_CONNECTIONS_PER_IP` connections are open from this address.
    PerAddress {
        /// The peer address (its /64 for IPv6).
        address: IpAddr,
        /// The cap.
        max: usize,
    },
}

impl Refusal {
    /// The variable that sets the limit.
    pub fn variable(&self) -> &'static str {
        match self {
            Self::Total { .. } => "MAX_CONNECTIONS",
            Self::PerAddress { .. } => "MAX_CONNECTIONS_PER_IP",
        }
    }

    /// What the client reads.
    pub fn message(&self) -> String {
        match self {
            Self::Total { max } => format!(
                "server full: at most {max} connections are open at once (MAX_CONNECTIONS); try again later"
            ),
            Self::PerAddress { address, max } => format!(
                "too many connections from {address}: at most {max} at once per address (MAX_CONNECTIONS_PER_IP); close one and try again"
            ),
        }
    }

    /// The whole HTTP/1.1 answer: 503 when the server is full, 429 when this address is.
    fn http_answer(&self) -> Vec<u8> {
        let status = match self {
            Self::Total { .. } => "503 Service Unavailable",
            Self::PerAddress { .. } => "429 Too Many Requests",
        };
        let body = format!("{}\n", self.message());
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nretry-after: 5\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

#[derive(Default)]
struct OpenConnections {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// The open-connection counts and their caps.
pub struct ConnectionSlots {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<OpenConnections>,
}

impl ConnectionSlots {
    /// Empty counts under `limits`' caps.
    pub fn new(limits: &ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            max_total: limits.max_connections,
            max_per_address: limits.max_connections_per_ip,
            open: Mutex::new(OpenConnections::default()),
        })
    }

    /// Takes a slot for a connection from `ip`, or says which cap is reached.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let address = peer_key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.max_total {
            return Err(Refusal::Total {
                max: self.max_total,
            });
        }
        let from_address = open.by_address.entry(address).or_insert(0);
        if *from_address >= self.max_per_address {
            return Err(Refusal::PerAddress {
                address,
                max: self.max_per_address,
            });
        }
        *from_address += 1;
        open.total += 1;
        Ok(ConnectionSlot {
            slots: self.clone(),
            address,
        })
    }

    /// Open connections: in total, and from `ip`.
    pub fn open(&self, ip: IpAddr) -> (usize, usize) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let from = open.by_address.get(&peer_key(ip)).copied().unwrap_or(0);
        (open.total, from)
    }

    fn release(&self, address: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_address.remove(&address);
            }
        }
    }
}

/// One open connection's place in the counts; dropping it frees the place.
pub struct ConnectionSlot {
    slots: Arc<ConnectionSlots>,
    address: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.slots.release(self.address);
    }
}

/// A TCP stream that holds its connection's slot for as long as the stream lives: through the
/// HTTP requests and, after an upgrade, through the WebSocket.
struct SlottedStream {
    stream: TcpStream,
    _slot: ConnectionSlot,
}

impl AsyncRead for SlottedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SlottedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Says a refusal rule at info level at most once per [`REFUSAL_LOG_EVERY`], with the count since
/// the last time, so a flood cannot flood the log; every refusal is also a debug line.
pub struct RefusalLog {
    rule: &'static str,
    state: Mutex<(Option<Instant>, u64)>,
}

impl RefusalLog {
    /// A log for refusals under `rule` (the variable that sets the limit).
    pub const fn new(rule: &'static str) -> Self {
        Self {
            rule,
            state: Mutex::new((None, 0)),
        }
    }

    /// Counts one refusal of `client`.
    pub fn refused(&self, client: IpAddr, message: &str) {
        tracing::debug!(%client, rule = self.rule, "refused: {message}");
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.1 += 1;
        let due = state
            .0
            .is_none_or(|last| last.elapsed() >= REFUSAL_LOG_EVERY);
        if due {
            tracing::info!(
                %client,
                rule = self.rule,
                refused = state.1,
                "refused {} request(s) under {} in the last {}s; latest: {message}",
                state.1,
                self.rule,
                REFUSAL_LOG_EVERY.as_secs()
            );
            *state = (Some(Instant::now()), 0);
        }
    }
}

static TOTAL_REFUSALS: RefusalLog = RefusalLog::new("MAX_CONNECTIONS");
static ADDRESS_REFUSALS: RefusalLog = RefusalLog::new("MAX_CONNECTIONS_PER_IP");

/// Answers a refused connection and closes it without giving it a slot: the answer is written,
/// the write side shut, and what the client already sent read away (closing with unread input
/// would reset the connection and could destroy the answer before the client reads it).
fn refuse(mut stream: TcpStream, peer: SocketAddr, refusal: Refusal, answering: &Arc<Semaphore>) {
    let message = refusal.message();
    match refusal {
        Refusal::Total { .. } => TOTAL_REFUSALS.refused(peer.ip(), &message),
        Refusal::PerAddress { .. } => ADDRESS_REFUSALS.refused(peer.ip(), &message),
    }
    let answer = refusal.http_answer();
    let Ok(permit) = answering.clone().try_acquire_owned() else {
        // Too many refusals in flight: one try, then the connection is dropped.
        let _ = stream.try_write(&answer);
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            stream.write_all(&answer).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            io::Result::Ok(())
        })
        .await;
    });
}

/// Serves `router` on `listener` under `limits` until `stop` resolves, then stops accepting at
/// once, asks every connection to finish gracefully, and returns when all of them have closed
/// (upgraded WebSockets are not waited for; Socket.IO's own shutdown closes them).
///
/// Every request carries its peer address as `ConnectInfo<SocketAddr>`, as with
/// `into_make_service_with_connect_info`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = ConnectionSlots::new(&limits);
    let answering = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    let mut http = hyper::server::conn::http1::Builder::new();
    // The header timer runs from the start of each request head (the first one from the
    // connection's start), so a client that trickles its headers, or sends nothing, is cut.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);

    // Dropping `stopping` tells the accept loop and every connection to stop.
    let (stop_tx, stopping) = watch::channel(());
    tokio::spawn(async move {
        stop.await;
        drop(stopping);
    });
    // Every connection task holds a receiver; when all are gone, the drain is done.
    let (drained_tx, drained_rx) = watch::channel(());

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = stop_tx.closed() => break,
        };
        let slot = match slots.take(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                refuse(stream, peer, refusal, &answering);
                continue;
            }
        };
        // Audio frames are small and late ones are useless: no Nagle delay.
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(SlottedStream {
            stream,
            _slot: slot,
        });
        let routes = TowerToHyperService::new(router.clone());
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            routes.call(request)
        });
        let connection = http.serve_connection(io, service).with_upgrades();
        let stop_tx = stop_tx.clone();
        let drained_rx = drained_rx.clone();
        tokio::spawn(async move {
            let mut connection = pin!(connection);
            let mut stop = pin!(stop_tx.closed());
            let mut stopping = false;
            loop {
                tokio::select! {
                    served = connection.as_mut() => {
                        if let Err(e) = served {
                            tracing::trace!(%peer, error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    () = &mut stop, if !stopping => {
                        stopping = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(drained_rx);
        });
    }

    drop(drained_rx);
    drop(listener);
    drained_tx.closed().await;
    Ok(())
}

/// What `axum::serve` does on an accept error: a connection that died in the backlog is
/// skipped; anything else (out of file descriptors...) is logged and retried after a pause, so
/// the loop neither spins nor dies.
async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(total: usize, per_address: usize) -> Arc<ConnectionSlots> {
        ConnectionSlots::new(&ConnectionLimits {
            max_connections: total,
            max_connections_per_ip: per_address,
            ..ConnectionLimits::default()
        })
    }

    #[test]
    fn a_dropped_slot_is_free_again() {
        let slots = slots(10, 2);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let a = slots.take(ip).expect("first");
        let _b = slots.take(ip).expect("second");
        assert_eq!(
            slots.take(ip).err(),
            Some(Refusal::PerAddress {
                address: ip,
                max: 2
            })
        );
        drop(a);
        assert_eq!(slots.open(ip), (1, 1));
        slots.take(ip).expect("a freed slot is taken again");
    }

    #[test]
    fn the_total_cap_holds_across_addresses() {
        let slots = slots(2, 5);
        let _a = slots.take([127, 0, 0, 2].into()).expect("first");
        let _b = slots.take([127, 0, 0, 3].into()).expect("second");
        assert_eq!(
            slots.take([127, 0, 0, 4].into()).err(),
            Some(Refusal::Total { max: 2 })
        );
    }

    #[test]
    fn ipv6_addresses_of_one_64_prefix_count_together_and_mapped_ipv4_as_ipv4() {
        let slots = slots(10, 1);
        let _a = slots
            .take("2001:db8::1".parse().expect("ip"))
            .expect("first");
        assert!(slots.take("2001:db8::2".parse().expect("ip")).is_err());
        assert!(slots.take("2001:db8:0:1::1".parse().expect("ip")).is_ok());
        let _v4 = slots.take([192, 0, 2, 1].into()).expect("v4");
        assert!(slots.take("::ffff:192.0.2.1".parse().expect("ip")).is_err());
    }

    #[test]
    fn the_refusal_answer_names_the_limit_and_its_variable() {
        let answer = String::from_utf8(
            Refusal::PerAddress {
                address: [127, 0, 0, 1].into(),
                max: 3,
            }
            .http_answer(),
        )
        .expect("utf-8");
        assert!(answer.starts_with("HTTP/1.1 429 "), "{answer}");
        assert!(answer.contains("MAX_CONNECTIONS_PER_IP"), "{answer}");
        let total = String::from_utf8(Refusal::Total { max: 9 }.http_answer()).expect("utf-8");
        assert!(total.starts_with("HTTP/1.1 503 "), "{total}");
        assert!(total.contains("MAX_CONNECTIONS)"), "{total}");
    }
}
