//! Frames written by threads other than the connection's writer task (see
//! the parent module's documentation): a sending thread outside the
//! engine's runtime writes to an idle connection at once, and a corked
//! thread ([`Cork`]) writes what it queued when the cork is dropped. Both
//! spare a cross-thread wake-up of the writer task per message; the
//! embedding interface (`embed`) documents them for front doors.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::{Enqueued, Queue, Sink, BURST_GAP};

/// What [`Sink::write_direct`] did.
pub(super) enum Direct {
    /// Nothing: the frame is to be queued.
    Queue,
    Written,
    /// The socket took part of the frame; the rest is queued first, for
    /// the writer task to write.
    Partly,
}

thread_local! {
    /// The connections with frames waiting for this thread's cork.
    static CORKED: RefCell<Option<Vec<Arc<Sink>>>> = const { RefCell::new(None) };
}

/// Corks this thread while alive: frames that tasks running here queue on
/// idle connections wait until it is dropped, which writes each
/// connection's frames with one call from this thread. A connection's
/// reader corks while it handles what one read brought, so that the
/// answers go out together without a wake-up of each writer task. Not
/// `Send`: it cannot be held across an `await`, where other tasks would
/// run under it.
pub struct Cork {
    _not_send: PhantomData<*const ()>,
}

impl Cork {
    pub fn new() -> Cork {
        CORKED.with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                c.get_or_insert_with(Vec::new);
            }
        });
        Cork {
            _not_send: PhantomData,
        }
    }

    /// Leaves `sink`'s frames to the cork, if this thread is corked.
    fn add(sink: &Arc<Sink>) -> bool {
        CORKED.with(|c| match c.try_borrow_mut() {
            Ok(mut c) => match c.as_mut() {
                Some(sinks) => {
                    sinks.push(sink.clone());
                    true
                }
                None => false,
            },
            Err(_) => false,
        })
    }
}

impl Default for Cork {
    fn default() -> Cork {
        Cork::new()
    }
}

impl Drop for Cork {
    fn drop(&mut self) {
        let sinks = CORKED.with(|c| c.try_borrow_mut().ok().and_then(|mut c| c.take()));
        for sink in sinks.into_iter().flatten() {
            sink.flush_now();
        }
    }
}

impl Sink {
    /// [`send_slice`](Self::send_slice) from a task that has corked this
    /// thread (see [`Cork`]): the frames wait for the end of its batch
    /// instead of waking the writer task.
    pub(crate) fn send_corked(self: &Arc<Self>, frame: &[u8]) -> bool {
        match self.enqueue(frame) {
            Enqueued::Closed => false,
            Enqueued::First => {
                if !Cork::add(self) {
                    self.wake.notify_one();
                }
                true
            }
            Enqueued::Written | Enqueued::More => true,
        }
    }

    /// Writes `frame` at once from this thread, when it is outside the
    /// engine's runtime and the connection is up and idle (and the frame is
    /// not part of a burst, which the writer task writes with far fewer
    /// calls).
    pub(super) fn write_direct(&self, q: &mut Queue, frame: &[u8]) -> Direct {
        let direct = !q.writing
            && q.partial.is_none()
            && q.lens.is_empty()
            && q.socket.is_some()
            && tokio::task::try_id().is_none()
            && {
                let now = Instant::now();
                let last = q.last_direct.replace(now);
                last.is_none_or(|t| now.duration_since(t) >= BURST_GAP)
            };
        let Some(socket) = q.socket.as_ref().filter(|_| direct) else {
            return Direct::Queue;
        };
        match socket.try_write(frame) {
            Ok(n) if n == frame.len() => Direct::Written,
            Ok(n) => {
                q.partial = Some(Bytes::copy_from_slice(&frame[n..]));
                Direct::Partly
            }
            // Not writable now (or failing, which the writer task will see
            // too): queue it.
            Err(_) => Direct::Queue,
        }
    }

    /// Writes what is queued at once from this thread (one call), if the
    /// writer task is idle; whatever the socket does not take, and anything
    /// else, is left to the writer task.
    fn flush_now(&self) {
        let mut q = self.lock();
        if q.lens.is_empty() && q.partial.is_none() {
            return;
        }
        if !q.writing && q.partial.is_none() && !q.closing {
            if let Some(socket) = q.socket.clone() {
                q.lens.clear();
                let chunk = q.buf.split().freeze();
                match socket.try_write(&chunk) {
                    Ok(n) if n == chunk.len() => return,
                    Ok(n) => q.partial = Some(chunk.slice(n..)),
                    Err(_) => q.partial = Some(chunk),
                }
            }
        }
        drop(q);
        self.wake.notify_one();
    }
}
