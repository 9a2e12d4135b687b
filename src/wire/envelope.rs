//! The `{"type","data"}` frame and the message envelope inside it
//! (PROTOCOL §1–3): decoding with signature checks, and encoding in the exact
//! key order the original writes.

use std::borrow::Cow;

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

/// A received, verified envelope in the form the kernel routes it: the
/// stream marker reduced to what routing reads, the payload left as text
/// (borrowed from the frame when possible) for the receiver to parse the
/// way it needs. [`decode_incoming`] makes it.
#[derive(Debug)]
pub struct Incoming<'a> {
    pub frame_type: FrameType,
    /// The local target (a server name or a reply tag); absent in pings.
    pub id: Option<String>,
    /// Set when the sender waits for a reply.
    pub tag: Option<String>,
    pub from: Sender,
    /// The stream marker's `done` is `true`.
    pub done: bool,
    /// The stream marker's `stream`, when it is a string.
    pub stream_id: Option<String>,
    /// The stream marker's `error`, when it is not `null`.
    pub error: Option<Value>,
    /// The payload's JSON text; `None` when absent or `null`.
    pub data: Option<Cow<'a, str>>,
    /// Whether `data` is known to be exactly one JSON value. The fast path
    /// leaves that to whoever parses it: if that fails, the frame is to be
    /// decoded again with [`decode_incoming_checked`], which decides.
    pub data_checked: bool,
}

impl Incoming<'_> {
    /// The payload parsed (`null` when absent).
    pub fn data_value(&self) -> Result<Value, serde_json::Error> {
        match &self.data {
            Some(text) => serde_json::from_str(text),
            None => Ok(Value::Null),
        }
    }
}

/// What [`decode_incoming`] parses a conforming envelope into.
#[derive(Deserialize)]
struct FastEnvelope<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    from: Option<Sender>,
    #[serde(default)]
    stream: Option<StreamMarker>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

/// The stream object, read like [`Envelope`]'s map (a repeated key keeps
/// its last value) without building the map.
#[derive(Default)]
struct StreamMarker {
    done: bool,
    stream: Option<String>,
    error: Option<Value>,
}

impl<'de> Deserialize<'de> for StreamMarker {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "lowercase")]
        enum Key {
            Done,
            Stream,
            Error,
            #[serde(other)]
            Other,
        }
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = StreamMarker;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a stream object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<StreamMarker, A::Error> {
                let mut out = StreamMarker::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Done => out.done = map.next_value::<Value>()? == Value::Bool(true),
                        Key::Stream => {
                            out.stream = match map.next_value::<Value>()? {
                                Value::String(s) => Some(s),
                                _ => None,
                            }
                        }
                        Key::Error => {
                            out.error = Some(map.next_value::<Value>()?).filter(|e| !e.is_null())
                        }
                        Key::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Visit)
    }
}

/// [`decode`] for routing: the same checks and the same outcome. A frame
/// written the way conforming senders write it is parsed in one pass over
/// the envelope, after the signature check, and its payload is borrowed;
/// anything else takes [`decode`]'s path.
pub fn decode_incoming<'a>(
    frame: &'a [u8],
    signer: Option<&Signer>,
) -> Result<Incoming<'a>, DropReason> {
    if let Some(incoming) = decode_conforming(frame, signer) {
        return Ok(incoming);
    }
    decode_incoming_checked(frame, signer)
}

/// [`decode_incoming`] through [`decode`] alone: the payload, if any, is
/// checked.
pub fn decode_incoming_checked(
    frame: &[u8],
    signer: Option<&Signer>,
) -> Result<Incoming<'static>, DropReason> {
    let env = decode(frame, signer)?;
    Ok(Incoming {
        frame_type: env.frame_type,
        done: env.done(),
        stream_id: env.stream_id().map(str::to_owned),
        error: env.error().cloned(),
        id: env.id,
        tag: env.tag,
        from: env.from,
        data: env
            .data
            .map(|raw| Cow::Owned(String::from(Box::<str>::from(raw)))),
        data_checked: true,
    })
}

