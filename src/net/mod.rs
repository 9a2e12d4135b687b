//! The network kernel (PROTOCOL §1–2): a listener, one outbound connection
//! per peer with an ordered, bounded queue of signed frames, and routing of
//! calls, casts, replies and pings. All I/O of the engine lives here.

mod error;
mod fast_hash;
mod inbound;
mod inline;
mod kernel;
mod options;
mod out_stream;
mod payload;
mod sink;
mod skip;
mod tag;

pub use error::{error_value, CallError, NetError};
pub use inbound::{InboundReader, Pumped};
pub(crate) use inline::{Body, Delivery};
pub use kernel::{From, InboundHook, Kernel, Message};
pub use options::{KernelOptions, MAX_COUNT, MIN_FRAME};
pub use out_stream::OutStream;
pub use payload::Payload;
pub use sink::{Cork, Sink, SinkState};
pub use skip::Skip;
pub use tag::random_hex;
