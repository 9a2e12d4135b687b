//! The envelope exactly as conforming nodes write a single message or a
//! ping, read without a general parser (the fast path of
//! [`decode_incoming`](super::decode_incoming)).

use std::borrow::Cow;

use super::super::js_json;
use super::super::sign::CHECKSUM_LEN;
use super::signature::CHECKSUM_PREFIX;
use super::{FrameType, Incoming, Sender};

/// The envelope exactly as conforming nodes write a single message or a
/// ping, read without a general parser:
/// `{["checkSum":<str>,]["id":<str>,]"tag":<str>|null,"from":{"id":<str>,
/// "host":<str>,"port":<u16>},"stream":{"done":true}[,"data":<json>]}`
/// with no whitespace and no escapes in the strings. `None` for anything
/// else, which the general parser then reads. What it accepts, the general
/// parser reads the same way.
pub(super) fn decode_strict(
    frame_type: FrameType,
    body: &str,
    checksum_first: bool,
) -> Option<Incoming<'_>> {
    let mut c = Cursor { text: body, pos: 0 };
    if checksum_first {
        // Past `{"checkSum":"<64 hex>"`.
        c.pos = CHECKSUM_PREFIX.len() + CHECKSUM_LEN + 1;
        c.lit(",")?;
    } else {
        c.lit("{")?;
        if c.lit("\"checkSum\":").is_some() {
            c.string()?;
            c.lit(",")?;
        }
    }
    let id = match frame_type {
        FrameType::Message => {
            c.lit("\"id\":")?;
            let id = c.string()?;
            c.lit(",")?;
            Some(id.to_owned())
        }
        FrameType::Ping => None,
    };
    c.lit("\"tag\":")?;
    let tag = match c.lit("null") {
        Some(()) => None,
        None => Some(c.string()?.to_owned()),
    };
    c.lit(",\"from\":{\"id\":")?;
    let from_id = c.string()?;
    c.lit(",\"host\":")?;
    let host = c.string()?;
    c.lit(",\"port\":")?;
    let port = c.port()?;
    c.lit("},\"stream\":{\"done\":true}")?;
    let data = match frame_type {
        FrameType::Message => {
            c.lit(",\"data\":")?;
            // Everything up to the closing brace, not checked here: its
            // reader parses it anyway (see `Incoming::data_checked`).
            let text = body.get(c.pos..body.len().checked_sub(1)?)?;
            c.pos = body.len() - 1;
            let text = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
            (text != "null").then_some(text)
        }
        FrameType::Ping => None,
    };
    c.lit("}")?;
    (c.pos == body.len()).then(|| Incoming {
        frame_type,
        id,
        tag,
        from: Sender {
            id: from_id.to_owned(),
            host: Some(host.to_owned()),
            port: Some(port),
        },
        done: true,
        stream_id: None,
        error: None,
        data: data.map(Cow::Borrowed),
        data_checked: false,
    })
}

/// A position in JSON text, for [`decode_strict`].
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a [u8] {
        self.text.as_bytes().get(self.pos..).unwrap_or_default()
    }

    fn lit(&mut self, lit: &str) -> Option<()> {
        self.rest().starts_with(lit.as_bytes()).then(|| {
            self.pos += lit.len();
        })
    }

    /// A string without escapes (or control characters, which JSON does
    /// not allow raw).
    fn string(&mut self) -> Option<&'a str> {
        self.lit("\"")?;
        let start = self.pos;
        let end = start + js_json::plain_len(self.rest());
        if self.text.as_bytes().get(end) != Some(&b'"') {
            return None;
        }
        self.pos = end + 1;
        // Both ends are ASCII quotes, so this is a character boundary.
        self.text.get(start..end)
    }

    /// A port number as JSON writes one: no sign, no leading zero, no
    /// fraction or exponent.
    fn port(&mut self) -> Option<u16> {
        let bytes = self.rest();
        let mut port: u32 = 0;
        let mut digits = 0;
        for &b in bytes.iter().take(6) {
            if !b.is_ascii_digit() {
                break;
            }
            port = port * 10 + u32::from(b - b'0');
            digits += 1;
        }
        if digits == 0 || (digits > 1 && bytes[0] == b'0') || port > u32::from(u16::MAX) {
            return None;
        }
        self.pos += digits;
        u16::try_from(port).ok()
    }
}
