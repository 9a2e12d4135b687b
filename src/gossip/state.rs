//! A node's state as a whole: saved to the flush file and read back, or
//! replaced part by part (the original's setters `ring(chash)`,
//! `vclock(clock)`, `actor(id)`, `ringID(id)`).

use serde_json::{json, Value};

use super::rules::missing_from;
use super::{Action, Gossip};
use crate::{CHash, Error, VectorClock};

/// Parts of a node's state to replace at once ([`Gossip::replace`]); the
/// parts left `None` stay as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replacement {
    pub ring: Option<CHash>,
    pub clock: Option<VectorClock>,
    pub actor: Option<String>,
    /// `Some(None)` leaves the ring id unset: the node stops gossiping,
    /// without telling anyone, and may join a ring again.
    pub ring_id: Option<Option<String>>,
}

impl Gossip {
    /// The state the original persists: `{ring, actor, chash, vclock}`.
    pub fn to_persisted(&self) -> Value {
        json!({
            "ring": self.ring_id,
            "actor": self.actor,
            "chash": self.ring.to_value(),
            "vclock": self.clock.to_value(),
        })
    }

    /// Restores persisted state, checking every field.
    pub fn load_persisted(&mut self, v: &Value) -> Result<(), Error> {
        let bad = |m: &str| Error::MalformedRing(format!("persisted state: {m}"));
        let obj = v.as_object().ok_or_else(|| bad("expected an object"))?;
        let text = |k: &str| -> Result<Option<String>, Error> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(&format!("`{k}` must be a string or null"))),
            }
        };
        let ring_id = text("ring")?;
        let actor = text("actor")?;
        let ring = CHash::from_value(obj.get("chash").ok_or_else(|| bad("`chash` is missing"))?)?;
        let clock = VectorClock::from_value(
            obj.get("vclock")
                .ok_or_else(|| bad("`vclock` is missing"))?,
        )?;
        self.ring_id = ring_id;
        self.actor = actor;
        self.ring = ring;
        self.clock = clock;
        Ok(())
    }

    /// Replaces the parts of the state `with` holds, as the original's
    /// setters do: no new version (the clock is not incremented), nothing
    /// sent and no membership event; the next poll sends the ring as it
    /// now is. The connections follow the ring: connect to the members a
    /// new ring adds, disconnect from those it drops. A node a new ring
    /// holds is no longer remembered as removed.
    pub fn replace(&mut self, with: Replacement) -> Vec<Action> {
        let Replacement {
            ring,
            clock,
            actor,
            ring_id,
        } = with;
        let mut actions = vec![];
        let renamed = actor.is_some() || ring.is_some();
        if let Some(ring) = ring {
            let me = self.me.id().to_owned();
            let old = std::mem::replace(&mut self.ring, ring);
            for n in missing_from(&old, &self.ring) {
                if n.id() != me {
                    actions.push(Action::Disconnect {
                        node: n,
                        force: false,
                    });
                }
            }
            for n in missing_from(&self.ring, &old) {
                if n.id() != me {
                    self.readd(n.id());
                    actions.push(Action::Connect(n));
                }
            }
        }
        if let Some(clock) = clock {
            self.clock = clock;
        }
        if let Some(actor) = actor {
            self.actor = Some(actor);
        }
        if let Some(ring_id) = ring_id {
            if ring_id.is_none() {
                self.meetings.clear();
            }
            self.ring_id = ring_id;
        }
        if renamed {
            // The actor now names this ring version.
            if let Some(actor) = &self.actor {
                self.seen.note(actor, &self.ring);
            }
        }
        actions
    }
}
