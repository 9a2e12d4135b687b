//! Loading the vectors captured from the original (`../shared/vectors`, or
//! `$NOTP_VECTORS`).

use std::path::PathBuf;

use serde_json::Value;

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
