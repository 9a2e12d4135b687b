//! Calls in flight, polled on the JavaScript thread.
//!
//! A call's first poll writes its frame from the calling thread (no
//! hand-over to an engine thread, no task per call). Its waker, run by the
//! engine when the reply or the timeout comes, asks the call's owner to
//! poll it again ([`PollRequests`]); the session turns that into an event,
//! and the batch that carries it to JavaScript polls the call to completion.
//!
//! The owner is reached through a trait so that this table knows nothing of
//! sessions: a session owns its calls, and a call's waker holds only a weak
//! reference back, so neither keeps the other alive.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};

use notp::net::{CallError, Payload};

/// The outcome of a call.
pub(crate) type CallResult = Result<Payload, CallError>;

/// A call, as the engine's future.
pub(crate) type CallFuture = Pin<Box<dyn Future<Output = CallResult> + Send>>;

/// Whoever owns a table of calls: told when one can make progress.
pub(crate) trait PollRequests: Send + Sync {
    /// Arrange for the call in `slot` to be polled on the JavaScript thread.
    fn request_poll(&self, slot: usize);
}

/// The calls of one session, by slot; a slot is reused once its call ends.
#[derive(Default)]
pub(crate) struct CallSlots {
    slots: Vec<Option<(u32, CallFuture, Waker)>>,
    free: Vec<usize>,
}

/// Wakes a call by asking its owner to poll it.
struct CallWaker {
    owner: Weak<dyn PollRequests>,
    slot: usize,
}

impl Wake for CallWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(owner) = self.owner.upgrade() {
            owner.request_poll(self.slot);
        }
    }
}

impl CallSlots {
    /// Polls call `id` once (which sends it) and keeps it until it
    /// completes; its outcome if it completed at once. A waker firing
    /// during this poll only makes `owner` queue a request, handled after.
    pub(crate) fn start(
        &mut self,
        id: u32,
        mut call: CallFuture,
        owner: Weak<dyn PollRequests>,
    ) -> Option<CallResult> {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let waker = Waker::from(Arc::new(CallWaker { owner, slot }));
        match call.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(result) => {
                self.free.push(slot);
                Some(result)
            }
            Poll::Pending => {
                self.slots[slot] = Some((id, call, waker));
                None
            }
        }
    }

    /// Polls the call in `slot`; its id and outcome once it completed.
    pub(crate) fn poll(&mut self, slot: usize) -> Option<(u32, CallResult)> {
        let (id, call, waker) = self.slots.get_mut(slot)?.as_mut()?;
        let id = *id;
        match call.as_mut().poll(&mut Context::from_waker(waker)) {
            Poll::Pending => None,
            Poll::Ready(result) => {
                self.slots[slot] = None;
                self.free.push(slot);
                Some((id, result))
            }
        }
    }
}
