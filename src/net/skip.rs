use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::sync::broadcast;

/// A message this node dropped, and why (the original's `_skip` event).
#[derive(Debug, Clone)]
pub struct Skip {
    /// A stable name: `INVALID_CHECKSUM`, `MALFORMED_JSON`, `UNKNOWN_TARGET`,
    /// `FRAME_TOO_LARGE`, `INVALID_REPLY`, …
    pub code: &'static str,
    pub detail: String,
    /// The remote address of the connection it arrived on, when it did.
    pub peer: Option<SocketAddr>,
}

/// Counts drops by reason and tells subscribers about each one.
#[derive(Debug)]
pub(crate) struct SkipLog {
    counts: Mutex<BTreeMap<&'static str, u64>>,
    events: broadcast::Sender<Skip>,
}

impl Default for SkipLog {
    fn default() -> Self {
        SkipLog {
            counts: Mutex::default(),
            events: broadcast::channel(1024).0,
        }
    }
}

impl SkipLog {
    pub(crate) fn record(
        &self,
        code: &'static str,
        detail: impl Into<String>,
        peer: Option<SocketAddr>,
    ) {
        let detail = detail.into();
        tracing::warn!(code, peer = ?peer, "dropped message: {detail}");
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(code)
            .or_insert(0) += 1;
        let _ = self.events.send(Skip { code, detail, peer });
    }

    pub(crate) fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Skip> {
        self.events.subscribe()
    }
}
