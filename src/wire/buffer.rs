//! Binary data on the wire: Node's `Buffer.prototype.toJSON` form,
//! `{"type":"Buffer","data":[<byte>,…]}`.

use serde_json::Value;

use super::js_json::JsonOut;

/// The JSON text of `bytes` as a Buffer.
pub fn to_json(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(26 + bytes.len() * 4);
    write_json(&mut out, bytes);
    out
}

/// Appends the JSON text of `bytes` as a Buffer to `out`.
pub fn write_json<O: JsonOut + ?Sized>(out: &mut O, bytes: &[u8]) {
    out.put(r#"{"type":"Buffer","data":["#);
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.put_ascii(b',');
        }
        if b >= 100 {
            out.put_ascii(b'0' + b / 100);
        }
        if b >= 10 {
            out.put_ascii(b'0' + b / 10 % 10);
        }
        out.put_ascii(b'0' + b % 10);
    }
    out.put("]}");
}

/// The bytes of a Buffer in JSON form, or `None` when `v` is not one (every
/// element must be an integer 0–255).
pub fn from_value(v: &Value) -> Option<Vec<u8>> {
    let obj = v.as_object()?;
    if obj.get("type")?.as_str()? != "Buffer" {
        return None;
    }
    obj.get("data")?
        .as_array()?
        .iter()
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let text = to_json(&[0, 1, 2, 255]);
        assert_eq!(text, r#"{"type":"Buffer","data":[0,1,2,255]}"#);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(from_value(&v), Some(vec![0, 1, 2, 255]));
        assert_eq!(to_json(&[]), r#"{"type":"Buffer","data":[]}"#);
        let all: Vec<u8> = (0..=255).collect();
        let v: Value = serde_json::from_str(&to_json(&all)).unwrap();
        assert_eq!(from_value(&v), Some(all));
    }

    #[test]
    fn lookalikes_are_not_buffers() {
        for text in [
            r#"{"type":"Buffer","data":[256]}"#,
            r#"{"type":"Buffer","data":[-1]}"#,
            r#"{"type":"Buffer","data":"abc"}"#,
            r#"{"type":"buffer","data":[1]}"#,
            r#"[1,2]"#,
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(from_value(&v), None, "{text}");
        }
    }
}
