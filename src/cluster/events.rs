//! What a gossip ring tells its subscribers, and what happens when one of
//! them cannot keep up.
//!
//! Every subscriber has a backlog of its own, filled by the ring (under the
//! ring's lock, so events keep the order of the changes) and emptied by the
//! subscriber. Gossip never waits for a subscriber, and a backlog never
//! grows past `GossipOptions::event_backlog` events, so a slow consumer
//! costs a bounded amount of memory. The policy (one for every door):
//!
//! * **Membership changes are never lost, only collapsed.** A change queued
//!   right after another one that the subscriber has not taken yet merges
//!   with it: `process(a, b)` then `process(b, c)` become `process(a, c)`.
//!   A consumer that falls behind therefore sees, at its next read, one
//!   change from the ring it last saw to the current ring, and the last
//!   change it receives always ends at the ring as it is now.
//! * **Other events go when the backlog is full**, oldest first, in this
//!   order of preference: `send` (every gossip message sent; the next poll
//!   sends again), then `conflict`, then `leave` and `close`. Changes that
//!   become neighbours when an event between them goes merge as above. The
//!   newest event is never the one dropped unless it is the only one of its
//!   kind, and every drop is counted ([`EventCounts`]).
//! * A subscriber may decline `send` events ([`GossipEvents::want_sends`]):
//!   they are then not queued at all (and not counted as dropped).
//! * When the ring stops, each backlog ends: the events queued before are
//!   still delivered, then [`GossipEvents::recv`] answers `None`.
//!
//! The backlog itself ([`Backlog`]) is plain data, tested without a runtime.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::Notify;

use crate::{CHash, VectorClock};

/// What a gossip ring reports (the original's events).
#[derive(Debug, Clone, PartialEq)]
pub enum GossipEvent {
    /// Membership changed: `process(oldRing, newRing)`.
    Process { old: CHash, new: CHash },
    /// A received ring conflicted with ours: `conflict(ring, clock)`.
    Conflict { ring: CHash, clock: VectorClock },
    /// This node left its ring: `leave(ring)`.
    Leave { ring: CHash },
    /// A ring message went out: `send(clock, "ring", ring)`.
    Send { clock: VectorClock, ring: CHash },
    /// Out of any ring: `close`.
    Close,
}

/// How many events a subscriber's backlog collapsed or dropped so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// Membership changes merged into the one queued before them.
    pub coalesced: u64,
    /// `send` events dropped from a full backlog.
    pub dropped_sends: u64,
    /// `conflict` events dropped from a full backlog.
    pub dropped_conflicts: u64,
    /// `leave` events dropped from a full backlog.
    pub dropped_leaves: u64,
    /// `close` events dropped from a full backlog.
    pub dropped_closes: u64,
}

impl EventCounts {
    /// Every event dropped, of any kind.
    pub fn dropped(&self) -> u64 {
        self.dropped_sends + self.dropped_conflicts + self.dropped_leaves + self.dropped_closes
    }
}

/// The kinds that may be dropped, most expendable first.
const DROP_ORDER: [fn(&GossipEvent) -> bool; 4] = [
    |e| matches!(e, GossipEvent::Send { .. }),
    |e| matches!(e, GossipEvent::Conflict { .. }),
    |e| matches!(e, GossipEvent::Leave { .. }),
    |e| matches!(e, GossipEvent::Close),
];

/// One subscriber's queue of events, with the policy of the module docs.
#[derive(Debug)]
pub struct Backlog {
    events: VecDeque<GossipEvent>,
    capacity: usize,
    wants_sends: bool,
    ended: bool,
    counts: EventCounts,
}

impl Backlog {
    /// An empty backlog holding at most `capacity` events (at least 1).
    pub fn new(capacity: usize) -> Backlog {
        Backlog {
            events: VecDeque::new(),
            capacity: capacity.max(1),
            wants_sends: true,
            ended: false,
            counts: EventCounts::default(),
        }
    }

    /// Queues `event`, collapsing or dropping as the policy says. Nothing
    /// is queued once the backlog has ended.
    pub fn push(&mut self, event: GossipEvent) {
        if self.ended || (!self.wants_sends && matches!(event, GossipEvent::Send { .. })) {
            return;
        }
        if let GossipEvent::Process { new, .. } = &event {
            if let Some(GossipEvent::Process { new: last, .. }) = self.events.back_mut() {
                *last = new.clone();
                self.counts.coalesced += 1;
                return;
            }
        }
        self.events.push_back(event);
        while self.events.len() > self.capacity && self.drop_one() {}
    }