/// The fast path of [`decode_incoming`]: `None` whenever the frame is not
/// `{"type":"message"|"ping","data":<object>}` with exactly those keys, or
/// anything about it fails, so that [`decode`] decides (and reports).
fn decode_conforming<'a>(frame: &'a [u8], signer: Option<&Signer>) -> Option<Incoming<'a>> {
    const MESSAGE: &[u8] = b"{\"type\":\"message\",\"data\":";
    const PING: &[u8] = b"{\"type\":\"ping\",\"data\":";
    let (frame_type, rest) = if let Some(rest) = frame.strip_prefix(MESSAGE) {
        (FrameType::Message, rest)
    } else {
        (FrameType::Ping, frame.strip_prefix(PING)?)
    };
    let body = std::str::from_utf8(rest.strip_suffix(b"}")?).ok()?;
    // Exactly the object's text, as `decode` would slice it (so that the
    // signature covers the same bytes).
    if !body.starts_with('{') || !body.ends_with('}') {
        return None;
    }
    // Whether the body starts with a checksum known to be 64 hex digits.
    let checksum_first = match signer {
        None => false,
        Some(signer) if verify_prefixed(body, signer) => true,
        Some(signer) if verify_reserialised(body, signer) => false,
        Some(_) => return None,
    };
    if let Some(incoming) = decode_strict(frame_type, body, checksum_first) {
        return Some(incoming);
    }
    // `body` parses as one object, so the frame is exactly an object with
    // the keys `type` and `data`: what `decode` would accept.
    let env: FastEnvelope = serde_json::from_str(body).ok()?;
    if frame_type == FrameType::Message && env.id.is_none() {
        return None;
    }
    let stream = env.stream.unwrap_or_default();
    Some(Incoming {
        frame_type,
        id: env.id,
        tag: env.tag,
        from: env.from?,
        done: stream.done,
        stream_id: stream.stream,
        error: stream.error,
        data: env.data.map(|raw| Cow::Borrowed(raw.get())),
        data_checked: true,
    })
}

/// The envelope exactly as conforming nodes write a single message or a
/// ping, read without a general parser:
/// `{["checkSum":<str>,]["id":<str>,]"tag":<str>|null,"from":{"id":<str>,
/// "host":<str>,"port":<u16>},"stream":{"done":true}[,"data":<json>]}`
/// with no whitespace and no escapes in the strings. `None` for anything
/// else, which the general parser then reads. What it accepts, the general
/// parser reads the same way.
fn decode_strict(frame_type: FrameType, body: &str, checksum_first: bool) -> Option<Incoming<'_>> {
    let mut c = Cursor { text: body, pos: 0 };
    if checksum_first {
        // Past `{"checkSum":"<64 hex>"`.
        c.pos = CHECKSUM_PREFIX.len() + CHECKSUM_LEN + 1;
        c.lit(",")?;
    } else {
        c.lit("{")?;
        if c.lit("\"checkSum\":").is_some() {
            c.string()?;
            c.lit(",")?;
        }
    }
    let id = match frame_type {
        FrameType::Message => {
            c.lit("\"id\":")?;
            let id = c.string()?;
            c.lit(",")?;
            Some(id.to_owned())
        }
        FrameType::Ping => None,
    };
    c.lit("\"tag\":")?;
    let tag = match c.lit("null") {
        Some(()) => None,
        None => Some(c.string()?.to_owned()),
    };
    c.lit(",\"from\":{\"id\":")?;
    let from_id = c.string()?;
    c.lit(",\"host\":")?;
    let host = c.string()?;
    c.lit(",\"port\":")?;
    let port = c.port()?;
    c.lit("},\"stream\":{\"done\":true}")?;
    let data = match frame_type {
        FrameType::Message => {
            c.lit(",\"data\":")?;
            // Everything up to the closing brace, not checked here: its
            // reader parses it anyway (see `Incoming::data_checked`).
            let text = body.get(c.pos..body.len().checked_sub(1)?)?;
            c.pos = body.len() - 1;
            let text = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
            (text != "null").then_some(text)
        }
        FrameType::Ping => None,
    };
    c.lit("}")?;
    (c.pos == body.len()).then(|| Incoming {
        frame_type,
        id,
        tag,
        from: Sender {
            id: from_id.to_owned(),
            host: Some(host.to_owned()),
            port: Some(port),
        },
        done: true,
        stream_id: None,
        error: None,
        data: data.map(Cow::Borrowed),
        data_checked: false,
    })
}

