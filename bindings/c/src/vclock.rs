//! `notp_vclock_t`: a vector clock. The handle is the engine's
//! [`VectorClock`]; entries and trim options cross as plain C structs.

use std::ffi::c_char;

use serde_json::Value;

use super::args::{self, give_string};
use super::ownership::{self, give};
use super::status::{answer, guard, Failure, Status};
use engine::{now_micros, ClockEntry, TrimOptions, VectorClock};

/// One actor's state in a clock; times are microseconds since the Unix
/// epoch.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CClockEntry {
    /// How many events the actor has counted.
    pub count: u64,
    /// When the actor entered the clock.
    pub insert: u64,
    /// When the actor last changed.
    pub time: u64,
}

impl From<ClockEntry> for CClockEntry {
    fn from(e: ClockEntry) -> Self {
        CClockEntry {
            count: e.count,
            insert: e.insert,
            time: e.time,
        }
    }
}

/// When and how far notp_vclock_trim() cuts (times in microseconds). Start
/// from notp_trim_options_default().
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CTrimOptions {
    /// Trim only clocks with more entries than this (default 10).
    pub lower_bound: u64,
    /// Trim only when the oldest entry is older than this (default 20 s).
    pub young_bound: u64,
    /// Remove oldest entries while more than this many remain (default 50)...
    pub upper_bound: u64,
    /// ...or while the oldest is older than this (default 1 day).
    pub old_bound: u64,
}

impl From<TrimOptions> for CTrimOptions {
    fn from(o: TrimOptions) -> Self {
        CTrimOptions {
            lower_bound: o.lower_bound as u64,
            young_bound: o.young_bound,
            upper_bound: o.upper_bound as u64,
            old_bound: o.old_bound,
        }
    }
}

impl From<CTrimOptions> for TrimOptions {
    fn from(o: CTrimOptions) -> Self {
        // A bound past what this machine can count means "no bound".
        let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        TrimOptions {
            lower_bound: count(o.lower_bound),
            young_bound: o.young_bound,
            upper_bound: count(o.upper_bound),
            old_bound: o.old_bound,
        }
    }
}

/// Wall-clock time in microseconds since the Unix epoch, never going
/// backwards within the process: the clocks' time stamps.
#[no_mangle]
pub extern "C" fn notp_now_micros() -> u64 {
    now_micros()
}

/// The original's trim defaults: 10 entries, 20 s, 50 entries, 1 day.
#[no_mangle]
pub extern "C" fn notp_trim_options_default() -> CTrimOptions {
    TrimOptions::default().into()
}

// ---- life cycle -------------------------------------------------------------

/// Creates an empty clock. Release it with notp_vclock_free().
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_new(out: *mut *mut VectorClock) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(give(VectorClock::new()))) }
}

/// Creates a clock holding one actor at `count`, stamped now. Release it
/// with notp_vclock_free().
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_with_actor(
    id: *const c_char,
    count: u64,
    out: *mut *mut VectorClock,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(give(VectorClock::with_actor(args::text(id, "id")?, count)))
        })
    }
}

/// Parses a clock from its JSON text `{"actor":{"count","insert","time"}}`.
/// NOTP_ERR_JSON when the text is not JSON or not a well-formed clock.
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_from_json(
    json: *const c_char,
    out: *mut *mut VectorClock,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(give(VectorClock::from_json(args::text(json, "json")?)?))
        })
    }
}

/// The clock's JSON text, byte-identical to the original's. Release it
/// with notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_to_json(
    clock: *const VectorClock,
    out: *mut *mut c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            give_string(ownership::borrow(clock, "clock")?.to_json())
        })
    }
}

/// An independent copy of the clock. Release it with notp_vclock_free().
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_clone(
    clock: *const VectorClock,
    out: *mut *mut VectorClock,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(give(ownership::borrow(clock, "clock")?.clone()))) }
}

/// Releases a clock. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_free(clock: *mut VectorClock) {
    // SAFETY: the caller passes NULL or a clock this library handed over.
    unsafe { ownership::free(clock) }
}

// ---- changes ----------------------------------------------------------------

/// Adds actor `id` at count 0, stamped now; an existing actor is left alone.
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_insert(clock: *mut VectorClock, id: *const c_char) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        change(clock, id, |clock, id| {
            clock.insert(id);
        })
    }
}

