//! Answers printed as JavaScript's `JSON.stringify(value, null, 2)` prints
//! them: two-space indentation, `[]` and `{}` when empty, JavaScript's
//! string escaping, number formatting and key order.

use serde_json::{Map, Value};

use notp::wire::js_json;

/// The pretty JSON text of `v` (no trailing newline).
pub fn to_string(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    write(&mut out, v, 0);
    out
}

fn write(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write(out, item, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (k, item)) in js_order(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                js_json::write_str(out, k);
                out.push_str(": ");
                write(out, item, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
        // Scalars, `[]` and `{}` print as in compact JSON.
        other => js_json::write_value(out, other),
    }
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// The entries of `map` in the order a JavaScript object has them: keys that
/// are array indices first, ascending, then the others in insertion order.
fn js_order(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut indexed: Vec<(u32, &String, &Value)> = map
        .iter()
        .filter_map(|(k, v)| array_index(k).map(|i| (i, k, v)))
        .collect();
    indexed.sort_by_key(|(i, _, _)| *i);
    indexed
        .into_iter()
        .map(|(_, k, v)| (k, v))
        .chain(map.iter().filter(|(k, _)| array_index(k).is_none()))
        .collect()
}

/// `Some(i)` when `key` is the canonical decimal form of an array index
/// (below 2^32 - 1).
fn array_index(key: &str) -> Option<u32> {
    let canonical = !key.is_empty()
        && key.len() <= 10
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    if !canonical {
        return None;
    }
    key.parse::<u64>()
        .ok()
        .filter(|i| *i < u64::from(u32::MAX))
        .and_then(|i| u32::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_json_stringify_with_two_spaces() {
        assert_eq!(
            to_string(&json!({"ok": true, "data": "pong"})),
            "{\n  \"ok\": true,\n  \"data\": \"pong\"\n}"
        );
        assert_eq!(
            to_string(&json!({"a": [], "b": {}, "c": [1, {"d": null}], "e": 1.5e21})),
            "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    {\n      \"d\": null\n    }\n  ],\n  \"e\": 1.5e+21\n}"
        );
        let v: Value = serde_json::from_str(r#"{"b":1,"10":2,"2":3,"01":4}"#).unwrap();
        assert_eq!(
            to_string(&v),
            "{\n  \"2\": 3,\n  \"10\": 2,\n  \"b\": 1,\n  \"01\": 4\n}"
        );
        assert_eq!(to_string(&json!("a\u{1}\"")), "\"a\\u0001\\\"\"");
    }
}