/// A position in JSON text, for [`decode_strict`].
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a [u8] {
        self.text.as_bytes().get(self.pos..).unwrap_or_default()
    }

    fn lit(&mut self, lit: &str) -> Option<()> {
        self.rest().starts_with(lit.as_bytes()).then(|| {
            self.pos += lit.len();
        })
    }

    /// A string without escapes (or control characters, which JSON does
    /// not allow raw).
    fn string(&mut self) -> Option<&'a str> {
        self.lit("\"")?;
        let start = self.pos;
        let end = start + js_json::plain_len(self.rest());
        if self.text.as_bytes().get(end) != Some(&b'"') {
            return None;
        }
        self.pos = end + 1;
        // Both ends are ASCII quotes, so this is a character boundary.
        self.text.get(start..end)
    }

    /// A port number as JSON writes one: no sign, no leading zero, no
    /// fraction or exponent.
    fn port(&mut self) -> Option<u16> {
        let bytes = self.rest();
        let mut port: u32 = 0;
        let mut digits = 0;
        for &b in bytes.iter().take(6) {
            if !b.is_ascii_digit() {
                break;
            }
            port = port * 10 + u32::from(b - b'0');
            digits += 1;
        }
        if digits == 0 || (digits > 1 && bytes[0] == b'0') || port > u32::from(u16::MAX) {
            return None;
        }
        self.pos += digits;
        u16::try_from(port).ok()
    }
}

const CHECKSUM_PREFIX: &str = "{\"checkSum\":\"";

/// Checks the signature of a signed JSON object (an envelope, or a command
/// answer to the CLI). A conforming sender writes `{"checkSum":"<hex>",`
/// followed by the signed text minus its `{`, so the signed bytes are
/// recovered without re-serialising; otherwise the object is re-serialised
/// the way a JavaScript receiver would.
pub fn verify_signed(body: &str, signer: &Signer) -> bool {
    verify_prefixed(body, signer) || verify_reserialised(body, signer)
}

