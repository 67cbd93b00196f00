//! The cluster's door on `/socket.io/`: a request that names its episode
//! (`?episodeId=<episode>`, which socket.io-client repeats on every request of a connection) is
//! served here when this host holds the episode or can claim it, and relayed to its host
//! otherwise: the request goes to the holder's advertised URL as it came (same method, path,
//! query, headers and streamed body), the answer comes back as it is, and a WebSocket upgrade
//! becomes a byte-for-byte tunnel. The studio stays one actor on one host; the relay adds one
//! hop on the cluster's network and no parsing of Socket.IO.
//!
//! A request relayed once is never relayed again (two hosts with different views of the
//! registry could otherwise bounce it); a holder that does not answer (it died, its lease has
//! not lapsed yet) gets the client a 503 with `Retry-After`, and socket.io-client's reconnect
//! lands it on the host that continues the episode once the lease lapsed.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;

use super::{Cluster, Placement};
use crate::session::is_valid_episode_id;

/// How long connecting to the episode's host may take.
const RELAY_CONNECT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a relayed request waits for the head of the holder's answer.
const ANSWER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Marks a request one host relayed to another (its value: the relaying host's URL).
pub const RELAYED_BY: &str = "x-voice-studio-relayed-by";

/// The episode a Socket.IO request names in its query (`episodeId`), if it is a valid id.
pub fn query_episode(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == "episodeId")
        .map(|(_, value)| value.into_owned())
        .filter(|id| is_valid_episode_id(id))
}

/// The middleware: serves, relays or refuses Socket.IO requests that name an episode; any other
/// request passes.
pub async fn route(State(cluster): State<Arc<Cluster>>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/socket.io") {
        return next.run(request).await;
    }
    let Some(episode) = query_episode(request.uri().query()) else {
        return next.run(request).await;
    };
    let relayed = request.headers().contains_key(RELAYED_BY);
    match cluster.place(&episode).await {
        Ok(Placement::Here) => next.run(request).await,
        Ok(Placement::Relay(_)) if relayed => unavailable(
            &episode,
            "the cluster's hosts disagree on who holds this episode; try again in a moment",
        ),
        Ok(Placement::Relay(holder)) => match relay(&cluster, &holder, request).await {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(episode, holder, %error, "the episode's host does not answer the relay");
                crate::metrics::cluster_relay(false);
                unavailable(
                    &episode,
                    "the episode's host does not answer; if it went down, the episode goes on on another host within a lease",
                )
            }
        },
        Err(error) => {
            tracing::warn!(episode, %error, "the cluster could not place a client");
            unavailable(
                &episode,
                &format!("the cluster cannot place this episode now: {error}"),
            )
        }
    }
}

/// 503 with `Retry-After: 1`: socket.io-client tries again on its own.
fn unavailable(episode: &str, why: &str) -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({ "error": why, "episodeId": episode })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// What went wrong relaying.
#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("bad holder address {0}")]
    Address(String),
    #[error("connecting: {0}")]
    Connect(std::io::Error),
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("HTTP: {0}")]
    Http(hyper::Error),
}

/// Sends `request` to the host at `holder` (an `http://host:port` URL) and returns its answer;
/// an accepted WebSocket upgrade is tunnelled both ways until either side closes.
async fn relay(
    cluster: &Cluster,
    holder: &str,
    mut request: Request,
) -> Result<Response, RelayError> {
    let address = url::Url::parse(holder)
        .ok()
        .filter(|u| u.scheme() == "http")
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .ok_or_else(|| RelayError::Address(holder.to_owned()))?;
    let connect = async {
        let stream = TcpStream::connect(&address)
            .await
            .map_err(RelayError::Connect)?;
        let _ = stream.set_nodelay(true);
        hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(RelayError::Http)
    };
    let (mut sender, connection) = tokio::time::timeout(RELAY_CONNECT_DEADLINE, connect)
        .await
        .map_err(|_| RelayError::Timeout(RELAY_CONNECT_DEADLINE))??;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "relay connection ended");
        }
    });
    // The client's side of a WebSocket upgrade, taken before the request is passed on.
    let client_upgrade = hyper::upgrade::on(&mut request);
    let wants_upgrade = request.headers().contains_key(header::UPGRADE);
    if let Ok(me) = HeaderValue::from_str(cluster.me()) {
        request.headers_mut().insert(RELAYED_BY, me);
    }
    // A long-polling GET is answered when there is something to send, at the latest after
    // Engine.IO's ping interval and timeout (45 s): the head's deadline is past that.
    let response = tokio::time::timeout(ANSWER_DEADLINE, sender.send_request(request))
        .await
        .map_err(|_| RelayError::Timeout(ANSWER_DEADLINE))?
        .map_err(RelayError::Http)?;
    crate::metrics::cluster_relay(true);
    if wants_upgrade && response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let mut answer = Response::new(Body::empty());
        *answer.status_mut() = response.status();
        *answer.headers_mut() = response.headers().clone();
        let mut upstream = response;
        tokio::spawn(async move {
            let (client, holder) =
                match tokio::try_join!(client_upgrade, hyper::upgrade::on(&mut upstream)) {
                    Ok(both) => both,
                    Err(error) => {
                        tracing::debug!(%error, "a relayed WebSocket upgrade did not complete");
                        return;
                    }
                };
            let (mut client, mut holder) = (TokioIo::new(client), TokioIo::new(holder));
            if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut holder).await {
                tracing::debug!(%error, "a relayed WebSocket ended");
            }
        });
        return Ok(answer);
    }
    Ok(response.map(Body::new))
}
