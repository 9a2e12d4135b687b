//! Frames on their way out: built by the node's [`Writer`] in a scratch
//! buffer of the sending thread (no allocation per frame) and copied into
//! the connection's queue.

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;

use super::Kernel;
use crate::net::core::Writer;
use crate::net::sink::Sink;

/// A frame scratch buffer grown past this is not kept.
const SCRATCH_KEEP: usize = 1024 * 1024;

impl Kernel {
    /// Queues the frame `build` writes on `sink`; false when the
    /// connection is closed. A reader that corked its thread (see `Cork`)
    /// leaves the writing to the end of its batch.
    pub(crate) fn send(&self, sink: &Arc<Sink>, build: impl FnOnce(&Writer, &mut Vec<u8>)) -> bool {
        thread_local! {
            static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                build(&self.inner.writer, &mut buf);
                let sent = sink.send_corked(&buf);
                if buf.capacity() > SCRATCH_KEEP {
                    *buf = Vec::new();
                }
                sent
            }
            // Not re-entered in practice; a fresh buffer if it ever is.
            Err(_) => sink.send(self.frame(build)),
        })
    }

    /// The frame `build` writes, in a buffer of its own.
    pub(crate) fn frame(&self, build: impl FnOnce(&Writer, &mut Vec<u8>)) -> Bytes {
        let mut out = Vec::new();
        build(&self.inner.writer, &mut out);
        out.into()
    }
}
