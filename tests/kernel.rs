//! Two kernels on loopback: calls, casts, replies, pings, local calls,
//! errors and timeouts, through the Rust API.

use std::time::Duration;

use notp::gen_server::{self, GenServer};
use notp::net::{CallError, Kernel, KernelOptions, NetError, Payload};
use notp::Node;
use serde_json::{json, Value};

const T: Option<Duration> = Some(Duration::from_secs(5));

async fn kernel(id: &str) -> Kernel {
    let opts = KernelOptions {
        retry: Duration::from_millis(50),
        ..KernelOptions::default()
    }
    .with_cookie("cookie");
    Kernel::start(Node::new(id, "127.0.0.1", 0), opts)
        .await
        .unwrap()
}

async fn pair() -> (Kernel, Kernel) {
    let (a, b) = (kernel("node_a").await, kernel("node_b").await);
    a.connect(b.node()).unwrap().wait_connected().await;
    b.connect(a.node()).unwrap().wait_connected().await;
    (a, b)
}

fn echo(k: &Kernel, name: &str) {
    GenServer::start(k, name)
        .unwrap()
        .spawn(|req| match req.event.as_str() {
            "echo" => Some(req.data.clone()),
            _ => None,
        });
}

#[tokio::test]
async fn call_cast_and_reply_between_two_nodes() {
    let (a, b) = pair().await;
    echo(&b, "server_here");
    let out = gen_server::call(&a, b.node(), "server_here", "echo", json!("bar"), T)
        .await
        .unwrap();
    assert_eq!(out, Payload::Json(json!("bar")));

    let tricky = json!({"s": "h\u{e9}llo \u{2028} \"q\" / <tag> \u{1} \u{1F600}", "n": [1, 0.1, 1e21, 5e-7], "k": {"2": 2, "10": 1, "b": 3}});
    let out = gen_server::call(&a, b.node(), "server_here", "echo", tricky.clone(), T)
        .await
        .unwrap();
    assert_eq!(out, Payload::Json(tricky));

    // Buffers cross as bytes.
    let bytes = Payload::Bytes(vec![0u8, 1, 2, 255].into());
    let out = a
        .call(
            b.node(),
            "server_here",
            &gen_server::body("echo", Value::Null),
            T,
        )
        .await
        .unwrap();
    assert_eq!(out, Payload::Json(Value::Null));
    let mut server = GenServer::start(&b, "bytes").unwrap();
    a.cast(
        b.node(),
        "bytes",
        &Payload::Json(json!({"event": "raw", "data": {"type": "Buffer", "data": [0, 1, 2, 255]}})),
    );
    let req = server.recv().await.unwrap();
    assert_eq!((req.event.as_str(), req.data), ("raw", bytes));
    assert!(req.from.tag.is_none());
    assert_eq!(req.from.node.id, "node_a");
    assert!(
        a.skipped().is_empty() && b.skipped().is_empty(),
        "{:?} {:?}",
        a.skipped(),
        b.skipped()
    );
}

#[tokio::test]
async fn local_calls_skip_the_network() {
    let a = kernel("solo").await;
    echo(&a, "me");
    let out = gen_server::call(&a, &a.node().clone(), "me", "echo", json!(42), T)
        .await
        .unwrap();
    assert_eq!(out, Payload::Json(json!(42)));
}

#[tokio::test]
async fn ping_needs_a_connection_back() {
    let (a, b) = pair().await;
    a.ping(b.node(), T).await.unwrap();
    // A node with no connection back never answers (the original's quirk).
    let c = kernel("node_c").await;
    c.connect(a.node()).unwrap().wait_connected().await;
    let r = c.ping(a.node(), Some(Duration::from_millis(200))).await;
    assert_eq!(r, Err(CallError::Timeout));
}

#[tokio::test]
async fn unknown_servers_and_nodes_are_errors_not_hangs() {
    let (a, b) = pair().await;
    let err = gen_server::call(&a, b.node(), "nobody", "x", Value::Null, T)
        .await
        .unwrap_err();
    let CallError::Remote(e) = &err else {
        panic!("{err:?}")
    };
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("nobody") && msg.contains("node_b"), "{msg}");
    assert_eq!(e["_error"], json!(true));
    assert_eq!(b.skipped().get("UNKNOWN_TARGET"), Some(&1));

    let stranger = Node::new("stranger", "127.0.0.1", 1);
    let err = gen_server::call(&a, &stranger, "x", "y", Value::Null, T)
        .await
        .unwrap_err();
    assert_eq!(err, CallError::UnknownNode("stranger".into()));
    assert_eq!(err.to_string(), "Unknown node stranger");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let (a, b) = pair().await;
    let _silent = GenServer::start(&b, "silent").unwrap();
    let r = gen_server::call(
        &a,
        b.node(),
        "silent",
        "x",
        Value::Null,
        Some(Duration::from_millis(100)),
    )
    .await;
    assert_eq!(r, Err(CallError::Timeout));
    assert_eq!(a.pending_calls(), 0, "the timed-out call is forgotten");
}

#[tokio::test]
async fn replying_to_a_cast_is_ignored_and_the_node_keeps_serving() {
    let (a, b) = pair().await;
    let mut server = GenServer::start(&b, "s").unwrap();
    gen_server::cast(&a, b.node(), "s", "hello", json!(1));
    let req = server.recv().await.unwrap();
    server.reply(&req.from, json!("nobody is waiting"));
    server.spawn(|r| Some(r.data.clone()));
    let out = gen_server::call(&a, b.node(), "s", "e", json!(2), T)
        .await
        .unwrap();
    assert_eq!(out, Payload::Json(json!(2)));
}

