//! The jobs the lock and semaphore servers accept, checked the original's
//! way (`parseJob`): the job must be an object, the event one the server
//! knows, and each field of the right type (ids and holders JSON strings,
//! timeouts and sizes positive numbers). The original computes an error
//! for a bad job and then drops the request without a word, so the caller
//! only sees its own timeout. Here the caller gets that very error as an
//! error reply — the texts are the original's own (`Malformed job; must be
//! an object.`, `Malformed job; unrecognized command '<event>'`,
//! `Malformed job for command '<event>'.` with a `fails` object naming each
//! bad field) — so both implementations describe a bad job the same way.

use serde_json::{Map, Number, Value as Json};

/// An error sent back as an error reply (the wire's `stream.error`):
/// `{message, _error: true}`, plus `fails` for a malformed job.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorReply {
    pub message: String,
    /// Bad field → what it must be.
    pub fails: Option<Map<String, Json>>,
}

impl ErrorReply {
    pub fn new(message: impl Into<String>) -> ErrorReply {
        ErrorReply {
            message: message.into(),
            fails: None,
        }
    }

    /// The error object as the wire carries it (without `stack`, as the
    /// original sends it with `NODE_ENV=production`).
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        m.insert("message".into(), Json::String(self.message.clone()));
        m.insert("_error".into(), Json::Bool(true));
        if let Some(f) = &self.fails {
            m.insert("fails".into(), Json::Object(f.clone()));
        }
        Json::Object(m)
    }
}

/// A positive number from a job, kept as sent (it is written back to the
/// table as it came).
#[derive(Debug, Clone, PartialEq)]
pub struct Positive {
    pub value: f64,
    pub json: Number,
}

/// The type checks of one event: field name and the text of its failure.
type Checks = &'static [(&'static str, Check, &'static str)];

#[derive(Clone, Copy)]
enum Check {
    String,
    Positive,
}

const STRING: &str = "Must be a JSON string.";
const POSITIVE: &str = "Must be a positive JSON number.";

fn checks(server: Server, event: &str) -> Option<Checks> {
    const LOCK: Checks = &[
        ("id", Check::String, STRING),
        ("holder", Check::String, STRING),
        ("timeout", Check::Positive, POSITIVE),
    ];
    const UNLOCK: Checks = &[
        ("id", Check::String, STRING),
        ("holder", Check::String, STRING),
    ];
    const CREATE: Checks = &[
        ("id", Check::String, STRING),
        ("n", Check::Positive, POSITIVE),
    ];
    const ID: Checks = &[("id", Check::String, STRING)];
    // The original's post check says "Must be a JSON number." (same rule).
    const POST: Checks = &[
        ("id", Check::String, STRING),
        ("holder", Check::String, STRING),
        ("timeout", Check::Positive, "Must be a JSON number."),
    ];
    match (server, event) {
        (Server::Dlm, "rlock" | "wlock") => Some(LOCK),
        (Server::Dlm, "runlock" | "wunlock") => Some(UNLOCK),
        (Server::Dsm, "create") => Some(CREATE),
        (Server::Dsm, "read" | "destroy") => Some(ID),
        (Server::Dsm, "post") => Some(POST),
        (Server::Dsm, "close") => Some(UNLOCK),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Server {
    Dlm,
    Dsm,
}

/// The fields of a valid job.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fields {
    pub id: String,
    pub holder: String,
    /// `timeout` or `n`.
    pub number: Option<Positive>,
}

/// Checks `job` for `event` the original's way.
pub(crate) fn parse(server: Server, event: &str, job: &Json) -> Result<Fields, ErrorReply> {
    // `util.isObject`: arrays are objects too (with none of the fields).
    let empty = Map::new();
    let obj = match job {
        Json::Object(obj) => obj,
        Json::Array(_) => &empty,
        _ => return Err(ErrorReply::new("Malformed job; must be an object.")),
    };
    let checks = checks(server, event)
        .ok_or_else(|| ErrorReply::new(format!("Malformed job; unrecognized command '{event}'")))?;
    let mut fails = Map::new();
    let mut fields = Fields {
        id: String::new(),
        holder: String::new(),
        number: None,
    };
    for (name, check, text) in checks {
        let v = obj.get(*name);
        match (check, v) {
            (Check::String, Some(Json::String(s))) => match *name {
                "id" => fields.id = s.clone(),
                _ => fields.holder = s.clone(),
            },
            (Check::Positive, Some(Json::Number(n))) if n.as_f64().is_some_and(|f| f > 0.0) => {
                fields.number = Some(Positive {
                    value: n.as_f64().unwrap_or(0.0),
                    json: n.clone(),
                });
            }
            _ => {
                fails.insert((*name).into(), Json::String((*text).into()));
            }
        }
    }
    if fails.is_empty() {
        Ok(fields)
    } else {
        Err(ErrorReply {
            message: format!("Malformed job for command '{event}'."),
            fails: Some(fails),
        })
    }
}
