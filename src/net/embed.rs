//! For front doors that run their own event loop (the Node.js door): the
//! engine's ways of working on the embedder's thread instead of handing
//! every message over between threads. A Rust program on tokio needs none
//! of this.
//!
//! * [`Embedded::on_inbound`]: every accepted connection is also offered as
//!   an [`InboundReader`], which the embedder's loop polls for readability
//!   and [`pump`](InboundReader::pump)s, so that messages are read and
//!   handled on its thread.
//! * [`Embedded::serve_sync`]: a server whose synchronous handler runs on
//!   whichever thread delivers (a connection's reader, or a pumping
//!   thread), with no mailbox in between.
//! * [`Cork`]: while one is alive, the frames the thread's handlers queue
//!   on idle connections are held back and written together when it is
//!   dropped, one write per connection.
//!
//! One more path needs no call: a frame sent from a thread outside the
//! engine's runtime (the embedder's loop, a C caller, a `block_on` main
//! thread) to an idle connection is written at once by that thread rather
//! than by the connection's writer task (see `Sink`).

pub use super::foreign::{InboundHook, InboundReader, Pumped};
pub use super::sink::Cork;

use super::core::Body;
use super::error::NetError;
use super::inline::Handler;
use super::kernel::{lock, Kernel};
use super::message::{Delivery, Message};

/// The embedding interface of a [`Kernel`].
pub trait Embedded {
    /// Tells `hook` of every connection accepted from now on, with a reader
    /// that another thread may pump ([`InboundReader`]); `None` stops.
    fn on_inbound(&self, hook: Option<InboundHook>);

    /// Registers a server whose `handler` runs on whichever thread
    /// delivers each message (a connection's reader, or a thread pumping
    /// it through an [`InboundReader`]), without a mailbox in between. The
    /// handler must be quick and must not block: it holds up that
    /// connection. Messages from this node itself, and those arriving while
    /// the handler is busy elsewhere, wait in a bounded queue handled in
    /// order by a task of the kernel. Ends when unregistered.
    fn serve_sync(
        &self,
        name: &str,
        handler: impl FnMut(Message) + Send + 'static,
    ) -> Result<(), NetError>;
}

impl Embedded for Kernel {
    fn on_inbound(&self, hook: Option<InboundHook>) {
        *lock(&self.inner.inbound_hook) = hook;
    }

    fn serve_sync(
        &self,
        name: &str,
        mut handler: impl FnMut(Message) + Send + 'static,
    ) -> Result<(), NetError> {
        let (id, mailbox) = self.register_mailbox(name)?;
        // Such servers take whole payloads, never split requests.
        let handler: Handler = Box::new(move |d: Delivery| {
            handler(Message {
                target: d.target,
                data: Body::into_payload(d.body),
                from: d.from,
            });
        });
        self.install_inline(name, id, mailbox, handler, false);
        Ok(())
    }
}
