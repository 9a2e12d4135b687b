//! GenServers: named actors on a kernel, Erlang-style. A request body is
//! `{"event":<name>,"data":<user data>}` (PROTOCOL §2.1); a streamed body is
//! the JSON text of the same object, in Buffer chunks.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::net::{Body, CallError, Delivery, From, Kernel, Message, NetError, Payload};
use crate::Node;

/// A request for a GenServer: an event name, its data and who asked.
#[derive(Debug, Clone)]
pub struct Request {
    pub event: String,
    pub data: Payload,
    pub from: From,
}

/// A started GenServer: owns its name on the kernel and receives its
/// requests in order.
#[derive(Debug)]
pub struct GenServer {
    kernel: Kernel,
    name: String,
    /// The kernel's id for this registration of `name`.
    registration: u64,
    mailbox: mpsc::Receiver<Message>,
}

impl GenServer {
    /// Registers `name` on `kernel`. One name per node: a taken name is an
    /// error.
    pub fn start(kernel: &Kernel, name: &str) -> Result<GenServer, NetError> {
        let (registration, mailbox) = kernel.register_mailbox(name)?;
        Ok(GenServer {
            mailbox,
            registration,
            kernel: kernel.clone(),
            name: name.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The next request; `None` once the server is stopped. Bodies that are
    /// not `{event, data}` are dropped (logged and counted as
    /// `MALFORMED_BODY`).
    pub async fn recv(&mut self) -> Option<Request> {
        loop {
            let msg = self.mailbox.recv().await?;
            if let Some(req) = request(&self.kernel, &self.name, msg) {
                return Some(req);
            }
        }
    }

    /// Answers a request. Answering a cast (no tag) is logged and ignored:
    /// the original crashes the whole node there.
    pub fn reply(&self, from: &From, data: impl Into<Payload>) {
        if let Err(e) = self.kernel.reply(from, &data.into()) {
            tracing::warn!(server = %self.name, "reply ignored: {e}");
        }
    }

    /// Releases the name; requests still queued are dropped.
    pub fn stop(self) {
        self.kernel.unregister(&self.name);
    }

    /// Runs `handler` on every request until the server is stopped; a
    /// `Some` answer is sent back to callers (casts get none).
    ///
    /// The handler runs on the task that delivers each request (for a
    /// request from another node, the connection's reader), in order, one
    /// at a time; the returned task handles the requests that could not run
    /// at once (those from this node itself, and those arriving while the
    /// handler is busy elsewhere). A handler that panics stops the server.
    pub fn spawn<F>(self, mut handler: F) -> tokio::task::JoinHandle<()>
    where
        F: FnMut(&Request) -> Option<Payload> + Send + 'static,
    {
        let GenServer {
            kernel,
            name,
            registration,
            mailbox,
        } = self;
        let server = Server {
            kernel: kernel.clone(),
            name: name.clone(),
        };
        let handle = move |msg: Delivery| {
            let req = match msg.body {
                Body::Request { event, data } => Request {
                    event,
                    data,
                    from: msg.from,
                },
                Body::Payload(data) => {
                    let msg = Message {
                        target: msg.target,
                        data,
                        from: msg.from,
                    };
                    let Some(req) = server.request(msg) else {
                        return;
                    };
                    req
                }
            };
            if let Some(answer) = handler(&req) {
                if req.from.tag.is_some() {
                    server.reply(&req.from, answer);
                }
            }
        };
        kernel.serve_inline(&name, registration, mailbox, Box::new(handle))
    }
}

/// What a server needs besides its mailbox: to name itself and answer.
struct Server {
    kernel: Kernel,
    name: String,
}

impl Server {
    fn request(&self, msg: Message) -> Option<Request> {
        request(&self.kernel, &self.name, msg)
    }

    fn reply(&self, from: &From, data: Payload) {
        if let Err(e) = self.kernel.reply(from, &data) {
            tracing::warn!(server = %self.name, "reply ignored: {e}");
        }
    }
}

/// The request a message for server `name` carries; bodies that are not
/// `{event, data}` are dropped (logged and counted as `MALFORMED_BODY`).
fn request(kernel: &Kernel, name: &str, msg: Message) -> Option<Request> {
    match decode_body(msg.data) {
        Some((event, data)) => Some(Request {
            event,
            data,
            from: msg.from,
        }),
        None => {
            kernel.inner.skips.record(
                "MALFORMED_BODY",
                format!("a message for {name} is not {{event, data}}"),
                None,
            );
            None
        }
    }
}

/// The wire body of a GenServer request.
pub fn body(event: &str, data: Value) -> Payload {
    Payload::Json(json!({ "event": event, "data": data }))
}

/// Calls `event` on server `server` of `node` and waits for the answer.
pub async fn call(
    kernel: &Kernel,
    node: &Node,
    server: &str,
    event: &str,
    data: Value,
    timeout: Option<Duration>,
) -> Result<Payload, CallError> {
    kernel.call(node, server, &body(event, data), timeout).await
}

/// Sends `event` to server `server` of `node` without waiting.
pub fn cast(kernel: &Kernel, node: &Node, server: &str, event: &str, data: Value) {
    kernel.cast(node, server, &body(event, data));
}

/// Splits a received body into event and data. A Buffer or streamed body
/// is the JSON text of `{event, data}`.
fn decode_body(data: Payload) -> Option<(String, Payload)> {
    let value = match data {
        Payload::Json(v) => v,
        Payload::Bytes(b) => serde_json::from_slice(&b).ok()?,
    };
    let Value::Object(mut obj) = value else {
        return None;
    };
    let event = match obj.remove("event")? {
        Value::String(e) => e,
        _ => return None,
    };
    let data = obj.remove("data").unwrap_or(Value::Null);
    Some((event, Payload::from_wire(data)))
}