#[tokio::test]
async fn a_name_is_taken_once_per_node() {
    let a = kernel("names").await;
    let first = GenServer::start(&a, "dup").unwrap();
    assert!(GenServer::start(&a, "dup").is_err());
    first.stop();
    assert!(GenServer::start(&a, "dup").is_ok());
}

#[tokio::test]
async fn multicall_and_abcast_reach_every_node() {
    let (a, b) = pair().await;
    let c = kernel("node_c").await;
    a.connect(c.node()).unwrap().wait_connected().await;
    c.connect(a.node()).unwrap().wait_connected().await;
    echo(&b, "e");
    echo(&c, "e");
    let nodes = vec![b.node().clone(), c.node().clone()];
    let out = a
        .multicall(&nodes, "e", &gen_server::body("echo", json!("x")), T)
        .await;
    assert_eq!(
        out,
        vec![Ok(Payload::Json(json!("x"))), Ok(Payload::Json(json!("x")))]
    );
}

#[tokio::test]
async fn stop_fails_waiting_calls() {
    let (a, b) = pair().await;
    let _silent = GenServer::start(&b, "silent").unwrap();
    let a2 = a.clone();
    let node = b.node().clone();
    let call = tokio::spawn(async move {
        gen_server::call(&a2, &node, "silent", "x", Value::Null, None).await
    });
    while a.pending_calls() == 0 {
        tokio::task::yield_now().await;
    }
    a.stop();
    assert_eq!(call.await.unwrap(), Err(CallError::Stopped));
}

#[tokio::test]
async fn streamed_bodies_reach_servers_and_callers_in_both_directions() {
    let (a, b) = pair().await;
    echo(&b, "stream_echo");
    // A streamed request, parsed by the server as one body.
    let (mut body, reply) = a.call_stream(b.node(), "stream_echo", T).unwrap();
    body.write(br#"{"event":"echo","#);
    body.write(br#""data":{"big":""#);
    body.write(&[b'x'; 100_000]);
    body.write(br#""}}"#);
    body.end();
    let out = reply.await.unwrap().into_json();
    assert_eq!(out["big"].as_str().map(str::len), Some(100_000));

    // To this node itself: gathered and delivered whole.
    echo(&a, "local_echo");
    let (mut body, reply) = a.call_stream(a.node(), "local_echo", T).unwrap();
    body.write(br#"{"event":"echo","data":"#);
    body.write(br#""here"}"#);
    body.end();
    assert_eq!(reply.await.unwrap(), Payload::Json(json!("here")));

    // A streamed reply.
    let mut mailbox = b.register("streamer").unwrap();
    let call = {
        let a = a.clone();
        let node = b.node().clone();
        tokio::spawn(async move { a.call(&node, "streamer", &Payload::Json(json!(1)), T).await })
    };
    let m = mailbox.recv().await.unwrap();
    let mut answer = b.reply_stream(&m.from).unwrap();
    answer.write(b"part one, ");
    answer.write(b"part two");
    answer.end();
    assert_eq!(
        call.await.unwrap().unwrap(),
        Payload::Bytes(b"part one, part two".to_vec().into())
    );

    // A body dropped unfinished fails the call at once, not at the
    // receiver's stream timeout.
    let (mut body, reply) = a.call_stream(b.node(), "stream_echo", T).unwrap();
    body.write(br#"{"event":"echo""#);
    drop(body);
    match reply.await {
        Err(CallError::Remote(e)) => assert_eq!(e["message"], json!("Stream aborted.")),
        other => panic!("expected the stream's error, got {other:?}"),
    }
    // No connection, no stream.
    assert!(a
        .cast_stream(&Node::new("nobody", "127.0.0.1", 1), "x")
        .is_none());
}

#[tokio::test]
async fn stop_writes_what_the_connections_still_hold() {
    use tokio::io::AsyncReadExt;
    // A peer that reads nothing yet: frames pile up in our queue.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = Node::new("slow_reader", "127.0.0.1", port);
    let k = kernel("stopping_node").await;
    k.connect(&peer).unwrap().wait_connected().await;
    let (mut sock, _) = listener.accept().await.unwrap();
    let big = Payload::Json(json!("x".repeat(256 * 1024)));
    for _ in 0..32 {
        k.cast(&peer, "bulk", &big);
    }
    // The last word, sent just before stopping (as a gossip leave is).
    k.cast(&peer, "last_word", &Payload::Json(json!("bye")));
    let sink = k.connection(&peer).unwrap();
    assert!(
        sink.queued() > 0,
        "the test needs frames still queued at stop"
    );
    k.stop();
    assert!(k.is_stopped());
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut all))
        .await
        .expect("the connection closes after its queue is written")
        .unwrap();
    let frames: Vec<&[u8]> = all
        .split(|b| *b == 0x0c)
        .filter(|f| !f.is_empty())
        .collect();
    assert_eq!(frames.len(), 33, "every queued frame was written");
    let last: Value = serde_json::from_slice(frames[32]).unwrap();
    assert_eq!(last["data"]["id"], json!("last_word"));
}

#[tokio::test]
async fn a_zero_or_nonsense_option_is_refused_at_start() {
    let d = KernelOptions::default;
    for (option, opts) in [
        (
            "stream_timeout",
            KernelOptions {
                stream_timeout: Duration::ZERO,
                ..d()
            },
        ),
        ("mailbox", KernelOptions { mailbox: 0, ..d() }),
        (
            "max_inbound",
            KernelOptions {
                max_inbound: usize::MAX,
                ..d()
            },
        ),
    ] {
        let refused = Kernel::start(Node::new("bad", "127.0.0.1", 0), opts).await;
        let Err(NetError::Options(e)) = refused else {
            panic!("{option}: started anyway");
        };
        assert_eq!(e.option, option);
        assert!(e.to_string().contains(&format!("`{option}`")), "{e}");
    }
}
