//! Outbound capabilities: `http`, `websocket` and `process`.
//!
//! Each is checked in one place, before anything leaves the host: the capability must be granted,
//! and the target must be on the plugin's allow-list (`allowed_hosts` by scheme, host and port;
//! `allowed_executables` by exact path). Refusals are `denied` with the plugin's name and the target.
//! WebSocket and process support arrive in a later issue; granted calls get `unavailable` until then.

use std::collections::VecDeque;
use std::path::Path;

use futures::stream::BoxStream;
use wasmtime::component::Resource;

use super::super::bindings::types::PluginError;
use super::super::bindings::{http, process, websocket};
use super::super::manifest::{Capability, UrlOrigin};
use super::super::sandbox::PluginState;
use super::denied;

/// An HTTP response whose body streams in.
pub struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: BoxStream<'static, Result<Vec<u8>, PluginError>>,
    pub(crate) pending: VecDeque<u8>,
}

/// An open WebSocket connection (none can be opened yet).
pub struct WsConnection {
    _private: (),
}

/// A running child process (none can be started yet).
pub struct ProcessChild {
    _private: (),
}

impl PluginState {
    /// Checks `capability` and the URL's origin against `allowed_hosts`.
    pub(crate) fn check_outbound(
        &mut self,
        capability: Capability,
        url: &str,
    ) -> Result<UrlOrigin, PluginError> {
        if !self.check(capability) {
            return Err(denied(self, capability.name()));
        }
        let Some(origin) = UrlOrigin::parse(url) else {
            return Err(PluginError::Config(format!(
                "`{url}` is not an absolute http(s) or ws(s) URL"
            )));
        };
        if !self
            .grant
            .entry
            .allowed_hosts
            .iter()
            .any(|pattern| pattern.allows(url))
        {
            return Err(denied(self, &format!("{capability}/{origin}")));
        }
        Ok(origin)
    }
}

impl http::Host for PluginState {
    async fn send(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<Resource<HttpResponse>, PluginError>> {
        if let Err(refused) = self.check_outbound(Capability::Http, &request.url) {
            return Ok(Err(refused));
        }
        match crate::plugins::capabilities::net::outbound_http(
            &self.grant.entry.allowed_hosts,
            request,
        )
        .await
        {
            Ok(response) => Ok(Ok(self.table.push(response)?)),
            Err(error) => Ok(Err(error)),
        }
    }
}

impl http::HostResponse for PluginState {
    async fn status(&mut self, response: Resource<HttpResponse>) -> wasmtime::Result<u16> {
        Ok(self.table.get(&response)?.status)
    }

    async fn headers(
        &mut self,
        response: Resource<HttpResponse>,
    ) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self.table.get(&response)?.headers.clone())
    }

    async fn read(
        &mut self,
        response: Resource<HttpResponse>,
        max_bytes: u32,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, PluginError>> {
        use futures::StreamExt;
        let response = self.table.get_mut(&response)?;
        let max = usize::try_from(max_bytes.max(1)).unwrap_or(usize::MAX);
        while response.pending.is_empty() {
            match response.body.next().await {
                Some(Ok(piece)) => response.pending.extend(piece),
                Some(Err(error)) => return Ok(Err(error)),
                None => return Ok(Ok(None)),
            }
        }
        let take = max.min(response.pending.len());
        Ok(Ok(Some(response.pending.drain(..take).collect())))
    }

    async fn drop(&mut self, response: Resource<HttpResponse>) -> wasmtime::Result<()> {
        self.table.delete(response)?;
        Ok(())
    }
}

/// Performs an allowed request. Without an HTTP client built in, it reports `unavailable`.
pub(crate) async fn outbound_http(
    _allowed: &[super::super::manifest::HostPattern],
    _request: http::Request,
) -> Result<HttpResponse, PluginError> {
    Err(PluginError::Unavailable(
        "http support is not built into this host yet".into(),
    ))
}

impl websocket::Host for PluginState {
    async fn connect(
        &mut self,
        url: String,
        _headers: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<Resource<WsConnection>, PluginError>> {
        if let Err(refused) = self.check_outbound(Capability::Websocket, &url) {
            return Ok(Err(refused));
        }
        Ok(Err(PluginError::Unavailable(
            "websocket support is not built into this host yet".into(),
        )))
    }
}

impl websocket::HostConnection for PluginState {
    async fn send(
        &mut self,
        _connection: Resource<WsConnection>,
        _message: websocket::Message,
    ) -> wasmtime::Result<Result<(), PluginError>> {
        Ok(Err(PluginError::Unavailable(
            "websocket support is not built into this host yet".into(),
        )))
    }

    async fn receive(
        &mut self,
        _connection: Resource<WsConnection>,
        _timeout_ms: Option<u32>,
    ) -> wasmtime::Result<Result<Option<websocket::Message>, PluginError>> {
        Ok(Err(PluginError::Unavailable(
            "websocket support is not built into this host yet".into(),
        )))
    }

    async fn close(
        &mut self,
        _connection: Resource<WsConnection>,
        _code: u16,
        _reason: String,
    ) -> wasmtime::Result<()> {
        Ok(())
    }

    async fn drop(&mut self, connection: Resource<WsConnection>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

impl process::Host for PluginState {
    async fn spawn(
        &mut self,
        program: String,
        _args: Vec<String>,
        _env: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<Resource<ProcessChild>, PluginError>> {
        if !self.check(Capability::Process) {
            return Ok(Err(denied(self, "process")));
        }
        if !self
            .grant
            .entry
            .allowed_executables
            .iter()
            .any(|allowed| allowed == Path::new(&program))
        {
            return Ok(Err(denied(self, &format!("process/{program}"))));
        }
        Ok(Err(PluginError::Unavailable(
            "process support is not built into this host yet".into(),
        )))
    }
}

impl process::HostChild for PluginState {
    async fn write_stdin(
        &mut self,
        _child: Resource<ProcessChild>,
        _bytes: Vec<u8>,
    ) -> wasmtime::Result<Result<(), PluginError>> {
        Ok(Err(PluginError::Unavailable(
            "process support is not built into this host yet".into(),
        )))
    }

    async fn close_stdin(&mut self, _child: Resource<ProcessChild>) -> wasmtime::Result<()> {
        Ok(())
    }

    async fn read_stdout(
        &mut self,
        _child: Resource<ProcessChild>,
        _max_bytes: u32,
        _timeout_ms: Option<u32>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, PluginError>> {
        Ok(Err(PluginError::Unavailable(
            "process support is not built into this host yet".into(),
        )))
    }

    async fn stderr(&mut self, _child: Resource<ProcessChild>) -> wasmtime::Result<String> {
        Ok(String::new())
    }

    async fn wait(
        &mut self,
        _child: Resource<ProcessChild>,
    ) -> wasmtime::Result<Result<i32, PluginError>> {
        Ok(Err(PluginError::Unavailable(
            "process support is not built into this host yet".into(),
        )))
    }

    async fn kill(&mut self, _child: Resource<ProcessChild>) -> wasmtime::Result<()> {
        Ok(())
    }

    async fn drop(&mut self, child: Resource<ProcessChild>) -> wasmtime::Result<()> {
        self.table.delete(child)?;
        Ok(())
    }
}
