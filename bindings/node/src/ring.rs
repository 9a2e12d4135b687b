//! The ring door: [`notp::CHash`] behind a handle. Lookups answer with slot
//! numbers; the JavaScript layer turns them into cached `Node` objects.

use std::collections::HashMap;

use napi::bindgen_prelude::{Uint32ArraySlice, Uint8ArraySlice};
use napi::sys::{napi_callback_info, napi_env, napi_value};
use napi_derive::napi;
use notp::ring::Slot;
use notp::{CHash, Node};

use crate::convert::{engine_error, invalid_arg};
use crate::raw;
use crate::registry::{with_entry, Registry};

pub(crate) struct RingState {
    ring: CHash,
    /// Reused by the range queries: no allocation per call once warm.
    buf: Vec<Slot>,
}

impl RingState {
    /// `rangeNext` (clockwise) or `rangePrev` into `buf`.
    fn range(&mut self, key: &[u8], range: Option<usize>, clockwise: bool) {
        if clockwise {
            self.ring.range_next_slots(key, range, &mut self.buf);
        } else {
            self.ring.range_prev_slots(key, range, &mut self.buf);
        }
    }
}

thread_local! {
    static RINGS: Registry<RingState> = const { Registry::new() };
}

/// Owns one ring: the ring lives as long as this object.
#[napi]
pub struct NativeRing {
    handle: u32,
}

#[napi]
impl NativeRing {
    #[napi(constructor, catch_unwind)]
    pub fn new(rfactor: u32, pfactor: u32) -> napi::Result<Self> {
        let state = RingState {
            ring: CHash::new(rfactor, pfactor),
            buf: Vec::new(),
        };
        let handle = RINGS
            .try_with(|r| r.add(state))
            .map_err(|_| crate::registry::busy())??;
        Ok(NativeRing { handle })
    }

    /// The handle the `ring*` functions take.
    #[napi(getter, catch_unwind)]
    pub fn handle(&self) -> u32 {
        self.handle
    }
}

impl Drop for NativeRing {
    fn drop(&mut self) {
        // Fails only while the thread is being torn down, when the registry
        // is already gone.
        let _ = RINGS.try_with(|r| r.remove(self.handle));
    }
}

/// A node's fields, for building the JavaScript `Node` of a slot.
#[napi(object)]
pub struct NodeFields {
    pub id: String,
    pub host: String,
    pub port: u32,
}

impl From<&Node> for NodeFields {
    fn from(n: &Node) -> Self {
        NodeFields {
            id: n.id().to_owned(),
            host: n.host().to_owned(),
            port: u32::from(n.port()),
        }
    }
}

/// `weights()` as two parallel arrays, in the engine's order.
#[napi(object)]
pub struct WeightList {
    pub ids: Vec<String>,
    pub weights: Vec<u32>,
}

fn make_node(id: String, host: String, port: u32) -> napi::Result<Node> {
    let port = u16::try_from(port).map_err(|_| invalid_arg("port", "must be from 0 to 65535"))?;
    Ok(Node::new(id, host, port))
}

pub(crate) fn slot_or_minus_one(slot: Option<Slot>) -> i64 {
    slot.map_or(-1, i64::from)
}

/// Copies as many slots as fit into the caller's array and answers how many
/// there are in all, so the caller can grow its array and ask again.
fn hand_out(slots: &[Slot], mut out: Uint32ArraySlice) -> u32 {
    // SAFETY: `out` views the backing store of a Uint32Array that the
    // JavaScript layer allocated privately for its ring. This runs on the JS
    // thread, so no JavaScript code can touch that memory while this borrow
    // exists, and no other Rust reference to it is alive.
    copy_slots(slots, unsafe { out.as_mut() })
}

/// A count passed as a number: negative means "the default"; `as`
/// saturates, so huge counts mean "all".
pub(crate) fn range_of(range: f64) -> Option<usize> {
    (range >= 0.0).then_some(range as usize)
}