/// [`verify_signed`] for a body that starts `{"checkSum":"<64 hex>",` as
/// conforming senders write it (false for any other).
fn verify_prefixed(body: &str, signer: &Signer) -> bool {
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
        return signed.is_some_and(|parts| signer.verify_parts(&parts, checksum));
    }
    false
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
    let checksum_at = signer.map(|_| {
        out.extend_from_slice(&CHECKSUM_PREFIX.as_bytes()[1..]);
        let at = out.len();
        out.extend_from_slice(&[b'0'; CHECKSUM_LEN]);
        out.extend_from_slice(b"\",");
        at
    });
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
        let sum = signer.sign_parts(&[b"{", &out[fields_at..]]);
        out[at..at + CHECKSUM_LEN].copy_from_slice(&sum);
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
    fn frames_built_in_place_equal_frames_wrapped_around_their_text() {
        let from = r#"{"id":"a","host":"h","port":1}"#;
        for signer in [None, Some(Signer::new(b"cookie"))] {
            for (id, tag, data) in [
                (Some("srv"), Some("t\"1"), Some("{\"x\":[1,2]}")),
                (None, None, None),
                (Some("s"), None, Some("null")),
            ] {
                let msg = Outgoing {
                    frame_type: FrameType::Message,
                    id,
                    tag,
                    from,
                    stream: stream::SINGLE,
                    data,
                };
                let mut body = String::from("{");
                if let Some(id) = id {
                    body.push_str("\"id\":");
                    js_json::write_str(&mut body, id);
                    body.push(',');
                }
                body.push_str("\"tag\":");
                match tag {
                    Some(t) => js_json::write_str(&mut body, t),
                    None => body.push_str("null"),
                }
                body.push_str(&format!(",\"from\":{from},\"stream\":{}", stream::SINGLE));
                if let Some(d) = data {
                    body.push_str(&format!(",\"data\":{d}"));
                }
                body.push('}');
                let mut want = vec![];
                frame_around(FrameType::Message, &body, signer.as_ref(), &mut want);
                let mut got = vec![];
                encode(&msg, signer.as_ref(), &mut got);
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&want)
                );
                let mut written = vec![];
                let payload =
                    |out: &mut Vec<u8>| out.extend_from_slice(data.unwrap_or("null").as_bytes());
                encode_with(
                    &Outgoing { data: None, ..msg },
                    Some(&payload),
                    signer.as_ref(),
                    &mut written,
                );
                let mut with_data = vec![];
                encode(
                    &Outgoing {
                        data: Some(data.unwrap_or("null")),
                        ..msg
                    },
                    signer.as_ref(),
                    &mut with_data,
                );
                assert_eq!(written, with_data);
            }
        }
    }

    /// What a receiver makes of a decoded frame: its fields, or the code
    /// it drops it with (a payload left unchecked that is not JSON makes
    /// the envelope malformed).
    fn outcome(
        r: Result<Incoming, DropReason>,
        frame: &[u8],
        signer: Option<&Signer>,
    ) -> Result<String, &'static str> {
        let mut inc = r.map_err(|e| e.code())?;
        if !inc.data_checked && inc.data_value().is_err() {
            inc = decode_incoming_checked(frame, signer).map_err(|e| e.code())?;
        }
        Ok(format!(
            "{:?} {:?} {:?} {:?} {} {:?} {:?} {:?}",
            inc.frame_type, inc.id, inc.tag, inc.from, inc.done, inc.stream_id, inc.error, inc.data
        ))
    }

    #[test]
    fn fast_paths_read_envelopes_as_the_general_parser_does() {
        let from = r#"{"id":"a","host":"h","port":7022}"#;
        let bodies = [
            format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true}},"data":{{"event":"e","data":"x"}}}}"#),
            format!(r#"{{"id":"srv","tag":"t1","from":{from},"stream":{{"done":true}},"data":null}}"#),
            format!(r#"{{"id":"srv","tag":"t1","from":{from},"stream":{{"done":true}},"data": null }}"#),
            format!(r#"{{"id":"srv","tag":"t1","from":{from},"stream":{{"done":true}},"data": [1, 2] }}"#),
            format!(r#"{{"id":"sr\"v","tag":"t1","from":{from},"stream":{{"done":true}},"data":1}}"#),
            format!(r#"{{"id":"srv","tag":"t\u0031","from":{from},"stream":{{"done":true}},"data":1}}"#),
            format!(r#"{{"id":"srv","tag":5,"from":{from},"stream":{{"done":true}},"data":1}}"#),
            format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true}},"data":1,"id":"x"}}"#),
            format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true}},"data":1}} "#),
            format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true}},"data":{{"a":1}}}},{{"b":2}}"#),
            format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true}},"data":{{"a":1}}"#),
            format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true}}}}"#),
            format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":false,"stream":"s"}},"data":{{"type":"Buffer","data":[1]}}}}"#),
            format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true,"error":{{"message":"m"}}}},"data":null}}"#),
            format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true,"done":false}},"data":1}}"#),
            format!(r#"{{"tag":"t","from":{from},"stream":{{"done":true}}}}"#),
            r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":07022},"stream":{"done":true},"data":1}"#.to_owned(),
            r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":70000},"stream":{"done":true},"data":1}"#.to_owned(),
            r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":1.5},"stream":{"done":true},"data":1}"#.to_owned(),
            r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":0},"stream":{"done":true},"data":1}"#.to_owned(),
            r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":65535},"stream":{"done":true},"data":1}"#.to_owned(),
            r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":65536},"stream":{"done":true},"data":1}"#.to_owned(),
            r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":1234567},"stream":{"done":true},"data":1}"#.to_owned(),
            r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":-1},"stream":{"done":true},"data":1}"#.to_owned(),
            r#"{"id":"srv","tag":null,"from":{"id":"a"},"stream":{"done":true},"data":1}"#.to_owned(),
            "{\"id\":\"s\trv\",\"tag\":null,\"from\":{\"id\":\"a\",\"host\":\"h\",\"port\":1},\"stream\":{\"done\":true},\"data\":1}".to_owned(),
            r#"{"id":"sérvé","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":"é"}"#.to_owned(),
            r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":{"a":1}},{"b":2}"#.to_owned(),
            r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":[1,}"#.to_owned(),
            r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":}"#.to_owned(),
            r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":1e400}"#.to_owned(),
            r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":nul}"#.to_owned(),
            r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":1,"x":2}"#.to_owned(),
            r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":1,"data":2}"#.to_owned(),
            r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":1,"id":"t"}"#.to_owned(),
        ];
        let cookie = Signer::new(b"cookie");
        for body in &bodies {
            for frame_type in [FrameType::Message, FrameType::Ping] {
                for signer in [None, Some(&cookie)] {
                    let mut frame = vec![];
                    frame_around(frame_type, body, signer, &mut frame);
                    frame.pop();
                    let fast = outcome(decode_incoming(&frame, signer), &frame, signer);
                    let slow = outcome(decode_incoming_checked(&frame, signer), &frame, signer);
                    assert_eq!(fast, slow, "{body}");
                    // Unsigned frames read by a node with a cookie.
                    let c = Some(&cookie);
                    let unsigned = outcome(decode_incoming(&frame, c), &frame, c);
                    let slow = outcome(decode_incoming_checked(&frame, c), &frame, c);
                    assert_eq!(unsigned, slow, "{body}");
                }
            }
        }
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
