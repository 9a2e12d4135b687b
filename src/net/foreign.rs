//! Accepted connections read by a thread of the embedder's own (see
//! [`embed`](super::embed)): the handle such a thread gets, and what one
//! pump of it left. The reading itself is the connection reader's
//! (`super::reader`); this module only names it, so that the kernel can
//! keep the hook without depending on the reader.

use std::net::SocketAddr;
use std::sync::Arc;

/// What one pump of a connection left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pumped {
    /// Everything the socket held was read and handled.
    Idle,
    /// The budget ran out with more to read: pump again.
    More,
    /// The kernel's task is reading this connection right now; pump
    /// again when more arrives.
    Busy,
    /// A message waits for room in its server's mailbox: nothing is read
    /// until the kernel's task has delivered it (see [`InboundReader::pump`]).
    Blocked,
    /// The connection ended (or the kernel stopped).
    Closed,
}

/// A callback run once, on the kernel's thread.
pub(crate) type Callback = Box<dyn FnOnce() + Send>;

/// An accepted connection as another thread sees it.
pub(crate) trait ForeignRead: Send + Sync {
    fn peer(&self) -> SocketAddr;
    #[cfg(unix)]
    fn raw_fd(&self) -> std::os::fd::RawFd;
    /// One pump; `when_free` makes the callback to keep when the answer is
    /// [`Pumped::Blocked`] (and is not called otherwise).
    fn pump(&self, when_free: &mut dyn FnMut() -> Option<Callback>) -> Pumped;
    fn detach(&self);
    fn is_closed(&self) -> bool;
    fn on_close(&self, f: Callback);
}

/// An accepted connection that a thread other than the kernel's may read
/// and handle, for instance an event loop that polls [`raw_fd`](Self::raw_fd)
/// for readability and then calls [`pump`](Self::pump): messages for
/// servers that run on that thread are then handled without a hand-over
/// between threads. The kernel's own task keeps reading too; whoever comes
/// first handles what arrived, in order. See
/// [`Embedded::on_inbound`](super::embed::Embedded::on_inbound).
#[derive(Clone)]
pub struct InboundReader {
    conn: Arc<dyn ForeignRead>,
}

impl std::fmt::Debug for InboundReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundReader")
            .field("peer", &self.peer())
            .finish()
    }
}

impl InboundReader {
    pub(crate) fn new(conn: Arc<dyn ForeignRead>) -> InboundReader {
        InboundReader { conn }
    }

    /// The connection's remote address.
    pub fn peer(&self) -> SocketAddr {
        self.conn.peer()
    }

    /// The socket, to poll for readability. It stays open while this
    /// reader (or a clone) exists, even after the connection ended.
    #[cfg(unix)]
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.conn.raw_fd()
    }

    /// Reads what the socket holds (up to 256 KiB) and handles it on this
    /// thread; never blocks on the network. Call it within the kernel's
    /// runtime context. When the answer is [`Pumped::Blocked`],
    /// `when_free` runs (on the kernel's thread) once the waiting message
    /// is delivered: the moment to pump again. It may also run after
    /// another answer; calls are harmless.
    ///
    /// While a thread pumps a connection, the kernel's task leaves what
    /// arrives to it for a moment before reading it itself;
    /// [`detach`](Self::detach) ends that.
    pub fn pump(&self, when_free: impl FnOnce() + Send + 'static) -> Pumped {
        let mut when_free = Some(when_free);
        self.conn
            .pump(&mut || when_free.take().map(|f| Box::new(f) as Callback))
    }

    /// This thread pumps the connection no more: the kernel's task reads
    /// everything again without waiting for it.
    pub fn detach(&self) {
        self.conn.detach();
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// Runs `f` once the connection's task has ended (at once if it has).
    pub fn on_close(&self, f: impl FnOnce() + Send + 'static) {
        self.conn.on_close(Box::new(f));
    }
}

/// Told of every accepted connection (see
/// [`Embedded::on_inbound`](super::embed::Embedded::on_inbound)).
pub type InboundHook = Arc<dyn Fn(InboundReader) + Send + Sync>;
