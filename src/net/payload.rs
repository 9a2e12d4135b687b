use bytes::Bytes;
use serde_json::Value;

use crate::wire::{buffer, js_json};

/// What a message carries: any JSON value, or bytes (a Node `Buffer` on the
/// JavaScript side, or a streamed body put back together).
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Json(Value),
    Bytes(Bytes),
}

impl Payload {
    /// The JavaScript JSON text sent as the envelope's `data`.
    pub fn to_wire(&self) -> String {
        match self {
            Payload::Json(v) => js_json::to_string(v),
            Payload::Bytes(b) => buffer::to_json(b),
        }
    }

    /// Appends [`to_wire`](Self::to_wire)'s text to `out`.
    pub fn write_wire(&self, out: &mut Vec<u8>) {
        match self {
            Payload::Json(v) => js_json::write_value_to(out, v),
            Payload::Bytes(b) => buffer::write_json(out, b),
        }
    }

    /// A received `data` value: a top-level Buffer becomes bytes, as the
    /// original kernel does.
    pub fn from_wire(v: Value) -> Payload {
        match buffer::from_value(&v) {
            Some(bytes) => Payload::Bytes(bytes.into()),
            None => Payload::Json(v),
        }
    }

    /// The payload as JSON: bytes are parsed as JSON text (how a streamed
    /// or Buffer body is read), falling back to a string of the bytes.
    pub fn into_json(self) -> Value {
        match self {
            Payload::Json(v) => v,
            Payload::Bytes(b) => serde_json::from_slice(&b)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into_owned())),
        }
    }

    pub fn as_json(&self) -> Option<&Value> {
        match self {
            Payload::Json(v) => Some(v),
            Payload::Bytes(_) => None,
        }
    }
}

impl From<Value> for Payload {
    fn from(v: Value) -> Self {
        Payload::Json(v)
    }
}

impl From<&str> for Payload {
    fn from(s: &str) -> Self {
        Payload::Json(Value::String(s.to_owned()))
    }
}

impl From<Vec<u8>> for Payload {
    fn from(b: Vec<u8>) -> Self {
        Payload::Bytes(b.into())
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Self {
        Payload::Bytes(b)
    }
}
