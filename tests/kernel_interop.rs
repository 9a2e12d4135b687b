//! Wire interop with the original: captured frames fed to a live kernel over
//! raw TCP are accepted and routed (and refused when tampered with), and the
//! frames this kernel writes have the captured structure and signatures the
//! original's rule accepts.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{original_accepts, shape};
use notp::gen_server::{self, GenServer};
use notp::net::{Kernel, KernelOptions, Payload};
use notp::wire::Signer;
use notp::Node;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

const NAMES: [&str; 4] = ["server_here", "ring", "raw_evt", "command"];

async fn kernel(id: &str) -> Kernel {
    let opts = KernelOptions::default().with_cookie("cookie");
    Kernel::start(Node::new(id, "127.0.0.1", 0), opts)
        .await
        .unwrap()
}

/// Every frame original nodes and the original CLI sent to a node, in order.
fn captured_frames() -> Vec<(String, Vec<u8>)> {
    let v = common::load("wire.json");
    let mut out = vec![];
    let mut push = |label: String, b64: &Value| {
        let bytes = STANDARD.decode(b64.as_str().unwrap()).unwrap();
        for frame in bytes.split(|b| *b == 0x0c).filter(|f| !f.is_empty()) {
            out.push((label.clone(), frame.to_vec()));
        }
    };
    for w in v["writes"].as_array().unwrap() {
        push(format!("{}", w["phase"]), &w["bytes_base64"]);
    }
    for cli in v["cli"].as_array().unwrap() {
        for conn in cli["connections"].as_array().unwrap() {
            push(
                format!("{}", cli["label"]),
                &conn["cli_to_node"]["bytes_base64"],
            );
        }
    }
    out
}

