//! The clock door: [`notp::VectorClock`] behind a handle.

use napi_derive::napi;
use notp::{TrimOptions, VectorClock};

use napi::sys::{napi_callback_info, napi_env, napi_value};

use crate::convert::{engine_error, to_bound, to_js, to_u64};
use crate::raw;
use crate::registry::{busy, with_entry, Registry};

thread_local! {
    static CLOCKS: Registry<VectorClock> = const { Registry::new() };
}

/// Owns one vector clock: the clock lives as long as this object.
#[napi]
pub struct NativeClock {
    handle: u32,
}

impl NativeClock {
    fn create(clock: VectorClock) -> napi::Result<Self> {
        let handle = CLOCKS.try_with(|r| r.add(clock)).map_err(|_| busy())??;
        Ok(NativeClock { handle })
    }
}

#[napi]
impl NativeClock {
    /// An empty clock, or one holding `id` at `count` stamped now.
    #[napi(constructor, catch_unwind)]
    pub fn new(id: Option<String>, count: Option<f64>) -> napi::Result<Self> {
        let clock = match (id, count) {
            (Some(id), Some(count)) => VectorClock::with_actor(&id, to_u64("count", count)?),
            _ => VectorClock::new(),
        };
        NativeClock::create(clock)
    }

    /// The handle the `clock*` functions take.
    #[napi(getter, catch_unwind)]
    pub fn handle(&self) -> u32 {
        self.handle
    }
}

impl Drop for NativeClock {
    fn drop(&mut self) {
        let _ = CLOCKS.try_with(|r| r.remove(self.handle));
    }
}

/// One actor's state, as the original's `get(node)` answers it.
#[napi(object)]
pub struct EntryFields {
    pub count: f64,
    pub insert: f64,
    pub time: f64,
}

#[napi(catch_unwind)]
pub fn clock_insert(h: u32, id: String) -> napi::Result<()> {
    with_entry!(CLOCKS, h, |c| {
        c.insert(&id);
    })
}

#[napi(catch_unwind)]
pub fn clock_update(h: u32, id: String, count: f64, time: Option<f64>) -> napi::Result<()> {
    let count = to_u64("count", count)?;
    let time = time.map(|t| to_u64("time", t)).transpose()?;
    with_entry!(CLOCKS, h, |c| {
        c.update(&id, count, time);
    })
}

#[napi(catch_unwind)]
pub fn clock_remove(h: u32, id: String) -> napi::Result<()> {
    with_entry!(CLOCKS, h, |c| {
        c.remove(&id);
    })
}

/// Applies increments counted in JavaScript (see `lib/vclock.js`): for
/// actor `ids[i]`, `stamps[3i]` increments, the first at `stamps[3i+1]`
/// and the last at `stamps[3i+2]` (µs since the epoch).
#[napi(catch_unwind)]
pub fn clock_increment_many(h: u32, ids: Vec<String>, stamps: Vec<f64>) -> napi::Result<()> {
    if stamps.len() != ids.len() * 3 {
        return Err(crate::convert::invalid_arg(
            "stamps",
            "must hold three numbers per actor",
        ));
    }
    let mut counted = Vec::with_capacity(ids.len());
    for (id, s) in ids.iter().zip(stamps.chunks_exact(3)) {
        counted.push((
            id,
            to_u64("count", s[0])?,
            to_u64("time", s[1])?,
            to_u64("time", s[2])?,
        ));
    }
    with_entry!(CLOCKS, h, |c| {
        for (id, n, first, last) in counted {
            c.increment_many(id, n, first, last);
        }
    })
}

#[napi(catch_unwind)]
pub fn clock_get(h: u32, id: String) -> napi::Result<Option<EntryFields>> {
    with_entry!(CLOCKS, h, |c| c.get(&id).map(|e| EntryFields {
        count: to_js(e.count),
        insert: to_js(e.insert),
        time: to_js(e.time),
    }))
}

#[napi(catch_unwind)]
pub fn clock_get_count(h: u32, id: String) -> napi::Result<Option<f64>> {
    with_entry!(CLOCKS, h, |c| c.count(&id).map(to_js))
}

#[napi(catch_unwind)]
pub fn clock_get_insert(h: u32, id: String) -> napi::Result<Option<f64>> {
    with_entry!(CLOCKS, h, |c| c.insert_time(&id).map(to_js))
}

#[napi(catch_unwind)]
pub fn clock_get_timestamp(h: u32, id: String) -> napi::Result<Option<f64>> {
    with_entry!(CLOCKS, h, |c| c.timestamp(&id).map(to_js))
}

#[napi(catch_unwind)]
pub fn clock_has(h: u32, id: String) -> napi::Result<bool> {
    with_entry!(CLOCKS, h, |c| c.has(&id))
}