#[napi(catch_unwind)]
pub fn ring_rfactor(h: u32) -> napi::Result<u32> {
    with_entry!(RINGS, h, |s| s.ring.rfactor())
}

#[napi(catch_unwind)]
pub fn ring_pfactor(h: u32) -> napi::Result<u32> {
    with_entry!(RINGS, h, |s| s.ring.pfactor())
}

#[napi(catch_unwind)]
pub fn ring_set_rfactor(h: u32, r: u32) -> napi::Result<()> {
    with_entry!(RINGS, h, |s| {
        s.ring.set_rfactor(r);
    })
}

#[napi(catch_unwind)]
pub fn ring_set_pfactor(h: u32, p: u32) -> napi::Result<()> {
    with_entry!(RINGS, h, |s| {
        s.ring.set_pfactor(p);
    })
}

/// Virtual nodes.
#[napi(catch_unwind)]
pub fn ring_size(h: u32) -> napi::Result<u32> {
    with_entry!(RINGS, h, |s| s.ring.size() as u32)
}

#[napi(catch_unwind)]
pub fn ring_number_nodes(h: u32) -> napi::Result<u32> {
    with_entry!(RINGS, h, |s| s.ring.number_nodes() as u32)
}

/// Distinct node values: slots are numbered from 0 to this, exclusive.
#[napi(catch_unwind)]
pub fn ring_slot_count(h: u32) -> napi::Result<u32> {
    with_entry!(RINGS, h, |s| s.ring.slot_count() as u32)
}

#[napi(catch_unwind)]
pub fn ring_insert(
    h: u32,
    id: String,
    host: String,
    port: u32,
    weight: Option<u32>,
) -> napi::Result<()> {
    let node = make_node(id, host, port)?;
    with_entry!(RINGS, h, |s| s.ring.insert(node, weight).map(|_| ()))?.map_err(engine_error)
}

#[napi(catch_unwind)]
pub fn ring_update(h: u32, id: String, host: String, port: u32, weight: u32) -> napi::Result<()> {
    let node = make_node(id, host, port)?;
    with_entry!(RINGS, h, |s| s.ring.update(node, weight).map(|_| ()))?.map_err(engine_error)
}

#[napi(catch_unwind)]
pub fn ring_remove(h: u32, id: String) -> napi::Result<()> {
    with_entry!(RINGS, h, |s| {
        s.ring.remove_id(&id);
    })
}

#[napi(catch_unwind)]
pub fn ring_is_defined(h: u32, id: String) -> napi::Result<bool> {
    with_entry!(RINGS, h, |s| s.ring.is_defined(&id))
}

/// `ringFind` for a key given as bytes (a Buffer or Uint8Array).
#[napi(catch_unwind)]
pub fn ring_find_bytes(h: u32, key: Uint8ArraySlice) -> napi::Result<i64> {
    with_entry!(RINGS, h, |s| slot_or_minus_one(
        s.ring.find_slot(key.as_ref())
    ))
}

/// `ringRange` for a key given as bytes.
#[napi(catch_unwind)]
pub fn ring_range_bytes(
    h: u32,
    key: Uint8ArraySlice,
    range: f64,
    clockwise: bool,
    out: Uint32ArraySlice,
) -> napi::Result<u32> {
    range_query(h, key.as_ref(), range, clockwise, out)
}

fn range_query(
    h: u32,
    key: &[u8],
    range: f64,
    clockwise: bool,
    out: Uint32ArraySlice,
) -> napi::Result<u32> {
    with_entry!(RINGS, h, |s| {
        s.range(key, range_of(range), clockwise);
        hand_out(&s.buf, out)
    })
}

/// The fields of the node in `slot`.
#[napi(catch_unwind)]
pub fn ring_slot(h: u32, slot: u32) -> napi::Result<NodeFields> {
    with_entry!(RINGS, h, |s| {
        if (slot as usize) < s.ring.slot_count() {
            Ok(NodeFields::from(s.ring.slot(slot)))
        } else {
            Err(invalid_arg("slot", "is out of range"))
        }
    })?
}

