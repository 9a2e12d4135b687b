//! Hostile and broken input: every case is dropped with a visible, counted
//! reason, memory stays bounded, and the node keeps serving everyone else.

use std::time::Duration;

use notp::gen_server::{self, GenServer};
use notp::net::{CallError, Kernel, KernelOptions, Payload, Skip};
use notp::wire::{self, FrameType, Outgoing, Sender, Signer};
use notp::Node;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

const T: Option<Duration> = Some(Duration::from_secs(5));

fn opts() -> KernelOptions {
    KernelOptions {
        retry: Duration::from_millis(50),
        max_frame: 4096,
        max_stream_bytes: 8192,
        max_inbound: 8,
        stream_timeout: Duration::from_millis(300),
        ..KernelOptions::default()
    }
    .with_cookie("cookie")
}

/// A node under attack, with an echo server, and a friend that keeps
/// calling it.
async fn victim() -> (Kernel, Kernel) {
    let v = Kernel::start(Node::new("victim", "127.0.0.1", 0), opts())
        .await
        .unwrap();
    let friend = Kernel::start(Node::new("friend", "127.0.0.1", 0), opts())
        .await
        .unwrap();
    friend.connect(v.node()).unwrap().wait_connected().await;
    v.connect(friend.node()).unwrap().wait_connected().await;
    GenServer::start(&v, "echo")
        .unwrap()
        .spawn(|r| Some(r.data.clone()));
    (v, friend)
}

async fn still_serves(v: &Kernel, friend: &Kernel) {
    let out = gen_server::call(friend, v.node(), "echo", "e", json!("still here"), T).await;
    assert_eq!(out, Ok(Payload::Json(json!("still here"))));
}

async fn skip(rx: &mut broadcast::Receiver<Skip>, code: &str) -> Skip {
    loop {
        let s = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {code} drop reported"))
            .unwrap();
        if s.code == code {
            return s;
        }
    }
}

async fn raw(v: &Kernel) -> TcpStream {
    TcpStream::connect(("127.0.0.1", v.node().port()))
        .await
        .unwrap()
}

/// A correctly signed frame from `from` (for attacks that pass the cookie).
fn signed(id: &str, tag: Option<&str>, from: &Sender, stream: &str, data: &str) -> Vec<u8> {
    let mut out = vec![];
    let from = from.to_json();
    wire::encode(
        &Outgoing {
            frame_type: FrameType::Message,
            id: Some(id),
            tag,
            from: &from,
            stream,
            data: Some(data),
        },
        Some(&Signer::new(b"cookie")),
        &mut out,
    );
    out
}

async fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn garbage_utf8_and_non_objects_are_dropped_and_the_connection_lives_on() {
    let (v, friend) = victim().await;
    let mut rx = v.subscribe_skips();
    let mut s = raw(&v).await;
    s.write_all(b"this is not json\x0c").await.unwrap();
    skip(&mut rx, "MALFORMED_JSON").await;
    s.write_all(b"{\"type\":\"message\",\"data\":\"\xff\xfe\"}\x0c")
        .await
        .unwrap();
    skip(&mut rx, "INVALID_UTF8").await;
    s.write_all(b"[1,2,3]\x0c").await.unwrap();
    skip(&mut rx, "MALFORMED_JSON").await;
    s.write_all(b"{\"type\":\"bogus\",\"data\":{}}\x0c")
        .await
        .unwrap();
    skip(&mut rx, "UNKNOWN_FRAME_TYPE").await;
    still_serves(&v, &friend).await;
}

