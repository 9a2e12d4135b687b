use thiserror::Error;

/// Everything the engine can refuse. Front doors map these onto their own
/// conventions (C status codes, JavaScript `Error`/`TypeError`).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A caller passed an argument the operation cannot accept.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument { name: &'static str, reason: String },
    /// Text that should have been JSON was not.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// A ring in JSON form does not have the shape `{rfactor, pfactor, tree}`.
    #[error("malformed ring: {0}")]
    MalformedRing(String),
    /// A vector clock in JSON form is not `{actor: {count, insert, time}}`.
    #[error("malformed vector clock: {0}")]
    MalformedClock(String),
    /// A node in JSON form is not `{id, host, port}`.
    #[error("malformed node: {0}")]
    MalformedNode(String),
}

impl Error {
    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            name,
            reason: reason.into(),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json(e.to_string())
    }
}
