//! The `{"type","data"}` frame and the message envelope inside it
//! (PROTOCOL §1–3): decoding with signature checks, and encoding in the exact
//! key order the original writes.
//!
//! | module | concern |
//! |---|---|
//! | this one | the envelope's types; the general decoder |
//! | `incoming` | the form the kernel routes, by the fast path first |
//! | `strict` | the fast path's reader of conforming envelopes |
//! | `signature` | where the signature sits: written and checked |
//! | `outgoing` | envelopes written in place |
//! | [`stream`] | stream markers |

mod incoming;
mod outgoing;
mod signature;
pub mod stream;
mod strict;
#[cfg(test)]
mod tests;

pub use incoming::{decode_incoming, decode_incoming_checked, Incoming};
pub use outgoing::{encode, encode_with, frame_around, Outgoing};
pub use signature::verify_signed;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::js_json;
use super::sign::Signer;

/// What a frame carries: kernel traffic or a kernel ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    Message,
    Ping,
}

impl FrameType {
    pub fn as_str(self) -> &'static str {
        match self {
            FrameType::Message => "message",
            FrameType::Ping => "ping",
        }
    }
}

/// The `from` of an envelope. Nodes send `{id, host, port}`; the CLI sends
/// only `{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sender {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl Sender {
    /// The JavaScript JSON text of this sender.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64);
        out.push_str("{\"id\":");
        js_json::write_str(&mut out, &self.id);
        if let Some(host) = &self.host {
            out.push_str(",\"host\":");
            js_json::write_str(&mut out, host);
        }
        if let Some(port) = self.port {
            out.push_str(&format!(",\"port\":{port}"));
        }
        out.push('}');
        out
    }
}

impl From<&crate::Node> for Sender {
    fn from(n: &crate::Node) -> Self {
        Sender {
            id: n.id().to_owned(),
            host: Some(n.host().to_owned()),
            port: Some(n.port()),
        }
    }
}

/// Why an incoming frame was dropped. `code()` is the name reported to
/// users (the original's `_skip` types where it has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    #[error("frame is not valid UTF-8")]
    InvalidUtf8,
    #[error("frame is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("unknown frame type {0:?}")]
    UnknownFrameType(String),
    #[error("missing or wrong checksum")]
    InvalidChecksum,
    #[error("malformed envelope: {0}")]
    MalformedEnvelope(String),
}

impl DropReason {
    pub fn code(&self) -> &'static str {
        match self {
            DropReason::InvalidUtf8 => "INVALID_UTF8",
            DropReason::MalformedJson(_) => "MALFORMED_JSON",
            DropReason::UnknownFrameType(_) => "UNKNOWN_FRAME_TYPE",
            DropReason::InvalidChecksum => "INVALID_CHECKSUM",
            DropReason::MalformedEnvelope(_) => "MALFORMED_ENVELOPE",
        }
    }
}

/// A received, verified envelope.
#[derive(Debug)]
pub struct Envelope {
    pub frame_type: FrameType,
    /// The local target (a server name or a reply tag); absent in pings.
    pub id: Option<String>,
    /// Set when the sender waits for a reply.
    pub tag: Option<String>,
    pub from: Sender,
    /// `{"done":…,"stream"?:…,"error"?:…}` as received (key order kept).
    pub stream: Map<String, Value>,
    /// The payload's JSON text as received; `None` when absent or `null`.
    pub data: Option<Box<RawValue>>,
}

impl Envelope {
    /// Whether this is the last (or only) message of its stream.
    pub fn done(&self) -> bool {
        self.stream.get("done").and_then(Value::as_bool) == Some(true)
    }

    /// The id shared by the messages of a streamed body.
    pub fn stream_id(&self) -> Option<&str> {
        self.stream.get("stream").and_then(Value::as_str)
    }

    /// The error a failed stream or an error reply carries.
    pub fn error(&self) -> Option<&Value> {
        self.stream.get("error").filter(|e| !e.is_null())
    }

    /// The payload parsed (`null` when absent).
    pub fn data_value(&self) -> Result<Value, serde_json::Error> {
        match &self.data {
            Some(raw) => serde_json::from_str(raw.get()),
            None => Ok(Value::Null),
        }
    }
}

#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "type")]
    frame_type: &'a str,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireEnvelope {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    from: Option<Sender>,
    #[serde(default)]
    stream: Option<Map<String, Value>>,
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

/// Decodes one frame (delimiter removed). With a `signer`, the envelope must
/// carry a valid `checkSum`.
pub fn decode(frame: &[u8], signer: Option<&Signer>) -> Result<Envelope, DropReason> {
    let text = std::str::from_utf8(frame).map_err(|_| DropReason::InvalidUtf8)?;
    let raw: RawFrame =
        serde_json::from_str(text).map_err(|e| DropReason::MalformedJson(e.to_string()))?;
    let frame_type = match raw.frame_type {
        "message" => FrameType::Message,
        "ping" => FrameType::Ping,
        other => {
            return Err(DropReason::UnknownFrameType(
                other.chars().take(64).collect(),
            ))
        }
    };
    let body = raw
        .data
        .ok_or_else(|| DropReason::MalformedEnvelope("frame has no data".into()))?
        .get();
    if let Some(signer) = signer {
        if !verify_signed(body, signer) {
            return Err(DropReason::InvalidChecksum);
        }
    }
    let env: WireEnvelope =
        serde_json::from_str(body).map_err(|e| DropReason::MalformedEnvelope(e.to_string()))?;
    let from = env
        .from
        .ok_or_else(|| DropReason::MalformedEnvelope("missing `from`".into()))?;
    if frame_type == FrameType::Message && env.id.is_none() {
        return Err(DropReason::MalformedEnvelope("missing `id`".into()));
    }
    Ok(Envelope {
        frame_type,
        id: env.id,
        tag: env.tag,
        from,
        stream: env.stream.unwrap_or_default(),
        data: env.data.filter(|d| d.get() != "null"),
    })
}