#[tokio::test]
async fn wrong_or_missing_checksums_are_refused() {
    let (v, friend) = victim().await;
    let mut rx = v.subscribe_skips();
    let mut s = raw(&v).await;
    let from = Sender::from(friend.node());
    let good = signed(
        "echo",
        None,
        &from,
        wire::stream::SINGLE,
        "{\"event\":\"e\",\"data\":1}",
    );
    let text = String::from_utf8(good).unwrap();
    let prefix = "{\"type\":\"message\",\"data\":{";
    let sum_at = prefix.len() + "\"checkSum\":\"".len();
    // Missing: the same envelope without its checkSum field.
    let unsigned = format!("{prefix}{}", &text[sum_at + 64 + 2..]);
    s.write_all(unsigned.as_bytes()).await.unwrap();
    skip(&mut rx, "INVALID_CHECKSUM").await;
    // Wrong: one hex digit of the checksum changed.
    let flipped = if &text[sum_at..sum_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    let wrong = format!("{}{flipped}{}", &text[..sum_at], &text[sum_at + 1..]);
    s.write_all(wrong.as_bytes()).await.unwrap();
    skip(&mut rx, "INVALID_CHECKSUM").await;
    assert!(v.skipped()["INVALID_CHECKSUM"] >= 2);
    still_serves(&v, &friend).await;
}

#[tokio::test]
async fn signed_envelopes_missing_fields_are_refused() {
    let (v, friend) = victim().await;
    let mut rx = v.subscribe_skips();
    let mut s = raw(&v).await;
    let mut frame = vec![];
    wire::frame_around(
        FrameType::Message,
        "{\"id\":\"echo\",\"tag\":null}",
        Some(&Signer::new(b"cookie")),
        &mut frame,
    );
    s.write_all(&frame).await.unwrap();
    skip(&mut rx, "MALFORMED_ENVELOPE").await;
    still_serves(&v, &friend).await;
}

#[tokio::test]
async fn an_endless_frame_closes_only_that_connection() {
    let (v, friend) = victim().await;
    let mut rx = v.subscribe_skips();
    let mut s = raw(&v).await;
    // No delimiter, ever: past max_frame the connection is closed.
    let junk = vec![b'x'; 64 * 1024];
    let _ = s.write_all(&junk).await;
    skip(&mut rx, "FRAME_TOO_LARGE").await;
    assert!(closed_by_peer(&mut s).await);
    still_serves(&v, &friend).await;
}

#[tokio::test]
async fn a_reply_from_the_wrong_node_fails_the_call() {
    // "bob" is a raw listener: we see the call and forge the answer.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bob = Node::new("bob", "127.0.0.1", listener.local_addr().unwrap().port());
    let v = Kernel::start(Node::new("caller", "127.0.0.1", 0), opts())
        .await
        .unwrap();
    v.connect(&bob).unwrap();
    let (mut from_caller, _) = listener.accept().await.unwrap();
    let (k, b) = (v.clone(), bob.clone());
    let call =
        tokio::spawn(async move { gen_server::call(&k, &b, "srv", "e", Value::Null, T).await });

    let mut buf = vec![0u8; 4096];
    let n = from_caller.read(&mut buf).await.unwrap();
    let frame: Value = serde_json::from_slice(&buf[..n - 1]).unwrap();
    let tag = frame["data"]["tag"].as_str().unwrap().to_owned();

    let mallory = Sender::from(&Node::new("mallory", "127.0.0.1", 9));
    let mut s = raw(&v).await;
    s.write_all(&signed(
        &tag,
        None,
        &mallory,
        wire::stream::SINGLE,
        "\"forged\"",
    ))
    .await
    .unwrap();
    let err = call.await.unwrap().unwrap_err();
    assert!(
        matches!(err, CallError::InvalidReply { ref actual, .. } if actual == "mallory"),
        "{err:?}"
    );
    assert_eq!(v.skipped().get("INVALID_REPLY"), Some(&1));
}

#[tokio::test]
async fn a_stream_that_never_ends_is_dropped_and_its_caller_told() {
    // The caller is a raw listener too, so we can read the error answer.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let caller = Node::new(
        "slowpoke",
        "127.0.0.1",
        listener.local_addr().unwrap().port(),
    );
    let (v, friend) = victim().await;
    let mut rx = v.subscribe_skips();
    v.connect(&caller).unwrap();
    let (mut back, _) = listener.accept().await.unwrap();

    let mut s = raw(&v).await;
    let chunk = wire::buffer::to_json(b"{\"event\":\"e\",");
    s.write_all(&signed(
        "echo",
        Some("tag1"),
        &Sender::from(&caller),
        &wire::stream::chunk("s1"),
        &chunk,
    ))
    .await
    .unwrap();
    skip(&mut rx, "STREAM_TIMEOUT").await;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), back.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let answer: Value = serde_json::from_slice(&buf[..n - 1]).unwrap();
    assert_eq!(answer["data"]["id"], json!("tag1"));
    assert_eq!(answer["data"]["stream"]["error"]["_error"], json!(true));
    still_serves(&v, &friend).await;
}

