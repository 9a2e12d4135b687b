//! Table keys, set members and hash keys, with the identity rules of a
//! JavaScript `Map`/`Set` (SameValueZero): primitives are equal by value
//! (`42` and `"42"` differ, `NaN` equals `NaN`, `-0` equals `0`), objects
//! and arrays only to themselves. The original keeps its tables in JS
//! `Map`s, so two equal-looking objects are two members, and a file's
//! decoded object is always a new one (dtable.json `reference_semantics`).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::value::Value;
use crate::wire::js_json;

/// A key of the table, a member of a set or a key of a hash.
#[derive(Clone, Debug)]
pub enum Key {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(Arc<str>),
    /// An object, array, set or map: equal only to the same [`ObjectRef`].
    Object(ObjectRef),
}

/// A shared object used as a key: clones are the same object; a new
/// `ObjectRef` is a different one, whatever it holds.
#[derive(Clone, Debug)]
pub struct ObjectRef(Arc<Value>);

impl ObjectRef {
    pub fn new(value: Value) -> ObjectRef {
        ObjectRef(Arc::new(value))
    }

    pub fn value(&self) -> &Value {
        &self.0
    }

    /// Whether `self` and `other` are the same object.
    pub fn same(&self, other: &ObjectRef) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Key {
    /// A key from a JSON value: primitives by value, objects and arrays as
    /// a new object (so not equal to any existing key).
    pub fn from_json(v: serde_json::Value) -> Key {
        match v {
            serde_json::Value::Null => Key::Null,
            serde_json::Value::Bool(b) => Key::Bool(b),
            serde_json::Value::Number(n) => Key::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Key::String(s.into()),
            other => Key::Object(ObjectRef::new(Value::Json(other))),
        }
    }

    /// A key from a decoded value: primitives by value, anything else as a
    /// new object.
    pub fn from_value(v: Value) -> Key {
        match v {
            Value::Undefined => Key::Undefined,
            Value::Json(j) => Key::from_json(j),
            Value::NonFinite(n) => Key::Number(n),
            other => Key::Object(ObjectRef::new(other)),
        }
    }

    /// The key as a value (objects are copied out of their reference).
    pub fn to_value(&self) -> Value {
        match self {
            Key::Undefined => Value::Undefined,
            Key::Null => Value::Json(serde_json::Value::Null),
            Key::Bool(b) => Value::Json(serde_json::Value::Bool(*b)),
            Key::Number(n) => Value::Json(
                serde_json::Number::from_f64(*n)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null),
            ),
            Key::String(s) => Value::Json(serde_json::Value::String(s.to_string())),
            Key::Object(o) => o.value().clone(),
        }
    }

    /// JavaScript `typeof` of the key.
    pub fn type_of(&self) -> &'static str {
        match self {
            Key::Undefined => "undefined",
            Key::Null | Key::Object(_) => "object",
            Key::Bool(_) => "boolean",
            Key::Number(_) => "number",
            Key::String(_) => "string",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Key::String(s) => Some(s),
            _ => None,
        }
    }

    /// JavaScript `String(key)`: what a key becomes as a property name of a
    /// plain object (the snapshot) and in error messages.
    pub fn js_string(&self) -> String {
        let mut out = String::new();
        self.write_js_string(&mut out);
        out
    }

    fn write_js_string(&self, out: &mut String) {
        match self {
            Key::Undefined => out.push_str("undefined"),
            Key::Null => out.push_str("null"),
            Key::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Key::Number(n) => write_js_number(out, *n),
            Key::String(s) => out.push_str(s),
            Key::Object(o) => write_value_string(out, o.value()),
        }
    }

    /// Appends the key as `JSON.stringify` writes it inside a collection
    /// (`undefined` and non-finite numbers become `null`).
    pub(crate) fn write_json(&self, out: &mut String) {
        match self {
            Key::Undefined | Key::Null => out.push_str("null"),
            Key::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Key::Number(n) => js_json::write_f64(out, *n),
            Key::String(s) => js_json::write_str(out, s),
            Key::Object(o) => o.value().write_json(out),
        }
    }
}

/// `Number.prototype.toString()`.
fn write_js_number(out: &mut String, n: f64) {
    if n.is_nan() {
        out.push_str("NaN");
    } else if n.is_infinite() {
        out.push_str(if n > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        js_json::write_f64(out, n);
    }
}

/// `String(value)` for an object: arrays join their elements with commas,
/// anything else is `[object <Class>]`.
fn write_value_string(out: &mut String, v: &Value) {
    match v {
        Value::Undefined => out.push_str("undefined"),
        Value::NonFinite(n) => write_js_number(out, *n),
        // Date's toString is a local-time text; its ISO form is close enough
        // for a property name nobody reads back as a date.
        Value::Date(iso) => out.push_str(iso),
        Value::Set(_) => out.push_str("[object Set]"),
        Value::Map(_) => out.push_str("[object Map]"),
        Value::Json(j) => write_json_string(out, j),
    }
}

fn write_json_string(out: &mut String, j: &serde_json::Value) {
    match j {
        serde_json::Value::Null => out.push_str("null"),
        serde_json::Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        serde_json::Value::Number(n) => write_js_number(out, n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => out.push_str(s),
        serde_json::Value::Object(_) => out.push_str("[object Object]"),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                // Array.prototype.join writes null (and undefined) as "".
                if !item.is_null() {
                    write_json_string(out, item);
                }
            }
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        match (self, other) {
            (Key::Undefined, Key::Undefined) | (Key::Null, Key::Null) => true,
            (Key::Bool(a), Key::Bool(b)) => a == b,
            // SameValueZero: NaN is itself, and -0 == 0 already.
            (Key::Number(a), Key::Number(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Key::String(a), Key::String(b)) => a == b,
            (Key::Object(a), Key::Object(b)) => a.same(b),
            _ => false,
        }
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Key::Undefined => state.write_u8(0),
            Key::Null => state.write_u8(1),
            Key::Bool(b) => state.write_u8(2 + u8::from(*b)),
            Key::Number(n) => {
                state.write_u8(4);
                let bits = if n.is_nan() {
                    f64::NAN.to_bits()
                } else if *n == 0.0 {
                    0
                } else {
                    n.to_bits()
                };
                state.write_u64(bits);
            }
            Key::String(s) => {
                state.write_u8(5);
                s.hash(state);
            }
            Key::Object(o) => {
                state.write_u8(6);
                state.write_usize(Arc::as_ptr(&o.0) as usize);
            }
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        self.write_js_string(&mut s);
        f.write_str(&s)
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Key {
        Key::String(s.into())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Key {
        Key::String(s.into())
    }
}

impl From<&String> for Key {
    fn from(s: &String) -> Key {
        Key::String(s.as_str().into())
    }
}

impl From<Arc<str>> for Key {
    fn from(s: Arc<str>) -> Key {
        Key::String(s)
    }
}

impl From<f64> for Key {
    fn from(n: f64) -> Key {
        Key::Number(n)
    }
}

impl From<bool> for Key {
    fn from(b: bool) -> Key {
        Key::Bool(b)
    }
}

macro_rules! int_keys {
    ($($t:ty),*) => {$(
        impl From<$t> for Key {
            fn from(n: $t) -> Key {
                Key::Number(n as f64)
            }
        }
    )*};
}
int_keys!(i32, i64, u32, u64, usize);

impl From<ObjectRef> for Key {
    fn from(o: ObjectRef) -> Key {
        Key::Object(o)
    }
}
