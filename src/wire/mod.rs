//! The wire contract (PROTOCOL §1–3), as pure functions: framing, the
//! envelope, JavaScript-identical JSON, Buffers and cookie signatures.

pub mod body;
pub mod buffer;
mod envelope;
mod frame;
pub mod js_json;
mod sign;

pub use envelope::{
    decode, decode_incoming, decode_incoming_checked, encode, encode_with, frame_around, stream,
    verify_signed, DropReason, Envelope, FrameType, Incoming, Outgoing, Sender,
};
pub use frame::{FrameDecoder, FrameTooLarge, DEFAULT_MAX_FRAME, DELIMITER};
pub use sign::{Signer, CHECKSUM_LEN};
