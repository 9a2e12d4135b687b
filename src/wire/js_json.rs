//! JSON text exactly as JavaScript's `JSON.stringify` writes it after
//! `JSON.parse`: no spaces; keys that are array indices first in ascending
//! numeric order, then the rest in insertion order; numbers in JavaScript's
//! `Number.prototype.toString` form; only `"`, `\` and control characters
//! escaped. Signatures are computed over this text, so a JavaScript peer that
//! re-serialises what it parsed gets the same bytes (PROTOCOL §3).

use std::fmt::Write;

use serde_json::{Map, Number, Value};

use crate::js_order::array_index;

/// Serialises `v` the way `JSON.stringify(JSON.parse(text))` would.
pub fn to_string(v: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value(&mut out, v);
    out
}

/// Appends the JavaScript serialisation of `v` to `out`.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>) {
    out.push('{');
    let mut first = true;
    let mut field = |out: &mut String, k: &str, v: &Value| {
        if !first {
            out.push(',');
        }
        first = false;
        write_str(out, k);
        out.push(':');
        write_value(out, v);
    };
    if map.keys().any(|k| array_index(k).is_some()) {
        let mut indexed: Vec<(u32, &str, &Value)> = map
            .iter()
            .filter_map(|(k, v)| array_index(k).map(|i| (i, k.as_str(), v)))
            .collect();
        indexed.sort_by_key(|(i, _, _)| *i);
        for (_, k, v) in indexed {
            field(out, k, v);
        }
        for (k, v) in map.iter().filter(|(k, _)| array_index(k).is_none()) {
            field(out, k, v);
        }
    } else {
        for (k, v) in map {
            field(out, k, v);
        }
    }
    out.push('}');
}

/// A JSON string literal with JavaScript's escaping.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn write_number(out: &mut String, n: &Number) {
    const SAFE: u64 = 1 << 53;
    if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= SAFE) {
        // Integers a double holds exactly print as plain decimals.
        let _ = write!(out, "{i}");
    } else {
        write_f64(out, n.as_f64().unwrap_or(f64::NAN));
    }
}

/// `Number.prototype.toString()` for a double, as `JSON.stringify` uses it
/// (`NaN` and the infinities become `null`).
pub fn write_f64(out: &mut String, x: f64) {
    if !x.is_finite() {
        out.push_str("null");
        return;
    }
    if x == 0.0 {
        out.push('0'); // also for -0
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, like
    // JavaScript: "d.ddde[-]x".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    // value = 0.<digits> × 10^n
    let n = exp.parse::<i32>().unwrap_or(0) + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = n - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        let _ = write!(out, "{}", e.abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn num(x: f64) -> String {
        let mut s = String::new();
        write_f64(&mut s, x);
        s
    }

    #[test]
    fn numbers_format_like_javascript() {
        for (x, js) in [
            (1.0, "1"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (5e-7, "5e-7"),
            (1e-6, "0.000001"),
            (1.5e-7, "1.5e-7"),
            (-2.5, "-2.5"),
            (-0.0, "0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
            (123.456, "123.456"),
            (1e300 * 10.0, "1e+301"),
        ] {
            assert_eq!(num(x), js, "{x:e}");
        }
        assert_eq!(to_string(&json!(9007199254740993u64)), "9007199254740992");
        assert_eq!(to_string(&json!(-17)), "-17");
    }

    #[test]
    fn strings_escape_like_javascript() {
        let s = "h\u{e9}llo \u{2028} \"q\" / <tag> \u{1} \u{1F600}\u{8}\u{c}\n\r\t\u{7f}\\";
        assert_eq!(
            to_string(&json!(s)),
            "\"h\u{e9}llo \u{2028} \\\"q\\\" / <tag> \\u0001 \u{1F600}\\b\\f\\n\\r\\t\u{7f}\\\\\""
        );
    }

    #[test]
    fn index_keys_come_first() {
        let v: Value = serde_json::from_str(r#"{"b":3,"10":1,"a":4,"2":2,"02":5}"#).unwrap();
        assert_eq!(to_string(&v), r#"{"2":2,"10":1,"b":3,"a":4,"02":5}"#);
    }
}
