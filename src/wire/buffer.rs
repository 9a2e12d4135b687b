//! Binary data on the wire: Node's `Buffer.prototype.toJSON` form,
//! `{"type":"Buffer","data":[<byte>,…]}`.

use std::fmt::Write;

use serde_json::Value;

/// The JSON text of `bytes` as a Buffer.
pub fn to_json(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(26 + bytes.len() * 4);
    out.push_str(r#"{"type":"Buffer","data":["#);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{b}");
    }
    out.push_str("]}");
    out
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
