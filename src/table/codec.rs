//! The text of the table's files, byte for byte the original's.
//!
//! * A log line is `JSON.stringify({op, args}) + "\n"`, every argument —
//!   table keys and hash keys too (the original's quirk, kept: it is what
//!   lets a number key come back a number) — passed through the codec.
//! * A snapshot line is `JSON.stringify({key, value: encode(value)}) +
//!   "\n"`, the key **not** encoded but turned into a property name:
//!   `String(key)`, lines in JavaScript property order (array-index keys
//!   ascending, then first-insertion order; a later key with the same name
//!   replaces the value; `"__proto__"` is lost), as the original's copy of
//!   the table into a plain object has them.
//!
//! The default codec is the original's `encodeValue`/`decodeValue`:
//! `{"type": typeof v, "data": v}`, sets as `{"type":"Set","data":[…]}` and
//! maps as `{"type":"Map","data":[[k, v], …]}`.

use std::borrow::Cow;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::key::Key;
use super::mtable::{Op, Snapshot};
use super::value::{MapValue, SetValue, Value};
use crate::js_order::array_index;
use crate::wire::js_json;

/// How keys and values become JSON in the files (the original's
/// `encodeFn`/`decodeFn` options).
pub trait Codec: Send + Sync + std::fmt::Debug {
    /// Appends the JSON text of an encoded value.
    fn encode_value(&self, value: &Value, out: &mut String);
    /// Appends the JSON text of an encoded key (keys are log arguments too).
    fn encode_key(&self, key: &Key, out: &mut String);
    /// A value back from its encoded JSON.
    fn decode(&self, encoded: &RawValue) -> Result<Value, String>;

    /// A key back from its encoded JSON (a decoded object is a new key).
    fn decode_key(&self, encoded: &RawValue) -> Result<Key, String> {
        self.decode(encoded).map(Key::from_value)
    }

    /// A whole log line, for a codec that can do it in one pass (`None`:
    /// argument by argument through [`Codec::decode`]).
    fn decode_log_line(&self, _line: &[u8]) -> Option<Result<Op, LineError>> {
        None
    }
}

/// The original's `DTable.encodeValue`/`decodeValue`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TypedJson;

