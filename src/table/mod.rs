//! Tables: the original's `MTable` (in memory) and `DTable` (in memory,
//! logged to disk and folded into snapshots), file-compatible with notp
//! 2.0.1 both ways: the same file names, lines and encodings.
//!
//! The rules are pure and tested without disks: the kinds of values and
//! their JavaScript identity rules ([`Key`], [`Value`]), the commands
//! ([`MTable`]), the line formats ([`codec`]), which files a load trusts
//! ([`files`]), reading a file whatever damage it has ([`replay`]), and
//! when to fold and fsync ([`policy`]). [`DTable`] is the thin driver: a
//! lock around an `MTable`, an I/O thread and a fold thread.
//!
//! Better than the original on durability: a torn or blank line never stops
//! a load (skipped, counted in [`LoadReport`]); a crash at any instant,
//! mid-fold included, leaves a directory that loads to the table as it was
//! (see [`files`]); and [`Durability::Durable`] acknowledges a write only
//! once an fsync covers it.

pub mod codec;
mod disk;
mod dtable;
mod error;
pub mod files;
mod io_thread;
mod key;
mod mtable;
pub mod policy;
pub mod replay;
mod value;

#[cfg(test)]
mod tests;

pub use codec::{Codec, TypedJson};
pub use disk::LoadReport;
pub use dtable::{DTable, DTableOptions, DTableStats, Durable, Lsn};
pub use error::TableError;
pub use key::{Key, ObjectRef};
pub use mtable::{MTable, Op, Snapshot, CHUNK};
pub use policy::Durability;
pub use replay::FileReport;
pub use value::{MapValue, SetValue, Value};
