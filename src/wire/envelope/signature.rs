//! Where an envelope's signature sits (PROTOCOL §3), written and checked:
//! `checkSum` first, over the envelope's JavaScript JSON text without it.
//! Frames are signed in place (the checksum's room reserved, then filled
//! once the envelope is written); a received envelope written that way is
//! checked without re-serialising, any other by re-serialising it the way
//! a JavaScript receiver would.

use serde_json::Value;

use super::super::js_json;
use super::super::sign::{Signer, CHECKSUM_LEN};

/// How a conforming signed envelope starts: its checksum, first.
pub(super) const CHECKSUM_PREFIX: &str = "{\"checkSum\":\"";

/// Checks the signature of a signed JSON object (an envelope, or a command
/// answer to the CLI). A conforming sender writes `{"checkSum":"<hex>",`
/// followed by the signed text minus its `{`, so the signed bytes are
/// recovered without re-serialising; otherwise the object is re-serialised
/// the way a JavaScript receiver would.
pub fn verify_signed(body: &str, signer: &Signer) -> bool {
    verify_prefixed(body, signer) || verify_reserialised(body, signer)
}

/// [`verify_signed`] for a body that starts `{"checkSum":"<64 hex>",` as
/// conforming senders write it (false for any other).
pub(super) fn verify_prefixed(body: &str, signer: &Signer) -> bool {
    let after = CHECKSUM_PREFIX.len() + CHECKSUM_LEN;
    // Byte-wise: the body is untrusted and may put a multi-byte character
    // anywhere.
    let bytes = body.as_bytes();
    if bytes.len() > after + 1 && body.starts_with(CHECKSUM_PREFIX) && bytes[after] == b'"' {
        let checksum = &bytes[CHECKSUM_PREFIX.len()..after];
        let rest = &bytes[after + 1..];
        let signed: Option<[&[u8]; 2]> = match rest.first() {
            Some(b',') => Some([b"{", &rest[1..]]),
            Some(b'}') => Some([b"{", b"}"]),
            _ => None,
        };
        return signed.is_some_and(|parts| signer.verify_parts(&parts, checksum));
    }
    false
}

pub(super) fn verify_reserialised(body: &str, signer: &Signer) -> bool {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    let Some(Value::String(checksum)) = map.shift_remove("checkSum") else {
        return false;
    };
    let signed = js_json::to_string(&Value::Object(map));
    signer.verify(signed.as_bytes(), checksum.as_bytes())
}

/// Reserves the checksum's room at the start of an envelope being written
/// (just after its `{`): where the checksum goes.
pub(super) fn reserve(out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(&CHECKSUM_PREFIX.as_bytes()[1..]);
    let at = out.len();
    out.extend_from_slice(&[b'0'; CHECKSUM_LEN]);
    out.extend_from_slice(b"\",");
    at
}

/// Fills the room reserved at `at` with the signature of the envelope
/// written from `fields_at` to the end of `out` (its closing brace
/// included): the signed text is `{` followed by those bytes.
pub(super) fn fill(signer: &Signer, out: &mut [u8], at: usize, fields_at: usize) {
    let sum = signer.sign_parts(&[b"{", &out[fields_at..]]);
    out[at..at + CHECKSUM_LEN].copy_from_slice(&sum);
}

/// Appends the object `body` (JSON text without `checkSum`) signed: the
/// checksum first, then `body`'s fields.
pub(super) fn write_around(body: &str, signer: &Signer, out: &mut Vec<u8>) {
    out.extend_from_slice(CHECKSUM_PREFIX.as_bytes());
    out.extend_from_slice(&signer.sign(body.as_bytes()));
    out.push(b'"');
    if body.len() > 2 {
        out.push(b',');
    }
    out.extend_from_slice(&body.as_bytes()[1..]);
}