/// Sets actor `id`'s count, stamped now (a new actor is inserted now).
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_update(
    clock: *mut VectorClock,
    id: *const c_char,
    count: u64,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        change(clock, id, |clock, id| {
            clock.update(id, count, None);
        })
    }
}

/// Sets actor `id`'s count and time stamp (a new actor is inserted now).
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_update_at(
    clock: *mut VectorClock,
    id: *const c_char,
    count: u64,
    time: u64,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        change(clock, id, |clock, id| {
            clock.update(id, count, Some(time));
        })
    }
}

/// Removes actor `id` (absent: no change).
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_remove(clock: *mut VectorClock, id: *const c_char) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        change(clock, id, |clock, id| {
            clock.remove(id);
        })
    }
}

/// Adds one to actor `id`'s count (inserting it first) and stamps it now.
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_increment(
    clock: *mut VectorClock,
    id: *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        change(clock, id, |clock, id| {
            clock.increment(id);
        })
    }
}

/// Merges `other` into `clock`: per actor the larger count wins; on equal
/// counts the later time wins.
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_merge(
    clock: *mut VectorClock,
    other: *const VectorClock,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let other = args::operand(clock, other)?;
            ownership::borrow_mut(clock, "clock")?.merge(&other);
            Ok(())
        })
    }
}

/// Drops old entries as the original does on every gossip poll, ages taken
/// relative to `threshold` (microseconds; usually notp_now_micros()).
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_trim(
    clock: *mut VectorClock,
    threshold: u64,
    opts: *const CTrimOptions,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let opts = TrimOptions::from(args::plain(opts, "opts")?);
            ownership::borrow_mut(clock, "clock")?.trim(threshold, &opts);
            Ok(())
        })
    }
}

// ---- queries ----------------------------------------------------------------

/// Actor `id`'s entry. NOTP_ERR_NOT_FOUND when the clock has no such actor.
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_get(
    clock: *const VectorClock,
    id: *const c_char,
    out: *mut CClockEntry,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let id = args::text(id, "id")?;
            let entry = ownership::borrow(clock, "clock")?.get(id).copied();
            entry
                .map(CClockEntry::from)
                .ok_or_else(|| Failure::not_found(format!("the clock has no actor {id:?}")))
        })
    }
}

/// Whether the clock has actor `id`.
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_has(
    clock: *const VectorClock,
    id: *const c_char,
    out: *mut bool,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(ownership::borrow(clock, "clock")?.has(args::text(id, "id")?))
        })
    }
}

/// Whether `clock` has seen everything `other` has: `other` is empty, or
/// `clock` holds every actor of `other` with a count at least as large.
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_descends(
    clock: *const VectorClock,
    other: *const VectorClock,
    out: *mut bool,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let (clock, other) = (
                ownership::borrow(clock, "clock")?,
                ownership::borrow(other, "other")?,
            );
            Ok(clock.descends(other))
        })
    }
}

/// Whether both clocks hold the same actors with the same count, insert and
/// time (order ignored).
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_equals(
    a: *const VectorClock,
    b: *const VectorClock,
    out: *mut bool,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(ownership::borrow(a, "a")?.equals(ownership::borrow(b, "b")?))
        })
    }
}

/// The actor ids as a JSON array of strings, in the clock's JSON order.
/// Release it with notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_nodes(
    clock: *const VectorClock,
    out: *mut *mut c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let ids: Vec<Value> = ownership::borrow(clock, "clock")?
                .nodes()
                .map(Value::from)
                .collect();
            give_string(Value::Array(ids).to_string())
        })
    }
}

/// Number of actors.
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_size(clock: *const VectorClock, out: *mut usize) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(ownership::borrow(clock, "clock")?.size())) }
}

/// The largest insert time of any actor (0 for an empty clock).
#[no_mangle]
pub unsafe extern "C" fn notp_vclock_max_insert(
    clock: *const VectorClock,
    out: *mut u64,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(ownership::borrow(clock, "clock")?.max_insert())) }
}

/// The shape of every per-actor change: read `id`, then change the clock.
///
/// # Safety
/// `clock` and `id` follow the header's pointer contract.
unsafe fn change(
    clock: *mut VectorClock,
    id: *const c_char,
    apply: impl FnOnce(&mut VectorClock, &str),
) -> Status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (id, clock) = unsafe {
            (
                args::text(id, "id")?,
                ownership::borrow_mut(clock, "clock")?,
            )
        };
        apply(clock, id);
        Ok(())
    })
}
