//! The client side's rules, pure: when a lock attempt succeeds, when a
//! semaphore post does, and how long to wait before retrying.
//!
//! A lock request goes to the `rfactor` nodes of the id's range; it
//! succeeds when the share of ok answers among the answers reaches the
//! quorum **and** the round trip took less than the lock's `timeout` (a
//! lease that ran out on the way is no lease). With two nodes and the
//! default quorum 0.51 both must grant. A failed attempt releases what was
//! granted (a cast of the unlock to every node of the range) and retries
//! after a random wait in `[minWaitTimeout, maxWaitTimeout)`.
//!
//! What the locks guarantee, plainly: a granted write lock excludes every
//! other grant of the same id **on a quorum of the servers**, until its
//! lease ends — on each server's clock, counted from when that server got
//! the request. Nothing stops a holder that paused past its lease from
//! acting on; fencing tokens ([`super::DlmOptions::fencing`]) let the
//! resource refuse such a late holder: it keeps the highest token it has
//! seen and refuses lower ones. A ring that is still converging can give
//! two clients different ranges, and so two quorums that do not meet: two
//! grants at once. Tokens of one server only grow; a client's token is the
//! highest of its granting servers', which orders two grants as long as
//! they are farther apart in time than the servers' clocks are.

use std::time::Duration;

use serde_json::Value as Json;

/// The outcome of one lock attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Granted: the indices (in range order) of the nodes that granted, and
    /// the highest fencing token among their answers (if they carried one).
    Granted {
        nodes: Vec<usize>,
        token: Option<u64>,
    },
    /// Not granted: release on every node and retry (or give up).
    Refused,
}

/// Judges a lock attempt from the answers of the range's nodes (in range
/// order), the quorum, the round trip and the lock's timeout (both ms).
pub fn lock_attempt(answers: &[Json], quorum: f64, elapsed_ms: f64, timeout_ms: f64) -> Attempt {
    let nodes: Vec<usize> = answers
        .iter()
        .enumerate()
        .filter(|(_, a)| a.get("ok") == Some(&Json::Bool(true)))
        .map(|(i, _)| i)
        .collect();
    if answers.is_empty()
        || (nodes.len() as f64) / (answers.len() as f64) < quorum
        || elapsed_ms >= timeout_ms
    {
        return Attempt::Refused;
    }
    let token = nodes
        .iter()
        .filter_map(|&i| answers[i].get("token").and_then(Json::as_u64))
        .max();
    Attempt::Granted { nodes, token }
}

/// Whether a semaphore post succeeded: an ok answer within the timeout.
pub fn post_granted(answer: &Json, elapsed_ms: f64, timeout_ms: f64) -> bool {
    elapsed_ms < timeout_ms && answer.get("ok") == Some(&Json::Bool(true))
}

/// The wait before a retry, for `random` uniform in `[0, 1)`:
/// `random × (max − min) + min` ms.
pub fn retry_wait(random: f64, min_ms: u64, max_ms: u64) -> Duration {
    let ms = random.clamp(0.0, 1.0) * (max_ms.saturating_sub(min_ms)) as f64 + min_ms as f64;
    Duration::from_secs_f64(ms / 1000.0)
}

/// The error a lock call gives up with (`"rlock"` or `"wlock"`).
pub fn retries_exhausted(kind: &str) -> String {
    format!("Failed to acquire {kind}, retry count exhausted.")
}

/// The error a post gives up with.
pub fn post_exhausted(id: &str, holder: &str) -> String {
    format!("Failed to grab semaphore {id} with holder {holder}.")
}
