use super::signature::CHECKSUM_PREFIX;
use super::*;
use crate::wire::js_json;

#[test]
fn multibyte_text_where_the_checksum_should_be_is_refused_not_a_panic() {
    let signer = Signer::new(b"cookie");
    let body = format!("{CHECKSUM_PREFIX}{}\"}}", "é".repeat(40));
    assert!(!verify_signed(&body, &signer));
    let frame = format!("{{\"type\":\"message\",\"data\":{body}}}");
    assert_eq!(
        decode(frame.as_bytes(), Some(&signer)).unwrap_err(),
        DropReason::InvalidChecksum
    );
}

#[test]
fn frames_built_in_place_equal_frames_wrapped_around_their_text() {
    let from = r#"{"id":"a","host":"h","port":1}"#;
    for signer in [None, Some(Signer::new(b"cookie"))] {
        for (id, tag, data) in [
            (Some("srv"), Some("t\"1"), Some("{\"x\":[1,2]}")),
            (None, None, None),
            (Some("s"), None, Some("null")),
        ] {
            let msg = Outgoing {
                frame_type: FrameType::Message,
                id,
                tag,
                from,
                stream: stream::SINGLE,
                data,
            };
            let mut body = String::from("{");
            if let Some(id) = id {
                body.push_str("\"id\":");
                js_json::write_str(&mut body, id);
                body.push(',');
            }
            body.push_str("\"tag\":");
            match tag {
                Some(t) => js_json::write_str(&mut body, t),
                None => body.push_str("null"),
            }
            body.push_str(&format!(",\"from\":{from},\"stream\":{}", stream::SINGLE));
            if let Some(d) = data {
                body.push_str(&format!(",\"data\":{d}"));
            }
            body.push('}');
            let mut want = vec![];
            frame_around(FrameType::Message, &body, signer.as_ref(), &mut want);
            let mut got = vec![];
            encode(&msg, signer.as_ref(), &mut got);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want)
            );
            let mut written = vec![];
            let payload =
                |out: &mut Vec<u8>| out.extend_from_slice(data.unwrap_or("null").as_bytes());
            encode_with(
                &Outgoing { data: None, ..msg },
                Some(&payload),
                signer.as_ref(),
                &mut written,
            );
            let mut with_data = vec![];
            encode(
                &Outgoing {
                    data: Some(data.unwrap_or("null")),
                    ..msg
                },
                signer.as_ref(),
                &mut with_data,
            );
            assert_eq!(written, with_data);
        }
    }
}

/// What a receiver makes of a decoded frame: its fields, or the code
/// it drops it with (a payload left unchecked that is not JSON makes
/// the envelope malformed).
fn outcome(
    r: Result<Incoming, DropReason>,
    frame: &[u8],
    signer: Option<&Signer>,
) -> Result<String, &'static str> {
    let mut inc = r.map_err(|e| e.code())?;
    if !inc.data_checked && inc.data_value().is_err() {
        inc = decode_incoming_checked(frame, signer).map_err(|e| e.code())?;
    }
    Ok(format!(
        "{:?} {:?} {:?} {:?} {} {:?} {:?} {:?}",
        inc.frame_type, inc.id, inc.tag, inc.from, inc.done, inc.stream_id, inc.error, inc.data
    ))
}

