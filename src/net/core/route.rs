//! Where a message for this node goes (PROTOCOL §2): to the call of ours
//! whose reply tag it names, else to the local server it names, else back
//! to its sender as a refusal.

use serde_json::Value;

use super::{is_reply_tag, Body, Call, Dropped, Effect, Handle, Origin, Registration};
use crate::net::error::error_value;
use crate::net::payload::Payload;
use crate::wire;

/// What routing reads, behind whatever locks the driver keeps: the calls
/// awaiting replies (consulted only for names that can be reply tags) and
/// the servers.
pub(crate) trait Tables {
    /// How a caller is woken.
    type Waiter;
    /// A server's handle.
    type Handle: Handle;

    /// Takes the call awaiting a reply tagged `tag`, if any.
    fn take_call(&self, tag: &str) -> Option<Call<Self::Waiter>>;
    /// Puts back a call taken for a message that was not its reply.
    fn restore_call(&self, tag: String, call: Call<Self::Waiter>);
    /// The server registered as `name`.
    fn server(&self, name: &str) -> Option<Registration<Self::Handle>>;
}

/// A message for this node: a single one as received, a streamed body put
/// back together, or one this node sent itself.
#[derive(Debug)]
pub(crate) struct Arrival<'a, R> {
    /// A server name or a reply tag.
    pub(crate) target: String,
    pub(crate) from: Origin<R>,
    pub(crate) content: Content<'a>,
}

/// What an [`Arrival`] carries.
#[derive(Debug)]
pub(crate) enum Content<'a> {
    /// A single message's payload as JSON text (`None`: absent or `null`);
    /// `checked` when it is known to be one JSON value (see
    /// `wire::Incoming::data_checked`).
    Text {
        text: Option<&'a str>,
        checked: bool,
    },
    /// A payload already read, or the error the message carries instead.
    Read(Result<Payload, Value>),
}

/// A payload that did not parse and was not checked: nothing happened, and
/// the frame is to be decoded again, checked, to say what it really is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unparsable;

/// Decides where `msg` goes on node `node_id`.
pub(crate) fn route<T: Tables, R>(
    tables: &T,
    node_id: &str,
    msg: Arrival<'_, R>,
) -> Result<Effect<T::Waiter, T::Handle, R>, Unparsable> {
    let Arrival {
        target,
        from,
        content,
    } = msg;
    if is_reply_tag(&target) {
        if let Some(call) = tables.take_call(&target) {
            let (result, checked) = match content {
                Content::Read(result) => (Ok(result), true),
                Content::Text { text, checked } => (parse(text).map(Ok), checked),
            };
            return match result {
                Ok(result) => Ok(call.settle(&target, &from.node, result)),
                // Not an answer: the call keeps waiting.
                Err(e) => {
                    tables.restore_call(target, call);
                    malformed(e, checked)
                }
            };
        }
    }
    let text = match content {
        Content::Read(Err(error)) => {
            // A caller whose request failed on the way learns it now
            // rather than at its timeout.
            let dropped = Dropped::new(
                "STREAM_ERROR",
                format!("message for {target} carried an error: {error}"),
            );
            let answer = from.tag.is_some().then_some((from, error));
            return Ok(Effect::Refuse { dropped, answer });
        }
        Content::Read(Ok(payload)) => Err(payload),
        Content::Text { text, checked } => Ok((text, checked)),
    };
    let server = tables.server(&target);
    let body = match text {
        Err(payload) => Body::Payload(payload),
        Ok((text, checked)) => match text_body(server.as_ref(), text) {
            Ok(body) => body,
            Err(e) => return malformed(e, checked),
        },
    };
    Ok(match server {
        Some(server) => Effect::Deliver {
            server,
            target,
            from,
            body,
        },
        None => refusal(node_id, target, from, "UNKNOWN_TARGET", "does not exist"),
    })
}

fn parse(text: Option<&str>) -> Result<Payload, serde_json::Error> {
    text.map_or(Ok(Value::Null), serde_json::from_str)
        .map(Payload::from_wire)
}

/// The body a server gets from a payload's text: for a server that takes
/// GenServer requests, the request read straight from the text when it is
/// one; otherwise the payload parsed.
fn text_body<H: Handle>(
    server: Option<&Registration<H>>,
    text: Option<&str>,
) -> Result<Body, serde_json::Error> {
    let split = match (server, text) {
        (Some(s), Some(text)) if s.handle.takes_requests() => wire::body::split(text),
        _ => None,
    };
    match split {
        Some((event, data)) => Ok(Body::Request {
            event,
            data: Payload::from_wire(data),
        }),
        None => parse(text).map(Body::Payload),
    }
}

/// What a payload that does not parse becomes: dropped as malformed when
/// it was checked; otherwise nothing happened yet ([`Unparsable`]).
fn malformed<W, H, R>(e: serde_json::Error, checked: bool) -> Result<Effect<W, H, R>, Unparsable> {
    if checked {
        Ok(Effect::Drop(Dropped::new("MALFORMED_JSON", e.to_string())))
    } else {
        Err(Unparsable)
    }
}

