//! Servers whose handler is synchronous (`GenServer::spawn`) run it on the
//! task that delivers the message (the connection's reader), saving the
//! mailbox and the wake-up of a server task per message. Backpressure is
//! the reader itself: it reads no further while the handler runs.
//!
//! A message runs at once only when nothing is queued for the server and no
//! other task is running its handler; otherwise it waits in the server's
//! queue (a bounded mailbox, drained in order by the server's task), so
//! messages from one connection keep their order. Messages from this node
//! itself always queue: a handler that casts to its own server must not run
//! itself re-entrantly.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use tokio::sync::mpsc;

use super::message::{Delivery, Message};

/// What a synchronous server does with each message.
pub(crate) type Handler = Box<dyn FnMut(Delivery) + Send>;

/// The handler of an inline server and what orders its messages.
pub(crate) struct InlineCore {
    name: String,
    handler: Mutex<Handler>,
    /// Messages queued (or about to be) and not yet handled, plus one while
    /// the server's original mailbox may still deliver. A queued message is
    /// uncounted only once handled, so a message runs inline (when this is
    /// zero, under the handler's lock) only after all those before it.
    queued: AtomicUsize,
    /// The handler panicked: the server is gone.
    dead: AtomicBool,
}

impl InlineCore {
    pub(crate) fn new(name: &str, handler: Handler) -> Arc<InlineCore> {
        Arc::new(InlineCore {
            name: name.to_owned(),
            handler: Mutex::new(handler),
            queued: AtomicUsize::new(1),
            dead: AtomicBool::new(false),
        })
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Runs `msg` now if nothing is ahead of it and the handler is free;
    /// otherwise gives it back, to be queued.
    pub(crate) fn try_run(&self, msg: Delivery) -> Option<Delivery> {
        let mut handler = match self.handler.try_lock() {
            Ok(h) => h,
            Err(TryLockError::WouldBlock) => return Some(msg),
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
        };
        if self.queued.load(Ordering::Acquire) != 0 || self.is_dead() {
            return Some(msg);
        }
        self.run(&mut handler, msg);
        None
    }

    /// Counts a message about to be queued.
    pub(crate) fn enqueue(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    /// A counted message that will never be handled (refused or lost).
    /// Never takes the handler's lock: a handler refused room for a
    /// message to its own server lands here.
    pub(crate) fn unqueue(&self) {
        self.queued.fetch_sub(1, Ordering::AcqRel);
    }

    fn lock(&self) -> MutexGuard<'_, Handler> {
        // Handler panics are caught inside the guard, so poisoning would
        // only come from this module's own bookkeeping.
        self.handler.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the handler; a panic kills the server (like a panic in a
    /// server task would) but not the task delivering the message.
    fn run(&self, handler: &mut Handler, msg: Delivery) {
        if catch_unwind(AssertUnwindSafe(|| handler(msg))).is_err() {
            tracing::error!(server = %self.name, "handler panicked; server stopped");
            self.dead.store(true, Ordering::Release);
        }
    }

    /// Handles a queued message (under the lock), then uncounts it.
    fn run_queued(&self, handler: &mut Handler, msg: Delivery) {
        if !self.is_dead() {
            self.run(handler, msg);
        }
        self.queued.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Queued messages handled per turn of the server's task.
const BATCH: usize = 128;

/// The server's task: first whatever its original mailbox still holds or
/// receives (until every sender of it is gone), then its queue, in order.
/// Ends when the server is unregistered (the queue's sender is dropped) or
/// its handler panicked.
pub(crate) async fn drain(
    core: Arc<InlineCore>,
    mut original: mpsc::Receiver<Message>,
    mut queue: mpsc::Receiver<Delivery>,
) {
    while let Some(msg) = original.recv().await {
        let mut h = core.lock();
        if !core.is_dead() {
            core.run(&mut h, msg.into());
        }
    }
    drop(original);
    // The original mailbox's share of `queued`.
    core.unqueue();
    while let Some(msg) = queue.recv().await {
        let mut h = core.lock();
        core.run_queued(&mut h, msg);
        // Some more of what is queued, under the same lock.
        for _ in 0..BATCH {
            let Ok(msg) = queue.try_recv() else { break };
            core.run_queued(&mut h, msg);
        }
        drop(h);
        if core.is_dead() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use serde_json::{json, Value};
    use tokio::io::AsyncWriteExt;

    use crate::gen_server::{self, GenServer};
    use crate::net::{CallError, Kernel, KernelOptions, Payload};
    use crate::wire::{self, FrameType, Outgoing, Sender, Signer};
    use crate::Node;

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
        let (a, b) = (kernel("inline_a").await, kernel("inline_b").await);
        a.connect(b.node()).unwrap().wait_connected().await;
        b.connect(a.node()).unwrap().wait_connected().await;
        (a, b)
    }

    /// A server recording `(event, data)` of every request, answering
    /// calls with how many it has seen.
    fn recorder(k: &Kernel, name: &str, server: GenServer) -> Arc<Mutex<Vec<(String, Value)>>> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let kernel = k.clone();
        let me = k.node().clone();
        let name = name.to_owned();
        server.spawn(move |req| {
            let data = req.data.clone().into_json();
            if req.event == "again" {
                // Re-entrant: a cast to itself from inside the handler.
                gen_server::cast(&kernel, &me, &name, "echoed", data.clone());
            }
            if req.event == "boom" {
                panic!("handler failure (expected by the test)");
            }
            let mut seen = log.lock().unwrap();
            seen.push((req.event.clone(), data));
            Some(Payload::Json(json!(seen.len())))
        });
        seen
    }

    async fn until(what: impl Fn() -> bool) {
        for _ in 0..500 {
            if what() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_keep_their_order_across_the_switch_to_running_inline() {
        let (a, b) = pair().await;
        let server = GenServer::start(&b, "rec").unwrap();
        // Queued in the mailbox before the handler exists.
        for i in 0..100 {
            gen_server::cast(&a, b.node(), "rec", "n", json!(i));
        }
        let local = b.node().clone();
        gen_server::cast(&b, &local, "rec", "local", json!(0));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let seen = recorder(&b, "rec", server);
        for i in 100..5000 {
            gen_server::cast(&a, b.node(), "rec", "n", json!(i));
        }
        let out = gen_server::call(&a, b.node(), "rec", "count", Value::Null, T)
            .await
            .unwrap();
        assert_eq!(out, Payload::Json(json!(5002)));
        let seen = seen.lock().unwrap();
        let remote: Vec<i64> = seen
            .iter()
            .filter(|(e, _)| e == "n")
            .filter_map(|(_, v)| v.as_i64())
            .collect();
        assert_eq!(remote, (0..5000).collect::<Vec<_>>());
        assert!(seen.iter().any(|(e, _)| e == "local"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_handler_may_cast_to_itself_and_a_panic_stops_only_its_server() {
        let (a, b) = pair().await;
        let seen = recorder(&b, "rec", GenServer::start(&b, "rec").unwrap());
        gen_server::cast(&a, b.node(), "rec", "again", json!("x"));
        until(|| seen.lock().unwrap().len() == 2).await;
        assert_eq!(seen.lock().unwrap()[1], ("echoed".to_owned(), json!("x")));

        GenServer::start(&b, "echo")
            .unwrap()
            .spawn(|r| Some(r.data.clone()));
        gen_server::cast(&a, b.node(), "rec", "boom", Value::Null);
        until(|| !b.is_registered("rec")).await;
        let gone = gen_server::call(&a, b.node(), "rec", "n", json!(1), T).await;
        assert!(matches!(gone, Err(CallError::Remote(_))), "{gone:?}");
        let out = gen_server::call(&a, b.node(), "echo", "e", json!("still"), T).await;
        assert_eq!(out, Ok(Payload::Json(json!("still"))));
        // The name can be taken again.
        let again = recorder(&b, "rec", GenServer::start(&b, "rec").unwrap());
        gen_server::cast(&a, b.node(), "rec", "n", json!(7));
        until(|| again.lock().unwrap().len() == 1).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_handler_overflowing_its_own_queue_is_refused_not_deadlocked() {
        let opts = KernelOptions {
            mailbox: 1,
            ..KernelOptions::default()
        };
        let k = Kernel::start(Node::new("self_flood", "127.0.0.1", 0), opts)
            .await
            .unwrap();
        let (kernel, me) = (k.clone(), k.node().clone());
        GenServer::start(&k, "flood").unwrap().spawn(move |req| {
            if req.event == "go" {
                for _ in 0..3 {
                    gen_server::cast(&kernel, &me, "flood", "again", Value::Null);
                }
            }
            Some(req.data.clone())
        });
        let node = k.node().clone();
        gen_server::cast(&k, &node, "flood", "go", Value::Null);
        until(|| k.skipped().contains_key("MAILBOX_FULL")).await;
        let out = gen_server::call(&k, &node, "flood", "e", json!(1), T).await;
        assert_eq!(out, Ok(Payload::Json(json!(1))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_busy_handler_pushes_back_on_other_connections_without_losing_anything() {
        let opts = KernelOptions {
            retry: Duration::from_millis(50),
            mailbox: 4,
            ..KernelOptions::default()
        }
        .with_cookie("cookie");
        let b = Kernel::start(Node::new("busy_b", "127.0.0.1", 0), opts)
            .await
            .unwrap();
        let senders = [kernel("busy_a").await, kernel("busy_c").await];
        for s in &senders {
            s.connect(b.node()).unwrap().wait_connected().await;
            b.connect(s.node()).unwrap().wait_connected().await;
        }
        let handled = Arc::new(Mutex::new(Vec::new()));
        let log = handled.clone();
        GenServer::start(&b, "slow").unwrap().spawn(move |req| {
            std::thread::sleep(Duration::from_millis(1));
            let mut log = log.lock().unwrap();
            log.push((req.from.node.id.clone(), req.data.clone().into_json()));
            Some(Payload::Json(json!(log.len())))
        });
        for i in 0..60 {
            for s in &senders {
                gen_server::cast(s, b.node(), "slow", "n", json!(i));
            }
        }
        until(|| handled.lock().unwrap().len() == 120).await;
        assert!(b.skipped().is_empty(), "{:?}", b.skipped());
        let handled = handled.lock().unwrap();
        for s in &senders {
            let theirs: Vec<Value> = handled
                .iter()
                .filter(|(from, _)| from == s.id())
                .map(|(_, v)| v.clone())
                .collect();
            assert_eq!(theirs, (0..60).map(|i| json!(i)).collect::<Vec<_>>());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_envelope_with_more_after_its_data_is_read_as_a_whole() {
        let b = kernel("inline_b").await;
        let seen = recorder(&b, "rec", GenServer::start(&b, "rec").unwrap());
        let mut skips = b.subscribe_skips();
        let from = Sender::from(&Node::new("peer", "127.0.0.1", 1)).to_json();
        let mut frames = vec![];
        for data in [
            // The fast path cannot tell where `data` ends: decoded again.
            r#"{"event":"e","data":1},"extra":2"#,
            r#"{"event":"e","data":2}"#,
            // Not JSON: dropped, as ever.
            r#"{"event":"e","data":"#,
            // JSON, but an envelope naming its target twice.
            r#"{"event":"e","data":3},"id":"rec""#,
        ] {
            wire::encode(
                &Outgoing {
                    frame_type: FrameType::Message,
                    id: Some("rec"),
                    tag: None,
                    from: &from,
                    stream: wire::stream::SINGLE,
                    data: Some(data),
                },
                Some(&Signer::new(b"cookie")),
                &mut frames,
            );
        }
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", b.node().port()))
            .await
            .unwrap();
        s.write_all(&frames).await.unwrap();
        until(|| seen.lock().unwrap().len() == 2).await;
        assert_eq!(
            *seen.lock().unwrap(),
            vec![("e".to_owned(), json!(1)), ("e".to_owned(), json!(2))]
        );
        for code in ["MALFORMED_JSON", "MALFORMED_ENVELOPE"] {
            let skip = tokio::time::timeout(Duration::from_secs(5), skips.recv())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(skip.code, code);
        }
    }
}
