//! Calls awaiting replies: the tag each one waits on, the node it called,
//! and how its caller is woken (`W`, a channel's sending end for the
//! kernel, anything for tests).

use std::time::Instant;

use serde_json::Value;

use super::{Dropped, Effect};
use crate::net::error::CallError;
use crate::net::fast_hash::FastMap;
use crate::net::payload::Payload;
use crate::net::tag::TagGenerator;
use crate::wire::Sender;

/// One call awaiting its reply.
#[derive(Debug)]
pub(crate) struct Call<W> {
    /// The node called: the only one whose reply is taken.
    node: String,
    waiter: W,
}

/// The calls of one node awaiting replies, bounded by `max_pending`.
/// Closing (when the kernel stops) hands back every waiter and refuses
/// calls from then on, so a call racing the stop is either refused or
/// failed with the others: never left waiting.
#[derive(Debug)]
pub(crate) struct PendingCalls<W> {
    calls: FastMap<String, Call<W>>,
    tags: TagGenerator,
    limit: usize,
    closed: bool,
}

impl<W> PendingCalls<W> {
    pub(crate) fn new(limit: usize) -> Self {
        PendingCalls {
            calls: FastMap::default(),
            tags: TagGenerator::default(),
            limit,
            closed: false,
        }
    }

    /// Opens a call to node `node`: the tag its reply will carry.
    pub(crate) fn open(
        &mut self,
        node: &str,
        waiter: W,
        now: Instant,
    ) -> Result<String, CallError> {
        if self.closed {
            return Err(CallError::Stopped);
        }
        if self.calls.len() >= self.limit {
            return Err(CallError::TooManyPending(self.calls.len()));
        }
        let tag = self.tags.next_tag(now);
        let call = Call {
            node: node.to_owned(),
            waiter,
        };
        self.calls.insert(tag.clone(), call);
        Ok(tag)
    }

    /// Takes the call a reply tagged `tag` answers, if there is one.
    pub(crate) fn take(&mut self, tag: &str) -> Option<Call<W>> {
        self.calls.remove(tag)
    }

    /// Puts back a call taken for a message that turned out not to be its
    /// reply (one whose payload does not parse).
    pub(crate) fn restore(&mut self, tag: String, call: Call<W>) {
        if !self.closed {
            self.calls.insert(tag, call);
        }
    }

    /// Forgets call `tag` (it timed out, or its caller went away).
    pub(crate) fn cancel(&mut self, tag: &str) {
        self.calls.remove(tag);
    }

    /// Refuses calls from now on and hands back every waiter.
    pub(crate) fn close(&mut self) -> Vec<W> {
        self.closed = true;
        self.calls.drain().map(|(_, c)| c.waiter).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.calls.len()
    }
}

impl<W> Call<W> {
    /// Ends the call with a reply from `sender`: `result`, if `sender` is
    /// the node called; otherwise an [`CallError::InvalidReply`], counted.
    pub(crate) fn settle<H, R>(
        self,
        tag: &str,
        sender: &Sender,
        result: Result<Payload, Value>,
    ) -> Effect<W, H, R> {
        if sender.id != self.node {
            let dropped = Dropped::new(
                "INVALID_REPLY",
                format!(
                    "reply for {tag} came from {} instead of {}",
                    sender.id, self.node
                ),
            );
            return Effect::Reply {
                waiter: self.waiter,
                outcome: Err(CallError::InvalidReply {
                    expected: self.node,
                    actual: sender.id.clone(),
                }),
                dropped: Some(dropped),
            };
        }
        Effect::Reply {
            waiter: self.waiter,
            outcome: result.map_err(CallError::Remote),
            dropped: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    type Calls = PendingCalls<u32>;

    fn sender(id: &str) -> Sender {
        Sender {
            id: id.into(),
            host: Some("h".into()),
            port: Some(1),
        }
    }

    fn outcome(e: Effect<u32, (), ()>) -> (u32, Result<Payload, CallError>, Option<&'static str>) {
        match e {
            Effect::Reply {
                waiter,
                outcome,
                dropped,
            } => (waiter, outcome, dropped.map(|d| d.code)),
            other => panic!("not a reply: {other:?}"),
        }
    }

    #[test]
    fn a_reply_from_the_node_called_ends_its_call() {
        let now = Instant::now();
        let mut calls = Calls::new(8);
        let tag = calls.open("b", 7, now).unwrap();
        assert!(super::super::is_reply_tag(&tag));
        let call = calls.take(&tag).unwrap();
        assert_eq!(calls.len(), 0);
        let ok = outcome(call.settle(&tag, &sender("b"), Ok(Payload::Json(json!(1)))));
        assert_eq!(ok, (7, Ok(Payload::Json(json!(1))), None));
        let tag = calls.open("b", 8, now).unwrap();
        let call = calls.take(&tag).unwrap();
        let remote = outcome(call.settle(&tag, &sender("b"), Err(json!({"message": "no"}))));
        assert_eq!(remote.1, Err(CallError::Remote(json!({"message": "no"}))));
        assert!(calls.take(&tag).is_none(), "a tag answers once");
    }

    #[test]
    fn a_reply_from_another_node_fails_the_call_and_is_counted() {
        let mut calls = Calls::new(8);
        let tag = calls.open("b", 1, Instant::now()).unwrap();
        let call = calls.take(&tag).unwrap();
        let (_, result, dropped) =
            outcome(call.settle(&tag, &sender("c"), Ok(Payload::Json(json!(1)))));
        assert_eq!(
            result,
            Err(CallError::InvalidReply {
                expected: "b".into(),
                actual: "c".into()
            })
        );
        assert_eq!(dropped, Some("INVALID_REPLY"));
    }

    #[test]
    fn calls_are_bounded_and_refused_once_closed() {
        let now = Instant::now();
        let mut calls = Calls::new(2);
        let first = calls.open("b", 1, now).unwrap();
        let second = calls.open("b", 2, now).unwrap();
        assert_ne!(first, second);
        assert_eq!(calls.open("b", 3, now), Err(CallError::TooManyPending(2)));
        calls.cancel(&first);
        let third = calls.open("b", 3, now).unwrap();
        let taken = calls.take(&third).unwrap();
        calls.restore(third.clone(), taken);
        let mut woken = calls.close();
        woken.sort();
        assert_eq!(woken, vec![2, 3]);
        assert_eq!(calls.open("b", 4, now), Err(CallError::Stopped));
        calls.restore(
            third,
            Call {
                node: "b".into(),
                waiter: 3,
            },
        );
        assert_eq!(calls.len(), 0, "nothing waits on a closed table");
    }
}