#[napi(catch_unwind)]
pub fn clock_size(h: u32) -> napi::Result<u32> {
    with_entry!(CLOCKS, h, |c| c.size() as u32)
}

/// Actor ids, in JSON order.
#[napi(catch_unwind)]
pub fn clock_nodes(h: u32) -> napi::Result<Vec<String>> {
    with_entry!(CLOCKS, h, |c| c.nodes().map(str::to_owned).collect())
}

/// The largest `insert` time of any actor (0 when empty).
#[napi(catch_unwind)]
pub fn clock_max_insert(h: u32) -> napi::Result<f64> {
    with_entry!(CLOCKS, h, |c| to_js(c.max_insert()))
}

/// Runs `f` on two clocks (`None` for the second when both handles name
/// the same clock).
fn with_two<R>(
    a: u32,
    b: u32,
    f: impl FnOnce(&mut VectorClock, Option<&VectorClock>) -> R,
) -> napi::Result<R> {
    let (ea, eb) = CLOCKS
        .try_with(|r| Ok::<_, napi::Error>((r.get(a)?, r.get(b)?)))
        .map_err(|_| busy())??;
    let mut ca = ea.try_borrow_mut().map_err(|_| busy())?;
    if std::rc::Rc::ptr_eq(&ea, &eb) {
        return Ok(f(&mut ca, None));
    }
    let cb = eb.try_borrow().map_err(|_| busy())?;
    Ok(f(&mut ca, Some(&cb)))
}

#[napi(catch_unwind)]
pub fn clock_equals(a: u32, b: u32) -> napi::Result<bool> {
    with_two(a, b, |x, y| y.is_none_or(|y| x.equals(y)))
}

#[napi(catch_unwind)]
pub fn clock_trim(
    h: u32,
    threshold: f64,
    lower_bound: f64,
    young_bound: f64,
    upper_bound: f64,
    old_bound: f64,
) -> napi::Result<()> {
    let opts = TrimOptions {
        lower_bound: usize::try_from(to_bound("lowerBound", lower_bound)?).unwrap_or(usize::MAX),
        young_bound: to_bound("youngBound", young_bound)?,
        upper_bound: usize::try_from(to_bound("upperBound", upper_bound)?).unwrap_or(usize::MAX),
        old_bound: to_bound("oldBound", old_bound)?,
    };
    let threshold = to_u64("threshold", threshold)?;
    with_entry!(CLOCKS, h, |c| {
        c.trim(threshold, &opts);
    })
}

/// The clock's JSON text, in the original's key order.
#[napi(catch_unwind)]
pub fn clock_to_json(h: u32) -> napi::Result<String> {
    with_entry!(CLOCKS, h, |c| c.to_json())
}

/// Replaces the clock with one read from JSON text.
#[napi(catch_unwind)]
pub fn clock_from_json(h: u32, text: String) -> napi::Result<()> {
    let clock = VectorClock::from_json(&text).map_err(engine_error)?;
    with_entry!(CLOCKS, h, |c| {
        *c = clock;
    })
}

/// A new clock equal to this one.
#[napi(catch_unwind)]
pub fn clock_copy(h: u32) -> napi::Result<NativeClock> {
    let clock = with_entry!(CLOCKS, h, |c| c.clone())?;
    NativeClock::create(clock)
}

// ---- hot paths, registered by hand (see `raw`) ------------------------------

/// `clockMerge(a, b)`: merges clock `b` into clock `a`.
pub(crate) unsafe extern "C" fn raw_merge(env: napi_env, info: napi_callback_info) -> napi_value {
    // SAFETY: `env` and `info` come from N-API for this call.
    unsafe {
        raw::run(env, || {
            let [a, b] = raw::args::<2>(env, info)?;
            let a = raw::get_u32(env, a, "handle")?;
            let b = raw::get_u32(env, b, "handle")?;
            with_two(a, b, |x, y| {
                if let Some(y) = y {
                    x.merge(y);
                }
            })
            .map_err(raw::reason)?;
            raw::undefined()
        })
    }
}

/// `clockDescends(a, b)`: whether clock `a` descends clock `b`.
pub(crate) unsafe extern "C" fn raw_descends(
    env: napi_env,
    info: napi_callback_info,
) -> napi_value {
    // SAFETY: `env` and `info` come from N-API for this call.
    unsafe {
        raw::run(env, || {
            let [a, b] = raw::args::<2>(env, info)?;
            let a = raw::get_u32(env, a, "handle")?;
            let b = raw::get_u32(env, b, "handle")?;
            let d = with_two(a, b, |x, y| y.is_none_or(|y| x.descends(y))).map_err(raw::reason)?;
            raw::boolean(env, d)
        })
    }
}
