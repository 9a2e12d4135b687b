use std::time::Duration;

/// How a kernel connects, signs and bounds itself. Defaults are the
/// reference's where it has one (`retry` 5 s, unlimited retries, 1024
/// queued frames per peer) and conservative limits where it has none.
#[derive(Debug, Clone)]
pub struct KernelOptions {
    /// Shared secret signing every message; `None` (or empty) accepts all.
    pub cookie: Option<String>,
    /// Wait between reconnection attempts (reference `retry`, 5000 ms).
    pub retry: Duration,
    /// Give up a peer after this many failed attempts in a row (reference
    /// `maxRetries`, unlimited).
    pub max_retries: Option<u32>,
    /// Frames queued per peer while its connection is down (reference
    /// `maxLen`, 1024); when full, the oldest is dropped.
    pub max_queue: usize,
    /// Bytes a connected peer's writer may fall behind by (64 MiB); past
    /// that the oldest frames are dropped.
    pub max_queue_bytes: usize,
    /// Largest frame accepted (16 MiB); a larger one closes the connection.
    pub max_frame: usize,
    /// Bytes of partially received streamed bodies held per connection
    /// (64 MiB); a stream that would exceed it is dropped.
    pub max_stream_bytes: usize,
    /// Accepted connections open at once (1024); more are closed at once.
    pub max_inbound: usize,
    /// Calls awaiting replies at once (65 536); more fail immediately.
    pub max_pending: usize,
    /// Messages waiting in one server's mailbox (65 536); more are dropped
    /// (calls among them answered with an error).
    pub mailbox: usize,
    /// A streamed body not finished within this is dropped (30 s).
    pub stream_timeout: Duration,
}

impl Default for KernelOptions {
    fn default() -> Self {
        KernelOptions {
            cookie: None,
            retry: Duration::from_millis(5000),
            max_retries: None,
            max_queue: 1024,
            max_queue_bytes: 64 * 1024 * 1024,
            max_frame: crate::wire::DEFAULT_MAX_FRAME,
            max_stream_bytes: 64 * 1024 * 1024,
            max_inbound: 1024,
            max_pending: 65_536,
            mailbox: 65_536,
            stream_timeout: Duration::from_secs(30),
        }
    }
}

impl KernelOptions {
    /// The same options with `cookie` set.
    pub fn with_cookie(mut self, cookie: impl Into<String>) -> Self {
        let cookie = cookie.into();
        self.cookie = (!cookie.is_empty()).then_some(cookie);
        self
    }
}
