//! The `{"type","data"}` frame and the message envelope inside it
//! (PROTOCOL §1–3): decoding with signature checks, and encoding in the exact
//! key order the original writes.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::js_json;
use super::sign::{Signer, CHECKSUM_LEN};

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

const CHECKSUM_PREFIX: &str = "{\"checkSum\":\"";

/// Checks the signature of a signed JSON object (an envelope, or a command
/// answer to the CLI). A conforming sender writes `{"checkSum":"<hex>",`
/// followed by the signed text minus its `{`, so the signed bytes are
/// recovered without re-serialising; otherwise the object is re-serialised
/// the way a JavaScript receiver would.
pub fn verify_signed(body: &str, signer: &Signer) -> bool {
    let after = CHECKSUM_PREFIX.len() + CHECKSUM_LEN;
    // Byte-wise: the body is untrusted and may put a multi-byte character
    // anywhere.
    let bytes = body.as_bytes();
    if bytes.len() > after + 1 && body.starts_with(CHECKSUM_PREFIX) && bytes[after] == b'"' {
        let checksum = &bytes[CHECKSUM_PREFIX.len()..after];
        let rest = &bytes[after + 1..];
        let signed: Option<[&[u8]; 2]> = match rest.first() {
            Some(b',') => Some([b"{", &rest[1..]]),
            Some(b'}') => Some([b"{", b"}"]),
            _ => None,
        };
        if signed.is_some_and(|parts| signer.verify_parts(&parts, checksum)) {
            return true;
        }
    }
    verify_reserialised(body, signer)
}

fn verify_reserialised(body: &str, signer: &Signer) -> bool {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    let Some(Value::String(checksum)) = map.shift_remove("checkSum") else {
        return false;
    };
    let signed = js_json::to_string(&Value::Object(map));
    signer.verify(signed.as_bytes(), checksum.as_bytes())
}

/// An envelope to send. Every JSON part is already JavaScript JSON text, so
/// identities and stream markers are serialised once and reused.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub frame_type: FrameType,
    /// Target; `None` for pings.
    pub id: Option<&'a str>,
    pub tag: Option<&'a str>,
    /// [`Sender::to_json`] of this node.
    pub from: &'a str,
    /// The stream object's JSON (see [`stream`]).
    pub stream: &'a str,
    /// The payload's JSON; `None` leaves the field out (pings).
    pub data: Option<&'a str>,
}

/// Appends the complete frame (signed when `signer` is given, delimiter
/// included) to `out`.
pub fn encode(msg: &Outgoing, signer: Option<&Signer>, out: &mut Vec<u8>) {
    let mut signed = String::with_capacity(96 + msg.from.len() + msg.data.map_or(0, str::len));
    signed.push('{');
    if let Some(id) = msg.id {
        signed.push_str("\"id\":");
        js_json::write_str(&mut signed, id);
        signed.push(',');
    }
    signed.push_str("\"tag\":");
    match msg.tag {
        Some(tag) => js_json::write_str(&mut signed, tag),
        None => signed.push_str("null"),
    }
    signed.push_str(",\"from\":");
    signed.push_str(msg.from);
    signed.push_str(",\"stream\":");
    signed.push_str(msg.stream);
    if let Some(data) = msg.data {
        signed.push_str(",\"data\":");
        signed.push_str(data);
    }
    signed.push('}');
    frame_around(msg.frame_type, &signed, signer, out);
}

/// Wraps an envelope's JSON text (without `checkSum`) in a frame, putting the
/// signature first when there is a cookie.
pub fn frame_around(frame_type: FrameType, body: &str, signer: Option<&Signer>, out: &mut Vec<u8>) {
    out.reserve(body.len() + 110);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(frame_type.as_str().as_bytes());
    out.extend_from_slice(b"\",\"data\":");
    match signer {
        Some(signer) => {
            out.extend_from_slice(CHECKSUM_PREFIX.as_bytes());
            out.extend_from_slice(&signer.sign(body.as_bytes()));
            out.push(b'"');
            if body.len() > 2 {
                out.push(b',');
            }
            out.extend_from_slice(&body.as_bytes()[1..]);
        }
        None => out.extend_from_slice(body.as_bytes()),
    }
    out.extend_from_slice(b"}\x0c");
}

/// Stream markers in the key order the original writes them.
pub mod stream {
    use serde_json::Value;

    use crate::wire::js_json;

    /// A single, complete message.
    pub const SINGLE: &str = "{\"done\":true}";

    /// A chunk of streamed body `id`.
    pub fn chunk(id: &str) -> String {
        format!("{{\"done\":false,\"stream\":\"{id}\"}}")
    }

    /// The end of streamed body `id`.
    pub fn end(id: &str) -> String {
        format!("{{\"done\":true,\"stream\":\"{id}\"}}")
    }

    /// A failed stream (`id`) or an error reply (`None`).
    pub fn error(id: Option<&str>, error: &Value) -> String {
        let mut out = String::from("{\"done\":true");
        if let Some(id) = id {
            out.push_str(",\"stream\":");
            js_json::write_str(&mut out, id);
        }
        out.push_str(",\"error\":");
        js_json::write_value(&mut out, error);
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multibyte_text_where_the_checksum_should_be_is_refused_not_a_panic() {
        let signer = Signer::new(b"cookie");
        let body = format!("{CHECKSUM_PREFIX}{}\"}}", "é".repeat(40));
        assert!(!verify_signed(&body, &signer));
        let frame = format!("{{\"type\":\"message\",\"data\":{body}}}");
        assert_eq!(
            decode(frame.as_bytes(), Some(&signer)).unwrap_err(),
            DropReason::InvalidChecksum
        );
    }

    #[test]
    fn unsigned_nodes_accept_unsigned_frames() {
        let mut out = vec![];
        encode(
            &Outgoing {
                frame_type: FrameType::Message,
                id: Some("srv"),
                tag: None,
                from: r#"{"id":"a","host":"h","port":1}"#,
                stream: stream::SINGLE,
                data: Some("1"),
            },
            None,
            &mut out,
        );
        let env = decode(&out[..out.len() - 1], None).unwrap();
        assert_eq!(env.id.as_deref(), Some("srv"));
        assert!(!out.windows(8).any(|w| w == b"checkSum"));
        assert_eq!(
            decode(&out[..out.len() - 1], Some(&Signer::new(b"k"))).unwrap_err(),
            DropReason::InvalidChecksum
        );
    }
}
