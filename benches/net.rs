//! Kernel throughput and latency between two processes on loopback:
//! `cargo bench --bench net`. Prints one line per figure.
//!
//! The parent starts a client kernel and re-runs this binary as the server
//! process (`--serve <client port>`), which answers on stdout with its kernel
//! port and a raw TCP echo port (the physical floor).
//!
//! Options (after `--`): the sections to measure, among `raw`, `call`,
//! `call4k`, `inflight`, `cast` and `cast4k` (e.g. `cargo bench --bench net --
//! inflight cast`); none measures all of these. Only when named: `recv` and
//! `recv4k` measure the receiving side alone, in one process; `calltask`
//! makes the sequential calls from a spawned task instead of the main
//! thread.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notp::gen_server::{self, GenServer};
use notp::net::{Kernel, KernelOptions, Payload};
use notp::wire::{self, FrameType, Outgoing, Sender, Signer};
use notp::Node;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SEQUENTIAL: usize = 10_000;
const IN_FLIGHT: usize = 64;

fn opts() -> KernelOptions {
    KernelOptions {
        retry: Duration::from_millis(50),
        ..KernelOptions::default()
    }
    .with_cookie("cookie")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match args.iter().position(|a| a == "--serve") {
        Some(i) => {
            let client_port: u16 = args
                .get(i + 1)
                .and_then(|p| p.parse().ok())
                .expect("client port");
            rt.block_on(serve(client_port));
        }
        None => {
            // `cargo bench` passes `--bench`; other words select sections.
            let filters: Vec<String> = args
                .iter()
                .skip(1)
                .filter(|a| !a.starts_with("--"))
                .cloned()
                .collect();
            rt.block_on(client(filters))
        }
    }
}

