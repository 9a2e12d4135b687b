//! Loading the vectors captured from the original (`../shared/vectors`, or
//! `$NOTP_VECTORS`).

use std::path::PathBuf;

use notp::wire::{js_json, Signer};
use serde_json::{json, Value};

pub fn vectors_dir() -> PathBuf {
    match std::env::var_os("NOTP_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors"),
    }
}

pub fn load(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read vector file {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Replaces every leaf by its JSON type, keeping keys in order.
#[allow(dead_code)]
pub fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

/// What the original receiver does with a frame (without its delimiter):
/// parse, drop checkSum, re-serialise, HMAC, compare.
#[allow(dead_code)]
pub fn original_accepts(frame: &[u8], signer: &Signer) -> bool {
    let v: Value = serde_json::from_slice(frame).unwrap();
    let mut env = v["data"].as_object().unwrap().clone();
    let Some(Value::String(sum)) = env.shift_remove("checkSum") else {
        return false;
    };
    signer.sign(js_json::to_string(&Value::Object(env)).as_bytes()) == sum.as_bytes()
}
