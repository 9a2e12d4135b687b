//! The values a table holds: a plain JSON value, JavaScript's `undefined`,
//! a set, or a map (hash key → value). These are the three kinds of the
//! original (plus the `undefined` it can store and log), with the JS rules
//! the original's files and errors depend on: `typeof`, truthiness (set and
//! hash commands treat a falsy value as a missing key), and what
//! `JSON.stringify` makes of each kind inside another value (a nested set
//! or map becomes `{}`, `undefined` in an array becomes `null`).

use indexmap::{IndexMap, IndexSet};

use super::key::Key;
use crate::wire::js_json;

/// Members of a set, in insertion order.
pub type SetValue = IndexSet<Key>;
/// A hash: hash keys to values, in insertion order.
pub type MapValue = IndexMap<Key, Value>;

/// A table value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// JavaScript `undefined` (logged as `{"type":"undefined"}`).
    #[default]
    Undefined,
    /// A string, number, boolean, null, array or plain object.
    Json(serde_json::Value),
    /// `NaN` or an infinity: a number, written `null` (and so read back).
    NonFinite(f64),
    /// A JavaScript `Date`, by its ISO text: an object, written as that
    /// text (and so read back as a string).
    Date(String),
    Set(SetValue),
    Map(MapValue),
}

impl Value {
    /// JavaScript `typeof` (sets and maps are objects, so is null).
    pub fn type_of(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Json(serde_json::Value::String(_)) => "string",
            Value::Json(serde_json::Value::Number(_)) | Value::NonFinite(_) => "number",
            Value::Json(serde_json::Value::Bool(_)) => "boolean",
            Value::Json(_) | Value::Date(_) | Value::Set(_) | Value::Map(_) => "object",
        }
    }

    /// JavaScript truthiness: `undefined`, `null`, `false`, `0` and `""`
    /// are falsy; sets, maps, arrays and objects never are.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Undefined => false,
            Value::Json(serde_json::Value::Null) => false,
            Value::Json(serde_json::Value::Bool(b)) => *b,
            Value::Json(serde_json::Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::Json(serde_json::Value::String(s)) => !s.is_empty(),
            Value::NonFinite(n) => !n.is_nan(),
            Value::Json(_) | Value::Date(_) | Value::Set(_) | Value::Map(_) => true,
        }
    }

    pub fn as_json(&self) -> Option<&serde_json::Value> {
        match self {
            Value::Json(j) => Some(j),
            _ => None,
        }
    }

    pub fn as_set(&self) -> Option<&SetValue> {
        match self {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&MapValue> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Appends the value as `JSON.stringify` writes it nested in another
    /// value: sets and maps have no own enumerable properties (`{}`) and
    /// `undefined` is `null` (its place in an array).
    pub(crate) fn write_json(&self, out: &mut String) {
        match self {
            Value::Undefined | Value::NonFinite(_) => out.push_str("null"),
            Value::Json(j) => js_json::write_value(out, j),
            Value::Date(iso) => js_json::write_str(out, iso),
            Value::Set(_) | Value::Map(_) => out.push_str("{}"),
        }
    }
}

impl PartialEq for Value {
    /// Plain values by content; sets and maps member by member, in order,
    /// with the members' own identity rules.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Undefined, Value::Undefined) => true,
            (Value::Json(a), Value::Json(b)) => a == b,
            (Value::NonFinite(a), Value::NonFinite(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::Set(a), Value::Set(b)) => a.len() == b.len() && a.iter().eq(b.iter()),
            (Value::Map(a), Value::Map(b)) => a.len() == b.len() && a.iter().eq(b.iter()),
            _ => false,
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(j: serde_json::Value) -> Value {
        Value::Json(j)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Json(serde_json::Value::String(s.to_owned()))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Json(serde_json::Value::String(s))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Json(serde_json::Value::Bool(b))
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        match serde_json::Number::from_f64(n) {
            Some(n) => Value::Json(serde_json::Value::Number(n)),
            None => Value::NonFinite(n),
        }
    }
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Json(serde_json::Value::from(n))
            }
        }
    )*};
}
int_values!(i32, i64, u32, u64, usize);

impl From<SetValue> for Value {
    fn from(s: SetValue) -> Value {
        Value::Set(s)
    }
}

impl From<MapValue> for Value {
    fn from(m: MapValue) -> Value {
        Value::Map(m)
    }
}