/// The slots of the distinct nodes, in the order of `nodes()`.
#[napi(catch_unwind)]
pub fn ring_nodes(h: u32) -> napi::Result<Vec<u32>> {
    with_entry!(RINGS, h, |s| {
        let ring = &s.ring;
        // `nodes()` answers references into the slot table; map them back.
        let index: HashMap<*const Node, Slot> = (0..ring.slot_count() as Slot)
            .map(|slot| (ring.slot(slot) as *const Node, slot))
            .collect();
        ring.nodes()
            .into_iter()
            .filter_map(|n| index.get(&(n as *const Node)).copied())
            .collect()
    })
}

#[napi(catch_unwind)]
pub fn ring_weights(h: u32) -> napi::Result<WeightList> {
    with_entry!(RINGS, h, |s| {
        let (ids, weights) = s
            .ring
            .weights()
            .iter()
            .map(|(id, w)| (id.clone(), *w))
            .unzip();
        WeightList { ids, weights }
    })
}

/// Runs `f` on two distinct rings (`None` for the second when both handles
/// name the same ring).
fn with_two<R>(a: u32, b: u32, f: impl FnOnce(&mut CHash, Option<&CHash>) -> R) -> napi::Result<R> {
    let (ea, eb) = RINGS
        .try_with(|r| Ok::<_, napi::Error>((r.get(a)?, r.get(b)?)))
        .map_err(|_| crate::registry::busy())??;
    let mut sa = ea.try_borrow_mut().map_err(|_| crate::registry::busy())?;
    if std::rc::Rc::ptr_eq(&ea, &eb) {
        return Ok(f(&mut sa.ring, None));
    }
    let sb = eb.try_borrow().map_err(|_| crate::registry::busy())?;
    Ok(f(&mut sa.ring, Some(&sb.ring)))
}

#[napi(catch_unwind)]
pub fn ring_equals(a: u32, b: u32) -> napi::Result<bool> {
    with_two(a, b, |x, y| y.is_none_or(|y| *x == *y))
}

/// Adds every virtual node of ring `b` that ring `a` lacks.
#[napi(catch_unwind)]
pub fn ring_merge(a: u32, b: u32) -> napi::Result<()> {
    with_two(a, b, |x, y| {
        if let Some(y) = y {
            x.merge(y);
        }
    })
}

/// Keeps in ring `a` only the virtual nodes also in ring `b`.
#[napi(catch_unwind)]
pub fn ring_intersect(a: u32, b: u32) -> napi::Result<()> {
    with_two(a, b, |x, y| {
        if let Some(y) = y {
            x.intersect(y);
        }
    })
}

/// The ring's JSON text, byte-identical to the original's
/// `JSON.stringify(ring.toJSON(true))`.
#[napi(catch_unwind)]
pub fn ring_to_json(h: u32) -> napi::Result<String> {
    with_entry!(RINGS, h, |s| s.ring.to_json())
}

/// Replaces the ring with one read from JSON text.
#[napi(catch_unwind)]
pub fn ring_from_json(h: u32, text: String) -> napi::Result<()> {
    let ring = CHash::from_json(&text).map_err(engine_error)?;
    with_entry!(RINGS, h, |s| {
        s.ring = ring;
    })
}

/// Runs `f` on the ring behind handle `h` (for the cursors made from it).
pub(crate) fn with_ring<R>(h: u32, f: impl FnOnce(&CHash) -> R) -> napi::Result<R> {
    with_entry!(RINGS, h, |s| f(&s.ring))
}

/// An optional count passed as a number: negative means "the default".
///
/// # Safety
/// `env` must be live and `v` a value of the current scope.
unsafe fn get_range(env: napi_env, v: napi_value) -> Result<Option<usize>, String> {
    // SAFETY: caller's contract.
    unsafe { raw::get_f64(env, v, "range") }.map(range_of)
}

// ---- hot paths, registered by hand (see `raw`) ------------------------------

