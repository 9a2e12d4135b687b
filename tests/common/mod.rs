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

/// Reads `n` frames (split on 0x0C, without it) from `sock`, failing the
/// test after 5 s without progress or on end of stream.
#[allow(dead_code)]
pub async fn read_frames(sock: &mut tokio::net::TcpStream, n: usize) -> Vec<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut frames = Vec::new();
    while frames.len() < n {
        let mut chunk = [0u8; 65536];
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut chunk))
            .await
            .expect("a frame within 5 s")
            .expect("readable");
        assert!(
            read > 0,
            "the connection ended after {} frames",
            frames.len()
        );
        buf.extend_from_slice(&chunk[..read]);
        while let Some(i) = buf.iter().position(|b| *b == 0x0c) {
            frames.push(buf[..i].to_vec());
            buf.drain(..=i);
        }
    }
    frames
}
