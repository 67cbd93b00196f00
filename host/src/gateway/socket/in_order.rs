//! [`InOrder`]: the handler wrapper that keeps a client's events in arrival order.

use std::sync::Arc;

use socketioxide::adapter::LocalAdapter;
use socketioxide::handler::{MessageHandler, Value};

use super::client::Client;

/// A message handler that runs synchronously in the connection's receive loop, so events are
/// handled in arrival order (socketioxide's closure handlers are each spawned as a task, which
/// may reorder them). Its body must not block: it validates and queues.
pub struct InOrder<F> {
    body: Arc<F>,
}

impl<F> InOrder<F>
where
    F: Fn(&Client, &mut Value) + Send + Sync + 'static,
{
    /// Wraps a handler body.
    pub fn new(body: F) -> Self {
        Self {
            body: Arc::new(body),
        }
    }
}

/// Marker type for [`InOrder`]'s `MessageHandler` implementation.
pub struct InOrderMarker;

impl<F> MessageHandler<LocalAdapter, InOrderMarker> for InOrder<F>
where
    F: Fn(&Client, &mut Value) + Send + Sync + 'static,
{
    fn call(&self, socket: Client, mut value: Value, _ack_id: Option<i64>) {
        (self.body)(&socket, &mut value);
    }
}
