//! Every frame captured from original nodes decodes, verifies with the
//! cookie, and re-encodes to the same bytes; tampered frames are refused.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use notp::wire::{self, js_json, DropReason, FrameDecoder, Outgoing, Signer};
use serde_json::Value;

fn cookie() -> Signer {
    Signer::new(b"cookie")
}

/// Every byte sequence an original node or CLI wrote, with a label.
fn captured() -> Vec<(String, Vec<u8>)> {
    let v = common::load("wire.json");
    let b64 = |s: &Value| STANDARD.decode(s.as_str().unwrap()).unwrap();
    let mut out = vec![];
    for w in v["writes"].as_array().unwrap() {
        out.push((format!("write {}", w["phase"]), b64(&w["bytes_base64"])));
    }
    for c in v["raw_listener_connections"].as_array().unwrap() {
        for chunk in c["chunks"].as_array().unwrap() {
            out.push((
                format!("raw {}", chunk["phase"]),
                b64(&chunk["bytes_base64"]),
            ));
        }
    }
    for cli in v["cli"].as_array().unwrap() {
        for conn in cli["connections"].as_array().unwrap() {
            for dir in ["cli_to_node", "node_to_cli"] {
                out.push((
                    format!("{} {dir}", cli["label"]),
                    b64(&conn[dir]["bytes_base64"]),
                ));
            }
        }
    }
    out
}

fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut d = FrameDecoder::new(wire::DEFAULT_MAX_FRAME);
    d.extend(bytes);
    let mut out = vec![];
    while let Some(f) = d.next_frame().unwrap() {
        out.push(f.to_vec());
    }
    out
}

/// Re-encodes a decoded envelope from its parsed parts.
fn reencode(env: &wire::Envelope, signer: &Signer) -> Vec<u8> {
    let from = env.from.to_json();
    let stream = js_json::to_string(&Value::Object(env.stream.clone()));
    let data = env
        .data
        .as_ref()
        .map(|raw| js_json::to_string(&serde_json::from_str(raw.get()).unwrap()));
    let data = match (&env.frame_type, data) {
        (wire::FrameType::Ping, d) => d,
        (_, None) => Some("null".to_owned()),
        (_, d) => d,
    };
    let mut out = vec![];
    wire::encode(
        &Outgoing {
            frame_type: env.frame_type,
            id: env.id.as_deref(),
            tag: env.tag.as_deref(),
            from: &from,
            stream: &stream,
            data: data.as_deref(),
        },
        Some(signer),
        &mut out,
    );
    out
}

#[test]
fn every_captured_envelope_decodes_verifies_and_reencodes_identically() {
    let signer = cookie();
    let mut envelopes = 0;
    let mut replies = 0;
    for (label, bytes) in captured() {
        let wrong_cookie = label.contains("wrong_cookie");
        for frame in frames(&bytes) {
            let outer: Value = serde_json::from_slice(&frame).unwrap();
            let body = outer["data"].clone();
            if body.get("ok").is_some() {
                // A command answer to the CLI: signed, but not an envelope.
                let raw = std::str::from_utf8(&frame).unwrap();
                let inner = &raw["{\"type\":\"message\",\"data\":".len()..raw.len() - 1];
                assert!(wire::verify_signed(inner, &signer), "{label}");
                replies += 1;
                continue;
            }
            if wrong_cookie {
                assert_eq!(
                    wire::decode(&frame, Some(&signer)).unwrap_err(),
                    DropReason::InvalidChecksum
                );
                let env = wire::decode(&frame, Some(&Signer::new(b"wrong"))).unwrap();
                assert_eq!(env.id.as_deref(), Some("command"));
                continue;
            }
            let env =
                wire::decode(&frame, Some(&signer)).unwrap_or_else(|e| panic!("{label}: {e}"));
            let mut want = frame.clone();
            want.push(wire::DELIMITER);
            let got = reencode(&env, &signer);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "{label}: re-encoding differs"
            );
            envelopes += 1;
        }
    }
    assert!(envelopes >= 20, "only {envelopes} envelopes checked");
    assert!(replies >= 2, "only {replies} CLI answers checked");
}

#[test]
fn one_changed_byte_is_an_invalid_checksum() {
    let signer = cookie();
    let mut checked = 0;
    for (label, bytes) in captured() {
        if label.contains("wrong_cookie") || label.contains("node_to_cli") {
            continue;
        }
        for frame in frames(&bytes) {
            // Change one character inside the signed part (a digit of the
            // sender's port), keeping the JSON valid.
            let text = String::from_utf8(frame).unwrap();
            let tampered = text.replacen("\"port\":73", "\"port\":74", 1);
            if tampered == text {
                continue;
            }
            assert_eq!(
                wire::decode(tampered.as_bytes(), Some(&signer)).unwrap_err(),
                DropReason::InvalidChecksum,
                "{label}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15);
}

#[test]
fn hmac_samples_match() {
    let v = common::load("hmac.json");
    let key = v["key"].as_str().unwrap();
    let signer = Signer::new(key.as_bytes());
    let mut checked = 0;
    for s in v["samples"].as_array().unwrap() {
        let (Some(text), Some(hex)) = (s["json_stringify"].as_str(), s["hmac_sha256_hex"].as_str())
        else {
            continue;
        };
        assert_eq!(
            std::str::from_utf8(&signer.sign(text.as_bytes())).unwrap(),
            hex,
            "{}",
            s["name"]
        );
        let parsed: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            js_json::to_string(&parsed),
            text,
            "{}: JS re-serialisation",
            s["name"]
        );
        if let Some(empty) = s["hmac_empty_key_hex"].as_str() {
            assert_eq!(
                std::str::from_utf8(&Signer::new(b"").sign(text.as_bytes())).unwrap(),
                empty
            );
        }
        if let Some(frame) = s["wire_frame_text"].as_str() {
            let body = frame.trim_end_matches('\x0c');
            let env = wire::decode(body.as_bytes(), Some(&signer)).unwrap();
            assert_eq!(reencode(&env, &signer), frame.as_bytes(), "{}", s["name"]);
        }
        checked += 1;
    }
    assert!(checked >= 2);
}
