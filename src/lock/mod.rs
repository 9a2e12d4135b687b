//! Distributed locks (`DLMServer`) and semaphores (`DSMServer`), wire- and
//! file-compatible with notp 2.0.1, as pure state machines: a job and the
//! time go in; a reply, table writes and timers come out ([`Effects`]).
//! No sockets, no clocks, no files, so every rule is tested by feeding jobs
//! (locks.json replays the original's traffic through them).
//!
//! A driver is a thin loop around one server (a GenServer named as the
//! original's, e.g. `"locker"`), its table (an `MTable`, or a `DTable`
//! named after the server with `disk: true`) and a timer wheel:
//!
//! ```text
//! load:    timers = server.load(&table, now_ms)        // after the table loads
//! request: fx = server.handle(event, &job, now_ms)
//!          for op in fx.table  { table.write(op) }    // before replying
//!          for t in fx.timers  { start or cancel t }
//!          if request has a tag: send fx.reply         // casts get none
//!                                (Reply::Error as a streamed error reply)
//! timer:   fx = server.on_timer(id); apply fx.table
//! stop:    fx = server.stop(); apply fx.table          // logs `clear`
//! ```
//!
//! In durable mode the driver may hold the reply until the table write is
//! durable (`DTable::durable`), so a granted lock survives a crash of the
//! server. The client side's rules (quorum, retry wait) are in [`client`].
//!
//! Differences from the original, all opt-in or on inputs the original
//! mishandles: a malformed job gets an error reply (the original drops it
//! silently; the texts are its own, see [`job`]); a grant can carry a
//! fencing token ([`DlmOptions::fencing`]); lock and semaphore counts are
//! bounded ([`DlmOptions::max_locks`], [`DsmOptions::max_semaphores`]); a
//! semaphore never takes more holders than slots ([`dsm`]).

pub mod client;
mod dlm;
pub mod dsm;
mod effects;
pub mod job;

#[cfg(test)]
mod tests;

pub use dlm::{DlmOptions, DlmServer, LockView};
pub use dsm::{DsmOptions, DsmServer, SemaphoreView};
pub use effects::{Effects, Reply, Timer, TimerId};
pub use job::ErrorReply;
