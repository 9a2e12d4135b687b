//! Envelopes on their way out, written in the exact key order the original
//! writes (PROTOCOL §1–3), signed in place.

use super::super::js_json;
use super::super::sign::Signer;
use super::{signature, FrameType};

/// An envelope to send. Every JSON part is already JavaScript JSON text, so
/// identities and stream markers are serialised once and reused.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub frame_type: FrameType,
    /// Target; `None` for pings.
    pub id: Option<&'a str>,
    pub tag: Option<&'a str>,
    /// [`Sender::to_json`](super::Sender::to_json) of this node.
    pub from: &'a str,
    /// The stream object's JSON (see [`stream`](super::stream)).
    pub stream: &'a str,
    /// The payload's JSON; `None` leaves the field out (pings).
    pub data: Option<&'a str>,
}

/// Appends the complete frame (signed when `signer` is given, delimiter
/// included) to `out`.
pub fn encode(msg: &Outgoing, signer: Option<&Signer>, out: &mut Vec<u8>) {
    encode_with(msg, None, signer, out);
}

/// Writes a payload's JSON text into a frame being built.
pub type DataWriter<'a> = dyn Fn(&mut Vec<u8>) + 'a;

/// [`encode`], with the payload written straight into the frame by `data`
/// when it is given (instead of `msg.data`). The frame is built in place:
/// the checksum's room is reserved and filled once the envelope is written.
pub fn encode_with(
    msg: &Outgoing,
    data: Option<&DataWriter>,
    signer: Option<&Signer>,
    out: &mut Vec<u8>,
) {
    out.reserve(160 + msg.from.len() + msg.stream.len() + msg.data.map_or(0, str::len));
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(msg.frame_type.as_str().as_bytes());
    out.extend_from_slice(b"\",\"data\":{");
    let checksum_at = signer.map(|_| signature::reserve(out));
    // The signed text is `{` followed by everything from here to the
    // envelope's closing brace.
    let fields_at = out.len();
    if let Some(id) = msg.id {
        out.extend_from_slice(b"\"id\":");
        js_json::write_str_to(out, id);
        out.push(b',');
    }
    out.extend_from_slice(b"\"tag\":");
    match msg.tag {
        Some(tag) => js_json::write_str_to(out, tag),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"from\":");
    out.extend_from_slice(msg.from.as_bytes());
    out.extend_from_slice(b",\"stream\":");
    out.extend_from_slice(msg.stream.as_bytes());
    match (data, msg.data) {
        (Some(write), _) => {
            out.extend_from_slice(b",\"data\":");
            write(out);
        }
        (None, Some(text)) => {
            out.extend_from_slice(b",\"data\":");
            out.extend_from_slice(text.as_bytes());
        }
        (None, None) => {}
    }
    out.push(b'}');
    if let (Some(signer), Some(at)) = (signer, checksum_at) {
        signature::fill(signer, out, at, fields_at);
    }
    out.extend_from_slice(b"}\x0c");
}

/// Wraps an envelope's JSON text (without `checkSum`) in a frame, putting the
/// signature first when there is a cookie.
pub fn frame_around(frame_type: FrameType, body: &str, signer: Option<&Signer>, out: &mut Vec<u8>) {
    out.reserve(body.len() + 110);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(frame_type.as_str().as_bytes());
    out.extend_from_slice(b"\",\"data\":");
    match signer {
        Some(signer) => signature::write_around(body, signer, out),
        None => out.extend_from_slice(body.as_bytes()),
    }
    out.extend_from_slice(b"}\x0c");
}