#[test]
fn fast_paths_read_envelopes_as_the_general_parser_does() {
    let from = r#"{"id":"a","host":"h","port":7022}"#;
    let bodies = [
        format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true}},"data":{{"event":"e","data":"x"}}}}"#),
        format!(r#"{{"id":"srv","tag":"t1","from":{from},"stream":{{"done":true}},"data":null}}"#),
        format!(r#"{{"id":"srv","tag":"t1","from":{from},"stream":{{"done":true}},"data": null }}"#),
        format!(r#"{{"id":"srv","tag":"t1","from":{from},"stream":{{"done":true}},"data": [1, 2] }}"#),
        format!(r#"{{"id":"sr\"v","tag":"t1","from":{from},"stream":{{"done":true}},"data":1}}"#),
        format!(r#"{{"id":"srv","tag":"t\u0031","from":{from},"stream":{{"done":true}},"data":1}}"#),
        format!(r#"{{"id":"srv","tag":5,"from":{from},"stream":{{"done":true}},"data":1}}"#),
        format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true}},"data":1,"id":"x"}}"#),
        format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true}},"data":1}} "#),
        format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true}},"data":{{"a":1}}}},{{"b":2}}"#),
        format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true}},"data":{{"a":1}}"#),
        format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true}}}}"#),
        format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":false,"stream":"s"}},"data":{{"type":"Buffer","data":[1]}}}}"#),
        format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true,"error":{{"message":"m"}}}},"data":null}}"#),
        format!(r#"{{"id":"srv","tag":null,"from":{from},"stream":{{"done":true,"done":false}},"data":1}}"#),
        format!(r#"{{"tag":"t","from":{from},"stream":{{"done":true}}}}"#),
        r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":07022},"stream":{"done":true},"data":1}"#.to_owned(),
        r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":70000},"stream":{"done":true},"data":1}"#.to_owned(),
        r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":1.5},"stream":{"done":true},"data":1}"#.to_owned(),
        r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":0},"stream":{"done":true},"data":1}"#.to_owned(),
        r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":65535},"stream":{"done":true},"data":1}"#.to_owned(),
        r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":65536},"stream":{"done":true},"data":1}"#.to_owned(),
        r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":1234567},"stream":{"done":true},"data":1}"#.to_owned(),
        r#"{"id":"srv","tag":null,"from":{"id":"a","host":"h","port":-1},"stream":{"done":true},"data":1}"#.to_owned(),
        r#"{"id":"srv","tag":null,"from":{"id":"a"},"stream":{"done":true},"data":1}"#.to_owned(),
        "{\"id\":\"s\trv\",\"tag\":null,\"from\":{\"id\":\"a\",\"host\":\"h\",\"port\":1},\"stream\":{\"done\":true},\"data\":1}".to_owned(),
        r#"{"id":"sérvé","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":"é"}"#.to_owned(),
        r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":{"a":1}},{"b":2}"#.to_owned(),
        r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":[1,}"#.to_owned(),
        r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":}"#.to_owned(),
        r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":1e400}"#.to_owned(),
        r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":nul}"#.to_owned(),
        r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":1,"x":2}"#.to_owned(),
        r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":1,"data":2}"#.to_owned(),
        r#"{"id":"s","tag":null,"from":{"id":"a","host":"h","port":1},"stream":{"done":true},"data":1,"id":"t"}"#.to_owned(),
    ];
    let cookie = Signer::new(b"cookie");
    for body in &bodies {
        for frame_type in [FrameType::Message, FrameType::Ping] {
            for signer in [None, Some(&cookie)] {
                let mut frame = vec![];
                frame_around(frame_type, body, signer, &mut frame);
                frame.pop();
                let fast = outcome(decode_incoming(&frame, signer), &frame, signer);
                let slow = outcome(decode_incoming_checked(&frame, signer), &frame, signer);
                assert_eq!(fast, slow, "{body}");
                // Unsigned frames read by a node with a cookie.
                let c = Some(&cookie);
                let unsigned = outcome(decode_incoming(&frame, c), &frame, c);
                let slow = outcome(decode_incoming_checked(&frame, c), &frame, c);
                assert_eq!(unsigned, slow, "{body}");
            }
        }
    }
}

#[test]
fn unsigned_nodes_accept_unsigned_frames() {
    let mut out = vec![];
    encode(
        &Outgoing {
            frame_type: FrameType::Message,
            id: Some("srv"),
            tag: None,
            from: r#"{"id":"a","host":"h","port":1}"#,
            stream: stream::SINGLE,
            data: Some("1"),
        },
        None,
        &mut out,
    );
    let env = decode(&out[..out.len() - 1], None).unwrap();
    assert_eq!(env.id.as_deref(), Some("srv"));
    assert!(!out.windows(8).any(|w| w == b"checkSum"));
    assert_eq!(
        decode(&out[..out.len() - 1], Some(&Signer::new(b"k"))).unwrap_err(),
        DropReason::InvalidChecksum
    );
}