async fn serve(client_port: u16) {
    let k = Kernel::start(Node::new("server", "127.0.0.1", 0), opts())
        .await
        .expect("server kernel");
    let raw = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("raw listener");
    let raw_port = raw.local_addr().expect("raw addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = raw.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut b = [0u8; 64];
                while let Ok(n) = s.read(&mut b).await {
                    if n == 0 || s.write_all(&b[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let mut count = 0u64;
    GenServer::start(&k, "bench")
        .expect("server name")
        .spawn(move |req| match req.event.as_str() {
            "echo" => Some(req.data.clone()),
            "cast" => {
                count += 1;
                None
            }
            "count" => Some(Payload::Json(json!(count))),
            _ => None,
        });
    k.connect(&Node::new("client", "127.0.0.1", client_port))
        .expect("client node")
        .wait_connected()
        .await;
    println!("{} {raw_port}", k.node().port());
    std::io::stdout().flush().expect("stdout");
    // Live until the parent closes our stdin.
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await;
}

/// What receiving costs: a kernel with the bench's server is fed signed
/// casts, written in large chunks through a raw socket, and the time until
/// the server has handled them all is measured.
async fn receive_only(section: &str, data: Value) {
    const N: usize = 1_000_000;
    const CHUNK: usize = 1000;
    let k = Kernel::start(Node::new("server", "127.0.0.1", 0), opts())
        .await
        .expect("kernel");
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = handled.clone();
    GenServer::start(&k, "bench")
        .expect("server name")
        .spawn(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            None
        });
    let from = Sender::from(&Node::new("client", "127.0.0.1", 1)).to_json();
    let body = gen_server::body("cast", data).to_wire();
    let mut frame = Vec::new();
    wire::encode(
        &Outgoing {
            frame_type: FrameType::Message,
            id: Some("bench"),
            tag: None,
            from: &from,
            stream: wire::stream::SINGLE,
            data: Some(&body),
        },
        Some(&Signer::new(b"cookie")),
        &mut frame,
    );
    let n = if frame.len() > 1024 { N / 10 } else { N };
    let chunk = frame.repeat(CHUNK);
    let mut s = TcpStream::connect(("127.0.0.1", k.node().port()))
        .await
        .expect("connect");
    let t = Instant::now();
    for _ in 0..n / CHUNK {
        s.write_all(&chunk).await.expect("write");
    }
    while handled.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
    println!(
        "{:<34} {:>9.0} casts/s received ({} B frames)",
        format!("receive only ({section})"),
        n as f64 / t.elapsed().as_secs_f64(),
        frame.len()
    );
    k.stop();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let total: Duration = samples.iter().sum();
    println!(
        "{what:<34} p50 {:>6.1} µs   p99 {:>6.1} µs   {:>9.0} /s",
        percentile(&samples, 0.50).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6,
        samples.len() as f64 / total.as_secs_f64()
    );
}

async fn client(filters: Vec<String>) {
    // Receiving alone, measured in one process: only when asked for.
    for (section, data) in [
        ("recv", json!("hello")),
        ("recv4k", json!("x".repeat(4096))),
    ] {
        if filters.iter().any(|f| f == section) {
            receive_only(section, data).await;
        }
    }
    let standard = [
        "raw", "call", "call4k", "inflight", "cast", "cast4k", "calltask",
    ];
    if !filters.is_empty() && !filters.iter().any(|f| standard.contains(&f.as_str())) {
        return;
    }
    let wanted = |section: &str| filters.is_empty() || filters.iter().any(|f| section == f);
    let k = Kernel::start(Node::new("client", "127.0.0.1", 0), opts())
        .await
        .expect("client kernel");
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["--serve", &k.node().port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("child stdout"))
        .read_line(&mut line)
        .expect("server ports");
    let ports: Vec<u16> = line
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let server = Node::new("server", "127.0.0.1", ports[0]);
    k.connect(&server)
        .expect("server node")
        .wait_connected()
        .await;

    if wanted("raw") {
        raw_round_trips(ports[1]).await;
    }
    if wanted("call") {
        sequential_calls(&k, &server, "call, sequential, \"hello\"", json!("hello")).await;
    }
    if filters.iter().any(|f| f == "calltask") {
        let (k2, s2) = (k.clone(), server.clone());
        tokio::spawn(async move {
            sequential_calls(&k2, &s2, "call from a task, \"hello\"", json!("hello")).await;
        })
        .await
        .expect("task");
    }
    if wanted("call4k") {
        let data = json!("x".repeat(4096));
        sequential_calls(&k, &server, "call, sequential, 4 KiB", data).await;
    }
    if wanted("inflight") {
        calls_in_flight(&k, &server).await;
    }
    let mut sent = 0u64;
    if wanted("cast") {
        sent = casts(
            &k,
            &server,
            "cast, \"hello\"",
            json!("hello"),
            1_000_000,
            sent,
        )
        .await;
    }
    if wanted("cast4k") {
        casts(
            &k,
            &server,
            "cast, 4 KiB",
            json!("x".repeat(4096)),
            200_000,
            sent,
        )
        .await;
    }
    drop(child.stdin.take());
    let _ = child.wait();
    k.stop();
}

/// The physical floor: 8-byte ping-pong over raw TCP.
async fn raw_round_trips(port: u16) {
    let mut raw = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("raw connect");
    raw.set_nodelay(true).expect("nodelay");
    let mut samples = Vec::with_capacity(SEQUENTIAL);
    let mut b = [0u8; 8];
    for _ in 0..SEQUENTIAL {
        let t = Instant::now();
        raw.write_all(b"pingpong").await.expect("raw write");
        raw.read_exact(&mut b).await.expect("raw read");
        samples.push(t.elapsed());
    }
    report("raw TCP round trip (8 B)", samples);
}

async fn sequential_calls(k: &Kernel, server: &Node, label: &str, data: Value) {
    {
        let body = gen_server::body("echo", data);
        let mut samples = Vec::with_capacity(SEQUENTIAL);
        for _ in 0..SEQUENTIAL {
            let t = Instant::now();
            k.call(server, "bench", &body, None).await.expect("call");
            samples.push(t.elapsed());
        }
        report(label, samples);
    }
}

async fn calls_in_flight(k: &Kernel, server: &Node) {
    let total = 200_000;
    let body = Arc::new(gen_server::body("echo", json!("hello")));
    let t = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (k, server, body) = (k.clone(), server.clone(), body.clone());
        workers.push(tokio::spawn(async move {
            for _ in 0..total / IN_FLIGHT {
                k.call(&server, "bench", &body, None).await.expect("call");
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    println!(
        "{:<34} {:>9.0} calls/s",
        format!("call, {IN_FLIGHT} in flight, \"hello\""),
        total as f64 / t.elapsed().as_secs_f64()
    );
}

/// Casts `n` bodies of `data`; `sent` casts were handled before. Returns
/// the new total.
async fn casts(k: &Kernel, server: &Node, label: &str, data: Value, n: u64, mut sent: u64) -> u64 {
    {
        let body = gen_server::body("cast", data);
        let t = Instant::now();
        // In batches, each closed by a call: casts and the call share one
        // ordered connection, so when the count comes back every cast of
        // the batch has been handled, and the sender never queues more than
        // a batch.
        const BATCH: u64 = 20_000;
        let mut left = n;
        while left > 0 {
            let batch = left.min(BATCH);
            for _ in 0..batch {
                k.cast(server, "bench", &body);
            }
            left -= batch;
            sent += batch;
            let count = gen_server::call(k, server, "bench", "count", Value::Null, None)
                .await
                .expect("count");
            let got = count.as_json().and_then(Value::as_u64).unwrap_or(0);
            assert_eq!(got, sent, "casts lost");
        }
        println!(
            "{label:<34} {:>9.0} casts/s (every one handled by the server)",
            n as f64 / t.elapsed().as_secs_f64()
        );
    }
    sent
}
