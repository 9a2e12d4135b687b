//! The frames this node writes: its identity serialised once, signed with
//! its cookie, in the exact shape the original writes (PROTOCOL §1–3).
//! Frames are appended to a buffer the caller owns, so a driver can build
//! them in a reused scratch buffer.

use serde_json::Value;

use crate::net::payload::Payload;
use crate::wire::{self, stream, FrameType, Outgoing, Sender, Signer};
use crate::Node;

/// What an outgoing envelope carries as `data`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Data<'a> {
    /// No `data` field (pings).
    None,
    /// JSON text.
    Text(&'a str),
    Payload(&'a Payload),
}

/// Writes frames from one node.
#[derive(Debug)]
pub(crate) struct Writer {
    /// The node's `from`, as JavaScript JSON text.
    from_json: String,
    signer: Option<Signer>,
}

impl Writer {
    /// Frames from `node`, signed with `cookie` unless it is absent or
    /// empty.
    pub(crate) fn new(node: &Node, cookie: Option<&str>) -> Writer {
        Writer {
            from_json: Sender::from(node).to_json(),
            signer: cookie
                .filter(|c| !c.is_empty())
                .map(|c| Signer::new(c.as_bytes())),
        }
    }

    /// The cookie's signer, which also checks received frames.
    pub(crate) fn signer(&self) -> Option<&Signer> {
        self.signer.as_ref()
    }

    /// Appends a complete signed frame: `id` is the target (a server or a
    /// reply tag), `tag` the tag a reply should carry, `stream` the stream
    /// marker's JSON text.
    pub(crate) fn encode(
        &self,
        frame_type: FrameType,
        id: Option<&str>,
        tag: Option<&str>,
        stream: &str,
        data: Data,
        out: &mut Vec<u8>,
    ) {
        let msg = Outgoing {
            frame_type,
            id,
            tag,
            from: &self.from_json,
            stream,
            data: match data {
                Data::Text(text) => Some(text),
                Data::None | Data::Payload(_) => None,
            },
        };
        let signer = self.signer.as_ref();
        match data {
            Data::Payload(p) => wire::encode_with(
                &msg,
                Some(&|out: &mut Vec<u8>| p.write_wire(out)),
                signer,
                out,
            ),
            Data::None | Data::Text(_) => wire::encode(&msg, signer, out),
        }
    }

    /// A single message for server `target`; `tag` set for a call.
    pub(crate) fn message(
        &self,
        target: &str,
        tag: Option<&str>,
        data: &Payload,
        out: &mut Vec<u8>,
    ) {
        self.encode(
            FrameType::Message,
            Some(target),
            tag,
            stream::SINGLE,
            Data::Payload(data),
            out,
        );
    }

    /// The answer to call `tag`: its result, or an error object.
    pub(crate) fn reply(&self, tag: &str, result: Result<&Payload, &Value>, out: &mut Vec<u8>) {
        match result {
            Ok(data) => self.encode(
                FrameType::Message,
                Some(tag),
                None,
                stream::SINGLE,
                Data::Payload(data),
                out,
            ),
            Err(error) => self.encode(
                FrameType::Message,
                Some(tag),
                None,
                &stream::error(None, error),
                Data::Text("null"),
                out,
            ),
        }
    }

    /// A ping whose `"pong"` is to answer call `tag`.
    pub(crate) fn ping(&self, tag: &str, out: &mut Vec<u8>) {
        self.encode(
            FrameType::Ping,
            None,
            Some(tag),
            stream::SINGLE,
            Data::None,
            out,
        );
    }

    /// The answer to a ping tagged `tag`.
    pub(crate) fn pong(&self, tag: &str, out: &mut Vec<u8>) {
        self.encode(
            FrameType::Message,
            Some(tag),
            None,
            stream::SINGLE,
            Data::Text("\"pong\""),
            out,
        );
    }

    /// One frame of a streamed body for `target` (a server, or the tag a
    /// streamed reply answers): a chunk under `marker` (see
    /// [`stream::chunk`]) with `data`, or its end or failure with none.
    pub(crate) fn stream_part(
        &self,
        target: &str,
        tag: Option<&str>,
        marker: &str,
        data: Option<&Payload>,
        out: &mut Vec<u8>,
    ) {
        let data = match data {
            Some(p) => Data::Payload(p),
            None => Data::Text("null"),
        };
        self.encode(FrameType::Message, Some(target), tag, marker, data, out);
    }
}
