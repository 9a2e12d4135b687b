//! Who owns what a pointer handed to C points to, as a type.
//!
//! Every type C sees through a pointer implements [`Castable`], whose
//! `Ownership` says what such a pointer is:
//!
//! * [`OwnershipBox`]: a `Box` C may own. [`give`] makes one (a `*mut`,
//!   which C releases with the type's `_free`), and only such types can be
//!   freed ([`free`], [`take`]) or changed ([`borrow_mut`]).
//! * [`OwnershipRef`]: only ever lent (a request, alive while its callback
//!   runs): there is no way to make an owned pointer of it, so no `_free`
//!   can take one.
//!
//! (No handle is shared by counting yet; an `OwnershipArc` marker with its
//! `share`/`release` pair belongs here when one is.)
//!
//! Whatever the ownership, a value a handle keeps inside itself (a ring's
//! nodes, a cluster node's kernel) is lent with [`lend`], as a `*const`:
//! the header declares those out-parameters `const`, so a C compiler
//! refuses them where a `_free` takes a `*mut` (without a cast). Borrowing
//! ([`borrow`]) works for every ownership.

use super::status::{drop_quietly, Failure};

/// See the module docs: a `Box` C may own and free.
pub(crate) struct OwnershipBox;

/// See the module docs: only ever lent to C, never owned by it.
pub(crate) struct OwnershipRef;

pub(crate) trait OwnershipMarker {}

impl OwnershipMarker for OwnershipBox {}
impl OwnershipMarker for OwnershipRef {}

/// A type C sees through pointers; one ownership per type (a second impl
/// would not compile).
pub(crate) trait Castable {
    type Ownership: OwnershipMarker;
}

macro_rules! castable {
    ($ownership:ty: $($t:ty),+ $(,)?) => {
        $(impl Castable for $t {
            type Ownership = $ownership;
        })+
    };
}

castable!(OwnershipBox:
    engine::Node,
    engine::CHash,
    engine::VectorClock,
    engine::ring::RingIter,
    super::node_list::NodeList,
    super::kernel::KernelHandle,
    super::server::ServerHandle,
    super::server::ReplyHandle,
    super::stream::StreamHandle,
    super::cluster::ClusterHandle,
);
castable!(OwnershipRef: super::server::Request);

/// Moves `value` to the heap for C to own; its `_free` takes it back.
pub(crate) fn give<C: Castable<Ownership = OwnershipBox>>(value: C) -> *mut C {
    Box::into_raw(Box::new(value))
}

/// Lends a value that stays owned by whatever holds it.
pub(crate) fn lend<C: Castable>(value: &C) -> *const C {
    value
}

/// Borrows what C passes in.
///
/// # Safety
/// `ptr` is NULL or points to a live `C` that nothing mutates meanwhile.
pub(crate) unsafe fn borrow<'a, C: Castable>(ptr: *const C, name: &str) -> Result<&'a C, Failure> {
    // SAFETY: forwarded from this function's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// Borrows an owned value C passes in, to change it.
///
/// # Safety
/// `ptr` is NULL or points to a live `C` that nothing else uses meanwhile.
pub(crate) unsafe fn borrow_mut<'a, C: Castable<Ownership = OwnershipBox>>(
    ptr: *mut C,
    name: &str,
) -> Result<&'a mut C, Failure> {
    // SAFETY: forwarded from this function's contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::null(name))
}

/// Takes back what [`give`] handed over; `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or came from [`give`] and was not taken back before.
pub(crate) unsafe fn take<C: Castable<Ownership = OwnershipBox>>(ptr: *mut C) -> Option<Box<C>> {
    // SAFETY: forwarded from this function's contract.
    (!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr) })
}

/// Takes back and drops what [`give`] handed over. NULL is ignored.
///
/// # Safety
/// As [`take`].
pub(crate) unsafe fn free<C: Castable<Ownership = OwnershipBox>>(ptr: *mut C) {
    // SAFETY: forwarded from this function's contract.
    if let Some(value) = unsafe { take(ptr) } {
        drop_quietly(value);
    }
}
