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

/// An option whose value cannot work: zero where at least one of something
/// must be allowed, or more than the engine can count. Every start path
/// (kernel, cluster node; Rust, C and Node.js doors alike) refuses such
/// options with this error before it binds or spawns anything, instead of
/// failing later in a task (a zero `stream_timeout` used to make every
/// accepted connection's task panic).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid option `{option}`: {reason}")]
pub struct OptionsError {
    /// The option's name as the Rust options struct spells it.
    pub option: &'static str,
    pub reason: &'static str,
}

/// `Err` naming `option` unless `ok`.
pub(crate) fn check(
    ok: bool,
    option: &'static str,
    reason: &'static str,
) -> Result<(), OptionsError> {
    if ok {
        Ok(())
    } else {
        Err(OptionsError { option, reason })
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json(e.to_string())
    }
}
