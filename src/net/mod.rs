//! The network kernel (PROTOCOL §1–2): a listener, one outbound connection
//! per peer with an ordered, bounded queue of signed frames, and routing of
//! calls, casts, replies and pings. All I/O of the engine lives here.
//!
//! The rules (routing, calls awaiting replies, stream reassembly, limits)
//! are a pure core, `core`, tested without sockets; the rest drives it:
//!
//! | module | concern |
//! |---|---|
//! | `core` | the rules, sans-IO: routing, pending calls, servers, streams, frames written |
//! | `kernel` | the [`Kernel`] API and the state its drivers share |
//! | `listener` | starting: options checked, port bound, connections admitted |
//! | `reader` | an accepted connection's task: frames in, fed to the core |
//! | `sink` | an outbound connection: queue, writer task, reconnection |
//! | `inline` | servers whose handler runs on the delivering task |
//! | `out_stream` | streamed bodies on their way out |
//! | `message` | the types the drivers share ([`Message`], [`From`]) |
//! | [`embed`] | for front doors that run their own event loop |
//!
//! Dependencies run one way: `core` and `message` below everything; then
//! `inline`, `sink`, `foreign`; `kernel`; then `reader`, `out_stream`,
//! `embed`; `listener` last.

mod core;
pub mod embed;
mod error;
mod fast_hash;
mod foreign;
mod inline;
mod kernel;
mod listener;
mod message;
mod options;
mod out_stream;
mod payload;
mod reader;
mod sink;
mod skip;
mod tag;

pub(crate) use self::core::Body;
pub use error::{error_value, CallError, NetError};
pub use kernel::Kernel;
pub(crate) use message::Delivery;
pub use message::{From, Message};
pub use options::{KernelOptions, MAX_COUNT, MIN_FRAME};
pub use out_stream::OutStream;
pub use payload::Payload;
pub use sink::{Sink, SinkState};
pub use skip::Skip;
pub use tag::random_hex;
