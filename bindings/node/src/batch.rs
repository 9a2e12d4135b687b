//! The format of a batch of events on its way to JavaScript.
//!
//! A batch crosses as one JSON text, `[kind, fields…, kind, fields…]`,
//! parsed once by `JSON.parse` on the JavaScript side (far cheaper than
//! building an object per event through N-API), plus an array of Buffers
//! for the byte payloads, which the text refers to by index. The kinds are
//! [`crate::codes::kernel_event`]; `lib/kernel_events.js` reads them back.
//!
//! Encoding is plain string building, with no N-API call: [`crate::delivery`]
//! turns the finished text and buffers into JavaScript values.

use std::fmt::Write as _;

use bytes::Bytes;
use notp::net::{CallError, Payload};
use notp::wire::js_json;
use serde_json::Value;

use crate::codes::kernel_event as kind;
use crate::event::Event;
use crate::slots::ReplySlots;

/// The JSON text of a batch and the byte payloads it refers to.
pub(crate) struct Batch {
    text: String,
    buffers: Vec<Bytes>,
}

impl Default for Batch {
    fn default() -> Self {
        let mut text = String::with_capacity(512);
        text.push('[');
        Batch {
            text,
            buffers: Vec::new(),
        }
    }
}

impl Batch {
    /// The text and the buffers, or `None` when no event was added.
    pub(crate) fn finish(mut self) -> Option<(String, Vec<Bytes>)> {
        if self.text.len() == 1 {
            return None;
        }
        self.text.push(']');
        Some((self.text, self.buffers))
    }

    fn separate(&mut self) {
        if self.text.len() > 1 {
            self.text.push(',');
        }
    }

    fn start(&mut self, kind: u32) {
        self.separate();
        let _ = write!(self.text, "{kind}");
    }

    fn str(&mut self, s: &str) {
        self.text.push(',');
        js_json::write_str(&mut self.text, s);
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    fn null(&mut self) {
        self.text.push_str(",null");
    }

    fn num(&mut self, n: impl std::fmt::Display) {
        let _ = write!(self.text, ",{n}");
    }

    fn json(&mut self, v: &Value) {
        self.text.push(',');
        js_json::write_value(&mut self.text, v);
    }

    /// The payload, or the index of its Buffer.
    fn payload(&mut self, p: Payload) {
        match p {
            Payload::Json(v) => self.json(&v),
            Payload::Bytes(b) => {
                self.num(self.buffers.len());
                self.buffers.push(b);
            }
        }
    }

    /// Adds one event; a received call's reply address goes to `replies`
    /// and JavaScript gets its handle. The fields after each kind:
    ///
    /// * `MESSAGE_JSON`/`MESSAGE_BYTES`: target, tag, host, port, node id,
    ///   reply handle (-1: none), data (JSON, or a buffer index);
    /// * `REPLY_JSON`/`REPLY_BYTES`: call id, data;
    /// * `REPLY_ERROR`: call id, message, properties of the error (or null);
    /// * `READY`: port; `START_FAILED`: message; `CONNECTED`: node id;
    /// * `SKIP`: code, detail, peer address (or null).
    ///
    /// Events that never reach JavaScript (see [`Event`]) add nothing.
    pub(crate) fn event(&mut self, event: Event, replies: &mut ReplySlots) {
        match event {
            Event::Message(m) => {
                self.start(if matches!(m.data, Payload::Bytes(_)) {
                    kind::MESSAGE_BYTES
                } else {
                    kind::MESSAGE_JSON
                });
                self.str(&m.target);
                self.opt_str(m.from.tag.as_deref());
                self.opt_str(m.from.node.host.as_deref());
                match m.from.node.port {
                    Some(p) => self.num(p),
                    None => self.null(),
                }
                self.str(&m.from.node.id);
                if m.from.tag.is_some() {
                    let handle = replies.store(m.from);
                    self.num(handle);
                } else {
                    self.num(-1);
                }
                self.payload(m.data);
            }
            Event::Reply { id, result: Ok(p) } => {
                self.start(if matches!(p, Payload::Bytes(_)) {
                    kind::REPLY_BYTES
                } else {
                    kind::REPLY_JSON
                });
                self.num(id);
                self.payload(p);
            }
            Event::Reply { id, result: Err(e) } => {
                self.start(kind::REPLY_ERROR);
                self.num(id);
                self.str(&e.to_string());
                match e {
                    CallError::Remote(v) => self.json(&v),
                    CallError::InvalidReply { expected, actual } => {
                        let props = serde_json::json!({
                            "type": "INVALID_REPLY",
                            "expected": expected,
                            "actual": actual,
                        });
                        self.json(&props);
                    }
                    _ => self.null(),
                }
            }
            Event::Ready(port) => {
                self.start(kind::READY);
                self.num(port);
            }
            Event::StartFailed(message) => {
                self.start(kind::START_FAILED);
                self.str(&message);
            }
            Event::Connected(id) => {
                self.start(kind::CONNECTED);
                self.str(&id);
            }
            Event::Encoded(fields) => {
                self.separate();
                self.text.push_str(&fields);
            }
            Event::Skip(skip) => {
                self.start(kind::SKIP);
                self.str(skip.code);
                self.str(&skip.detail);
                let peer = skip.peer.map(|p| p.to_string());
                self.opt_str(peer.as_deref());
            }
            // Handled on the JavaScript thread before encoding.
            Event::PollCall(_) | Event::Inbound(_) | Event::InboundClosed(_) | Event::Rearm(_) => {}
        }
    }
}
