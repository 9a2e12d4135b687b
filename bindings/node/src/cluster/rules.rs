//! The gossip protocol's and the command server's rules, for JavaScript to
//! answer with (`GossipRing.maxMsgRound`, `GossipRing.LWW`,
//! `selectRandom`, `decodeJob`, `CommandServer.decodeJob`): each function
//! hands a question to the engine's own rule (`notp::gossip`,
//! `notp::cluster::command`) and translates the answer. Rings and clocks
//! cross as JSON text, so any `CHash`/`VectorClock` a program holds can be
//! asked about.

use std::cell::RefCell;

use napi_derive::napi;
use notp::cluster::command;
use notp::gossip::{self, RingMessage, Rng};
use notp::VectorClock;
use serde_json::Value;

use crate::convert::engine_error;

thread_local! {
    /// Chooses gossip peers for `selectRandom`; seeded from the system.
    static RNG: RefCell<Rng> = RefCell::new(Rng::from_os());
}

fn clock(text: &str) -> napi::Result<VectorClock> {
    VectorClock::from_json(text).map_err(engine_error)
}

fn json(text: &str, what: &str) -> napi::Result<Value> {
    serde_json::from_str(text)
        .map_err(|e| napi::Error::from_reason(format!("{what} is not JSON: {e}")))
}

/// The rounds a change of a ring of `nodes` members travels
/// (`maxMsgRound`).
#[napi(catch_unwind)]
pub fn gossip_rounds(nodes: u32) -> u32 {
    gossip::rounds_for(nodes as usize)
}

/// Whether last-write-wins keeps the remote ring (clock `remote`) over the
/// local one (clock `local`): `LWW`'s choice.
#[napi(catch_unwind)]
pub fn gossip_remote_wins(local: String, remote: String) -> napi::Result<bool> {
    Ok(gossip::remote_wins(&clock(&local)?, &clock(&remote)?))
}

/// `n` distinct indices below `len`, in random order (`selectRandomFrom`).
#[napi(catch_unwind)]
pub fn gossip_sample(len: u32, n: u32) -> Vec<u32> {
    let all: Vec<u32> = (0..len).collect();
    RNG.with(|rng| rng.borrow_mut().sample(&all, n as usize))
}

/// A ring message as the engine reads it, ring and clock as JSON text.
#[napi(object)]
pub struct DecodedRing {
    pub kind: String,
    pub actor: String,
    pub round: u32,
    pub chash: String,
    pub vclock: String,
}

/// Reads the body of a `"ring"` event (JSON text) as the engine's ring
/// server reads it; an error says why the engine would drop it.
#[napi(catch_unwind)]
pub fn gossip_decode(text: String) -> napi::Result<DecodedRing> {
    let msg = RingMessage::from_value(&json(&text, "the ring message")?).map_err(engine_error)?;
    Ok(DecodedRing {
        kind: msg.kind.as_str().to_owned(),
        actor: msg.actor,
        round: msg.round,
        chash: msg.ring.to_json(),
        vclock: msg.clock.to_json(),
    })
}

/// Why the command server would refuse `event` with arguments `args` (JSON
/// text), or `null` when it would run it.
#[napi(catch_unwind)]
pub fn command_check(event: String, args: String) -> napi::Result<Option<String>> {
    Ok(command::check(&event, &json(&args, "the arguments")?).err())
}

/// Every command the command server runs.
#[napi(catch_unwind)]
pub fn command_names() -> Vec<String> {
    command::COMMANDS.iter().map(|c| (*c).to_owned()).collect()
}