/// Refuses a message no server of node `node_id` takes (`code` says why;
/// `why` completes "Server '<target>' … on node '<id>'."), answering its
/// caller if any.
pub(crate) fn refusal<W, H, R>(
    node_id: &str,
    target: String,
    from: Origin<R>,
    code: &'static str,
    why: &str,
) -> Effect<W, H, R> {
    let message = format!("Server '{target}' {why} on node '{node_id}'.");
    let answer = from.tag.is_some().then(|| {
        let error = error_value(&message, &[("type", Value::String(code.to_owned()))]);
        (from, error)
    });
    Effect::Refuse {
        dropped: Dropped::new(code, message),
        answer,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::json;

    use super::super::sim::SimTables;
    use super::*;
    use crate::net::CallError;
    use crate::wire::Sender;

    fn node() -> SimTables {
        SimTables::new()
    }

    fn arrival<'a>(target: &str, tag: Option<&str>, content: Content<'a>) -> Arrival<'a, ()> {
        let from = Origin {
            node: Sender {
                id: "b".into(),
                host: Some("h".into()),
                port: Some(1),
            },
            tag: tag.map(str::to_owned),
            way: (),
        };
        Arrival {
            target: target.into(),
            from,
            content,
        }
    }

    fn text(text: &str, checked: bool) -> Content<'_> {
        Content::Text {
            text: Some(text),
            checked,
        }
    }

    #[test]
    fn a_request_is_split_from_the_text_only_for_servers_that_take_them() {
        let n = node();
        let body = r#"{"event":"e","data":[1]}"#;
        for (server, want) in [
            (
                "req",
                Body::Request {
                    event: "e".into(),
                    data: Payload::Json(json!([1])),
                },
            ),
            (
                "echo",
                Body::Payload(Payload::Json(json!({"event": "e", "data": [1]}))),
            ),
        ] {
            match route(&n, "me", arrival(server, None, text(body, false))) {
                Ok(Effect::Deliver { body, .. }) => assert_eq!(body, want),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn unchecked_text_that_does_not_parse_changes_nothing() {
        let n = node();
        let tag = n.calls.borrow_mut().open("b", 1, Instant::now()).unwrap();
        let unparsable = route(&n, "me", arrival(&tag, None, text("{", false)));
        assert!(matches!(unparsable, Err(Unparsable)));
        assert_eq!(n.calls.borrow().len(), 1, "the call still waits");
        let dropped = route(&n, "me", arrival(&tag, None, text("{", true)));
        assert!(matches!(dropped, Ok(Effect::Drop(d)) if d.code == "MALFORMED_JSON"));
        let reply = route(&n, "me", arrival(&tag, None, text("2", false)));
        assert!(matches!(
            reply,
            Ok(Effect::Reply {
                waiter: 1,
                outcome: Ok(_),
                dropped: None
            })
        ));
        assert!(matches!(
            route(&n, "me", arrival("echo", None, text("{", false))),
            Err(Unparsable)
        ));
    }

    #[test]
    fn a_message_carrying_an_error_is_answered_with_it() {
        let n = node();
        let error = json!({"message": "broken", "_error": true});
        let msg = arrival("echo", Some("t"), Content::Read(Err(error.clone())));
        match route(&n, "me", msg) {
            Ok(Effect::Refuse {
                dropped,
                answer: Some((to, e)),
            }) => {
                assert_eq!(dropped.code, "STREAM_ERROR");
                assert_eq!((to.tag.as_deref(), e), (Some("t"), error));
            }
            other => panic!("{other:?}"),
        }
        // The reply to a call of ours that failed on the way fails the call.
        let tag = n.calls.borrow_mut().open("b", 2, Instant::now()).unwrap();
        let msg = arrival(&tag, None, Content::Read(Err(json!({"message": "m"}))));
        assert!(matches!(
            route(&n, "me", msg),
            Ok(Effect::Reply {
                outcome: Err(CallError::Remote(_)),
                ..
            })
        ));
    }

    #[test]
    fn refusals_name_the_server_and_the_node_and_answer_only_callers() {
        let n = node();
        match route(&n, "me", arrival("nope", Some("t"), text("1", true))) {
            Ok(Effect::Refuse {
                dropped,
                answer: Some((_, error)),
            }) => {
                assert_eq!(dropped.detail, "Server 'nope' does not exist on node 'me'.");
                assert_eq!(error["message"], dropped.detail.as_str());
                assert_eq!(error["type"], "UNKNOWN_TARGET");
                assert_eq!(error["_error"], true);
            }
            other => panic!("{other:?}"),
        }
        let cast = route(&n, "me", arrival("nope", None, text("1", true)));
        assert!(matches!(cast, Ok(Effect::Refuse { answer: None, .. })));
    }
}
