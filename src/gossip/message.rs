//! The gossip message: the body of a `"ring"` event (PROTOCOL §5),
//! `{"type","actor","data","vclock","round"}` in that order.

use serde_json::{json, Value};

use crate::{CHash, Error, VectorClock};

/// Rounds beyond this are clamped: a peer cannot make us flood the cluster.
pub const MAX_ROUND: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A meet: always merged by the receiver.
    Join,
    /// A ring update, compared by vector clock.
    Update,
    /// A member leaving: the ring without it.
    Leave,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Join => "join",
            Kind::Update => "update",
            Kind::Leave => "leave",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RingMessage {
    pub kind: Kind,
    pub actor: String,
    pub ring: CHash,
    pub clock: VectorClock,
    pub round: u32,
}

impl RingMessage {
    pub fn to_value(&self) -> Value {
        json!({
            "type": self.kind.as_str(),
            "actor": self.actor,
            "data": self.ring.to_value(),
            "vclock": self.clock.to_value(),
            "round": self.round,
        })
    }

    /// Reads a received message, checking every field.
    pub fn from_value(v: &Value) -> Result<RingMessage, Error> {
        let bad = |m: &str| Error::MalformedRing(format!("gossip message: {m}"));
        let kind = match v.get("type").and_then(Value::as_str) {
            Some("join") => Kind::Join,
            Some("update") => Kind::Update,
            Some("leave") => Kind::Leave,
            _ => return Err(bad("`type` must be join, update or leave")),
        };
        let actor = v
            .get("actor")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("`actor` must be a string"))?
            .to_owned();
        let ring = CHash::from_value(v.get("data").ok_or_else(|| bad("`data` is missing"))?)?;
        let clock =
            VectorClock::from_value(v.get("vclock").ok_or_else(|| bad("`vclock` is missing"))?)?;
        let round = match v.get("round") {
            Some(r) if r.as_f64().is_some_and(|f| f <= 0.0) => 0,
            Some(r) => r
                .as_u64()
                .map(|r| r.min(MAX_ROUND as u64) as u32)
                .ok_or_else(|| bad("`round` must be a non-negative integer"))?,
            None => 0,
        };
        Ok(RingMessage {
            kind,
            actor,
            ring,
            clock,
            round,
        })
    }
}