impl Codec for TypedJson {
    fn encode_value(&self, value: &Value, out: &mut String) {
        match value {
            Value::Undefined => out.push_str(r#"{"type":"undefined"}"#),
            Value::Json(_) | Value::NonFinite(_) | Value::Date(_) => {
                out.push_str(r#"{"type":""#);
                out.push_str(value.type_of());
                out.push_str(r#"","data":"#);
                value.write_json(out);
                out.push('}');
            }
            Value::Set(s) => {
                out.push_str(r#"{"type":"Set","data":["#);
                for (i, m) in s.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    m.write_json(out);
                }
                out.push_str("]}");
            }
            Value::Map(m) => {
                out.push_str(r#"{"type":"Map","data":["#);
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('[');
                    k.write_json(out);
                    out.push(',');
                    v.write_json(out);
                    out.push(']');
                }
                out.push_str("]}");
            }
        }
    }

    fn encode_key(&self, key: &Key, out: &mut String) {
        match key {
            Key::Undefined => out.push_str(r#"{"type":"undefined"}"#),
            Key::Object(o) => self.encode_value(o.value(), out),
            _ => {
                out.push_str(r#"{"type":""#);
                out.push_str(key.type_of());
                out.push_str(r#"","data":"#);
                key.write_json(out);
                out.push('}');
            }
        }
    }

    fn decode_key(&self, encoded: &RawValue) -> Result<Key, String> {
        typed_key(serde_json::from_str(encoded.get()).map_err(|e| e.to_string())?)
    }

    fn decode(&self, encoded: &RawValue) -> Result<Value, String> {
        typed_to_value(serde_json::from_str(encoded.get()).map_err(|e| e.to_string())?)
    }

    fn decode_log_line(&self, line: &[u8]) -> Option<Result<Op, LineError>> {
        // One pass over the line: the arguments straight into `{type, data}`.
        #[derive(Deserialize)]
        struct Line<'a> {
            #[serde(borrow)]
            op: Option<Cow<'a, str>>,
            #[serde(borrow)]
            args: Option<Vec<Typed<'a>>>,
        }
        let parsed = (|| {
            let raw: Line = serde_json::from_slice(line).map_err(parse_error)?;
            let name = raw.op.ok_or_else(|| LineError::UnknownOp("no op".into()))?;
            let mut args = check_args(&name, raw.args)?;
            let mut take = |i: usize| std::mem::take(&mut args[i]);
            let key = |t: Typed| typed_key(t).map_err(LineError::Malformed);
            let value = |t: Typed| typed_to_value(t).map_err(LineError::Malformed);
            let op = match &*name {
                "set" => Op::Set(key(take(0))?, value(take(1))?),
                "sset" => Op::Sset(key(take(0))?, key(take(1))?),
                "sdel" => Op::Sdel(key(take(0))?, key(take(1))?),
                "hdel" => Op::Hdel(key(take(0))?, key(take(1))?),
                "hset" => Op::Hset(key(take(0))?, key(take(1))?, value(take(2))?),
                "del" => Op::Del(key(take(0))?),
                _ => Op::Clear,
            };
            Ok(op)
        })();
        Some(parsed)
    }
}

fn typed_key(typed: Typed) -> Result<Key, String> {
    // Most keys are strings without escapes: straight from the line.
    if let (Some("string"), Some(data)) = (typed.kind.as_deref(), typed.data) {
        if let Ok(s) = serde_json::from_str::<&str>(data.get()) {
            return Ok(Key::String(s.into()));
        }
    }
    typed_to_value(typed).map(Key::from_value)
}

fn typed_to_value(typed: Typed) -> Result<Value, String> {
    let data = typed
        .data
        .map(|r| serde_json::from_str(r.get()).map_err(|e| e.to_string()))
        .transpose()?;
    typed_value(typed.kind.as_deref(), data)
}

/// An encoded value: `{type, data}`.
#[derive(Deserialize, Default)]
struct Typed<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "present")]
    data: Option<&'a RawValue>,
}

/// The original's `decodeValue` of `{type, data}`.
fn typed_value(kind: Option<&str>, data: Option<serde_json::Value>) -> Result<Value, String> {
    match kind {
        Some("Set") => match data {
            None | Some(serde_json::Value::Null) => Ok(Value::Set(SetValue::default())),
            Some(serde_json::Value::Array(items)) => {
                Ok(Value::Set(items.into_iter().map(Key::from_json).collect()))
            }
            Some(_) => Err("a Set's data is not an array".into()),
        },
        Some("Map") => match data {
            None | Some(serde_json::Value::Null) => Ok(Value::Map(MapValue::default())),
            Some(serde_json::Value::Array(entries)) => {
                let mut map = MapValue::default();
                for entry in entries {
                    let serde_json::Value::Array(pair) = entry else {
                        return Err("a Map entry is not an array".into());
                    };
                    let mut pair = pair.into_iter();
                    let k = pair.next().map(Key::from_json).unwrap_or(Key::Undefined);
                    let v = pair.next().map(Value::Json).unwrap_or(Value::Undefined);
                    map.insert(k, v);
                }
                Ok(Value::Map(map))
            }
            Some(_) => Err("a Map's data is not an array".into()),
        },
        _ => Ok(data.map(Value::Json).unwrap_or(Value::Undefined)),
    }
}

/// Appends the log line of `op` (with its `\n`).
pub fn encode_log_line(codec: &dyn Codec, op: &Op, out: &mut String) {
    out.push_str(r#"{"op":""#);
    out.push_str(op.name());
    out.push_str(r#"","args":["#);
    match op {
        Op::Set(k, v) => {
            codec.encode_key(k, out);
            out.push(',');
            codec.encode_value(v, out);
        }
        Op::Sset(k, m) | Op::Sdel(k, m) | Op::Hdel(k, m) => {
            codec.encode_key(k, out);
            out.push(',');
            codec.encode_key(m, out);
        }
        Op::Hset(k, f, v) => {
            codec.encode_key(k, out);
            out.push(',');
            codec.encode_key(f, out);
            out.push(',');
            codec.encode_value(v, out);
        }
        Op::Del(k) => codec.encode_key(k, out),
        Op::Clear => {}
    }
    out.push_str("]}\n");
}

/// Why a line of a file was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Not JSON at all (a torn line, a blank line, binary garbage).
    NotJson(String),
    /// JSON, but not a line of this file's kind (no `args`, a bad argument…).
    Malformed(String),
    /// A log line whose `op` the table does not know (or has none).
    UnknownOp(String),
}

#[derive(Deserialize)]
struct RawLogLine<'a> {
    #[serde(borrow)]
    op: Option<Cow<'a, str>>,
    #[serde(borrow)]
    args: Option<Vec<&'a RawValue>>,
}

fn parse_error(e: serde_json::Error) -> LineError {
    if e.is_data() {
        LineError::Malformed(e.to_string())
    } else {
        LineError::NotJson(e.to_string())
    }
}

/// The op of one log line (without its `\n`).
pub fn decode_log_line(codec: &dyn Codec, line: &[u8]) -> Result<Op, LineError> {
    if let Some(op) = codec.decode_log_line(line) {
        return op;
    }
    let raw: RawLogLine = serde_json::from_slice(line).map_err(parse_error)?;
    let name = raw.op.ok_or_else(|| LineError::UnknownOp("no op".into()))?;
    let args = check_args(&name, raw.args)?;
    let key = |i: usize| codec.decode_key(args[i]).map_err(LineError::Malformed);
    let value = |i: usize| codec.decode(args[i]).map_err(LineError::Malformed);
    Ok(match &*name {
        "set" => Op::Set(key(0)?, value(1)?),
        "sset" => Op::Sset(key(0)?, key(1)?),
        "sdel" => Op::Sdel(key(0)?, key(1)?),
        "hdel" => Op::Hdel(key(0)?, key(1)?),
        "hset" => Op::Hset(key(0)?, key(1)?, value(2)?),
        "del" => Op::Del(key(0)?),
        _ => Op::Clear,
    })
}

/// The arguments of op `name`, if the op is known and they are as many as
/// it takes.
fn check_args<T>(name: &str, args: Option<Vec<T>>) -> Result<Vec<T>, LineError> {
    let arity = match name {
        "set" | "sset" | "sdel" | "hdel" => 2,
        "hset" => 3,
        "del" => 1,
        "clear" => 0,
        other => return Err(LineError::UnknownOp(other.to_owned())),
    };
    let args = args.ok_or_else(|| LineError::Malformed(format!("'{name}' line without args")))?;
    if args.len() != arity {
        return Err(LineError::Malformed(format!(
            "'{name}' takes {arity} arguments, the line has {}",
            args.len()
        )));
    }
    Ok(args)
}

/// A field that is there, `null` included (serde reads `null` as a
/// missing `Option`, but `{"data":null}` is not `{}` here).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct RawSnapshotLine<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    key: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    value: Option<&'a RawValue>,
}

/// The entry of one snapshot line (without its `\n`), as a `set`.
pub fn decode_snapshot_line(codec: &dyn Codec, line: &[u8]) -> Result<Op, LineError> {
    let raw: RawSnapshotLine = match serde_json::from_slice(line) {
        Ok(raw) => raw,
        Err(e) if e.is_data() => return Err(LineError::Malformed(e.to_string())),
        Err(e) => return Err(LineError::NotJson(e.to_string())),
    };
    let value = raw
        .value
        .ok_or_else(|| LineError::Malformed("snapshot line without value".into()))?;
    let value = codec.decode(value).map_err(LineError::Malformed)?;
    let key = match raw.key {
        None => Key::Undefined,
        Some(k) => Key::from_json(
            serde_json::from_str(k.get()).map_err(|e| LineError::Malformed(e.to_string()))?,
        ),
    };
    Ok(Op::Set(key, value))
}

/// The snapshot's entries in the order and with the names the original's
/// plain-object copy gives them.
pub fn snapshot_order(snapshot: &Snapshot) -> Vec<(String, &Value)> {
    let mut props: IndexMap<String, &Value> = IndexMap::with_capacity(snapshot.len());
    for (k, v) in snapshot.iter() {
        let name = match k {
            Key::String(s) => s.to_string(),
            other => other.js_string(),
        };
        // Assigning "__proto__" sets the prototype: no own property.
        if name != "__proto__" {
            props.insert(name, v);
        }
    }
    let mut indexed: Vec<(u32, String, &Value)> = Vec::new();
    let mut rest: Vec<(String, &Value)> = Vec::with_capacity(props.len());
    for (name, v) in props {
        match array_index(&name) {
            Some(i) => indexed.push((i, name, v)),
            None => rest.push((name, v)),
        }
    }
    indexed.sort_by_key(|(i, _, _)| *i);
    let mut out: Vec<(String, &Value)> = indexed.into_iter().map(|(_, n, v)| (n, v)).collect();
    out.extend(rest);
    out
}

/// Appends one snapshot line (with its `\n`).
pub fn encode_snapshot_line(codec: &dyn Codec, name: &str, value: &Value, out: &mut String) {
    out.push_str(r#"{"key":"#);
    js_json::write_str(out, name);
    out.push_str(r#","value":"#);
    codec.encode_value(value, out);
    out.push_str("}\n");
}