/// `ringFind(h, key: string)`: the slot owning the key, or -1 on an empty
/// ring.
pub(crate) unsafe extern "C" fn raw_find(env: napi_env, info: napi_callback_info) -> napi_value {
    // SAFETY: `env` and `info` come from N-API for this call.
    unsafe {
        raw::run(env, || {
            let [h, key] = raw::args::<2>(env, info)?;
            let h = raw::get_u32(env, h, "handle")?;
            let slot = raw::with_utf8(env, key, "key", |key| {
                with_entry!(RINGS, h, |s| s.ring.find_slot(key))
            })?
            .map_err(raw::reason)?;
            raw::number(env, slot.map_or(-1.0, f64::from))
        })
    }
}

/// `ringRange(h, key: string, range, clockwise, out: ArrayBuffer)`:
/// `rangeNext`/`rangePrev` as slots in `out`; answers how many there are
/// (more than `out` holds means: grow it and ask again). A negative range
/// means the default.
pub(crate) unsafe extern "C" fn raw_range(env: napi_env, info: napi_callback_info) -> napi_value {
    // SAFETY: `env` and `info` come from N-API for this call.
    unsafe {
        raw::run(env, || {
            let [h, key, range, clockwise, out] = raw::args::<5>(env, info)?;
            let h = raw::get_u32(env, h, "handle")?;
            let range = get_range(env, range)?;
            let clockwise = raw::get_bool(env, clockwise, "clockwise")?;
            let count = raw::with_utf8(env, key, "key", |key| {
                with_entry!(RINGS, h, |s| {
                    s.range(key, range, clockwise);
                    // `out` is the JS layer's private array; no other Rust
                    // reference to it exists.
                    raw::with_u32_buffer(env, out, |out| copy_slots(&s.buf, out))
                })
            })?
            .map_err(raw::reason)??;
            raw::number(env, f64::from(count))
        })
    }
}

/// `ringNeighbours(h, id: string, range, clockwise, out: ArrayBuffer)`:
/// `next`/`prev` as slots in `out`, like `ringRange`.
pub(crate) unsafe extern "C" fn raw_neighbours(
    env: napi_env,
    info: napi_callback_info,
) -> napi_value {
    // SAFETY: `env` and `info` come from N-API for this call.
    unsafe {
        raw::run(env, || {
            let [h, id, range, clockwise, out] = raw::args::<5>(env, info)?;
            let h = raw::get_u32(env, h, "handle")?;
            let range = get_range(env, range)?;
            let clockwise = raw::get_bool(env, clockwise, "clockwise")?;
            let count = raw::with_utf8(env, id, "id", |id| {
                let id = String::from_utf8_lossy(id);
                with_entry!(RINGS, h, |s| {
                    s.ring.neighbour_slots(&id, range, clockwise, &mut s.buf);
                    raw::with_u32_buffer(env, out, |out| copy_slots(&s.buf, out))
                })
            })?
            .map_err(raw::reason)??;
            raw::number(env, f64::from(count))
        })
    }
}

/// `ringGet(h, id: string)`: the slot of the node stored under `id`, or -1.
pub(crate) unsafe extern "C" fn raw_get(env: napi_env, info: napi_callback_info) -> napi_value {
    // SAFETY: `env` and `info` come from N-API for this call.
    unsafe {
        raw::run(env, || {
            let [h, id] = raw::args::<2>(env, info)?;
            let h = raw::get_u32(env, h, "handle")?;
            let key = raw::with_utf8(env, id, "id", |id| {
                notp::ring::vnode_key(&String::from_utf8_lossy(id), 1)
            })?;
            let slot =
                with_entry!(RINGS, h, |s| s.ring.iterator(&key).slot()).map_err(raw::reason)?;
            raw::number(env, slot.map_or(-1.0, f64::from))
        })
    }
}

/// Copies as many slots as fit and answers how many there are in all.
fn copy_slots(slots: &[Slot], out: &mut [u32]) -> u32 {
    let n = slots.len().min(out.len());
    out[..n].copy_from_slice(&slots[..n]);
    slots.len() as u32
}