/// Messages a receiver should route to one of `NAMES`: complete (single or
/// last of a stream) and signed with the right cookie.
fn expected_routes(frames: &[(String, Vec<u8>)]) -> BTreeMap<String, usize> {
    let mut want = BTreeMap::new();
    for (label, f) in frames {
        let v: Value = serde_json::from_slice(f).unwrap();
        let id = v["data"]["id"].as_str().unwrap_or("");
        if NAMES.contains(&id)
            && v["data"]["stream"]["done"] == json!(true)
            && !label.contains("wrong_cookie")
        {
            *want.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    want
}

async fn send_raw(kernel: &Kernel, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", kernel.node().port()))
        .await
        .unwrap();
    s.write_all(bytes).await.unwrap();
    s
}

#[tokio::test]
async fn captured_frames_are_accepted_and_routed() {
    let k = kernel("receiver").await;
    // Kernel-level mailboxes: `raw_evt` receives a bare Buffer, not a
    // GenServer body.
    let mut mailboxes: Vec<_> = NAMES.iter().map(|n| k.register(n).unwrap()).collect();
    let mut skips = k.subscribe_skips();
    let frames = captured_frames();
    let want = expected_routes(&frames);
    assert!(want.values().sum::<usize>() >= 8, "{want:?}");

    let mut stream_bytes = vec![];
    for (_, f) in &frames {
        stream_bytes.extend_from_slice(f);
        stream_bytes.push(0x0c);
    }
    // One byte at a time, the worst chunking there is.
    let mut s = TcpStream::connect(("127.0.0.1", k.node().port()))
        .await
        .unwrap();
    for b in &stream_bytes {
        s.write_all(std::slice::from_ref(b)).await.unwrap();
    }

    let mut got = BTreeMap::new();
    for (name, mailbox) in NAMES.iter().zip(mailboxes.iter_mut()) {
        for _ in 0..want.get(*name).copied().unwrap_or(0) {
            let msg = tokio::time::timeout(Duration::from_secs(5), mailbox.recv())
                .await
                .unwrap_or_else(|_| panic!("{name}: routed messages missing"))
                .unwrap();
            *got.entry(name.to_string()).or_insert(0) += 1;
            match *name {
                "raw_evt" => assert_eq!(msg.data, Payload::Bytes(vec![0u8, 1, 2, 255].into())),
                "command" => assert!(
                    msg.from.is_socket(),
                    "CLI clients are answered on their socket"
                ),
                _ => assert!(!msg.from.is_socket()),
            }
        }
    }
    assert_eq!(got, want);
    // The last captured frame is signed with the wrong cookie.
    loop {
        let skip = tokio::time::timeout(Duration::from_secs(5), skips.recv())
            .await
            .unwrap()
            .unwrap();
        if skip.code == "INVALID_CHECKSUM" {
            break;
        }
    }
    let skipped = k.skipped();
    // Only the frame signed with the wrong cookie is refused; replies
    // addressed to tags nobody here waits for are unknown targets.
    assert_eq!(skipped.get("INVALID_CHECKSUM"), Some(&1), "{skipped:?}");
    assert!(!skipped.contains_key("MALFORMED_JSON") && !skipped.contains_key("MALFORMED_ENVELOPE"));
}

#[tokio::test]
async fn a_changed_byte_is_dropped_as_invalid_checksum() {
    let k = kernel("receiver").await;
    let mut server = GenServer::start(&k, "server_here").unwrap();
    let mut skips = k.subscribe_skips();
    let frames = captured_frames();
    let (_, cast) = frames
        .iter()
        .find(|(l, _)| l.contains("genserver_cast"))
        .unwrap();
    let tampered = String::from_utf8(cast.clone())
        .unwrap()
        .replacen("\"bar\"", "\"baz\"", 1);
    let mut bytes = tampered.into_bytes();
    bytes.push(0x0c);
    let _s = send_raw(&k, &bytes).await;
    let skip = tokio::time::timeout(Duration::from_secs(5), skips.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(skip.code, "INVALID_CHECKSUM");
    // The untouched frame still goes through on a fresh connection.
    let mut good = cast.clone();
    good.push(0x0c);
    let _s2 = send_raw(&k, &good).await;
    let req = tokio::time::timeout(Duration::from_secs(5), server.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (req.event.as_str(), req.data),
        ("cast_evt", Payload::Json(json!("bar")))
    );
}

#[tokio::test]
async fn frames_we_write_have_the_captured_structure() {
    // A raw listener stands in for the remote node and records our bytes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let remote = Node::new("node_b", "127.0.0.1", port);
    let k = kernel("node_a").await;
    k.connect(&remote).unwrap();
    let (mut sock, _) = listener.accept().await.unwrap();

    gen_server::cast(&k, &remote, "server_here", "cast_evt", json!("bar"));
    let k2 = k.clone();
    let r2 = remote.clone();
    tokio::spawn(async move {
        gen_server::call(&k2, &r2, "server_here", "echo", json!("bar"), None).await
    });
    let k3 = k.clone();
    let r3 = remote.clone();
    tokio::spawn(async move { k3.ping(&r3, None).await });

    let frames = common::read_frames(&mut sock, 3).await;
    let captured = captured_frames();
    let signer = Signer::new(b"cookie");
    for (ours, phase) in frames.iter().zip([
        "genserver_cast",
        "genserver_call_echo_string",
        "kernel_ping_pong",
    ]) {
        let (_, theirs) = captured
            .iter()
            .find(|(l, f)| l.contains(phase) && f.windows(9).any(|w| w == b"\"node_a\","))
            .unwrap();
        let ours_v: Value = serde_json::from_slice(ours).unwrap();
        let theirs_v: Value = serde_json::from_slice(theirs).unwrap();
        assert_eq!(
            shape(&ours_v),
            shape(&theirs_v),
            "{phase}: structure differs"
        );
        assert!(original_accepts(ours, &signer), "{phase}: signature");
    }
}

#[tokio::test]
async fn a_streamed_call_has_the_captured_structure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let remote = Node::new("node_b", "127.0.0.1", port);
    let k = kernel("node_a").await;
    k.connect(&remote).unwrap();
    let (mut sock, _) = listener.accept().await.unwrap();

    let (mut body, _reply) = k.call_stream(&remote, "server_here", None).unwrap();
    body.write(br#"{"event":""#);
    body.write(br#"echo","data":"streamed"}"#);
    body.end();

    let frames = common::read_frames(&mut sock, 3).await;
    let captured: Vec<Vec<u8>> = captured_frames()
        .into_iter()
        .filter(|(l, f)| {
            l.contains("kernel_call_stream") && f.windows(9).any(|w| w == b"\"node_a\",")
        })
        .map(|(_, f)| f)
        .collect();
    assert_eq!(captured.len(), 3, "two chunks and the end");
    let signer = Signer::new(b"cookie");
    let mut ids = Vec::new();
    for (ours, theirs) in frames.iter().zip(&captured) {
        let ours_v: Value = serde_json::from_slice(ours).unwrap();
        let theirs_v: Value = serde_json::from_slice(theirs).unwrap();
        assert_eq!(shape(&ours_v), shape(&theirs_v), "structure differs");
        assert!(original_accepts(ours, &signer), "signature");
        let stream_id = ours_v["data"]["stream"]["stream"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(stream_id.len(), 48);
        ids.push((stream_id, ours_v["data"]["tag"].clone()));
    }
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "one stream, one tag: {ids:?}"
    );
}
