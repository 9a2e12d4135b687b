//! JSON text exactly as JavaScript's `JSON.stringify` writes it after
//! `JSON.parse`: no spaces; keys that are array indices first in ascending
//! numeric order, then the rest in insertion order; numbers in JavaScript's
//! `Number.prototype.toString` form; only `"`, `\` and control characters
//! escaped. Signatures are computed over this text, so a JavaScript peer that
//! re-serialises what it parsed gets the same bytes (PROTOCOL §3).

use std::fmt::Write;

use serde_json::{Map, Number, Value};

use crate::js_order::array_index;

/// Where JSON text is written: a `String`, or the byte buffer a frame is
/// built in (so payloads go straight into frames).
pub trait JsonOut {
    fn put(&mut self, s: &str);
    /// An ASCII byte (below 0x80).
    fn put_ascii(&mut self, b: u8);
}

impl JsonOut for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
    fn put_ascii(&mut self, b: u8) {
        self.push(char::from(b));
    }
}

impl JsonOut for Vec<u8> {
    fn put(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    fn put_ascii(&mut self, b: u8) {
        self.push(b);
    }
}

/// Serialises `v` the way `JSON.stringify(JSON.parse(text))` would.
pub fn to_string(v: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value(&mut out, v);
    out
}

/// Appends the JavaScript serialisation of `v` to `out`.
pub fn write_value(out: &mut String, v: &Value) {
    write_value_to(out, v);
}

/// [`write_value`] into any [`JsonOut`].
pub fn write_value_to<O: JsonOut + ?Sized>(out: &mut O, v: &Value) {
    match v {
        Value::Null => out.put("null"),
        Value::Bool(true) => out.put("true"),
        Value::Bool(false) => out.put("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str_to(out, s),
        Value::Array(items) => {
            out.put_ascii(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put_ascii(b',');
                }
                write_value_to(out, item);
            }
            out.put_ascii(b']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object<O: JsonOut + ?Sized>(out: &mut O, map: &Map<String, Value>) {
    out.put_ascii(b'{');
    let mut first = true;
    let mut field = |out: &mut O, k: &str, v: &Value| {
        if !first {
            out.put_ascii(b',');
        }
        first = false;
        write_str_to(out, k);
        out.put_ascii(b':');
        write_value_to(out, v);
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
    out.put_ascii(b'}');
}

/// A JSON string literal with JavaScript's escaping.
pub fn write_str(out: &mut String, s: &str) {
    write_str_to(out, s);
}

/// Whether any of the eight bytes of `w` is below 0x20, `"` or `\`. The
/// classic word-at-a-time zero-byte tests: exact as a whole, which is all
/// that is asked of them.
pub(crate) fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q & HIGH;
    let b = w ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b & HIGH;
    (control | quote | backslash) != 0
}

/// Where the first byte of `bytes` that is below 0x20, `"` or `\\` is: the
/// end of plain text in a JSON string.
pub(crate) fn plain_len(bytes: &[u8]) -> usize {
    let mut i = 0;
    while let Some(word) = bytes.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        if needs_escape(u64::from_le_bytes(w)) {
            break;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b < 0x20 || b == b'"' || b == b'\\' {
            break;
        }
        i += 1;
    }
    i
}

/// [`write_str`] into any [`JsonOut`].
pub fn write_str_to<O: JsonOut + ?Sized>(out: &mut O, s: &str) {
    out.put_ascii(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Runs of plain text are skipped eight bytes at a time.
        if let Some(word) = bytes.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            if !needs_escape(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x00..=0x1f => None,
            _ => {
                i += 1;
                continue;
            }
        };
        // `b` is ASCII, so `i` is a character boundary.
        out.put(&s[start..i]);
        match escape {
            Some(e) => out.put(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.put("\\u00");
                out.put_ascii(HEX[(b >> 4) as usize]);
                out.put_ascii(HEX[(b & 0xf) as usize]);
            }
        }
        i += 1;
        start = i;
    }
    out.put(&s[start..]);
    out.put_ascii(b'"');
}

/// A decimal integer, without going through `fmt`.
pub fn write_int<O: JsonOut + ?Sized>(out: &mut O, i: i64) {
    let mut digits = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut pos = digits.len();
    loop {
        pos -= 1;
        digits[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.put_ascii(b'-');
    }
    for &d in &digits[pos..] {
        out.put_ascii(d);
    }
}

fn write_number<O: JsonOut + ?Sized>(out: &mut O, n: &Number) {
    const SAFE: u64 = 1 << 53;
    if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= SAFE) {
        // Integers a double holds exactly print as plain decimals.
        write_int(out, i);
    } else {
        let mut text = String::new();
        write_f64(&mut text, n.as_f64().unwrap_or(f64::NAN));
        out.put(&text);
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
    fn long_strings_escape_wherever_the_special_byte_falls() {
        let specials = [
            "\"",
            "\\",
            "\u{0}",
            "\u{1f}",
            "\n",
            "\u{c}",
            "\u{7f}",
            "\u{e9}",
            "\u{1F600}",
        ];
        for special in specials {
            for at in 0..20 {
                let s = format!("{}{special}{}", "a".repeat(at), "b".repeat(19 - at));
                let mut slow = String::from("\"");
                for c in s.chars() {
                    match c {
                        '"' => slow.push_str("\\\""),
                        '\\' => slow.push_str("\\\\"),
                        '\n' => slow.push_str("\\n"),
                        '\u{c}' => slow.push_str("\\f"),
                        c if (c as u32) < 0x20 => slow.push_str(&format!("\\u{:04x}", c as u32)),
                        c => slow.push(c),
                    }
                }
                slow.push('"');
                assert_eq!(to_string(&json!(s)), slow, "{s:?}");
                let mut bytes = Vec::new();
                write_str_to(&mut bytes, &s);
                assert_eq!(bytes, slow.as_bytes());
            }
        }
        for i in [0, 9, -9, 10, -10, i64::MAX, i64::MIN] {
            let mut out = String::new();
            write_int(&mut out, i);
            assert_eq!(out, i.to_string());
        }
    }

    #[test]
    fn index_keys_come_first() {
        let v: Value = serde_json::from_str(r#"{"b":3,"10":1,"a":4,"2":2,"02":5}"#).unwrap();
        assert_eq!(to_string(&v), r#"{"2":2,"10":1,"b":3,"a":4,"02":5}"#);
    }
}