    /// The oldest event, if any.
    pub fn pop(&mut self) -> Option<GossipEvent> {
        self.events.pop_front()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// No event will be queued any more (the ring stopped).
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Ended, and every event taken.
    pub fn is_over(&self) -> bool {
        self.ended && self.events.is_empty()
    }

    pub fn set_wants_sends(&mut self, on: bool) {
        self.wants_sends = on;
        if !on {
            self.events
                .retain(|e| !matches!(e, GossipEvent::Send { .. }));
            self.merge_neighbours();
        }
    }

    pub fn counts(&self) -> EventCounts {
        self.counts
    }

    /// Drops the oldest event of the most expendable kind present; false
    /// when only membership changes are left (then there is one: they
    /// merge as soon as they are neighbours).
    fn drop_one(&mut self) -> bool {
        for (rank, is_kind) in DROP_ORDER.iter().enumerate() {
            let Some(at) = self.events.iter().position(is_kind) else {
                continue;
            };
            self.events.remove(at);
            let counter = match rank {
                0 => &mut self.counts.dropped_sends,
                1 => &mut self.counts.dropped_conflicts,
                2 => &mut self.counts.dropped_leaves,
                _ => &mut self.counts.dropped_closes,
            };
            *counter += 1;
            let dropped = self.counts.dropped();
            if dropped.is_power_of_two() {
                tracing::warn!(
                    "a gossip event consumer fell behind: {dropped} events dropped so far"
                );
            }
            if at > 0 {
                self.merge_at(at - 1);
            }
            return true;
        }
        false
    }

    /// Merges the change at `at` with a change right after it.
    fn merge_at(&mut self, at: usize) {
        let next_new = match (self.events.get(at), self.events.get(at + 1)) {
            (Some(GossipEvent::Process { .. }), Some(GossipEvent::Process { new, .. })) => {
                new.clone()
            }
            _ => return,
        };
        if let Some(GossipEvent::Process { new, .. }) = self.events.get_mut(at) {
            *new = next_new;
        }
        self.events.remove(at + 1);
        self.counts.coalesced += 1;
    }

    fn merge_neighbours(&mut self) {
        let mut at = 0;
        while at + 1 < self.events.len() {
            let before = self.events.len();
            self.merge_at(at);
            if self.events.len() == before {
                at += 1;
            }
        }
    }
}

/// What a subscription shares with the ring that fills it.
#[derive(Debug)]
pub(crate) struct Subscriber {
    backlog: Mutex<Backlog>,
    notify: Notify,
}

impl Subscriber {
    fn lock(&self) -> MutexGuard<'_, Backlog> {
        // The backlog's methods leave it whole when they return early.
        self.backlog.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, event: GossipEvent) {
        self.lock().push(event);
        self.notify.notify_one();
    }

    pub(crate) fn end(&self) {
        self.lock().end();
        self.notify.notify_one();
    }
}

/// The subscribers of one ring, held weakly: a dropped subscription is
/// forgotten at the next event.
#[derive(Debug, Default)]
pub(crate) struct Subscribers {
    inner: Mutex<SubscriberList>,
}

#[derive(Debug, Default)]
struct SubscriberList {
    live: Vec<Weak<Subscriber>>,
    /// The ring stopped: later subscriptions start over.
    ended: bool,
}

impl Subscribers {
    fn lock(&self) -> MutexGuard<'_, SubscriberList> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new subscription, with room for `capacity` events.
    pub(crate) fn add(&self, capacity: usize) -> GossipEvents {
        let mut list = self.lock();
        let mut backlog = Backlog::new(capacity);
        if list.ended {
            backlog.end();
        }
        let subscriber = Arc::new(Subscriber {
            backlog: Mutex::new(backlog),
            notify: Notify::new(),
        });
        list.live.push(Arc::downgrade(&subscriber));
        GossipEvents { subscriber }
    }

    /// Queues `event` for every live subscriber.
    pub(crate) fn emit(&self, event: &GossipEvent) {
        self.lock().live.retain(|weak| match weak.upgrade() {
            Some(subscriber) => {
                subscriber.push(event.clone());
                true
            }
            None => false,
        });
    }

