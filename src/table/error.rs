use std::sync::Arc;

use thiserror::Error;

/// What a table operation can refuse.
#[derive(Debug, Error, Clone)]
pub enum TableError {
    /// A set or hash command against a key holding another kind of value
    /// (the original's error of `type` `INVALID_TYPE`, same message).
    #[error("Invalid command '{command}' against key '{key}' of type '{found}'")]
    InvalidType {
        command: &'static str,
        /// The key as JavaScript's `String(key)` writes it.
        key: String,
        /// `typeof` the value found (sets and maps are `object`).
        found: &'static str,
    },
    /// The original's constructor error, same text.
    #[error("Missing 'path' option in options object.")]
    MissingPath,
    #[error("invalid table option `{name}`: {reason}")]
    InvalidOption { name: &'static str, reason: String },
    /// Reading or writing the table's files failed. After a failed write or
    /// fsync of the log the table refuses further writes (the page cache
    /// can no longer be trusted); reopening loads what reached the disk.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The table was stopped, or failed earlier (the first error is given).
    #[error("table is closed{}", .0.as_deref().map(|e| format!(" ({e})")).unwrap_or_default())]
    Closed(Option<String>),
}

impl TableError {
    /// The original's `error.type`, where it has one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            TableError::InvalidType { .. } => Some("INVALID_TYPE"),
            _ => None,
        }
    }

    pub(crate) fn io(action: &'static str, path: &std::path::Path, e: std::io::Error) -> Self {
        TableError::Io {
            action,
            path: path.display().to_string(),
            source: Arc::new(e),
        }
    }
}