#[tokio::test]
async fn streams_past_the_byte_limit_are_dropped() {
    let (v, friend) = victim().await;
    let mut rx = v.subscribe_skips();
    let mut s = raw(&v).await;
    let from = Sender::from(friend.node());
    let chunk = wire::buffer::to_json(&[b' '; 700]);
    for _ in 0..13 {
        s.write_all(&signed(
            "echo",
            None,
            &from,
            &wire::stream::chunk("big"),
            &chunk,
        ))
        .await
        .unwrap();
    }
    skip(&mut rx, "STREAM_TOO_LARGE").await;
    still_serves(&v, &friend).await;
}

#[tokio::test]
async fn a_peer_vanishing_mid_stream_disturbs_no_one() {
    let (v, friend) = victim().await;
    let mut s = raw(&v).await;
    let from = Sender::from(friend.node());
    let chunk = wire::buffer::to_json(b"{\"event\":\"echo\",\"da");
    s.write_all(&signed(
        "echo",
        None,
        &from,
        &wire::stream::chunk("half"),
        &chunk,
    ))
    .await
    .unwrap();
    s.write_all(b"{\"type\":\"message\",\"da").await.unwrap();
    drop(s);
    still_serves(&v, &friend).await;
}

#[tokio::test]
async fn streamed_bodies_are_reassembled() {
    let (v, friend) = victim().await;
    let mut s = raw(&v).await;
    let from = Sender::from(friend.node());
    let mut server = GenServer::start(&v, "streamed").unwrap();
    for part in [&b"{\"event\":\"ec"[..], b"ho\",\"data\":\"streamed\"}"] {
        s.write_all(&signed(
            "streamed",
            None,
            &from,
            &wire::stream::chunk("st"),
            &wire::buffer::to_json(part),
        ))
        .await
        .unwrap();
    }
    s.write_all(&signed(
        "streamed",
        None,
        &from,
        &wire::stream::end("st"),
        "null",
    ))
    .await
    .unwrap();
    let req = tokio::time::timeout(Duration::from_secs(5), server.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (req.event.as_str(), req.data),
        ("echo", Payload::Json(json!("streamed")))
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let (v, friend) = victim().await;
    let mut rx = v.subscribe_skips();
    let mut held = vec![];
    for _ in 0..8 {
        held.push(raw(&v).await);
    }
    skip(&mut rx, "TOO_MANY_CONNECTIONS").await;
    drop(held);
    still_serves(&v, &friend).await;
}

#[tokio::test]
async fn calls_to_a_node_that_is_down_time_out() {
    let v = Kernel::start(Node::new("lonely", "127.0.0.1", 0), opts())
        .await
        .unwrap();
    let gone = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Node::new("gone", "127.0.0.1", l.local_addr().unwrap().port())
    };
    v.connect(&gone);
    let r = gen_server::call(
        &v,
        &gone,
        "x",
        "y",
        Value::Null,
        Some(Duration::from_millis(200)),
    )
    .await;
    assert_eq!(r, Err(CallError::Timeout));
    assert!(v.connection(&gone).unwrap().queued() <= v.options().max_queue);
}
