//! Accepted connections pumped from a thread of the caller's own
//! (`embed::Embedded::on_inbound`, `InboundReader`): what the Node.js door does from
//! its event loop. Messages are handled on the pumping thread, in order
//! with whatever the kernel's own task reads, and a server without room
//! blocks the connection instead of losing messages.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use notp::net::embed::{Embedded, InboundReader, Pumped};
use notp::net::{Kernel, KernelOptions, Payload};
use notp::Node;
use serde_json::json;
use tokio::sync::mpsc;

async fn kernel(id: &str, mailbox: usize) -> Kernel {
    let opts = KernelOptions {
        retry: Duration::from_millis(50),
        mailbox,
        ..KernelOptions::default()
    }
    .with_cookie("cookie");
    Kernel::start(Node::new(id, "127.0.0.1", 0), opts)
        .await
        .unwrap()
}

/// Two kernels (`<name>_receiver`, `<name>_sender`, mailboxes of
/// `mailbox`), the sender connected to the receiver, and the receiver's
/// reader of that connection (see `Embedded::on_inbound`).
async fn connected(name: &str, mailbox: usize) -> (Kernel, Kernel, InboundReader) {
    let receiver = kernel(&format!("{name}_receiver"), mailbox).await;
    let sender = kernel(&format!("{name}_sender"), mailbox).await;
    let (tx, mut accepted) = mpsc::unbounded_channel();
    receiver.on_inbound(Some(Arc::new(move |reader| {
        let _ = tx.send(reader);
    })));
    sender
        .connect(receiver.node())
        .unwrap()
        .wait_connected()
        .await;
    let reader = tokio::time::timeout(Duration::from_secs(5), accepted.recv())
        .await
        .unwrap()
        .unwrap();
    (receiver, sender, reader)
}

/// Pumps `reader` on a thread of its own (within `rt`'s context) until
/// `done` says so or `deadline` passes; answers what each pump answered.
fn pump_thread(
    rt: tokio::runtime::Handle,
    reader: InboundReader,
    done: impl Fn() -> bool + Send + 'static,
) -> thread::JoinHandle<Vec<Pumped>> {
    thread::spawn(move || {
        let _context = rt.enter();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while !done() && Instant::now() < deadline {
            let outcome = reader.pump(|| {});
            if seen.last() != Some(&outcome) {
                seen.push(outcome);
            }
            if outcome == Pumped::Closed {
                break;
            }
            thread::sleep(Duration::from_micros(50));
        }
        seen
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_handled_on_the_pumping_thread_in_order() {
    let (receiver, sender, reader) = connected("foreign", 1024).await;
    let got: Arc<Mutex<Vec<(i64, thread::ThreadId)>>> = Arc::default();
    let sink = got.clone();
    receiver
        .serve_sync("counter", move |m| {
            if let Payload::Json(v) = m.data {
                let n = v.as_i64().unwrap_or(-1);
                sink.lock().unwrap().push((n, thread::current().id()));
            }
        })
        .unwrap();
    assert_eq!(reader.peer().ip().to_string(), "127.0.0.1");
    const N: i64 = 2000;
    let count = got.clone();
    let pumper = pump_thread(
        tokio::runtime::Handle::current(),
        reader.clone(),
        move || count.lock().unwrap().len() as i64 >= N,
    );
    let pumper_id = pumper.thread().id();
    for i in 0..N {
        sender.cast(receiver.node(), "counter", &Payload::Json(json!(i)));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let outcomes = tokio::task::spawn_blocking(move || pumper.join().unwrap())
        .await
        .unwrap();
    let got = got.lock().unwrap().clone();
    let order: Vec<i64> = got.iter().map(|(n, _)| *n).collect();
    assert_eq!(order, (0..N).collect::<Vec<_>>(), "every message, in order");
    let on_pumper = got.iter().filter(|(_, t)| *t == pumper_id).count();
    assert!(
        on_pumper > 0,
        "no message was handled on the pumping thread ({outcomes:?})"
    );
    assert!(!outcomes.contains(&Pumped::Closed));

    // The sender goes away: the reader says so, and its close callback runs.
    let (closed_tx, closed_rx) = std::sync::mpsc::channel();
    reader.on_close(move || {
        let _ = closed_tx.send(());
    });
    sender.stop();
    tokio::task::spawn_blocking(move || closed_rx.recv_timeout(Duration::from_secs(5)))
        .await
        .unwrap()
        .expect("on_close ran");
    assert!(reader.is_closed());
    assert_eq!(reader.pump(|| {}), Pumped::Closed);
    // Set after the end: runs at once.
    let (late_tx, late_rx) = std::sync::mpsc::channel();
    reader.on_close(move || {
        let _ = late_tx.send(());
    });
    assert!(late_rx.try_recv().is_ok());
    receiver.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mailbox_blocks_the_pumped_connection_without_losing_messages() {
    // Room for one message: the second waits, and nothing after it is read.
    let (receiver, sender, reader) = connected("blocked", 1).await;
    let mut mailbox = receiver.register("slow").unwrap();
    for i in 0..5 {
        sender.cast(receiver.node(), "slow", &Payload::Json(json!(i)));
    }
    // Pump (from this test's blocking thread) until the connection blocks.
    let (free_tx, free_rx) = std::sync::mpsc::channel();
    let rt = tokio::runtime::Handle::current();
    let pumped = reader.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let _context = rt.enter();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let free = free_tx.clone();
            let outcome = pumped.pump(move || {
                let _ = free.send(());
            });
            if outcome == Pumped::Blocked || Instant::now() > deadline {
                return outcome;
            }
            thread::sleep(Duration::from_micros(100));
        }
    })
    .await
    .unwrap();
    assert_eq!(outcome, Pumped::Blocked);
    assert_eq!(
        reader.pump(|| {}),
        Pumped::Blocked,
        "still waiting for room"
    );
    // Draining the mailbox lets the kernel's task deliver the waiting
    // message and go on; the pumper is told.
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let m = tokio::time::timeout(Duration::from_secs(5), mailbox.recv())
            .await
            .expect("every message arrives")
            .unwrap();
        seen.push(m.data.into_json());
    }
    assert_eq!(seen, (0..5).map(|i| json!(i)).collect::<Vec<_>>());
    tokio::task::spawn_blocking(move || free_rx.recv_timeout(Duration::from_secs(5)))
        .await
        .unwrap()
        .expect("told once the connection was free");
    reader.detach();
    sender.stop();
    receiver.stop();
}
