//! Envelopes in the form the kernel routes them ([`Incoming`]), by a fast
//! path for frames written the way conforming senders write them, and by
//! the general decoder for anything else: the same checks, the same
//! outcome.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::super::sign::Signer;
use super::signature::{verify_prefixed, verify_reserialised};
use super::strict::decode_strict;
use super::{decode, DropReason, FrameType, Sender};

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
