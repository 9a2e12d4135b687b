//! Stream markers in the key order the original writes them.

use serde_json::Value;

use crate::wire::js_json;

/// A single, complete message.
pub const SINGLE: &str = "{\"done\":true}";

/// A chunk of streamed body `id`.
pub fn chunk(id: &str) -> String {
    format!("{{\"done\":false,\"stream\":\"{id}\"}}")
}

/// The end of streamed body `id`.
pub fn end(id: &str) -> String {
    format!("{{\"done\":true,\"stream\":\"{id}\"}}")
}

/// A failed stream (`id`) or an error reply (`None`).
pub fn error(id: Option<&str>, error: &Value) -> String {
    let mut out = String::from("{\"done\":true");
    if let Some(id) = id {
        out.push_str(",\"stream\":");
        js_json::write_str(&mut out, id);
    }
    out.push_str(",\"error\":");
    js_json::write_value(&mut out, error);
    out.push('}');
    out
}