    /// Ends every backlog, now and for later subscriptions (the ring
    /// stopped).
    pub(crate) fn end(&self) {
        let mut list = self.lock();
        list.ended = true;
        for subscriber in list.live.drain(..).filter_map(|w| w.upgrade()) {
            subscriber.end();
        }
    }
}

/// A subscription to a gossip ring's events ([`GossipRing::subscribe`]),
/// delivered in order with the policy of the module docs. Usable from any
/// thread; meant for one consumer.
///
/// [`GossipRing::subscribe`]: super::GossipRing::subscribe
#[derive(Debug)]
pub struct GossipEvents {
    subscriber: Arc<Subscriber>,
}

impl GossipEvents {
    /// The next event; `None` once the ring has stopped and every event
    /// queued before was taken.
    pub async fn recv(&self) -> Option<GossipEvent> {
        loop {
            let notified = self.subscriber.notify.notified();
            {
                let mut backlog = self.subscriber.lock();
                if let Some(event) = backlog.pop() {
                    return Some(event);
                }
                if backlog.is_over() {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<GossipEvent> {
        self.subscriber.lock().pop()
    }

    /// Waits until an event is waiting or the subscription is over.
    pub async fn ready(&self) {
        loop {
            let notified = self.subscriber.notify.notified();
            {
                let backlog = self.subscriber.lock();
                if !backlog.is_empty() || backlog.is_over() {
                    return;
                }
            }
            notified.await;
        }
    }

    /// The ring has stopped and every event was taken.
    pub fn is_over(&self) -> bool {
        self.subscriber.lock().is_over()
    }

    /// Whether `send` events (one per gossip message) are queued; on by
    /// default. Turning them off also drops those waiting.
    pub fn want_sends(&self, on: bool) {
        self.subscriber.lock().set_wants_sends(on);
    }

    /// What this subscription collapsed or dropped so far.
    pub fn counts(&self) -> EventCounts {
        self.subscriber.lock().counts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Node;

    fn ring(ids: &[&str]) -> CHash {
        let mut r = CHash::new(3, 2);
        for (i, id) in ids.iter().enumerate() {
            r.insert(Node::new(*id, "h", i as u16 + 1), None).unwrap();
        }
        r
    }

    fn process(old: &[&str], new: &[&str]) -> GossipEvent {
        GossipEvent::Process {
            old: ring(old),
            new: ring(new),
        }
    }

    fn send() -> GossipEvent {
        GossipEvent::Send {
            clock: VectorClock::new(),
            ring: ring(&["a"]),
        }
    }

    fn leave() -> GossipEvent {
        GossipEvent::Leave { ring: ring(&["b"]) }
    }

    fn drain(b: &mut Backlog) -> Vec<GossipEvent> {
        std::iter::from_fn(|| b.pop()).collect()
    }

    #[test]
    fn a_consumer_that_keeps_up_sees_every_event() {
        let mut b = Backlog::new(4);
        b.push(process(&["a"], &["a", "b"]));
        assert_eq!(drain(&mut b), [process(&["a"], &["a", "b"])]);
        b.push(send());
        b.push(process(&["a", "b"], &["a", "b", "c"]));
        b.push(leave());
        b.push(GossipEvent::Close);
        assert_eq!(
            drain(&mut b),
            [
                send(),
                process(&["a", "b"], &["a", "b", "c"]),
                leave(),
                GossipEvent::Close
            ]
        );
        assert_eq!(b.counts(), EventCounts::default());
    }

    #[test]
    fn changes_not_yet_taken_collapse_from_the_ring_last_seen_to_the_current_one() {
        let mut b = Backlog::new(1024);
        b.push(process(&["a"], &["a", "b"]));
        b.push(process(&["a", "b"], &["a", "b", "c"]));
        b.push(process(&["a", "b", "c"], &["a", "c"]));
        assert_eq!(drain(&mut b), [process(&["a"], &["a", "c"])]);
        assert_eq!(b.counts().coalesced, 2);
    }

    #[test]
    fn a_flood_never_loses_the_final_membership_and_stays_bounded() {
        let mut b = Backlog::new(8);
        let first = ring(&["a"]);
        let mut current = first.clone();
        for i in 0..300u16 {
            let mut next = current.clone();
            next.insert(Node::new(format!("n{i}"), "h", i + 10), None)
                .unwrap();
            b.push(send());
            b.push(GossipEvent::Process {
                old: current.clone(),
                new: next.clone(),
            });
            if i % 10 == 0 {
                b.push(leave());
                b.push(GossipEvent::Close);
            }
            current = next;
            assert!(b.len() <= 8, "{} events held", b.len());
        }
        let changes: Vec<(CHash, CHash)> = drain(&mut b)
            .into_iter()
            .filter_map(|e| match e {
                GossipEvent::Process { old, new } => Some((old, new)),
                _ => None,
            })
            .collect();
        assert_eq!(changes.first().unwrap().0, first, "from the ring last seen");
        assert_eq!(changes.last().unwrap().1, current, "to the final ring");
        let c = b.counts();
        assert!(c.dropped_sends > 0 && c.coalesced > 0, "{c:?}");
    }

    #[test]
    fn sends_go_first_then_conflicts_then_leaves_and_closes() {
        let mut b = Backlog::new(3);
        let conflict = |id| GossipEvent::Conflict {
            ring: ring(&[id]),
            clock: VectorClock::new(),
        };
        b.push(conflict("x"));
        b.push(send());
        b.push(leave());
        b.push(GossipEvent::Close);
        assert_eq!(b.counts().dropped_sends, 1);
        // A send is dropped before anything else, even the newest one.
        b.push(send());
        assert_eq!(b.counts().dropped_sends, 2);
        b.push(conflict("y"));
        b.push(process(&["a"], &["a", "b"]));
        assert_eq!(b.counts().dropped_conflicts, 2);
        b.push(GossipEvent::Leave { ring: ring(&["c"]) });
        let c = b.counts();
        assert_eq!((c.dropped_leaves, c.dropped_closes), (1, 0));
        assert_eq!(
            drain(&mut b),
            [
                GossipEvent::Close,
                process(&["a"], &["a", "b"]),
                GossipEvent::Leave { ring: ring(&["c"]) }
            ]
        );
    }

    #[test]
    fn changes_merge_when_what_stood_between_them_is_dropped() {
        let mut b = Backlog::new(2);
        b.push(process(&["a"], &["a", "b"]));
        b.push(leave());
        b.push(process(&["a"], &["a", "c"]));
        // Over capacity: the leave goes and the two changes merge.
        assert_eq!(drain(&mut b), [process(&["a"], &["a", "c"])]);
        let c = b.counts();
        assert_eq!((c.dropped_leaves, c.coalesced), (1, 1));
    }

    #[test]
    fn declined_sends_are_neither_queued_nor_counted() {
        let mut b = Backlog::new(4);
        b.push(process(&["a"], &["a", "b"]));
        b.push(send());
        b.push(process(&["a", "b"], &["a", "b", "c"]));
        b.set_wants_sends(false);
        // The waiting send went, and the changes around it merged.
        assert_eq!(b.len(), 1);
        b.push(send());
        assert_eq!(drain(&mut b), [process(&["a"], &["a", "b", "c"])]);
        assert_eq!(b.counts().dropped(), 0);
    }

    #[test]
    fn an_ended_backlog_delivers_what_it_holds_then_is_over() {
        let mut b = Backlog::new(4);
        b.push(leave());
        b.push(GossipEvent::Close);
        b.end();
        b.push(send());
        assert!(!b.is_over());
        assert_eq!(drain(&mut b), [leave(), GossipEvent::Close]);
        assert!(b.is_over());
    }

    #[tokio::test]
    async fn a_subscription_ends_after_its_last_event() {
        let subscribers = Subscribers::default();
        let events = subscribers.add(16);
        subscribers.emit(&leave());
        subscribers.end();
        subscribers.emit(&GossipEvent::Close);
        events.ready().await;
        assert_eq!(events.recv().await, Some(leave()));
        assert_eq!(events.recv().await, None);
        assert!(events.is_over());
        // A subscription made after the end is over at once.
        assert!(subscribers.add(16).is_over());
    }

    #[tokio::test]
    async fn a_waiting_consumer_wakes_on_an_event_from_another_task() {
        let subscribers = Arc::new(Subscribers::default());
        let events = subscribers.add(16);
        let producer = subscribers.clone();
        tokio::spawn(async move { producer.emit(&GossipEvent::Close) });
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv()).await;
        assert_eq!(got.unwrap(), Some(GossipEvent::Close));
        drop(events);
        subscribers.emit(&GossipEvent::Close);
        assert!(
            subscribers.lock().live.is_empty(),
            "a dropped subscription is forgotten"
        );
    }
}
