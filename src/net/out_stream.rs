//! Bodies sent in chunks (PROTOCOL §1): what the original sends for a
//! readable stream. Every chunk is a frame of its own, carrying a Buffer
//! and `{"done":false,"stream":"<48 hex>"}`; the end is `{"done":true,
//! "stream":…}` with `data` null, a failure the same with an `error`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use super::error::{error_value, CallError, NetError};
use super::kernel::{wait, Kernel, PendingGuard};
use super::message::{From, Route};
use super::payload::Payload;
use super::sink::Sink;
use super::tag::random_hex;
use crate::wire::stream;
use crate::Node;

impl Kernel {
    /// Starts a streamed cast to server `target` on `node` (this node
    /// included); `None` without a connection to `node`.
    pub fn cast_stream(&self, node: &Node, target: &str) -> Option<OutStream> {
        let sink = self.peer_sink(node).ok()?;
        Some(OutStream::new(self.clone(), sink, target, None))
    }

    /// Starts a streamed call to server `target` on `node`: the body goes
    /// through the [`OutStream`], the reply (after the body's end) comes
    /// from the future, which owns what it needs.
    pub fn call_stream(
        &self,
        node: &Node,
        target: &str,
        timeout: Option<Duration>,
    ) -> Result<
        (
            OutStream,
            impl std::future::Future<Output = Result<Payload, CallError>> + Send + 'static,
        ),
        CallError,
    > {
        let sink = self
            .peer_sink(node)
            .map_err(|()| CallError::UnknownNode(node.id().to_owned()))?;
        let (tag, rx) = self.await_reply(node.id())?;
        let body = OutStream::new(self.clone(), sink, target, Some(tag.clone()));
        let kernel = self.clone();
        let reply = async move {
            let guard = PendingGuard {
                kernel: &kernel,
                tag: &tag,
            };
            let result = wait(rx, timeout).await;
            drop(guard);
            result
        };
        Ok((body, reply))
    }

    /// Starts a streamed answer to a call received from a peer or from this
    /// node (not on a CLI socket, which takes single answers).
    pub fn reply_stream(&self, from: &From) -> Result<OutStream, NetError> {
        let tag = from.tag.as_deref().ok_or(NetError::NoTag)?;
        let sink = match &from.route {
            Route::Local => None,
            Route::Peer => Some(
                self.sink_of(&from.node.id)
                    .ok_or_else(|| NetError::UnknownNode(from.node.id.clone()))?,
            ),
            Route::Socket(_) => return Err(NetError::UnknownNode(from.node.id.clone())),
        };
        Ok(OutStream::new(self.clone(), sink, tag, None))
    }

    /// The connection to `node`: `None` for this node itself.
    fn peer_sink(&self, node: &Node) -> Result<Option<Arc<Sink>>, ()> {
        if node.id() == self.id() {
            return Ok(None);
        }
        self.connection(node).map(Some).ok_or(())
    }
}

/// Where the chunks go.
enum Way {
    /// To a peer, frame by frame.
    Peer(Arc<Sink>),
    /// To this node: gathered, delivered whole at the end.
    Local(Vec<u8>),
}

/// A streamed body on its way: [`write`](Self::write) chunks, then
/// [`end`](Self::end) it (or [`fail`](Self::fail)). Dropped unfinished, it
/// fails with "Stream aborted.", so that the receiver does not wait for it
/// until its stream timeout.
pub struct OutStream {
    kernel: Kernel,
    way: Way,
    /// The server name (or, for a streamed reply, the tag it answers).
    target: String,
    /// The reply tag of a streamed call.
    tag: Option<String>,
    id: String,
    chunk_header: String,
    finished: bool,
}

impl std::fmt::Debug for OutStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutStream")
            .field("target", &self.target)
            .field("id", &self.id)
            .finish()
    }
}

impl OutStream {
    pub(crate) fn new(
        kernel: Kernel,
        sink: Option<Arc<Sink>>,
        target: &str,
        tag: Option<String>,
    ) -> OutStream {
        let id = random_hex(24);
        OutStream {
            kernel,
            way: sink.map_or(Way::Local(Vec::new()), Way::Peer),
            target: target.to_owned(),
            tag,
            chunk_header: stream::chunk(&id),
            id,
            finished: false,
        }
    }

    /// The stream's id (48 hex characters).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends one chunk (an empty one sends nothing).
    pub fn write(&mut self, chunk: &[u8]) {
        if self.finished || chunk.is_empty() {
            return;
        }
        match &mut self.way {
            Way::Peer(sink) => {
                let data = Payload::Bytes(Bytes::copy_from_slice(chunk));
                let (target, tag) = (&self.target, self.tag.as_deref());
                let marker = &self.chunk_header;
                self.kernel.send(sink, |w, out| {
                    w.stream_part(target, tag, marker, Some(&data), out)
                });
            }
            Way::Local(body) => body.extend_from_slice(chunk),
        }
    }

    /// Bytes of this connection waiting to be written: a producer should
    /// wait while this is high (a connection that falls too far behind
    /// drops its oldest frames, which would fail the stream).
    pub fn queued_bytes(&self) -> usize {
        match &self.way {
            Way::Peer(sink) => sink.queued_bytes(),
            Way::Local(_) => 0,
        }
    }

    /// Ends the body: the receiver now has all of it.
    pub fn end(mut self) {
        self.finish(None);
    }

    /// Ends the body with an error (`{"message":…,"_error":true}`); the
    /// receiver drops what it got and, for a call, answers with an error.
    pub fn fail(mut self, message: &str) {
        self.finish(Some(error_value(message, &[])));
    }

    fn finish(&mut self, error: Option<Value>) {
        if self.finished {
            return;
        }
        self.finished = true;
        match &mut self.way {
            Way::Peer(sink) => {
                let header = match &error {
                    None => stream::end(&self.id),
                    Some(e) => stream::error(Some(&self.id), e),
                };
                let (target, tag) = (&self.target, self.tag.as_deref());
                self.kernel.send(sink, |w, out| {
                    w.stream_part(target, tag, &header, None, out)
                });
            }
            Way::Local(body) => {
                let result = match error {
                    None => Ok(Payload::Bytes(std::mem::take(body).into())),
                    Some(e) => Err(e),
                };
                self.kernel
                    .deliver_local(&self.target, self.tag.as_deref(), result);
            }
        }
    }
}

impl Drop for OutStream {
    fn drop(&mut self) {
        self.finish(Some(error_value("Stream aborted.", &[])));
    }
}
