use serde_json::Value;

use crate::OptionsError;

/// Why a kernel could not start or an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a server named {0:?} is already registered on this node")]
    NameTaken(String),
    #[error("cannot reply to a message that carries no reply tag")]
    NoTag,
    #[error("unknown node {0}")]
    UnknownNode(String),
    #[error("the kernel is stopped")]
    Stopped,
    /// An option cannot work (see [`KernelOptions`](super::KernelOptions)).
    #[error(transparent)]
    Options(#[from] OptionsError),
}

/// Why a call did not produce a reply.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// No connection to the node was ever requested (the original's
    /// `Unknown node <id>`).
    #[error("Unknown node {0}")]
    UnknownNode(String),
    #[error("Timeout.")]
    Timeout,
    /// The reply came from another node than the one called.
    #[error("Synchronous response node mismatch (expected {expected}, got {actual})")]
    InvalidReply { expected: String, actual: String },
    /// The remote side answered with an error object
    /// (`{"message":…,"_error":true,…}`).
    #[error("{}", remote_message(.0))]
    Remote(Value),
    #[error("too many calls awaiting replies ({0})")]
    TooManyPending(usize),
    #[error("the kernel is stopped")]
    Stopped,
}

fn remote_message(v: &Value) -> String {
    v.get("message")
        .and_then(Value::as_str)
        .map_or_else(|| v.to_string(), str::to_owned)
}

/// The wire form of an error: `{"message":…,"_error":true}` plus any extra
/// fields (the original's `_encodeError`).
pub fn error_value(message: &str, extra: &[(&str, Value)]) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("message".into(), Value::String(message.to_owned()));
    m.insert("_error".into(), Value::Bool(true));
    for (k, v) in extra {
        m.insert((*k).to_owned(), v.clone());
    }
    Value::Object(m)
}
